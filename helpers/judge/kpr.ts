/**
 * Judges of the kube-proxy replacement suite (70-kube-proxy-replacement). Pure: they read parsed outputs and
 * Kubernetes objects and say yes or no with a sentence naming what was wrong.
 *
 * Beliefs: seed 004 ("kube-proxy Replacement": `kubeProxyReplacement: true`, `kubectl delete ds kube-proxy -n
 * kube-system`, `cilium status | grep KubeProxyReplacement` → `True`); cilium-behaviour.md 4.1/5.2 (the
 * `KubeProxyReplacement:` line and `."kube-proxy-replacement".mode`); kube-proxy's iptables chains (KUBE-SERVICES,
 * KUBE-NODEPORTS, KUBE-SVC-*, KUBE-SEP-*, KUBE-EXT-*, KUBE-SVL-*, KUBE-FW-*, KUBE-PROXY-CANARY: kubernetes
 * pkg/proxy/iptables/proxier.go). The kubelet makes KUBE-FIREWALL, KUBE-KUBELET-CANARY and KUBE-IPTABLES-HINT
 * itself, with or without kube-proxy: those are not kube-proxy's and never fail the judge.
 */
import type { IptablesTable, ServiceEntry } from '../parse/index.ts';
import { no, yes, type HttpAnswer, type Verdict } from './types.ts';

/** Chains only kube-proxy (iptables mode) creates. */
export const KUBE_PROXY_CHAIN = /^KUBE-(SERVICES|NODEPORTS|PROXY-CANARY|PROXY-FIREWALL|SVC-|SEP-|EXT-|SVL-|FW-|XLB-)/;

/** Every agent reports kube-proxy replacement on. */
export function judgeKprOn(agents: readonly { node: string; status: { kubeProxyReplacement: boolean } }[]): Verdict {
  if (agents.length === 0) return no('no Cilium agent was read');
  const off = agents.filter((a) => !a.status.kubeProxyReplacement).map((a) => a.node);
  if (off.length > 0) return no(`KubeProxyReplacement is not True on ${off.join(', ')} (of ${agents.map((a) => a.node).join(', ')})`);
  return yes(`KubeProxyReplacement True on every agent (${agents.map((a) => a.node).join(', ')})`);
}

/** The part of a DaemonSet the judge reads. */
export interface DaemonSetMeta {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
}

/** No kube-proxy DaemonSet in any namespace (by name or by its `k8s-app: kube-proxy` label). */
export function judgeNoKubeProxyDaemonSet(daemonSets: readonly DaemonSetMeta[]): Verdict {
  const found = daemonSets.filter((d) => d.metadata?.name === 'kube-proxy' || d.metadata?.labels?.['k8s-app'] === 'kube-proxy');
  if (found.length > 0)
    return no(
      `a kube-proxy DaemonSet is running alongside Cilium's kube-proxy replacement: ${found.map((d) => `${d.metadata?.namespace ?? '?'}/${d.metadata?.name ?? '?'}`).join(', ')}`,
    );
  return yes(`no kube-proxy DaemonSet among the ${daemonSets.length} DaemonSets`);
}

/** No node has a kube-proxy chain in any iptables table. */
export function judgeNoKubeProxyChains(nodes: readonly { node: string; tables: readonly IptablesTable[] }[]): Verdict {
  if (nodes.length === 0) return no('no node was read');
  const found = nodes.flatMap((n) =>
    n.tables.flatMap((t) => t.chains.filter((c) => KUBE_PROXY_CHAIN.test(c.name)).map((c) => `${n.node}: ${t.name}/${c.name}`)),
  );
  if (found.length > 0) return no(`kube-proxy's iptables chains are on the nodes: ${found.join(', ')}`);
  return yes(`no kube-proxy chain (KUBE-SERVICES, KUBE-SVC-*, …) on ${nodes.map((n) => n.node).join(', ')}`);
}

/** The agent's service table has the frontend `ip:port` with exactly the given backend IPs (on `port`). */
export function judgeServiceListed(
  entries: readonly ServiceEntry[],
  want: { ip: string; port: number; backendIps: readonly string[]; backendPort: number; type?: string },
): Verdict {
  const fe = entries.filter((e) => e.frontend.ip === want.ip && e.frontend.port === want.port);
  const name = `${want.ip}:${want.port}`;
  if (fe.length === 0)
    return no(
      `the agent lists no frontend ${name} (frontends: ${entries.map((e) => `${e.frontend.ip}:${e.frontend.port}`).join(', ') || 'none'})`,
    );
  const e = fe[0] as ServiceEntry;
  if (want.type && e.type !== want.type) return no(`frontend ${name} is listed as ${e.type}, not ${want.type}`);
  const seen = e.backends.map((b) => `${b.ip}:${b.port}`).sort();
  const wanted = want.backendIps.map((ip) => `${ip}:${want.backendPort}`).sort();
  const missing = wanted.filter((w) => !seen.includes(w));
  const extra = seen.filter((s) => !wanted.includes(s));
  const inactive = e.backends.filter((b) => b.state !== null && b.state !== 'active').map((b) => `${b.ip}:${b.port} (${b.state ?? ''})`);
  const problems = [
    ...(missing.length ? [`missing backends ${missing.join(', ')}`] : []),
    ...(extra.length ? [`unexpected backends ${extra.join(', ')}`] : []),
    ...(inactive.length ? [`backends not active: ${inactive.join(', ')}`] : []),
  ];
  if (problems.length > 0) return { ...no(`frontend ${name} (${e.type}): ${problems.join('; ')}`), expected: wanted, actual: seen };
  return yes(`frontend ${name} (${e.type}) lists its ${seen.length} backends ${seen.join(', ')}`);
}

/**
 * NodePort from outside: every node in `answering` must answer with HTTP (from one of `backends`, whoami's Hostname),
 * every other node must not answer at all (externalTrafficPolicy Local on a node without a backend).
 */
export function judgeNodePortAnswers(
  answers: readonly { node: string; address: string; answer: HttpAnswer }[],
  want: { answering: readonly string[]; backends: readonly string[] },
): Verdict {
  const problems: string[] = [];
  for (const a of answers) {
    const should = want.answering.includes(a.node);
    const host = /^Hostname:\s*(\S+)/m.exec(a.answer.body)?.[1] ?? null;
    if (should && !a.answer.ok) problems.push(`${a.node} (${a.address}) did not answer: ${a.answer.error ?? 'no HTTP answer'}`);
    else if (should && (a.answer.status !== 200 || !host || !want.backends.includes(host)))
      problems.push(
        `${a.node} (${a.address}) answered ${a.answer.status ?? '?'} from ${host ?? 'no whoami Hostname'}, not from a backend (${want.backends.join(', ')})`,
      );
    else if (!should && a.answer.ok)
      problems.push(
        `${a.node} (${a.address}) answered ${a.answer.status ?? '?'}${host ? ` from ${host}` : ''} but has no backend (externalTrafficPolicy Local)`,
      );
  }
  const missing = want.answering.filter((n) => !answers.some((a) => a.node === n));
  if (missing.length) problems.push(`no request was sent to ${missing.join(', ')}`);
  if (problems.length > 0) return no(problems.join('; '));
  const silent = answers.filter((a) => !want.answering.includes(a.node)).map((a) => a.node);
  return yes(`answered on ${want.answering.join(', ')}${silent.length ? `; no answer on ${silent.join(', ')}` : ''}`);
}
