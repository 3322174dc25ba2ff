/**
 * The twin's L7 HTTP policy (issue 17, 76-l7-policy): for a pod an L7 CiliumNetworkPolicy selects, traffic to its
 * port is redirected (nftables, in the pod's namespace) to an Envoy stand-in (l7-proxy.mjs) that enforces the
 * policy's HTTP rules: 403 `Access denied` on denial (pkg/option/config.go HTTP403Message), forwarded otherwise; every
 * request is reported to listeners, from which the API side records Hubble's L7 flows.
 *
 * Simplifications: only the HTTP rules of the port are enforced (fromEndpoints is not: the suites send from the
 * endpoint the policy allows); one port per pod; the redirect is in the backend pod's namespace (Cilium redirects in
 * the datapath to a per-node Envoy). Fault `l7-allows-all`: the stand-in forwards every request (and reports it
 * FORWARDED), as an Envoy that lost its HTTP filter would.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROXY = path.join(HERE, 'l7-proxy.mjs');
/** The port the stand-in listens on inside the pod (Cilium's proxy ports are 10000-20000: `cilium-dbg status`). */
export const L7_PROXY_PORT = 15080;
const NFT_TABLE = 'clh_l7';

export interface L7HttpRule {
  method?: string;
  path?: string;
}

export interface L7PodPolicy {
  port: number;
  http: L7HttpRule[];
}

export interface L7PodRef {
  namespace: string;
  name: string;
  /** The pod's network namespace and address. */
  ns: string;
  ip: string;
}

/** One request the stand-in saw (l7-proxy.mjs's JSON line), with the pod it guards. */
export interface L7Record {
  pod: { namespace: string; name: string; ip: string };
  method: string;
  url: string;
  path: string;
  protocol: string;
  code: number;
  verdict: 'FORWARDED' | 'DROPPED';
  srcIp: string;
  srcPort: number;
  latencyMs: number;
}

export interface L7Hooks {
  dir: string;
  spawnReady(ns: string, argv: string[], what: string): Promise<ChildProcess>;
  end(p: ChildProcess): Promise<void>;
  /** `nft -f -` in a namespace. */
  nft(ns: string, script: string, o?: { force?: boolean }): Promise<void>;
  allowAll(): boolean;
}

interface Guard {
  pod: L7PodRef;
  policy: L7PodPolicy;
  p: ChildProcess;
  rulesFile: string;
}

export class TwinL7Policy {
  private readonly guards = new Map<string, Guard>();
  private readonly listeners: ((r: L7Record) => void)[] = [];

  constructor(private readonly h: L7Hooks) {}

  onRecord(listener: (r: L7Record) => void): void {
    this.listeners.push(listener);
  }

  private rulesOf(policy: L7PodPolicy): string {
    return JSON.stringify({ allowAll: this.h.allowAll(), http: policy.http });
  }

  /** Puts the stand-in in front of the pod's port with these rules, or removes it (null). Idempotent. */
  async set(pod: L7PodRef, policy: L7PodPolicy | null): Promise<void> {
    const key = `${pod.namespace}/${pod.name}`;
    const g = this.guards.get(key);
    if (g && policy && g.policy.port === policy.port && g.p.exitCode === null && g.p.signalCode === null) {
      g.policy = policy;
      writeFileSync(g.rulesFile, this.rulesOf(policy));
      return;
    }
    if (g) await this.drop(key);
    if (!policy) return;
    const rulesFile = path.join(this.h.dir, `l7-${pod.ns}.json`);
    writeFileSync(rulesFile, this.rulesOf(policy));
    const p = await this.h.spawnReady(
      pod.ns,
      [process.execPath, PROXY, String(L7_PROXY_PORT), pod.ip, String(policy.port), rulesFile],
      `L7 policy stand-in for ${key}`,
    );
    let buf = '';
    p.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        this.emit(pod, line);
      }
    });
    this.guards.set(key, { pod, policy, p, rulesFile });
    await this.h.nft(
      pod.ns,
      [
        `table ip ${NFT_TABLE} {`,
        '  chain pre {',
        '    type nat hook prerouting priority dstnat; policy accept;',
        `    tcp dport ${policy.port} redirect to :${L7_PROXY_PORT}`,
        '  }',
        '}',
      ].join('\n'),
    );
  }

  /** The fault changed: every stand-in's rules file again. */
  applyFaults(): void {
    for (const g of this.guards.values()) writeFileSync(g.rulesFile, this.rulesOf(g.policy));
  }

  /** The pod is gone (its namespace with the nftables table): end the stand-in. */
  async forget(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    if (this.guards.has(key)) await this.drop(key, { podGone: true });
  }

  keys(): string[] {
    return [...this.guards.keys()];
  }

  private async drop(key: string, o: { podGone?: boolean } = {}): Promise<void> {
    const g = this.guards.get(key);
    if (!g) return;
    this.guards.delete(key);
    if (!o.podGone) await this.h.nft(g.pod.ns, `delete table ip ${NFT_TABLE}`, { force: true });
    await this.h.end(g.p);
    rmSync(g.rulesFile, { force: true });
  }

  private emit(pod: L7PodRef, line: string): void {
    let x: Omit<L7Record, 'pod'>;
    try {
      x = JSON.parse(line) as Omit<L7Record, 'pod'>;
    } catch {
      return; // "ready" and anything that is not a record
    }
    const r: L7Record = { ...x, pod: { namespace: pod.namespace, name: pod.name, ip: pod.ip } };
    for (const l of this.listeners) {
      try {
        l(r);
      } catch (err) {
        console.error(`twin network: an L7 record listener threw: ${String(err)}`);
      }
    }
  }
}
