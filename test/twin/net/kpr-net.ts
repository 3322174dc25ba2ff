/**
 * The twin network's kube-proxy replacement, cluster DNS and network policy datapath (issue 17), driven by the API
 * side through TwinNetwork's setServices / setDnsRecords / setPodFirewall / setKubeProxyChains:
 *
 * - Service frontends: nftables `table ip twin_svc` in every node's namespace, rebuilt whole: ClusterIP frontends
 *   DNAT to their backends (prerouting, for the node's pods; output, for the node itself); NodePort frontends on the
 *   node's address DNAT to the node's list (externalTrafficPolicy Local: only local backends; none: dropped) and are
 *   masqueraded when they leave towards another node, so the answer comes back through this node.
 * - Cluster DNS: one dnsmasq per node listening on its cilium_host IP, the kube-dns ClusterIP DNATed to it, serving
 *   `<svc>.<ns>.svc.cluster.local` from a hosts file rewritten on every change (SIGHUP re-reads it); pods get a
 *   resolv.conf naming it, with kubelet's search path, bind-mounted over /etc/resolv.conf in their exec's mount namespace.
 * - Policy: `table inet twin_policy` in a pod's namespace (text from test/twin/cilium/policy.ts renderPodFirewall).
 * - Fault kube-proxy-left: kube-proxy's nat chains loaded with iptables-restore in every node's namespace.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import type { ServiceFrontendNet } from '../contract.ts';

export interface KprNetContext {
  dir: string;
  nodes: readonly string[];
  nodeNs(node: string): string;
  /** The node's cilium_host IP (dnsmasq listens there; the kube-dns ClusterIP is DNATed to it). */
  hostIp(node: string): string;
  isDown(node: string): boolean;
  spawnReady(ns: string, argv: string[], what: string): Promise<ChildProcess>;
  end(p: ChildProcess): Promise<void>;
}

const MARK = '0x4b50';

/** The node's service NAT table (pure). */
export function renderServiceNat(frontends: readonly ServiceFrontendNet[]): string {
  const nat: string[] = [];
  const drops: string[] = [];
  for (const f of frontends) {
    const proto = f.protocol.toLowerCase();
    const match = `ip daddr ${f.ip} ${proto} dport ${f.port}`;
    if (f.backends.length === 0) {
      if (f.kind === 'NodePort') drops.push(`    ${match} drop`);
      continue;
    }
    const map = f.backends.map((b, i) => `${i} : ${b.ip} . ${b.port}`).join(', ');
    const mark = f.kind === 'NodePort' ? `meta mark set ${MARK} ` : '';
    nat.push(`    ${match} ${mark}dnat ip to numgen random mod ${f.backends.length} map { ${map} }`);
  }
  return [
    'table ip twin_svc',
    'delete table ip twin_svc',
    'table ip twin_svc {',
    '  chain filter_pre {',
    '    type filter hook prerouting priority -110; policy accept;',
    ...drops,
    '  }',
    '  chain pre {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...nat,
    '  }',
    '  chain out {',
    '    type nat hook output priority -100; policy accept;',
    ...nat,
    '  }',
    '  chain post {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    meta mark ${MARK} oifname != "lxc*" masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** kube-proxy's iptables (nat) chains as iptables-restore reads them (fault kube-proxy-left). */
export function kubeProxyChains(): string {
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-NODEPORTS - [0:0]',
    ':KUBE-SVC-NPX46M4PTMTKRN6Y - [0:0]',
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    'COMMIT',
    '',
  ].join('\n');
}

export class KprNet {
  private dns = new Map<string, ChildProcess>();
  private dnsIp = '';
  private chainsOn = false;
  private lastServices: ReadonlyMap<string, readonly ServiceFrontendNet[]> = new Map();

  constructor(private readonly c: KprNetContext) {}

  get hostsFile(): string {
    return path.join(this.c.dir, 'cluster-dns.hosts');
  }

  resolvConf(podNamespace: string): string {
    const file = path.join(this.c.dir, `resolv-${podNamespace}.conf`);
    if (this.dnsIp)
      writeFileSync(
        file,
        `search ${podNamespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver ${this.dnsIp}\noptions ndots:5\n`,
        { mode: 0o644 },
      );
    return this.dnsIp ? file : '';
  }

  async setServices(perNode: ReadonlyMap<string, readonly ServiceFrontendNet[]>): Promise<void> {
    this.lastServices = perNode;
    for (const node of this.c.nodes) {
      if (this.c.isDown(node)) continue;
      // No address of its own for the DNS ClusterIP: an address on lo would be picked as a masquerade source.
      const dns: ServiceFrontendNet[] = this.dnsIp
        ? (['UDP', 'TCP'] as const).map((protocol) => ({
            kind: 'ClusterIP' as const,
            ip: this.dnsIp,
            port: 53,
            protocol,
            backends: [{ ip: this.c.hostIp(node), port: 53 }],
          }))
        : [];
      const text = renderServiceNat([...dns, ...(perNode.get(node) ?? [])]);
      const r = await execa('ip', ['netns', 'exec', this.c.nodeNs(node), 'nft', '-f', '-'], { input: text, reject: false });
      if (r.exitCode !== 0) throw new Error(`twin network: service nft on ${node} failed: ${r.stderr.trim()}\n${text}`);
    }
  }

  async setDnsRecords(dnsIp: string, records: readonly { name: string; ip: string }[]): Promise<void> {
    writeFileSync(this.hostsFile, records.map((r) => `${r.ip} ${r.name}`).join('\n') + '\n', { mode: 0o644 });
    const first = this.dnsIp === '';
    this.dnsIp = dnsIp;
    if (first) await this.setServices(this.lastServices);
    for (const node of this.c.nodes) {
      if (this.c.isDown(node)) continue;
      const running = this.dns.get(node);
      if (running && running.exitCode === null) {
        running.kill('SIGHUP');
        continue;
      }
      const ns = this.c.nodeNs(node);
      const argv = [
        'sh',
        '-c',
        'exec dnsmasq "$@" 2>&1',
        'dnsmasq',
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--no-resolv',
        '--no-hosts',
        '--user=root',
        '--pid-file',
        '--log-facility=-',
        `--addn-hosts=${this.hostsFile}`,
        `--listen-address=${this.c.hostIp(node)}`,
        '--bind-interfaces',
        '--local=/cluster.local/',
        '--port=53',
      ];
      this.dns.set(node, await this.c.spawnReady(ns, argv, `dnsmasq on ${node}`));
    }
  }

  async setPodFirewall(podNs: string, text: string): Promise<void> {
    const r = await execa('ip', ['netns', 'exec', podNs, 'nft', '-f', '-'], { input: text, reject: false });
    if (r.exitCode !== 0) throw new Error(`twin network: policy nft in ${podNs} failed: ${r.stderr.trim()}\n${text}`);
  }

  async setKubeProxyChains(on: boolean): Promise<void> {
    if (on === this.chainsOn) return;
    this.chainsOn = on;
    for (const node of this.c.nodes) {
      const ns = this.c.nodeNs(node);
      if (on) await execa('ip', ['netns', 'exec', ns, 'iptables-restore'], { input: kubeProxyChains(), reject: false });
      else {
        await execa('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-F'], { reject: false });
        await execa('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-X'], { reject: false });
      }
    }
  }

  /** After a node's reboot: its dnsmasq is restarted at the next setDnsRecords (the process died with the node? no: kept). */
  async stop(): Promise<void> {
    for (const p of this.dns.values()) await this.c.end(p);
    this.dns.clear();
  }
}
