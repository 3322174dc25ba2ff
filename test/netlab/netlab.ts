/**
 * netlab: the lab's network shape emulated with Linux network namespaces, so the self-tests can drive
 * helpers/ssh and helpers/probes against real sshd, arping, ping, tcpdump, curl and ip.
 *
 *                       upstream (sink: the "NAT" the router's default route points at)
 *                          │ eth0 198.18.0.15
 *                       router ── loop1 198.18.101.200/24, loop2 198.18.102.200/24
 *          eth1 198.18.10.200 │            │ eth2 198.18.20.200
 *                 [bridge lan1]            [bridge lan2]        (bridges live in a "switch" namespace)
 *                 │           │                 │
 *            k8s-ctr .100   k8s-w1 .101     k8s-w0 198.18.20.100
 *            pod 198.19.0.10 pod 198.19.1.10 pod 198.19.2.10     ("pods": a /32 on each node's loopback)
 *
 * Nodes route the other subnet, the corporate block and the pod block via the router; the router has NO pod
 * routes (its default route goes to the sink, as the study's router sends pod traffic out eth0).
 *
 * Every host runs a real sshd in its own PID, mount (private /run on tmpfs) and UTS namespace (hostname =
 * node name), keys made here. The SSH user is `vagrant` with passwordless sudo and a clean HOME, as in the
 * lab; it exists only inside the hosts' mount namespaces. The harness reaches sshd at 127.0.0.1:<port> through a relay in
 * the host's namespace (test/netlab/relay.mjs), so no address is ever put on a root-namespace interface.
 * `startNetlab()` hands back a `Topology` (provider existing, auth key, known-hosts) that helpers/ssh uses
 * exactly as it uses the real lab's.
 *
 * Names: every namespace is `<prefix>-<tag>-<role>` (prefix `tn` unless the caller passes its own, tag random);
 * interfaces are created directly inside namespaces, never in the root namespace. Teardown ends every process by PID (sshd's namespace dies with its unshare parent; relays
 * exit with their IPC channel), deletes the namespaces and checks that none is left. Leftovers of a killed
 * earlier run (owner PID gone) are swept at the next start.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { pollUntil } from '../../helpers/wait/retry.ts';
import { parseTopology, REPO_ROOT, type Topology } from '../../helpers/lab/topology.ts';

/** Default prefix of every namespace and scratch directory (the TRANSPORT area's); others pass their own. */
export const PREFIX = 'tn';
const STATE_ROOT = os.tmpdir();
const RELAY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'relay.mjs');
const REQUIRED_TOOLS = ['ip', 'unshare', 'setpriv', 'ssh-keygen', 'sshd', 'sudo', 'tcpdump', 'arping', 'ping', 'curl'];
/** The SSH user on every netlab host: not root, passwordless sudo (like the lab's vagrant user). */
export const SSH_USER = 'vagrant';

interface HostPlan {
  name: string;
  role: 'router' | 'control-plane' | 'worker';
  links: { iface: string; address: string; subnet: 'lan1' | 'lan2' }[];
  /** "Pod" address (a dummy interface) and the pod block routed to this node. */
  pod?: { address: string; cidr: string };
  routes: { dst: string; via: string }[];
}

/** The emulated lab. Addresses only from 198.18.0.0/15. */
export const PLAN = {
  subnets: { lan1: '198.18.10.0/24', lan2: '198.18.20.0/24' },
  upstream: { router: '198.18.0.15/24', sink: '198.18.0.2/24' },
  corporate: '198.18.100.0/22',
  podCidr: '198.19.0.0/17',
  serviceCidr: '198.19.128.0/17',
  lbPool: { start: '198.18.10.211', stop: '198.18.10.215' },
  hosts: [
    {
      name: 'router',
      role: 'router',
      links: [
        { iface: 'eth1', address: '198.18.10.200/24', subnet: 'lan1' },
        { iface: 'eth2', address: '198.18.20.200/24', subnet: 'lan2' },
      ],
      routes: [],
    },
    {
      name: 'k8s-ctr',
      role: 'control-plane',
      links: [{ iface: 'eth1', address: '198.18.10.100/24', subnet: 'lan1' }],
      pod: { address: '198.19.0.10', cidr: '198.19.0.0/24' },
      routes: ['198.18.20.0/24', '198.18.100.0/22', '198.19.0.0/17'].map((dst) => ({ dst, via: '198.18.10.200' })),
    },
    {
      name: 'k8s-w1',
      role: 'worker',
      links: [{ iface: 'eth1', address: '198.18.10.101/24', subnet: 'lan1' }],
      pod: { address: '198.19.1.10', cidr: '198.19.1.0/24' },
      routes: ['198.18.20.0/24', '198.18.100.0/22', '198.19.0.0/17'].map((dst) => ({ dst, via: '198.18.10.200' })),
    },
    {
      name: 'k8s-w0',
      role: 'worker',
      links: [{ iface: 'eth1', address: '198.18.20.100/24', subnet: 'lan2' }],
      pod: { address: '198.19.2.10', cidr: '198.19.2.0/24' },
      routes: ['198.18.10.0/24', '198.18.100.0/22', '198.19.0.0/17'].map((dst) => ({ dst, via: '198.18.20.200' })),
    },
  ] satisfies HostPlan[] as HostPlan[],
};

