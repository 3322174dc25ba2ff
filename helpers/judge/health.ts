/**
 * Judgements for the lab health suite (00-lab-health): every host answers, every Kubernetes node is
 * Ready, one healthy Cilium agent per node; and the versions actually running, as one flat record for
 * the report. Pure.
 */
import type { RoutingStatus, Verdict } from './types.ts';

/** Every topology node answered over SSH with its own host name (so the address is the right VM). */
export function judgeHostsAnswer(expected: string[], answers: { node: string; hostname: string | null; error: string | null }[]): Verdict {
  if (expected.length === 0) return { ok: false, explanation: 'no hosts expected: nothing to check' };
  const problems: string[] = [];
  for (const name of expected) {
    const a = answers.find((x) => x.node === name);
    if (!a) problems.push(`${name}: not asked`);
    else if (a.error !== null) problems.push(`${name}: ${a.error}`);
    else if (a.hostname?.trim() !== name) problems.push(`${name}: answered as "${a.hostname?.trim() ?? ''}"`);
  }
  return problems.length === 0
    ? { ok: true, explanation: `all ${expected.length} hosts answered with their own name: ${expected.join(', ')}` }
    : { ok: false, explanation: problems.join('; ') };
}

/** The part of a V1Node the judge reads. */
export interface NodeLike {
  metadata?: { name?: string };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** Every expected Kubernetes node exists and its Ready condition is True. */
export function judgeNodesReady(expected: string[], nodes: NodeLike[]): Verdict {
  if (expected.length === 0) return { ok: false, explanation: 'no nodes expected: nothing to check' };
  const problems: string[] = [];
  for (const name of expected) {
    const n = nodes.find((x) => x.metadata?.name === name);
    const ready = n?.status?.conditions?.find((c) => c.type === 'Ready');
    if (!n) problems.push(`${name}: not in the cluster`);
    else if (!ready) problems.push(`${name}: no Ready condition`);
    else if (ready.status !== 'True')
      problems.push(
        `${name}: Ready=${ready.status}${ready.reason ? ` (${ready.reason}${ready.message ? `: ${ready.message}` : ''})` : ''}`,
      );
  }
  const extra = nodes.map((n) => n.metadata?.name ?? '(unnamed)').filter((n) => !expected.includes(n));
  if (extra.length > 0) problems.push(`not in the topology: ${extra.join(', ')}`);
  return problems.length === 0
    ? { ok: true, explanation: `all ${expected.length} nodes are Ready: ${expected.join(', ')}` }
    : { ok: false, explanation: problems.join('; ') };
}

/** Exactly one Cilium agent per expected node, each healthy (as helpers/cilium/cilium.ts runningCilium reports); an
 *  unhealthy one is named with the state it reports (cilium-dbg status `cilium.state`), when known. */
export function judgeAgentsPerNode(
  expected: string[],
  agents: { node: string; pod: string; healthy: boolean; state?: string | null }[],
): Verdict {
  if (expected.length === 0) return { ok: false, explanation: 'no nodes expected: nothing to check' };
  const problems: string[] = [];
  for (const name of expected) {
    const mine = agents.filter((a) => a.node === name);
    if (mine.length === 0) problems.push(`${name}: no Cilium agent`);
    else if (mine.length > 1) problems.push(`${name}: ${mine.length} agents (${mine.map((a) => a.pod).join(', ')})`);
    else if (!mine[0]?.healthy) problems.push(`${name}: agent ${mine[0]?.pod} is not healthy (state ${mine[0]?.state ?? 'unknown'})`);
  }
  const stray = agents.filter((a) => !expected.includes(a.node));
  if (stray.length > 0) problems.push(`agents on nodes not in the topology: ${stray.map((a) => `${a.pod}@${a.node}`).join(', ')}`);
  return problems.length === 0
    ? { ok: true, explanation: `one healthy agent on each of ${expected.join(', ')}: ${agents.map((a) => a.pod).join(', ')}` }
    : { ok: false, explanation: problems.join('; ') };
}

export interface LabFacts {
  ciliumImage: string;
  ciliumVersion: string;
  kubernetesVersion: string;
  kernels: { node: string; release: string }[];
  agents: { node: string; status: RoutingStatus }[];
  /** cilium-config data. */
  config: Record<string, string>;
}

/** The config keys worth a line in the report (cilium-behaviour.md section 4.2). */
const REPORTED_CONFIG_KEYS = [
  'routing-mode',
  'tunnel-protocol',
  'auto-direct-node-routes',
  'ipv4-native-routing-cidr',
  'kube-proxy-replacement',
  'enable-bpf-masquerade',
  'enable-hubble',
  'enable-l2-announcements',
  'enable-ingress-controller',
];

/** One value when every node agrees, else `node: value` pairs. */
function agreed(values: { node: string; value: string }[]): string {
  if (values.length === 0) return '(none)';
  const distinct = new Set(values.map((v) => v.value));
  return distinct.size === 1 ? (values[0] as { value: string }).value : values.map((v) => `${v.node}: ${v.value}`).join(', ');
}

/** The run's environment as helpers/report/report.ts recordLabEnvironment takes it (camelCase keys, string values). */
export interface EnvironmentRecord {
  ciliumVersion: string;
  ciliumImage: string;
  kubernetesVersion: string;
  /** One release when every node runs the same kernel, else `node: release` pairs. */
  kernel: string;
  /** From the agents' `cilium-dbg status`: `Native`, `Tunnel [vxlan]`, or per node when they disagree. */
  routingMode: string;
  hostRouting: string;
  kubeProxyReplacement: string;
  /** The asked-for cilium-config keys, `key=value` comma-separated. */
  ciliumConfig: string;
  [key: string]: string;
}

/**
 * The versions and modes actually running, for the report. Routing mode and KPR come from the agents'
 * `cilium-dbg status` (what runs); the config keys are listed apart (what was asked), since the
 * tunnel-protocol key stays present even in native mode (cilium-behaviour.md section 4).
 */
export function labEnvironment(f: LabFacts): EnvironmentRecord {
  const byNode = <T>(items: { node: string }[], value: (i: number) => T): { node: string; value: T }[] =>
    items.map((x, i) => ({ node: x.node, value: value(i) }));
  const kernels = [...f.kernels].sort((a, b) => a.node.localeCompare(b.node)).map((k) => ({ node: k.node, value: k.release.trim() }));
  const agents = [...f.agents].sort((a, b) => a.node.localeCompare(b.node));
  const routing = agents.map((a) => a.status.routing);
  return {
    ciliumVersion: f.ciliumVersion,
    ciliumImage: f.ciliumImage,
    kubernetesVersion: f.kubernetesVersion,
    kernel: agreed(kernels),
    routingMode: agreed(
      byNode(agents, (i) => `${routing[i]?.network ?? '?'}${routing[i]?.tunnelProtocol ? ` [${routing[i]?.tunnelProtocol}]` : ''}`),
    ),
    hostRouting: agreed(byNode(agents, (i) => routing[i]?.host ?? '?')),
    kubeProxyReplacement: agreed(byNode(agents, (i) => (agents[i]?.status.kubeProxyReplacement ? 'True' : 'False'))),
    ciliumConfig: REPORTED_CONFIG_KEYS.filter((k) => f.config[k] !== undefined)
      .map((k) => `${k}=${f.config[k]}`)
      .join(', '),
  };
}
