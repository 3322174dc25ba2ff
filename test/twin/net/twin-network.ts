/**
 * The lab twin's network side (`TwinNetwork` of test/twin/contract.ts), built on test/netlab:
 *
 * - Hosts: the netlab's router and three nodes (own namespaces, real sshd, `vagrant` with sudo, the router's
 *   default route to a sink), without the netlab's loopback "pods". Each host's boot (netlab `bootCommands`) gives
 *   its private mount namespace: an overlay over /etc with the host's own /etc/kubernetes and /etc/cilium-lab
 *   bind-mounted in (writeHostFile), a boot id file over /proc/sys/kernel/random/boot_id, and the stand-in programs
 *   (standins.ts) over systemctl, reboot, shutdown, kubectl and as helm.
 * - Nodes are programmed as a Cilium agent would: a `cilium_host`/`cilium_net` veth pair, cilium_host carrying the
 *   node's router IP (first address of its pod CIDR), the routes the seeds show, and, in tunnel mode, a real VXLAN
 *   device `cilium_vxlan` (UDP 8472 between node addresses). What the harness reads (`ip route`) is the main table;
 *   what forwards pod traffic is table 100 (local pods' /32s, and the tunnel routes) picked by a rule for the
 *   cluster pod CIDR (test/twin/README.md, twin-notes).
 * - Pods: network namespaces with a veth (`lxc…` on the node, `eth0` in the pod), an address from the node's pod
 *   CIDR, default route via the node's cilium_host IP; whoami/tcp servers (pod-server.mjs) run in them.
 * - L2 announcements: the holder has the LB IP as a /32 noprefixroute on its LAN interface (so only it answers
 *   ARP, with its own MAC), sends a gratuitous ARP reply when it takes the IP over, and DNATs ip:port to the
 *   frontends' backends with nftables in its namespace (masquerading what leaves towards another node).
 *   The shared ingress IP's port 80 is served by an Envoy stand-in (envoy.mjs) on the holder.
 *
 * Safety: addresses only from 198.18.0.0/15 (and loopback), checked after the build (`checkContained`); every
 * process is ended by PID; every namespace is deleted on teardown, on process exit and on SIGINT/SIGTERM/SIGHUP;
 * leftovers of a killed run are swept by the netlab at the next start.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { cidrContains, ipToNumber, numberToIp, type Topology } from '../../../helpers/lab/topology.ts';
import { PLAN, netlabUnavailable, startNetlab, type Netlab } from '../../netlab/netlab.ts';
import type { ServiceFrontendNet } from '../contract.ts';
import type {
  ExecIo,
  Frontend,
  IngressRoute,
  NodeState,
  PodNet,
  PodServer,
  RoutingSettings,
  StandInHandler,
  TwinNetwork,
} from '../contract.ts';
import { refuseScript, STAND_IN_BIND_TARGETS, StandInServer, standInMounts, writeStandIn } from './standins.ts';
import type { FaultSet } from '../faults.ts';
import { TwinWireguard } from './wireguard.ts';
import { TwinL7Policy, type L7PodPolicy, type L7Record } from './l7-policy.ts';
import {
  directRoutesInstalled,
  extraAnnouncers,
  ingressAnswersUnmatched,
  plaintextTunnelRoute,
  unmatchedFlagFile,
  routerFaultCommands,
  routerFaultRoutes,
  tunnelRouteMtu,
} from './net-faults.ts';
import { KprNet } from './kpr-net.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const POD_SERVER = path.join(HERE, 'pod-server.mjs');
const ENVOY = path.join(HERE, 'envoy.mjs');

/** Namespace and scratch-directory prefix of twin networks (netlab names: `<prefix>-<tag>-<host>`). */
export const TWIN_PREFIX = 'tw';
/** The only addresses a twin uses (besides loopback). */
export const TWIN_RANGE = '198.18.0.0/15';
/** The table that forwards pod traffic (the main table shows what Cilium's routes look like). */
export const FORWARD_TABLE = 100;
export const VXLAN_PORT = 8472;
export const VXLAN_ID = 2;
export const TUNNEL_MTU = 1450;
/** Host-file roots the twin gives each host its own copy of. */
export const HOST_FILE_ROOTS = ['/etc/kubernetes', '/etc/cilium-lab'] as const;
/** Tools the twin drives beyond the netlab's. */
const EXTRA_TOOLS = ['nft', 'bridge', 'node'];

export function twinNetworkUnavailable(): string | null {
  const base = netlabUnavailable();
  if (base) return base;
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  const missing = EXTRA_TOOLS.filter((t) => !dirs.some((d) => existsSync(path.join(d, t))));
  return missing.length > 0 ? `missing tools: ${missing.join(', ')} (see .ci/apt/twin.txt)` : null;
}

export interface TwinNetworkOptions {
  /** Where the twin's Kubernetes API listens (the topology's apiEndpoint), e.g. {host: '127.0.0.1', port}. */
  apiEndpoint: { host: string; port: number };
  /** Answers the stand-in programs; may also be given later with `standIns()`. */
  standIns?: StandInHandler;
  /** Namespace prefix (2-4 characters, default `tw`). */
  prefix?: string;
  tag?: string;
  /** Initial routing (default native with autoDirectNodeRoutes, as the lab's first install). */
  routing?: RoutingSettings;
  /** The faults on (test/twin/faults.ts); shared with the API server and the controllers. */
  faults?: FaultSet;
}

