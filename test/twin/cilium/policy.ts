/**
 * Kubernetes NetworkPolicy (networking.k8s.io/v1) as Cilium enforces it, as a pure model: which pods a policy
 * isolates in which direction, what each isolated direction allows, the decision for one connection (and where it is
 * enforced: egress at the source endpoint, ingress at the destination), and the nftables ruleset the twin loads in a
 * pod's network namespace so a denied connection is dropped (never answered: the client times out).
 *
 *   const pp = podPolicies(policies, pods);            // Map podKey -> { ingress, egress } (null = not isolated)
 *   decide(pp, pods, { srcIp, dstIp, port: 3306, protocol: 'TCP' }) // { allowed, enforcedAt: 'egress' | 'ingress' | null }
 *   renderPodFirewall(pp.get('ns/db'), pods)           // nft text for the pod's namespace
 *
 * Sources: Kubernetes NetworkPolicy semantics (policyTypes default: Ingress, plus Egress when egress rules exist; a
 * pod selected for a direction is isolated in it; rules are unioned; an empty `from`/`to` = every peer; empty `ports` =
 * every port; peers podSelector within the policy's namespace, namespaceSelector by namespace labels);
 * seed 004 (default-deny-all, allow-was-to-db, allow-web-to-was); Cilium drops denied packets (cilium-behaviour.md 6:
 * DROPPED / POLICY_DENIED). ipBlock and named ports are not modelled (the suites use neither).
 */

export interface PolicyPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface NetworkPolicyInput {
  metadata: { namespace?: string; name: string };
  spec: {
    podSelector?: LabelSelector;
    policyTypes?: string[];
    ingress?: { from?: Peer[]; ports?: PortSpec[] }[];
    egress?: { to?: Peer[]; ports?: PortSpec[] }[];
  };
}

interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
}

interface PortSpec {
  protocol?: string;
  port?: number | string;
}

/** One allow rule of an isolated direction: peers (IPs, or any) and ports (or any). */
export interface AllowRule {
  peers: string[] | 'any';
  ports: { protocol: 'TCP' | 'UDP'; port: number }[] | 'any';
}

export interface PodPolicy {
  /** null: not isolated for ingress (everything allowed). */
  ingress: AllowRule[] | null;
  egress: AllowRule[] | null;
}

export function selects(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const val = labels[e.key];
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(val as string))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(val as string)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

const key = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

function types(p: NetworkPolicyInput): { ingress: boolean; egress: boolean } {
  const t = p.spec.policyTypes;
  if (t && t.length > 0) return { ingress: t.includes('Ingress'), egress: t.includes('Egress') };
  return { ingress: true, egress: (p.spec.egress ?? []).length > 0 };
}

function peersOf(
  peers: Peer[] | undefined,
  policyNs: string,
  pods: readonly PolicyPod[],
  nsLabels: (ns: string) => Record<string, string>,
): string[] | 'any' {
  if (!peers || peers.length === 0) return 'any';
  const ips = new Set<string>();
  for (const peer of peers)
    for (const p of pods) {
      const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, nsLabels(p.namespace)) : p.namespace === policyNs;
      if (nsOk && (peer.podSelector ? selects(peer.podSelector, p.labels) : true) && p.ip) ips.add(p.ip);
    }
  return [...ips].sort();
}

function portsOf(ports: PortSpec[] | undefined): AllowRule['ports'] {
  if (!ports || ports.length === 0) return 'any';
  return ports
    .filter((p) => typeof p.port === 'number')
    .map((p) => ({
      protocol: (p.protocol ?? 'TCP').toUpperCase() === 'UDP' ? ('UDP' as const) : ('TCP' as const),
      port: p.port as number,
    }));
}

