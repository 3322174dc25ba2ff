/**
 * WireGuard between the twin's nodes (issue 17, 80-wireguard): a real `cilium_wg0` in every node namespace, made by
 * userspace wireguard-go (this machine has no wireguard kernel module) and configured with `wg`: listen port 51871,
 * one peer per other node (endpoint = its node address, AllowedIPs = its pod CIDR), so pod traffic between nodes
 * really crosses the router as UDP 51871 between node addresses.
 *
 * - wireguard-go keeps its control socket in /var/run/wireguard/<dev>.sock, one path for the whole machine: each one
 *   runs in `ip netns exec` (its own mount namespace, slave to the host's) with a private tmpfs over /run, so the
 *   sockets never meet and nothing is written to the machine's /run; `wg` reaches a node's socket by entering that
 *   process's mount and network namespaces (nsenter -t <pid>). The process is started with a parent-death signal,
 *   tracked by the twin network and ended by PID at teardown and when encryption is turned off.
 * - Pod traffic between nodes is sent into cilium_wg0 by a rule `from <cluster pod CIDR> to <cluster pod CIDR>
 *   lookup 101` (priority 90, before the tunnel's table 100) where table 101 routes each peer's pod CIDR into
 *   cilium_wg0. Traffic from a node address (e.g. an LB frontend's masqueraded traffic) stays on the tunnel, as
 *   Cilium encrypts node-to-node traffic only with encryption.nodeEncryption (chart default false).
 * - Fault `wireguard-plaintext`: the interfaces, keys and peers are all there (the agents report Wireguard) but the
 *   rule is missing, so pod traffic crosses the router in clear (VXLAN carrying pod addresses).
 */
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

export const WG_DEVICE = 'cilium_wg0';
export const WG_PORT = 51871;
export const WG_TABLE = 101;
export const WG_RULE_PRIORITY = 90;

export interface WgNode {
  name: string;
  ns: string;
  address: string;
  podCidr: string;
}

export interface WireguardHooks {
  /** Scratch directory (keys). */
  dir: string;
  /** The cluster pod CIDR (the rule's from/to). */
  clusterPodCidr: string;
  /** Starts a long-lived process with a parent-death signal and tracks it (the twin network ends it by PID). */
  spawn(argv: string[], env: Record<string, string>): ChildProcess;
  /** Ends a process by PID (SIGTERM, then SIGKILL). */
  end(p: ChildProcess): Promise<void>;
  /** `ip -batch` in a namespace; `force` ignores failures (undo lines). */
  ipBatch(ns: string, commands: string[], o?: { force?: boolean }): Promise<void>;
  /** Whether the wireguard-plaintext fault is on. */
  plaintext(): boolean;
}

interface Running {
  p: ChildProcess;
  publicKey: string;
  keyFile: string;
}

/** True when the machine has what the twin's WireGuard needs (wireguard-go, wg, nsenter). */
export async function wireguardUnavailable(): Promise<string | null> {
  for (const tool of ['wireguard-go', 'wg', 'nsenter']) {
    const r = await execa('sh', ['-c', `command -v ${tool}`], { reject: false });
    if (r.exitCode !== 0) return `${tool} is not installed (Debian packages wireguard-go, wireguard-tools: .ci/apt/twin.txt)`;
  }
  return null;
}

export class TwinWireguard {
  private readonly running = new Map<string, Running>();
  private readonly keys = new Map<string, Promise<{ privateKey: string; publicKey: string }>>();

  constructor(private readonly h: WireguardHooks) {}

  /** The node's public key while its cilium_wg0 runs, else null. */
  publicKey(node: string): string | null {
    return this.running.get(node)?.publicKey ?? null;
  }

  /** PIDs of the wireguard-go processes. */
  pids(): number[] {
    return [...this.running.values()].map((r) => r.p.pid).filter((x): x is number => x !== undefined);
  }