/** Why the netlab cannot run here, or null when it can. */
export function netlabUnavailable(): string | null {
  if (process.platform !== 'linux') return 'the netlab needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'the netlab needs root (network namespaces, sshd)';
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  const missing = REQUIRED_TOOLS.filter((t) => !dirs.some((d) => existsSync(path.join(d, t))));
  return missing.length > 0 ? `missing tools: ${missing.join(', ')} (see .ci/apt/transport.txt)` : null;
}

interface HostRuntime {
  plan: HostPlan;
  ns: string;
  port: number;
  relay: ChildProcess;
  sshd: ChildProcess | null;
  boots: number;
}

/** How a netlab is built (every field optional; the defaults are the TRANSPORT area's netlab). */
export interface NetlabOptions {
  tag?: string;
  prefix?: string;
  /** Put each node's "pod" /32 on its loopback (default true). The lab twin has real pod namespaces instead. */
  loopbackPods?: boolean;
  /**
   * Extra shell commands every boot of a host runs inside its fresh private mount namespace (after /run is a
   * tmpfs and /proc is the host's own, before the netlab's /etc bind mounts and sshd). The lab twin mounts
   * its stand-in programs, per-host /etc directories and boot id here. Called with the host and the lab's
   * scratch directory on every boot, so it may (re)write files first.
   */
  bootCommands?: (host: string, dir: string) => string[];
}

export interface Netlab {
  /** Namespace names are `<prefix>-<tag>-<host>`. */
  readonly prefix: string;
  readonly tag: string;
  /** Scratch directory: keys, sshd configs and logs, clean HOME. */
  readonly dir: string;
  readonly topology: Topology;
  /** The node's "pod" address (a /32 on its loopback) and the pod block routed to it. */
  pod(host: string): { address: string; cidr: string };
  /** The network namespace of a host (or of 'switch' / 'upstream'). */
  ns(host: string): string;
  /** Runs a command in a host's network namespace directly, not over SSH (for the test's own checks). */
  nsExec(host: string, argv: string[]): Promise<string>;
  /** Kills every process of the host (its sshd's PID namespace): SSH to it now fails. */
  stopSshd(host: string): Promise<void>;
  /** Boots the host's sshd again (a fresh /run, boot counter in /run/tn-boot). */
  startSshd(host: string): Promise<void>;
  /** sshd log of the current boot. */
  sshdLog(host: string): string;
  /** PIDs of the processes this netlab started and that are still running (sshd namespaces' unshare, relays). */
  pids(): number[];
  teardown(): Promise<void>;
  /** Synchronous last resort (process exit, signal): kills by PID, deletes the namespaces. Idempotent. */
  teardownSync(): void;
}

const live = new Set<NetlabImpl>();
let exitHookInstalled = false;

/** Builds the netlab. On any failure everything built so far is torn down before the error is thrown. */
export async function startNetlab(opts: NetlabOptions = {}): Promise<Netlab> {
  const unavailable = netlabUnavailable();
  if (unavailable) throw new Error(`netlab: ${unavailable}`);
  const prefix = opts.prefix ?? PREFIX;
  if (!/^[a-z][a-z0-9]{1,3}$/.test(prefix))
    throw new Error(`netlab: prefix must be 2-4 characters [a-z0-9], starting with a letter, got "${prefix}"`);
  await sweepLeftovers(prefix);
  const tag = opts.tag ?? Math.random().toString(36).slice(2, 6).padEnd(4, '0');
  if (!/^[a-z0-9]{4}$/.test(tag)) throw new Error(`netlab: tag must be 4 characters [a-z0-9], got "${tag}"`);
  const lab = new NetlabImpl(prefix, tag, opts);
  live.add(lab);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort when a test runner exits without running afterAll: synchronous, by PID and by name.
    process.once('exit', () => live.forEach((l) => l.teardownSync()));
  }
  try {
    await lab.build();
    return lab;
  } catch (err) {
    await lab.teardown().catch(() => undefined);
    throw err;
  }
}