/** What startTwinNetwork hands back: the TwinNetwork plus what the glue and the tests need around it. */
export interface StartedTwinNetwork extends TwinNetwork {
  /** The twin topology file (lab/topology.yaml format, provider existing): point LAB_TOPOLOGY at it. */
  readonly topologyFile: string;
  readonly topology: Topology;
  /** Sets (or replaces) the handler the stand-in programs call. */
  standIns(handler: StandInHandler | null): void;
  /** Every stand-in call so far (tests). */
  readonly standInCalls: readonly { host: string; argv: string[]; stdin: string }[];
  /** The netlab underneath (namespaces, nsExec, pids). */
  readonly netlab: Netlab;
  /** Resolves once every change queued so far (a fault turned on or off included) is in place. */
  settled(): Promise<void>;
  /** Scratch directory of the twin network. */
  readonly dir: string;
  /** The pod's network namespace. */
  podNs(namespace: string, name: string): string;
  /** PIDs of every process this twin network started and that still runs (netlab's included). */
  pids(): number[];
  /** Throws unless every address and route in every twin namespace stays inside 198.18.0.0/15 or loopback. */
  checkContained(): Promise<void>;
  /** Synchronous last resort (exit, signal). */
  teardownSync(): void;
}

interface NodeInfo {
  name: string;
  ns: string;
  address: string;
  subnet: string;
  podCidr: string;
  hostIp: string;
  vxlanMac: string;
  /** The router's address on the node's subnet. */
  gateway: string;
}

interface PodRuntime extends PodNet {
  ns: string;
  lxc: string;
  server: ChildProcess | null;
  serve?: PodServer;
}

interface Announcement {
  holder: string | null;
  iface: string;
  frontends: Frontend[];
}

const live = new Set<TwinNetworkImpl>();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => live.forEach((t) => t.teardownSync()));
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      live.forEach((t) => t.teardownSync());
      // Nobody else handles the signal: end as the default action would have.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.once(sig, onSignal);
  }
}

/** Builds the twin network. On any failure everything built so far is torn down before the error is thrown. */
export async function startTwinNetwork(opts: TwinNetworkOptions): Promise<StartedTwinNetwork> {
  const unavailable = twinNetworkUnavailable();
  if (unavailable) throw new Error(`twin network: ${unavailable}`);
  const twin = new TwinNetworkImpl(opts);
  installHooks();
  live.add(twin);
  try {
    await twin.build();
    return twin;
  } catch (err) {
    await twin.teardown().catch(() => undefined);
    throw err;
  }
}

const run = async (
  argv: string[],
  o: { input?: string; reject?: boolean } = {},
): Promise<{ stdout: string; stderr: string; exitCode: number }> => {
  const r = await execa(argv[0]!, argv.slice(1), { timeout: 20_000, input: o.input, reject: o.reject ?? true });
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? 0 };
};

class TwinNetworkImpl implements StartedTwinNetwork {
  netlab!: Netlab;
  topology!: Topology;
  topologyFile = '';
  dir = '';
  readonly nodes: readonly string[] = PLAN.hosts.filter((h) => h.role !== 'router').map((h) => h.name);
  private readonly info = new Map<string, NodeInfo>();
  private readonly pods = new Map<string, PodRuntime>();
  private readonly announcements = new Map<string, Announcement>();
  /** l2-every-node-answers: the nodes that hold an announced IP besides its holder (empty while the fault is off). */
  private readonly extraHolders = new Map<string, Set<string>>();
  private readonly ingress = new Map<string, { routes: IngressRoute[]; envoy: { node: string; p: ChildProcess } | null }>();
  private readonly down = new Set<string>();
  private readonly listeners: ((node: string, state: NodeState) => void)[] = [];
  private readonly procs = new Set<ChildProcess>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private routing: RoutingSettings;
  private server!: StandInServer;
  private tornDown = false;
  /** Issue 17: WireGuard (wireguard.ts) and the L7 policy stand-ins (l7-policy.ts), made on first use. */
  private wg?: TwinWireguard;
  private l7?: TwinL7Policy;
  /** Serialises changes to the network (announce, routing, reboot, pods) so they never interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Issue 17: services, cluster DNS, pod policy, kube-proxy's chains (test/twin/net/kpr-net.ts). */
  private kpr!: KprNet;

