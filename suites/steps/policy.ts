/**
 * Steps of the network policy suite (75-network-policy): the petclinic pods (web, was, db), one TCP attempt per
 * ordered pair with curl from the source pod's client container, and the Hubble flows an agent kept. Facts only;
 * helpers/judge/policy.ts decides.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { AGENT_CONTAINER, CILIUM_NAMESPACE, agentPodOn } from '../../helpers/cilium/cilium.ts';
import type { Attempt } from '../../helpers/judge/policy.ts';
import type { Verdict } from '../../helpers/judge/types.ts';
import type { Lab } from '../../helpers/lab/lab.ts';
import { parseCurlOutput, parseHubbleFlows, type HubbleFlow } from '../../helpers/parse/index.ts';
import { attach, step } from '../../helpers/report/report.ts';
import { curlArgv } from '../../helpers/transport/probes.ts';
import { DEADLINE } from '../../helpers/wait/deadlines.ts';
import { pollSettled } from '../../helpers/wait/retry.ts';

/** The three tiers, the port each serves (suites/manifests/petclinic.yaml) and the container curl runs in. */
export const TIERS = { web: 80, was: 8080, db: 3306 } as const;
export type Tier = keyof typeof TIERS;
export const CLIENT_CONTAINER = 'client';

export interface TierPod {
  tier: Tier;
  name: string;
  node: string;
  ip: string;
  port: number;
}

export function tierPods(pods: readonly V1Pod[]): TierPod[] {
  return (Object.keys(TIERS) as Tier[]).map((tier) => {
    const p = pods.find((x) => x.metadata?.labels?.app === tier);
    const ip = p?.status?.podIP;
    const node = p?.spec?.nodeName;
    if (!p?.metadata?.name || !ip || !node) throw new Error(`the ${tier} pod is missing, has no IP or no node`);
    return { tier, name: p.metadata.name, node, ip, port: TIERS[tier] };
  });
}

/** Every ordered pair of distinct tiers. */
export function pairs(pods: readonly TierPod[]): [TierPod, TierPod][] {
  return pods.flatMap((a) => pods.filter((b) => b !== a).map((b): [TierPod, TierPod] => [a, b]));
}

/** One attempt per ordered pair, all at once (each bounded by the request deadline); outputs attached. */
export async function tryEveryPair(lab: Lab, pods: readonly TierPod[], what: string): Promise<Attempt[]> {
  return step(`${what}: curl every other tier from web, was and db (${DEADLINE.requestMs / 1000} s each)`, async () => {
    const out = await Promise.all(
      pairs(pods).map(async ([from, to]): Promise<Attempt & { raw: string }> => {
        const argv = curlArgv({ url: `http://${to.ip}:${to.port}/`, timeoutMs: DEADLINE.requestMs });
        const r = await lab.kube.execInPod(lab.namespace, from.name, argv, {
          container: CLIENT_CONTAINER,
          timeoutMs: DEADLINE.requestMs + DEADLINE.execMs,
        });
        const parsed = parseCurlOutput(r.stdout);
        const ok = parsed.status !== null;
        return {
          from: from.tier,
          to: to.tier,
          port: to.port,
          answer: { ok, status: parsed.status, error: r.code === 0 && ok ? null : r.stderr.trim() || `curl exited with code ${r.code}` },
          raw: `${r.stdout}${r.stderr ? `\n--- stderr ---\n${r.stderr}` : ''}\n(exit ${r.code})`,
        };
      }),
    );
    await attach(`${what}: curl outputs`, out.map((a) => `== ${a.from} → ${a.to}:${a.port}\n${a.raw}`).join('\n\n'), 'text');
    return out.map(({ raw: _raw, ...a }) => a);
  });
}

/** The DROPPED flows the agent on `node` kept (`hubble observe --last 1000 -o json --verdict DROPPED`), attached. */
export async function droppedFlowsOn(lab: Lab, node: string): Promise<HubbleFlow[]> {
  const agent = await agentPodOn(lab, node);
  const pod = agent.metadata?.name ?? '';
  const argv = ['hubble', 'observe', '--last', '1000', '--output', 'json', '--verdict', 'DROPPED'];
  return step(`hubble observe in ${pod} (${node}): ${argv.slice(1).join(' ')}`, async () => {
    const out = await lab.kube.execInPod(CILIUM_NAMESPACE, pod, argv, { container: AGENT_CONTAINER, timeoutMs: DEADLINE.execMs });
    await attach(`hubble observe on ${node}`, `${out.stdout}${out.stderr ? `\n--- stderr ---\n${out.stderr}` : ''}`, 'text');
    return parseHubbleFlows(out.stdout).flows;
  });
}

/**
 * The agents program a policy change within moments, not at once: rounds of tryEveryPair until `judge` accepts one
 * or `timeoutMs` passes (helpers/wait/retry.ts pollSettled). Returns the last round and its verdict; the suite
 * asserts that verdict, so a policy never enforced fails naming the pair that still connected.
 */
export async function tryEveryPairUntil(
  lab: Lab,
  pods: readonly TierPod[],
  what: string,
  judge: (a: Attempt[]) => Verdict,
  timeoutMs: number,
): Promise<{ attempts: Attempt[]; verdict: Verdict; rounds: number }> {
  let rounds = 0;
  let last: { attempts: Attempt[]; verdict: Verdict } = { attempts: [], verdict: { ok: false, explanation: 'no round ran' } };
  const r = await pollSettled(
    `${what}: the policy's effect on every pair`,
    async () => {
      rounds++;
      const attempts = await tryEveryPair(lab, pods, rounds === 1 ? what : `${what} (round ${rounds})`);
      last = { attempts, verdict: judge(attempts) };
      return last.verdict.ok ? { done: true, value: last } : { done: false, seen: last.verdict.explanation };
    },
    { timeoutMs, intervalMs: 1_000 },
  );
  if (r.done) return { ...r.value, rounds };
  return {
    ...last,
    rounds,
    verdict: {
      ...last.verdict,
      explanation: `${last.verdict.explanation} (still so after ${rounds} rounds in ${Math.round(timeoutMs / 1000)} s)`,
    },
  };
}