class NetlabImpl implements Netlab {
  readonly dir: string;
  topology!: Topology;
  private readonly hosts = new Map<string, HostRuntime>();
  private readonly namespaces: string[] = [];
  private tornDown = false;

  constructor(
    readonly prefix: string,
    readonly tag: string,
    private readonly opts: NetlabOptions = {},
  ) {
    this.dir = path.join(STATE_ROOT, `${prefix}-netlab-${tag}`);
  }

  ns(host: string): string {
    return `${this.prefix}-${this.tag}-${host}`;
  }

  pod(host: string): { address: string; cidr: string } {
    const p = this.runtime(host).plan.pod;
    if (!p) throw new Error(`netlab: ${host} has no pod address`);
    return p;
  }

  private runtime(host: string): HostRuntime {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`netlab: no host ${host} (hosts: ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  async nsExec(host: string, argv: string[]): Promise<string> {
    const r = await execa('ip', ['netns', 'exec', this.ns(host), ...argv], { timeout: 30_000 });
    return r.stdout;
  }

  private async ip(ns: string, ...args: string[]): Promise<void> {
    await execa('ip', ['-n', ns, ...args], { timeout: 10_000 });
  }

  /** Runs `ip` commands in a namespace, in order, in one process; the first failure throws, naming the commands. */
  private async ipBatch(ns: string, commands: string[]): Promise<void> {
    if (commands.length === 0) return;
    const r = await execa('ip', ['-n', ns, '-batch', '-'], { input: commands.join('\n') + '\n', timeout: 20_000, reject: false });
    if (r.exitCode !== 0)
      throw new Error(`netlab: ip -n ${ns} -batch failed: ${String(r.stderr).trim()}\n  commands: ${commands.join('; ')}`);
  }

  private async addNamespace(name: string): Promise<string> {
    const ns = this.ns(name);
    await execa('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.ip(ns, 'link', 'set', 'lo', 'up');
    return ns;
  }

  async build(): Promise<void> {
    // The lab directory is traversable (the SSH user reads its authorized key and home through it);
    // private keys inside stay root-only.
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    chmodSync(this.dir, 0o755);
    writeFileSync(path.join(this.dir, 'owner'), String(process.pid));
    this.makeUserFiles();
    await this.makeKeys();

    // Namespaces and wiring (interfaces are created inside namespaces, never in the root one). One `ip -batch`
    // per namespace and phase: a process per command cost seconds on a busy two-core machine.
    const sw = await this.addNamespace('switch');
    const up = await this.addNamespace('upstream');
    const router = this.ns('router');
    const hostNs = await Promise.all(PLAN.hosts.map((plan) => this.addNamespace(plan.name)));
    const ports: string[] = [];
    await this.ipBatch(
      sw,
      ['lan1', 'lan2'].flatMap((br) => [`link add ${br} type bridge`, `link set ${br} up`]),
    );
    await Promise.all(
      PLAN.hosts.map((plan, i) =>
        this.ipBatch(hostNs[i]!, [
          ...plan.links.flatMap((link) => {
            const port = `${plan.name.replace(/^k8s-/, '')}-${link.iface}`.slice(0, 15);
            ports.push(`link set ${port} master ${link.subnet} up`);
            return [
              `link add ${link.iface} type veth peer name ${port} netns ${sw}`,
              `addr add ${link.address} dev ${link.iface}`,
              `link set ${link.iface} up`,
            ];
          }),
          // The kernel of a container may lack the dummy driver: the "pod" is a /32 on loopback.
          ...(plan.pod && this.opts.loopbackPods !== false ? [`addr add ${plan.pod.address}/32 dev lo`] : []),
        ]),
      ),
    );
    await this.ipBatch(sw, ports);
    await Promise.all(
      PLAN.hosts.map((plan, i) =>
        this.ipBatch(
          hostNs[i]!,
          plan.routes.map((r) => `route add ${r.dst} via ${r.via}`),
        ),
      ),
    );
    await this.ipBatch(router, [`link add eth0 type veth peer name eth0 netns ${up}`, `addr add ${PLAN.upstream.router} dev eth0`]);
    await this.ipBatch(up, [`addr add ${PLAN.upstream.sink} dev eth0`, 'link set eth0 up']);
    await this.ipBatch(router, [
      'link set eth0 up',
      `route add default via ${PLAN.upstream.sink.split('/')[0]!}`,
      // loop1/loop2 stand in for the study router's dummy interfaces; a veth pair whose peer stays in the
      // router namespace does the same job where the dummy driver is missing.
      ...['198.18.101.200/24', '198.18.102.200/24'].flatMap((cidr, i) => {
        const name = `loop${i + 1}`;
        return [
          `link add ${name} type veth peer name ${name}-peer`,
          `addr add ${cidr} dev ${name}`,
          `link set ${name}-peer up`,
          `link set ${name} up`,
        ];
      }),
    ]);
    await execa('ip', ['netns', 'exec', router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);

    // sshd and its relay on every host, all at once.
    await Promise.all(PLAN.hosts.map((plan) => this.startHost(plan)));
    this.topology = this.makeTopology();
    writeFileSync(
      path.join(this.dir, 'known_hosts'),
      [...this.hosts.values()]
        .map(
          (h) =>
            `[127.0.0.1]:${h.port} ${readFileSync(path.join(this.dir, h.plan.name, 'host_key.pub'), 'utf8')
              .split(' ')
              .slice(0, 2)
              .join(' ')}`,
        )
        .join('\n') + '\n',
    );
  }

  /**
   * The SSH user, like the lab's `vagrant`: not root, passwordless sudo, clean HOME. It exists only inside
   * the hosts' private mount namespaces (copies of passwd/group/shadow/sudoers bind-mounted over the real
   * ones there), so the machine running the tests is not changed.
   */
  private makeUserFiles(): void {
    const etc = path.join(this.dir, 'etc');
    mkdirSync(etc, { mode: 0o755 });
    const drop = (file: string): string =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith(`${SSH_USER}:`))
        .join('\n');
    const uid = this.uid;
    const home = path.join(this.dir, 'home');
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, uid, uid);
    writeFileSync(path.join(etc, 'passwd'), `${drop('/etc/passwd')}\n${SSH_USER}:x:${uid}:${uid}:netlab:${home}:/bin/bash\n`, {
      mode: 0o644,
    });
    writeFileSync(path.join(etc, 'group'), `${drop('/etc/group')}\n${SSH_USER}:x:${uid}:\n`, { mode: 0o644 });
    writeFileSync(path.join(etc, 'shadow'), `${drop('/etc/shadow')}\n${SSH_USER}:*:19000:0:99999:7:::\n`, { mode: 0o640 });
    writeFileSync(
      path.join(etc, 'sudoers'),
      `Defaults env_reset\nDefaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nroot ALL=(ALL:ALL) ALL\n${SSH_USER} ALL=(ALL) NOPASSWD: ALL\n`,
      {
        mode: 0o440,
      },
    );
  }

  /** A uid no account on this machine has. */
  private get uid(): number {
    const used = new Set(
      readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .map((l) => Number(l.split(':')[2])),
    );
    let uid = 4242;
    while (used.has(uid)) uid++;
    return uid;
  }

  private async makeKeys(): Promise<void> {
    const keygen = (file: string): Promise<unknown> =>
      execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `netlab-${this.tag}`, '-f', file]);
    await keygen(path.join(this.dir, 'id_ed25519'));
    await Promise.all(
      PLAN.hosts.map(async (h) => {
        mkdirSync(path.join(this.dir, h.name), { mode: 0o700 });
        await keygen(path.join(this.dir, h.name, 'host_key'));
      }),
    );
  }

  private async startHost(plan: HostPlan): Promise<void> {
    const ns = this.ns(plan.name);
    const hostDir = path.join(this.dir, plan.name);
    writeFileSync(
      path.join(hostDir, 'sshd_config'),
      [
        'Port 22',
        'ListenAddress 0.0.0.0',
        `HostKey ${path.join(hostDir, 'host_key')}`,
        `AuthorizedKeysFile ${path.join(this.dir, 'id_ed25519.pub')}`,
        'PidFile none',
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PrintMotd no',
        'PrintLastLog no',
        'UseDNS no',
        'MaxSessions 10',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );

    // The relay: a listening socket opened here (root namespace, loopback) handed to a process in `ns`.
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const port = (server.address() as net.AddressInfo).port;
    const relay = spawn('ip', ['netns', 'exec', ns, process.execPath, RELAY], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const runtime: HostRuntime = { plan, ns, port, relay, sshd: null, boots: 0 };
    this.hosts.set(plan.name, runtime);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`netlab: relay for ${plan.name} did not start within 15 s`)), 15_000);
      relay.once('exit', (code) => reject(new Error(`netlab: relay for ${plan.name} exited (${code}) before it was ready`)));
      relay.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      relay.send({ target: { host: '127.0.0.1', port: 22 } }, server);
    });
    server.close(); // the relay holds its own copy of the listening socket
    await this.startSshd(plan.name);
  }

  async startSshd(host: string): Promise<void> {
    const h = this.runtime(host);
    if (h.sshd) throw new Error(`netlab: sshd on ${host} is already running`);
    h.boots++;
    const hostDir = path.join(this.dir, host);
    const log = path.join(hostDir, 'sshd.log');
    writeFileSync(log, '');
    writeFileSync(path.join(hostDir, 'hosts'), `127.0.0.1 localhost\n127.0.1.1 ${host}\n`, { mode: 0o644 });
    const etc = path.join(this.dir, 'etc');
    const boot = [
      'mount -t tmpfs -o mode=0755 tmpfs /run',
      'mkdir -p /run/sshd',
      ...(this.opts.bootCommands?.(host, this.dir) ?? []),
      `echo ${h.boots} > /run/tn-boot`,
      `hostname ${host}`,
      ...['passwd', 'group', 'shadow', 'sudoers'].map((f) => `mount --bind ${path.join(etc, f)} /etc/${f}`),
      `mount --bind ${path.join(hostDir, 'hosts')} /etc/hosts`,
      `exec /usr/sbin/sshd -D -e -f ${path.join(hostDir, 'sshd_config')} 2>>${log}`,
    ].join(' && ');
    // setpriv --pdeathsig: if this test process dies, unshare gets SIGKILL; unshare --kill-child then kills
    // the namespace's init (sshd), and with it every process of the host.
    const sshd = spawn(
      'setpriv',
      [
        '--pdeathsig',
        'KILL',
        'ip',
        'netns',
        'exec',
        h.ns,
        'unshare',
        '--mount',
        '--uts',
        '--pid',
        '--fork',
        '--kill-child',
        '--mount-proc',
        '--propagation',
        'private',
        'sh',
        '-c',
        boot,
      ],
      { stdio: 'ignore' },
    );
    h.sshd = sshd;
    sshd.once('exit', () => {
      if (h.sshd === sshd) h.sshd = null;
    });
    await pollUntil(
      `sshd on netlab host ${host} to listen`,
      () => {
        const text = readFileSync(log, 'utf8');
        if (/Server listening on/.test(text)) return Promise.resolve({ done: true as const, value: undefined });
        if (sshd.exitCode !== null) throw new Error(`sshd exited (${sshd.exitCode}): ${text.trim()}`);
        return Promise.resolve({ done: false as const, seen: text.trim() || 'no log yet' });
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  }

  pids(): number[] {
    return [...this.hosts.values()]
      .flatMap((h) => [h.sshd, h.relay])
      .filter((p): p is ChildProcess => p !== null && p.pid !== undefined && p.exitCode === null && p.signalCode === null)
      .map((p) => p.pid!);
  }

  sshdLog(host: string): string {
    return readFileSync(path.join(this.dir, host, 'sshd.log'), 'utf8');
  }

  async stopSshd(host: string): Promise<void> {
    const h = this.runtime(host);
    const sshd = h.sshd;
    if (!sshd) return;
    await endProcess(sshd, 'SIGKILL', `sshd namespace of ${host}`);
    h.sshd = null;
  }

  private makeTopology(): Topology {
    return parseTopology(
      {
        name: `netlab-${this.tag}`,
        provider: 'existing',
        subnets: Object.entries(PLAN.subnets).map(([name, cidr]) => ({ name, cidr })),
        podCidr: PLAN.podCidr,
        serviceCidr: PLAN.serviceCidr,
        corporateCidr: PLAN.corporate,
        apiEndpoint: { host: '198.18.10.100', port: 6443 },
        lbPool: PLAN.lbPool,
        ssh: {
          user: SSH_USER,
          auth: 'key',
          keyFile: path.join(this.dir, 'id_ed25519'),
          hostKeys: 'known-hosts',
          knownHostsFile: path.join(this.dir, 'known_hosts'),
        },
        nodes: PLAN.hosts.map((plan) => ({
          name: plan.name,
          role: plan.role,
          interfaces: [
            ...plan.links.map((l) => ({ name: l.iface, address: l.address, subnet: l.subnet })),
            ...(plan.role === 'router'
              ? [
                  { name: 'loop1', address: '198.18.101.200/24', kind: 'dummy' },
                  { name: 'loop2', address: '198.18.102.200/24', kind: 'dummy' },
                ]
              : []),
          ],
          ssh: { host: '127.0.0.1', port: this.runtime(plan.name).port },
        })),
      },
      `netlab ${this.tag}`,
    );
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    live.delete(this);
    const procs = [...this.hosts.values()].flatMap((h) => [
      ...(h.sshd ? [{ p: h.sshd, sig: 'SIGKILL' as const, what: `sshd namespace of ${h.plan.name}` }] : []),
      { p: h.relay, sig: 'SIGTERM' as const, what: `relay of ${h.plan.name}` },
    ]);
    const problems: string[] = [];
    await Promise.all(procs.map(({ p, sig, what }) => endProcess(p, sig, what).catch((e: Error) => problems.push(e.message))));
    for (const ns of [...this.namespaces].reverse()) {
      await execa('ip', ['netns', 'del', ns]).catch((e: Error) => problems.push(`ip netns del ${ns}: ${e.message}`));
    }
    const left = (await listNamespaces()).filter((n) => n.startsWith(`${this.prefix}-${this.tag}-`));
    if (left.length > 0) problems.push(`namespaces still present: ${left.join(', ')}`);
    rmSync(this.dir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`netlab ${this.tag} teardown: ${problems.join('; ')}`);
  }

  /** Synchronous last resort (process exit): kill by PID, delete namespaces by name. */
  teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const h of this.hosts.values()) {
      for (const p of [h.sshd, h.relay]) {
        if (p?.pid !== undefined && p.exitCode === null && p.signalCode === null) {
          try {
            process.kill(p.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      }
    }
    for (const ns of [...this.namespaces].reverse()) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Sends `sig` to the process by PID and waits (5 s) for it to be gone; SIGKILL if it ignores the first signal. */
async function endProcess(p: ChildProcess, sig: NodeJS.Signals, what: string): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  process.kill(p.pid, sig);
  const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
  if (inTime) return;
  process.kill(p.pid, 'SIGKILL');
  const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3_000))]);
  if (!killed) throw new Error(`${what} (pid ${p.pid}) did not exit`);
}

async function listNamespaces(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n !== '');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Deletes namespaces and scratch directories of netlabs whose owner process is gone (a run killed before
 * its teardown). Only names with this module's prefix are touched; their processes died with the owner
 * (parent-death signal), so nothing is killed here.
 */
async function sweepLeftovers(prefix: string): Promise<void> {
  const owners = new Map<string, boolean>();
  for (const entry of readdirSync(STATE_ROOT)) {
    const m = entry.match(new RegExp(`^${prefix}-netlab-([a-z0-9]{4})$`));
    if (!m) continue;
    let owner = NaN;
    try {
      owner = Number(readFileSync(path.join(STATE_ROOT, entry, 'owner'), 'utf8'));
    } catch {
      /* no owner file: a build that died very early */
    }
    owners.set(m[1]!, Number.isInteger(owner) && alive(owner));
  }
  for (const ns of await listNamespaces()) {
    const m = ns.match(new RegExp(`^${prefix}-([a-z0-9]{4})-`));
    if (m && owners.get(m[1]!) === false) await execa('ip', ['netns', 'del', ns], { reject: false });
  }
  for (const [tag, isAlive] of owners) {
    if (!isAlive) rmSync(path.join(STATE_ROOT, `${prefix}-netlab-${tag}`), { recursive: true, force: true });
  }
}