/** Each pod's isolation and allows (pods no policy selects are absent: allowed both ways). */
export function podPolicies(
  policies: readonly NetworkPolicyInput[],
  pods: readonly PolicyPod[],
  nsLabels: (ns: string) => Record<string, string> = (ns) => ({ 'kubernetes.io/metadata.name': ns }),
): Map<string, PodPolicy> {
  const out = new Map<string, PodPolicy>();
  for (const pol of policies) {
    const ns = pol.metadata.namespace ?? 'default';
    const t = types(pol);
    for (const pod of pods) {
      if (pod.namespace !== ns || !selects(pol.spec.podSelector ?? {}, pod.labels)) continue;
      const pp = out.get(key(pod)) ?? { ingress: null, egress: null };
      if (t.ingress)
        pp.ingress = [
          ...(pp.ingress ?? []),
          ...(pol.spec.ingress ?? []).map((r) => ({ peers: peersOf(r.from, ns, pods, nsLabels), ports: portsOf(r.ports) })),
        ];
      if (t.egress)
        pp.egress = [
          ...(pp.egress ?? []),
          ...(pol.spec.egress ?? []).map((r) => ({ peers: peersOf(r.to, ns, pods, nsLabels), ports: portsOf(r.ports) })),
        ];
      out.set(key(pod), pp);
    }
  }
  return out;
}

function allows(rules: AllowRule[] | null, peer: string, port: number, protocol: 'TCP' | 'UDP'): boolean {
  if (rules === null) return true;
  return rules.some(
    (r) =>
      (r.peers === 'any' || r.peers.includes(peer)) &&
      (r.ports === 'any' || r.ports.some((p) => p.port === port && p.protocol === protocol)),
  );
}

export interface Decision {
  allowed: boolean;
  /** Where the drop happens: egress (the source's endpoint, its node) or ingress (the destination's). */
  enforcedAt: 'egress' | 'ingress' | null;
}

export function decide(
  pp: ReadonlyMap<string, PodPolicy>,
  pods: readonly PolicyPod[],
  c: { srcIp: string; dstIp: string; port: number; protocol: 'TCP' | 'UDP' },
): Decision {
  const src = pods.find((p) => p.ip === c.srcIp);
  const dst = pods.find((p) => p.ip === c.dstIp);
  if (src && !allows(pp.get(key(src))?.egress ?? null, c.dstIp, c.port, c.protocol)) return { allowed: false, enforcedAt: 'egress' };
  if (dst && !allows(pp.get(key(dst))?.ingress ?? null, c.srcIp, c.port, c.protocol)) return { allowed: false, enforcedAt: 'ingress' };
  return { allowed: true, enforcedAt: null };
}

function ruleLines(rules: AllowRule[], dir: 'saddr' | 'daddr'): string[] {
  const out: string[] = [];
  for (const r of rules) {
    const peer = r.peers === 'any' ? '' : r.peers.length === 0 ? null : `ip ${dir} { ${r.peers.join(', ')} } `;
    if (peer === null) continue; // selects no pod: allows nothing
    if (r.ports === 'any') out.push(`    ${peer}accept`);
    else for (const p of r.ports) out.push(`    ${peer}${p.protocol.toLowerCase()} dport ${p.port} accept`);
  }
  return out;
}

/** The nftables ruleset for a pod's namespace (table inet twin_policy, rebuilt whole); null policy: the table is removed. */
export function renderPodFirewall(pp: PodPolicy | null | undefined): string {
  const head = ['table inet twin_policy', 'delete table inet twin_policy'];
  if (!pp || (pp.ingress === null && pp.egress === null)) return `${head.join('\n')}\n`;
  const chain = (name: string, hook: 'input' | 'output', rules: AllowRule[] | null, dir: 'saddr' | 'daddr'): string[] => [
    `  chain ${name} {`,
    `    type filter hook ${hook} priority 0; policy accept;`,
    ...(rules === null
      ? []
      : [
          '    ct state established,related accept',
          `    ${hook === 'input' ? 'iif' : 'oif'} lo accept`,
          ...ruleLines(rules, dir),
          '    drop',
        ]),
    '  }',
  ];
  return [
    ...head,
    'table inet twin_policy {',
    ...chain('ingress', 'input', pp.ingress, 'saddr'),
    ...chain('egress', 'output', pp.egress, 'daddr'),
    '}',
    '',
  ].join('\n');
}