  /** Makes `n`'s WireGuard what `on` says (idempotent): device, peers, routes and rule, or none of them. */
  async program(n: WgNode, peers: readonly WgNode[], on: boolean): Promise<void> {
    // Undo the routing part first: the rule and table 101 (re-added below when on and no fault).
    await this.h.ipBatch(n.ns, [`rule del priority ${WG_RULE_PRIORITY}`, `route flush table ${WG_TABLE}`], { force: true });
    if (!on) {
      await this.stop(n.name);
      return;
    }
    // Every node's key first (the peers need them), then this node's device and peers.
    for (const x of [n, ...peers]) await this.keyOf(x.name);
    const r = await this.start(n);
    const args = ['set', WG_DEVICE, 'listen-port', String(WG_PORT), 'private-key', r.keyFile];
    for (const p of peers) {
      const k = await this.keyOf(p.name);
      args.push('peer', k.publicKey, 'endpoint', `${p.address}:${WG_PORT}`, 'allowed-ips', p.podCidr);
    }
    await this.wg(r, args);
    await this.h.ipBatch(n.ns, [`link set ${WG_DEVICE} up`]);
    if (this.h.plaintext()) return;
    await this.h.ipBatch(n.ns, [
      ...peers.map((p) => `route replace ${p.podCidr} dev ${WG_DEVICE} table ${WG_TABLE}`),
      `rule add from ${this.h.clusterPodCidr} to ${this.h.clusterPodCidr} lookup ${WG_TABLE} priority ${WG_RULE_PRIORITY}`,
    ]);
  }

  /** Ends the node's wireguard-go (its cilium_wg0 goes with it). */
  async stop(node: string): Promise<void> {
    const r = this.running.get(node);
    if (!r) return;
    this.running.delete(node);
    await this.h.end(r.p);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((n) => this.stop(n)));
  }

  /**
   * The node's key pair, made once. The promise is kept (not the result), so nodes programmed in parallel asking for
   * the same peer's key get the same one: two `wg genkey` for one node would leave its peers with a key it does not
   * have, and the handshake would never complete (seen: the first request across the router timed out).
   */
  private keyOf(node: string): Promise<{ privateKey: string; publicKey: string }> {
    let k = this.keys.get(node);
    if (!k) {
      k = (async () => {
        const privateKey = (await execa('wg', ['genkey'])).stdout.trim();
        const publicKey = (await execa('wg', ['pubkey'], { input: `${privateKey}\n` })).stdout.trim();
        return { privateKey, publicKey };
      })();
      this.keys.set(node, k);
    }
    return k;
  }

  private async start(n: WgNode): Promise<Running> {
    const live = this.running.get(n.name);
    if (live && live.p.exitCode === null && live.p.signalCode === null) return live;
    const k = await this.keyOf(n.name);
    const dir = path.join(this.h.dir, 'wireguard');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const keyFile = path.join(dir, `${n.name}.key`);
    writeFileSync(keyFile, `${k.privateKey}\n`, { mode: 0o600 });
    chmodSync(keyFile, 0o600);
    // ip netns exec gives the process its own mount namespace; the tmpfs over /run stays in it.
    const p = this.h.spawn(
      [
        'ip',
        'netns',
        'exec',
        n.ns,
        'sh',
        '-c',
        `mount -t tmpfs -o size=1m,mode=0755 clh-wireguard /run && mkdir -p /run/wireguard && exec wireguard-go -f ${WG_DEVICE}`,
      ],
      { WG_PROCESS_FOREGROUND: '1' },
    );
    const r: Running = { p, publicKey: k.publicKey, keyFile };
    this.running.set(n.name, r);
    // Ready when `wg` can talk to it (bounded: 50 × 100 ms).
    let last = '';
    for (let i = 0; i < 50; i++) {
      if (p.exitCode !== null || p.signalCode !== null) break;
      const probe = await this.wgRaw(r, ['show', WG_DEVICE]);
      if (probe.exitCode === 0) return r;
      last = probe.stderr;
      await new Promise((res) => setTimeout(res, 100));
    }
    this.running.delete(n.name);
    await this.h.end(p);
    throw new Error(`twin network: wireguard-go on ${n.name} did not come up: ${last.trim() || `exit ${String(p.exitCode)}`}`);
  }

  private async wgRaw(r: Running, args: string[]): Promise<{ exitCode: number | undefined; stderr: string }> {
    const out = await execa('nsenter', ['-t', String(r.p.pid), '-m', '-n', 'wg', ...args], { reject: false, timeout: 10_000 });
    return { exitCode: out.exitCode, stderr: String(out.stderr) };
  }

  private async wg(r: Running, args: string[]): Promise<void> {
    const out = await this.wgRaw(r, args);
    if (out.exitCode !== 0) throw new Error(`twin network: wg ${args.slice(0, 2).join(' ')} failed: ${out.stderr.trim()}`);
  }
}