  constructor(private readonly opts: TwinNetworkOptions) {
    this.routing = opts.routing ?? { mode: 'native', autoDirectNodeRoutes: true };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  get standInCalls(): readonly { host: string; argv: string[]; stdin: string }[] {
    return this.server.calls;
  }

  standIns(handler: StandInHandler | null): void {
    this.server.setHandler(handler);
  }

  // ---------------------------------------------------------------------------------------------
  // Build
  // ---------------------------------------------------------------------------------------------

  async build(): Promise<void> {
    let socket = '';
    this.netlab = await startNetlab({
      prefix: this.opts.prefix ?? TWIN_PREFIX,
      tag: this.opts.tag,
      loopbackPods: false,
      bootCommands: (host, labDir) => {
        // Called before any host boots: the lab's scratch directory exists; the socket path is fixed.
        const twinDir = path.join(labDir, 'twin');
        socket = path.join(twinDir, 'standin.sock');
        return this.bootCommands(host, twinDir, socket);
      },
    });
    this.dir = path.join(this.netlab.dir, 'twin');
    this.server = new StandInServer(socket, this.opts.standIns ?? null);
    this.kpr = new KprNet({
      dir: this.dir,
      nodes: this.nodes,
      nodeNs: (n) => this.node(n).ns,
      hostIp: (n) => this.node(n).hostIp,
      isDown: (n) => this.down.has(n),
      spawnReady: (ns, argv, what) => this.spawnReady(ns, argv, what),
      end: (p) => this.end(p),
    });
    await this.server.listen();

    for (const [i, plan] of PLAN.hosts.filter((h) => h.role !== 'router').entries()) {
      const link = plan.links[0]!;
      const cidr = plan.pod!.cidr;
      this.info.set(plan.name, {
        name: plan.name,
        ns: this.netlab.ns(plan.name),
        address: link.address.split('/')[0]!,
        subnet: link.subnet,
        podCidr: cidr,
        hostIp: numberToIp(ipToNumber(cidr.split('/')[0]!) + 1),
        vxlanMac: `02:74:77:00:00:${(i + 1).toString(16).padStart(2, '0')}`,
        gateway: plan.routes.find((r) => r.dst === PLAN.podCidr)?.via ?? '',
      });
    }
    await Promise.all(this.nodes.map((n) => this.setUpNode(n)));
    await Promise.all(this.nodes.map((n) => this.programNode(n)));
    await this.programRouterFaults();
    // Issue 16: a fault turned on or off re-programs what it changes (net-faults.ts), so a fault is undone by turning it off.
    this.opts.faults?.onChange(() => void this.serial(() => this.applyFaults()).catch(() => undefined));
    this.topology = { ...this.netlab.topology, name: `twin-${this.netlab.tag}`, apiEndpoint: this.opts.apiEndpoint };
    this.topologyFile = path.join(this.dir, 'topology.yaml');
    writeFileSync(this.topologyFile, `# Lab twin topology (test/twin/net): generated, removed at teardown.\n${stringify(this.topology)}`, {
      mode: 0o644,
    });
    await this.checkContained();
  }

  /** The host's boot, in its fresh private mount namespace (run on every boot, so reboots keep them). */
  private bootCommands(host: string, twinDir: string, socket: string): string[] {
    const hostDir = path.join(twinDir, host);
    mkdirSync(hostDir, { recursive: true, mode: 0o755 });
    chmodSync(twinDir, 0o755);
    const script = writeStandIn(hostDir, host, socket);
    const bootId = path.join(hostDir, 'boot_id');
    if (!existsSync(bootId)) writeFileSync(bootId, `${randomUUID()}\n`, { mode: 0o444 });
    const etcMounts = HOST_FILE_ROOTS.flatMap((root) => {
      const own = this.hostFileDir(hostDir, root);
      mkdirSync(own, { recursive: true, mode: 0o755 });
      return [`mkdir -p ${root}`, `mount --bind ${own} ${root}`];
    });
    return [
      // /etc gets an overlay (upper layer on this boot's /run tmpfs), so the host can have directories the
      // machine lacks, and nothing a twin host writes under /etc reaches the machine.
      'mkdir -p /run/twin/etc-upper /run/twin/etc-work',
      'mount -t overlay overlay -o lowerdir=/etc,upperdir=/run/twin/etc-upper,workdir=/run/twin/etc-work /etc',
      ...etcMounts,
      `mount --bind ${bootId} /proc/sys/kernel/random/boot_id`,
      ...standInMounts(script),
    ];
  }

  private hostFileDir(hostDir: string, root: string): string {
    return path.join(hostDir, root.replace(/^\/+/, '').replace(/\//g, '-'));
  }

  private node(name: string): NodeInfo {
    const n = this.info.get(name);
    if (!n) throw new Error(`twin network: no node ${name} (nodes: ${this.nodes.join(', ')})`);
    return n;
  }

  private async ipBatch(ns: string, commands: string[], o: { force?: boolean; tool?: 'ip' | 'bridge' } = {}): Promise<void> {
    if (commands.length === 0) return;
    const tool = o.tool ?? 'ip';
    const argv =
      tool === 'ip'
        ? ['ip', '-n', ns, ...(o.force ? ['-force'] : []), '-batch', '-']
        : ['ip', 'netns', 'exec', ns, 'bridge', ...(o.force ? ['-force'] : []), '-batch', '-'];
    const r = await run(argv, { input: commands.join('\n') + '\n', reject: false });
    if (r.exitCode !== 0 && !o.force)
      throw new Error(`twin network: ${tool} on ${ns} failed: ${r.stderr.trim()}\n  commands: ${commands.join('; ')}`);
  }

  private async sysctl(ns: string, settings: string[]): Promise<void> {
    await run(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', ...settings]);
  }

  /** Once per node: forwarding, cilium_host/cilium_net, the forwarding rule, the own pod CIDR routes. */
  private async setUpNode(name: string): Promise<void> {
    const n = this.node(name);
    await this.sysctl(n.ns, [
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
      'net.ipv4.conf.eth1.rp_filter=0',
      // The Envoy stand-in binds the ingress IP before (or while) it is announced.
      'net.ipv4.ip_nonlocal_bind=1',
    ]);
    await this.ipBatch(n.ns, [
      'link add cilium_host type veth peer name cilium_net',
      'link set cilium_net up',
      'link set cilium_host up',
      `addr add ${n.hostIp}/32 dev cilium_host`,
      // As seed 002 shows them: `172.20.0.136 dev cilium_host proto kernel scope link` and the own pod CIDR via it.
      `route add ${n.hostIp} dev cilium_host proto kernel scope link`,
      `route add ${n.podCidr} via ${n.hostIp} dev cilium_host proto kernel src ${n.hostIp}`,
      `rule add to ${PLAN.podCidr} lookup ${FORWARD_TABLE} priority 100`,
    ]);
  }

  /** The routes a node has for the current routing settings (idempotent: removes the other mode's first). */
  private async programNode(name: string): Promise<void> {
    const n = this.node(name);
    if (this.down.has(name)) return;
    const peers = [...this.info.values()].filter((p) => p.name !== name);
    // Undo: peer routes of either mode (main table), the tunnel routes (table 100), the VXLAN device.
    await this.ipBatch(
      n.ns,
      [
        ...peers.map((p) => `route del ${p.podCidr} table main`),
        ...peers.map((p) => `route del ${p.podCidr} table ${FORWARD_TABLE}`),
        'link del cilium_vxlan',
      ],
      { force: true },
    );
    const add: string[] = [];
    if (this.routing.mode === 'tunnel') {
      add.push(
        `link add cilium_vxlan address ${n.vxlanMac} type vxlan id ${VXLAN_ID} dstport ${VXLAN_PORT} local ${n.address} nolearning`,
        'link set cilium_vxlan mtu 1500',
        'link set cilium_vxlan up',
      );
      for (const p of peers) {
        // What `ip route` shows (seed 002: `172.20.1.0/24 via 172.20.0.136 dev cilium_host proto kernel src 172.20.0.136 mtu 1450`)...
        add.push(
          `route replace ${p.podCidr} via ${n.hostIp} dev cilium_host proto kernel src ${n.hostIp} mtu ${tunnelRouteMtu(this.opts.faults, TUNNEL_MTU)}`,
        );
        // ...and what forwards (Cilium's eBPF redirects into cilium_vxlan; here a second table does).
        add.push(
          plaintextTunnelRoute(this.opts.faults, n, p, FORWARD_TABLE) ??
            `route replace ${p.podCidr} via ${p.hostIp} dev cilium_vxlan src ${n.hostIp} mtu ${TUNNEL_MTU} onlink table ${FORWARD_TABLE}`,
        );
        add.push(`neigh replace ${p.hostIp} lladdr ${p.vxlanMac} dev cilium_vxlan nud permanent`);
      }
    } else if (this.routing.autoDirectNodeRoutes && directRoutesInstalled(this.opts.faults)) {
      // Direct routes only to peers on the same L2 segment (routing.rst); the others stay behind the router.
      for (const p of peers.filter((q) => q.subnet === n.subnet))
        add.push(`route replace ${p.podCidr} via ${p.address} dev eth1 proto kernel`);
    }
    await this.ipBatch(n.ns, add);
    if (this.routing.mode === 'tunnel') {
      await this.sysctl(n.ns, ['net.ipv4.conf.cilium_vxlan.rp_filter=0']);
      await this.ipBatch(
        n.ns,
        peers.map((p) => `fdb append ${p.vxlanMac} dev cilium_vxlan dst ${p.address}`),
        { tool: 'bridge' },
      );
    } // Issue 17: WireGuard on top of the routing mode (wireguard.ts).
    await this.wireguard().program(n, peers, this.routing.wireguard === true);
  }

  private wireguard(): TwinWireguard {
    this.wg ??= new TwinWireguard({
      dir: this.dir,
      clusterPodCidr: PLAN.podCidr,
      spawn: (argv, env) => {
        const p = spawn('setpriv', ['--pdeathsig', 'KILL', ...argv], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, ...env },
        });
        this.track(p);
        p.stdout.resume();
        p.stderr.resume();
        return p;
      },
      end: (p) => this.end(p),
      ipBatch: (ns, commands, o) => this.ipBatch(ns, commands, o),
      plaintext: () => this.opts.faults?.has('wireguard-plaintext') ?? false,
    });
    return this.wg;
  }

  wireguardPublicKey(node: string): string | null {
    return this.wg?.publicKey(node) ?? null;
  }

  private l7Policy(): TwinL7Policy {
    this.l7 ??= new TwinL7Policy({
      dir: this.dir,
      spawnReady: (ns, argv, what) => this.spawnReady(ns, argv, what),
      end: (p) => this.end(p),
      nft: async (ns, script, o) => {
        const r = await run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], { input: script, reject: !o?.force });
        if (r.exitCode !== 0 && !o?.force) throw new Error(`twin network: nft in ${ns} failed: ${r.stderr.trim()}`);
      },
      allowAll: () => this.opts.faults?.has('l7-allows-all') ?? false,
    });
    return this.l7;
  }

  setL7Policy(namespace: string, name: string, policy: L7PodPolicy | null): Promise<void> {
    return this.serial(async () => {
      const pod = this.pods.get(`${namespace}/${name}`);
      if (!pod) {
        await this.l7?.forget(namespace, name);
        return;
      }
      await this.l7Policy().set({ namespace, name, ns: pod.ns, ip: pod.ip }, policy);
    });
  }

  onL7Record(listener: (r: L7Record) => void): void {
    this.l7Policy().onRecord(listener);
  }

  setRouting(s: RoutingSettings): Promise<void> {
    return this.serial(async () => {
      this.routing = { ...s };
      await Promise.all(this.nodes.map((n) => this.programNode(n)));
      await this.programRouterFaults();
    });
  }

  /** The router's fault routes (router-pod-routes, tunnel-plaintext): exactly those the faults on want. */
  private async programRouterFaults(): Promise<void> {
    const nodes = [...this.info.values()];
    const { del, add } = routerFaultCommands(routerFaultRoutes(this.opts.faults, this.routing, nodes), nodes);
    await this.ipBatch(this.netlab.ns('router'), del, { force: true });
    await this.ipBatch(this.netlab.ns('router'), add);
  }

  /** After the faults changed: every node's routes, the router's, and every announcement again (issue 16). */
  private async applyFaults(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.programNode(n)));
    this.l7?.applyFaults();
    await this.programRouterFaults();
    await this.applyAnnounceFaults();
    for (const ip of this.ingress.keys()) this.applyIngressFault(ip);
  }

  /** ingress-unmatched-200 (net-faults.ts): the Envoy stand-in's flag file, present only while the fault is on. */
  private applyIngressFault(ip: string): void {
    const flag = unmatchedFlagFile(this.routesFile(ip));
    if (ingressAnswersUnmatched(this.opts.faults)) writeFileSync(flag, '');
    else rmSync(flag, { force: true });
  }

  /** l2-every-node-answers (net-faults.ts): the extra nodes hold each announced IP while it is on, none when off. */
  private async applyAnnounceFaults(): Promise<void> {
    const nodes = [...this.info.values()];
    const subnetOf = (n: NodeInfo): string => (PLAN.subnets as Record<string, string>)[n.subnet] ?? '';
    for (const [ip, a] of this.announcements) {
      const extra = new Set(extraAnnouncers(this.opts.faults, ip, a.holder, nodes, (n, x) => cidrContains(subnetOf(n as NodeInfo), x)));
      this.extraHolders.set(ip, extra);
      for (const n of nodes) {
        if (n.name === a.holder || this.down.has(n.name)) continue;
        if (extra.has(n.name)) await this.ipBatch(n.ns, [`addr replace ${ip}/32 dev ${a.iface} noprefixroute`]);
        else await this.ipBatch(n.ns, [`addr del ${ip}/32 dev ${a.iface}`], { force: true });
      }
    }
    // What answers ARP also serves the IP: with kube-proxy replacement every agent has the LB service in its BPF maps
    // (Cilium docs kubeproxy-free.rst), so a wrongly answering node forwards the traffic instead of refusing it. The
    // fault breaks who answers ARP, which is what it claims, not HTTP to the LB IP (an unaffected suite's check).
    for (const n of nodes) if (n.name && !this.down.has(n.name)) await this.programLb(n.name);
  }

  /** Resolves once every change queued so far (a fault turned on or off included) is in place. */
  settled(): Promise<void> {
    return this.serial(() => Promise.resolve());
  }

  // ---------------------------------------------------------------------------------------------
  // Facts
  // ---------------------------------------------------------------------------------------------

  nodeAddress(node: string): string {
    return this.node(node).address;
  }

  podCidr(node: string): string {
    return this.node(node).podCidr;
  }

  ciliumHostIp(node: string): string {
    return this.node(node).hostIp;
  }

  async mac(host: string, iface: string): Promise<string> {
    const r = await run(['ip', '-n', this.netlab.ns(host), '-j', 'link', 'show', 'dev', iface]);
    const links = JSON.parse(r.stdout) as { address?: string }[];
    const mac = links[0]?.address;
    if (!mac) throw new Error(`twin network: ${host} has no MAC on ${iface}`);
    return mac;
  }

  podNs(namespace: string, name: string): string {
    return `${this.netlab.prefix}-${this.netlab.tag}-p${hash(`${namespace}/${name}`, 10)}`;
  }

  // ---------------------------------------------------------------------------------------------
  // Pods
  // ---------------------------------------------------------------------------------------------

  addPod(p: { namespace: string; name: string; node: string; serve?: PodServer }): Promise<PodNet> {
    return this.serial(async () => {
      const key = `${p.namespace}/${p.name}`;
      const existing = this.pods.get(key);
      if (existing) {
        if (existing.node !== p.node) throw new Error(`twin network: pod ${key} is on ${existing.node}, not ${p.node}`);
        // Same name again: the same pod. A different `serve` (given) replaces its server; none given keeps it.
        if (p.serve !== undefined && JSON.stringify(existing.serve) !== JSON.stringify(p.serve)) await this.startServer(existing, p.serve);
        return publicPod(existing);
      }
      const n = this.node(p.node);
      const ip = this.allocate(n);
      const pod: PodRuntime = {
        namespace: p.namespace,
        name: p.name,
        node: p.node,
        ip,
        ns: this.podNs(p.namespace, p.name),
        lxc: `lxc${hash(key, 11)}`,
        server: null,
      };
      this.pods.set(key, pod);
      try {
        await run(['ip', 'netns', 'add', pod.ns]);
        await this.ipBatch(pod.ns, ['link set lo up']);
        await this.ipBatch(n.ns, [
          `link add ${pod.lxc} type veth peer name eth0 netns ${pod.ns}`,
          `link set ${pod.lxc} up`,
          `route replace ${ip}/32 dev ${pod.lxc} table ${FORWARD_TABLE}`,
        ]);
        await this.sysctl(n.ns, [`net.ipv4.conf.${pod.lxc}.rp_filter=0`]);
        await this.ipBatch(pod.ns, [
          `addr add ${ip}/32 dev eth0`,
          'link set eth0 up',
          `route add ${n.hostIp} dev eth0 scope link`,
          `route add default via ${n.hostIp} dev eth0`,
        ]);
        await this.startServer(pod, p.serve);
      } catch (err) {
        await this.dropPod(pod);
        throw err;
      }
      return publicPod(pod);
    });
  }

  private allocate(n: NodeInfo): string {
    const used = new Set([...this.pods.values()].filter((p) => p.node === n.name).map((p) => p.ip));
    const base = ipToNumber(n.podCidr.split('/')[0]!);
    for (let i = 2; i < 255; i++) {
      const ip = numberToIp(base + i);
      if (!used.has(ip)) return ip;
    }
    throw new Error(`twin network: ${n.name}'s pod CIDR ${n.podCidr} is full`);
  }

  private async startServer(pod: PodRuntime, serve: PodServer | undefined): Promise<void> {
    if (pod.server) await this.end(pod.server);
    pod.server = null;
    pod.serve = serve;
    if (!serve) return;
    const args =
      serve.kind === 'whoami' ? ['whoami', String(serve.port), pod.name, ...(serve.name ? [serve.name] : [])] : ['tcp', String(serve.port)];
    pod.server = await this.spawnReady(pod.ns, [process.execPath, POD_SERVER, ...args], `server of pod ${pod.namespace}/${pod.name}`);
  }

  /** Starts a long-lived helper in a namespace (dies with this process) and waits for its "ready" line. */
  private async spawnReady(ns: string, argv: string[], what: string): Promise<ChildProcess> {
    const p = spawn('setpriv', ['--pdeathsig', 'KILL', 'ip', 'netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.track(p);
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`twin network: ${what} not ready within 10 s: ${err.trim()}`)), 10_000);
      p.stdout.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      p.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`twin network: ${what} exited (${code}) before it was ready: ${err.trim()}`));
      });
    }).catch(async (e: unknown) => {
      await this.end(p);
      throw e;
    });
    p.stdout.resume();
    return p;
  }

  private track(p: ChildProcess): void {
    this.procs.add(p);
    p.once('exit', () => this.procs.delete(p));
  }

  removePod(namespace: string, name: string): Promise<void> {
    return this.serial(async () => {
      const pod = this.pods.get(`${namespace}/${name}`);
      if (pod) await this.dropPod(pod);
    });
  }

  private async dropPod(pod: PodRuntime): Promise<void> {
    await this.l7?.forget(pod.namespace, pod.name);
    if (pod.server) await this.end(pod.server);
    pod.server = null;
    const n = this.node(pod.node);
    await this.ipBatch(n.ns, [`route del ${pod.ip}/32 table ${FORWARD_TABLE}`, `link del ${pod.lxc}`], { force: true });
    await run(['ip', 'netns', 'del', pod.ns], { reject: false });
    this.pods.delete(`${pod.namespace}/${pod.name}`);
  }

  async execInPod(namespace: string, name: string, argv: string[], io: ExecIo): Promise<number> {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) throw new Error(`twin network: no pod ${namespace}/${name}`);
    if (argv.length === 0) throw new Error('twin network: execInPod needs a command');
    if (io.signal.aborted) return 130;
    // A private mount namespace where the machine's systemctl/reboot/shutdown/kubectl are refusals: whatever the
    // harness runs in a pod cannot reach the machine. unshare and sh exec in place, so the PID is the command's.
    const refuse = path.join(this.dir, 'refuse');
    if (!existsSync(refuse)) writeFileSync(refuse, refuseScript(), { mode: 0o755 });
    const standInBinds = STAND_IN_BIND_TARGETS.map((t) => `{ [ ! -e ${t} ] || mount --bind ${refuse} ${t}; }`).join(' && ');
    // The pod's resolv.conf (cluster DNS, kubelet's search path) once the cluster DNS runs.
    const resolv = this.kpr.resolvConf(namespace);
    const binds = resolv ? `${standInBinds} && mount --bind ${resolv} /etc/resolv.conf` : standInBinds;
    const p = spawn(
      'setpriv',
      [
        '--pdeathsig',
        'KILL',
        'ip',
        'netns',
        'exec',
        pod.ns,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        `${binds} && exec "$@"`,
        'sh',
        ...argv,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.track(p);
    p.stdout.on('data', (c: Buffer) => io.stdout(c));
    p.stderr.on('data', (c: Buffer) => io.stderr(c));
    const onAbort = (): void => void this.end(p).catch(() => undefined);
    io.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await new Promise<number>((resolve, reject) => {
        p.once('error', reject);
        p.once('close', (code, sig) => resolve(code ?? 128 + (sig ? signalNumber(sig) : 0)));
      });
    } finally {
      io.signal.removeEventListener('abort', onAbort);
    }
  }

  // Issue 17 (test/twin/net/kpr-net.ts)
  setServices(perNode: ReadonlyMap<string, readonly ServiceFrontendNet[]>): Promise<void> {
    return this.serial(() => this.kpr.setServices(perNode));
  }

  setDnsRecords(dnsIp: string, records: readonly { name: string; ip: string }[]): Promise<void> {
    return this.serial(() => this.kpr.setDnsRecords(dnsIp, records));
  }

  setPodFirewall(namespace: string, name: string, nftText: string): Promise<void> {
    return this.serial(async () => {
      const pod = this.pods.get(`${namespace}/${name}`);
      if (pod) await this.kpr.setPodFirewall(pod.ns, nftText);
    });
  }

  setKubeProxyChains(on: boolean): Promise<void> {
    return this.serial(() => this.kpr.setKubeProxyChains(on));
  }

  // ---------------------------------------------------------------------------------------------
  // L2 announcements and ingress
  // ---------------------------------------------------------------------------------------------

  announce(ip: string, holder: string | null, o: { iface: string; frontends: Frontend[] }): Promise<void> {
    return this.serial(async () => {
      if (!cidrContains(TWIN_RANGE, ip)) throw new Error(`twin network: announced IP ${ip} is outside ${TWIN_RANGE}`);
      if (holder !== null) this.node(holder);
      const prev = this.announcements.get(ip);
      // The API side may re-announce on every reconcile: an unchanged announcement costs nothing.
      if (prev && prev.holder === holder && prev.iface === o.iface && JSON.stringify(prev.frontends) === JSON.stringify(o.frontends))
        return;
      this.announcements.set(ip, { holder, iface: o.iface, frontends: o.frontends });
      if (prev?.holder && prev.holder !== holder) {
        await this.unannounceOn(prev.holder, ip, prev.iface);
        await this.programLb(prev.holder);
      }
      if (holder !== null && !this.down.has(holder)) {
        const n = this.node(holder);
        await this.ipBatch(n.ns, [`addr replace ${ip}/32 dev ${o.iface} noprefixroute`]);
        await this.programLb(holder);
        await this.placeEnvoy(ip);
        // Cilium sends one gratuitous ARP reply when a node takes the IP over (cilium-behaviour.md 2.4).
        if (prev?.holder !== holder) await this.garp(holder, ip, o.iface);
      }
      if (this.opts.faults?.has('l2-every-node-answers')) await this.applyAnnounceFaults();
    });
  }

  private async unannounceOn(node: string, ip: string, iface: string): Promise<void> {
    await this.ipBatch(this.node(node).ns, [`addr del ${ip}/32 dev ${iface}`], { force: true });
    const ing = this.ingress.get(ip);
    if (ing?.envoy?.node === node) {
      await this.end(ing.envoy.p);
      ing.envoy = null;
    }
  }

  /**
   * Habets arping (the lab's flavour): -U unsolicited, -P as an ARP reply, -S the LB IP as sender (without -S,
   * Habets' -U announces the interface's own address). One broadcast `Reply <ip> is-at <holder MAC>`.
   */
  private async garp(node: string, ip: string, iface: string): Promise<void> {
    await execa(
      'ip',
      ['netns', 'exec', this.node(node).ns, 'arping', '-q', '-U', '-P', '-S', ip, '-c', '1', '-w', '0.2', '-i', iface, ip],
      { reject: false, timeout: 5_000 },
    );
  }

  /** The node's nftables DNAT for every IP it holds (one table, rebuilt whole: idempotent). */
  private async programLb(node: string): Promise<void> {
    const n = this.node(node);
    if (this.down.has(node)) return;
    const rules: string[] = [];
    const held: string[] = [];
    for (const [ip, a] of this.announcements) {
      if (a.holder !== node && !this.extraHolders.get(ip)?.has(node)) continue;
      held.push(ip);
      for (const f of a.frontends) {
        if (this.ingress.has(ip) && f.port === 80) continue; // served by the Envoy stand-in
        // Only backends inside the twin (the shared ingress Service's dummy endpoint 192.192.192.192 is not).
        const backends = f.backends.filter((b) => cidrContains(TWIN_RANGE, b.ip) || cidrContains(PLAN.podCidr, b.ip));
        if (backends.length === 0) continue;
        const map = backends.map((b, i) => `${i} : ${b.ip} . ${b.port}`).join(', ');
        rules.push(`    ip daddr ${ip} tcp dport ${f.port} dnat ip to numgen random mod ${backends.length} map { ${map} }`);
      }
    }
    const text = [
      'table ip twin_lb',
      'delete table ip twin_lb',
      'table ip twin_lb {',
      '  chain pre {',
      '    type nat hook prerouting priority dstnat; policy accept;',
      ...rules,
      '  }',
      // The holder's own processes reach the LB IP too (as KPR's socket LB lets a node do).
      '  chain out {',
      '    type nat hook output priority -100; policy accept;',
      ...rules,
      '  }',
      '  chain post {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      // Backends on this node see the client; the others see this node (they answer through it). Only connections to
      // the LB IPs this node holds: a pod's ClusterIP connection (DNATed by twin_svc) keeps its pod source, as with
      // Cilium's socket LB; masqueraded to the node address it went into cilium_wg0 with a source outside the peer's
      // AllowedIPs and was dropped (70's ClusterIP check timed out on a twin with WireGuard on).
      ...(held.length > 0 ? [`    ct status dnat ct original ip daddr { ${held.join(', ')} } oifname != "lxc*" masquerade`] : []),
      '  }',
      '}',
      '',
    ].join('\n');
    const r = await run(['ip', 'netns', 'exec', n.ns, 'nft', '-f', '-'], { input: text, reject: false });
    if (r.exitCode !== 0) throw new Error(`twin network: nft on ${node} failed: ${r.stderr.trim()}\n${text}`);
  }

  setIngress(ip: string, routes: IngressRoute[]): Promise<void> {
    return this.serial(async () => {
      if (!cidrContains(TWIN_RANGE, ip)) throw new Error(`twin network: ingress IP ${ip} is outside ${TWIN_RANGE}`);
      const ing = this.ingress.get(ip) ?? { routes: [], envoy: null };
      ing.routes = routes.filter((r) => cidrContains(TWIN_RANGE, r.backend.ip));
      const fresh = !this.ingress.has(ip);
      this.ingress.set(ip, ing);
      writeFileSync(this.routesFile(ip), JSON.stringify(ing.routes));
      this.applyIngressFault(ip);
      const holder = this.announcements.get(ip)?.holder;
      if (fresh && holder) await this.programLb(holder);
      await this.placeEnvoy(ip);
    });
  }

  private routesFile(ip: string): string {
    return path.join(this.dir, `ingress-${ip}.json`);
  }

  /** The Envoy stand-in runs on the ingress IP's current holder (and nowhere else). */
  private async placeEnvoy(ip: string): Promise<void> {
    const ing = this.ingress.get(ip);
    if (!ing) return;
    const holder = this.announcements.get(ip)?.holder ?? null;
    if (ing.envoy && (ing.envoy.node !== holder || ing.envoy.p.exitCode !== null)) {
      await this.end(ing.envoy.p);
      ing.envoy = null;
    }
    if (ing.envoy || holder === null || this.down.has(holder)) return;
    const p = await this.spawnReady(
      this.node(holder).ns,
      [process.execPath, ENVOY, ip, '80', this.routesFile(ip)],
      `Envoy stand-in for ${ip} on ${holder}`,
    );
    ing.envoy = { node: holder, p };
  }

  // ---------------------------------------------------------------------------------------------
  // Reboots
  // ---------------------------------------------------------------------------------------------

  onNodeState(listener: (node: string, state: NodeState) => void): void {
    this.listeners.push(listener);
  }

  private emit(node: string, state: NodeState): void {
    for (const l of this.listeners) {
      try {
        l(node, state);
      } catch (err) {
        console.error(`twin network: a node-state listener threw: ${String(err)}`);
      }
    }
  }

  reboot(node: string, o: { downMs: number }): Promise<void> {
    return this.serial(async () => {
      const n = this.node(node);
      if (this.down.has(node)) return;
      this.down.add(node);
      await this.netlab.stopSshd(node);
      for (const [ip, a] of this.announcements) {
        if (a.holder !== node) continue;
        await this.unannounceOn(node, ip, a.iface);
        a.holder = null; // the API side re-announces once the lease has moved
      }
      await this.ipBatch(n.ns, ['link set eth1 down']);
      this.emit(node, 'down');
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.serial(() => this.bootNode(node)).catch((err: unknown) =>
          console.error(`twin network: ${node} did not come back: ${String(err)}`),
        );
      }, o.downMs);
      this.timers.add(timer);
    });
  }

  private async bootNode(node: string): Promise<void> {
    if (this.tornDown) return;
    const n = this.node(node);
    writeFileSync(path.join(this.dir, node, 'boot_id'), `${randomUUID()}\n`);
    await this.ipBatch(n.ns, ['link set eth1 up']);
    // Link down dropped the routes through eth1: the netlab's, then the agent's.
    const plan = PLAN.hosts.find((h) => h.name === node)!;
    await this.ipBatch(
      n.ns,
      plan.routes.map((r) => `route replace ${r.dst} via ${r.via}`),
    );
    this.down.delete(node);
    await this.programNode(node);
    // IPs announced for this node while it was down (the API side may name it holder before its lease moves).
    for (const [ip, a] of this.announcements) {
      if (a.holder !== node) continue;
      await this.ipBatch(n.ns, [`addr replace ${ip}/32 dev ${a.iface} noprefixroute`]);
      await this.placeEnvoy(ip);
      await this.garp(node, ip, a.iface);
    }
    await this.programLb(node);
    await this.netlab.startSshd(node);
    this.emit(node, 'up');
  }

  // ---------------------------------------------------------------------------------------------
  // Host files
  // ---------------------------------------------------------------------------------------------

  // eslint-disable-next-line @typescript-eslint/require-await -- async so that a bad path is a rejection, not a throw
  async writeHostFile(host: string, file: string, content: string): Promise<void> {
    const norm = path.posix.normalize(file);
    const root = HOST_FILE_ROOTS.find((r) => norm.startsWith(`${r}/`));
    if (!root || norm !== file) throw new Error(`twin network: host files live under ${HOST_FILE_ROOTS.join(' or ')}, not "${file}"`);
    if (!PLAN.hosts.some((h) => h.name === host)) throw new Error(`twin network: no host ${host}`);
    const target = path.join(this.hostFileDir(path.join(this.dir, host), root), norm.slice(root.length + 1));
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    // admin.conf is root's only, as kubeadm writes it (the harness reads it with sudo).
    writeFileSync(target, content, { mode: root === '/etc/kubernetes' ? 0o600 : 0o644 });
    chmodSync(target, root === '/etc/kubernetes' ? 0o600 : 0o644);
  }

  // ---------------------------------------------------------------------------------------------
  // Safety and teardown
  // ---------------------------------------------------------------------------------------------

  async checkContained(): Promise<void> {
    const problems: string[] = [];
    const hosts = [...PLAN.hosts.map((h) => h.name), 'switch', 'upstream'];
    const podNamespaces = new Set([...this.pods.values()].map((p) => p.ns));
    const namespaces = [...hosts.map((h) => this.netlab.ns(h)), ...podNamespaces];
    const ok = (a: string): boolean => cidrContains(TWIN_RANGE, a) || cidrContains('127.0.0.0/8', a);
    for (const ns of namespaces) {
      const addrs = JSON.parse((await run(['ip', '-n', ns, '-j', '-4', 'addr'])).stdout) as {
        ifname: string;
        addr_info?: { local: string }[];
      }[];
      for (const l of addrs) for (const a of l.addr_info ?? []) if (!ok(a.local)) problems.push(`${ns}: ${l.ifname} has ${a.local}`);
      const routes = JSON.parse((await run(['ip', '-n', ns, '-j', '-4', 'route', 'show', 'table', 'all'])).stdout) as {
        dst: string;
        gateway?: string;
        table?: string;
      }[];
      for (const r of routes) {
        if (r.gateway && !ok(r.gateway)) problems.push(`${ns}: route ${r.dst} via ${r.gateway}`);
        if (
          r.dst === 'default' &&
          !(ns === this.netlab.ns('router') && r.gateway === PLAN.upstream.sink.split('/')[0]) &&
          !podNamespaces.has(ns)
        )
          problems.push(`${ns}: a default route via ${r.gateway ?? '?'}`);
        if (r.dst !== 'default' && !ok(r.dst.split('/')[0]!) && !r.dst.startsWith('224.') && !r.dst.startsWith('255.'))
          problems.push(`${ns}: route to ${r.dst}`);
      }
    }
    // The sink is a dead end: it forwards nothing and has no route out.
    const fwd = (await run(['ip', 'netns', 'exec', this.netlab.ns('upstream'), 'sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim();
    if (fwd !== '0') problems.push(`the sink forwards (ip_forward=${fwd})`);
    if (problems.length > 0) throw new Error(`twin network is not contained: ${problems.join('; ')}`);
  }

  pids(): number[] {
    const mine = [...this.procs].filter((p) => p.pid !== undefined && p.exitCode === null && p.signalCode === null).map((p) => p.pid!);
    return [...mine, ...(this.netlab ? this.netlab.pids() : [])];
  }

  /** Ends a process by PID: SIGTERM, then SIGKILL after 3 s. */
  private async end(p: ChildProcess): Promise<void> {
    if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    try {
      process.kill(p.pid, 'SIGTERM');
    } catch {
      return;
    }
    const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3_000))]);
    if (inTime) return;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      return;
    }
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 3_000))]);
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    live.delete(this);
    this.timers.forEach((t) => clearTimeout(t));
    const problems: string[] = [];
    await Promise.all([...this.procs].map((p) => this.end(p)));
    const left = this.pids().filter((pid) => !this.netlab?.pids().includes(pid));
    if (left.length > 0) problems.push(`processes still running: ${left.join(', ')}`);
    for (const pod of this.pods.values()) {
      const r = await run(['ip', 'netns', 'del', pod.ns], { reject: false });
      if (r.exitCode !== 0) problems.push(`ip netns del ${pod.ns}: ${r.stderr.trim()}`);
    }
    this.pods.clear();
    await this.server?.close().catch((e: Error) => problems.push(`stand-in server: ${e.message}`));
    await this.netlab?.teardown().catch((e: Error) => problems.push(e.message));
    if (problems.length > 0) throw new Error(`twin network teardown: ${problems.join('; ')}`);
  }

  teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    live.delete(this);
    this.timers.forEach((t) => clearTimeout(t));
    for (const p of this.procs) {
      if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    for (const pod of this.pods.values()) spawnSync('ip', ['netns', 'del', pod.ns]);
    this.netlab?.teardownSync();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function publicPod(p: PodRuntime): PodNet {
  return { namespace: p.namespace, name: p.name, node: p.node, ip: p.ip };
}

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

function signalNumber(sig: NodeJS.Signals): number {
  const n = (osConstants.signals as Record<string, number | undefined>)[sig];
  return typeof n === 'number' ? n : 0;
}
