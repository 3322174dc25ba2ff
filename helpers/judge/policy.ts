/**
 * Judges of the network policy suite (75-network-policy, seed 004's petclinic case: WEB → WAS → DB). Pure.
 *
 * Beliefs:
 * - a connection a policy drops is never answered (Cilium drops the SYN, no RST): curl ends with exit 28, "timed
 *   out"; a closed port answers RST at once: exit 7 "Couldn't connect"/"Connection refused". A policy drop must look
 *   like the former (issue 17; cilium-behaviour.md 6: drops are DROPPED, not rejected).
 * - Hubble marks policy drops `verdict: DROPPED` with `drop_reason_desc: POLICY_DENIED` (api/v1/flow; cilium-behaviour.md 6;
 *   seed 004 `hubble observe --verdict DROPPED`). Egress policy is enforced at the source endpoint and ingress policy at
 *   the destination endpoint, so the drop is seen by the agent of the node that enforced it.
 */
import type { HubbleFlow } from '../parse/index.ts';
import { no, yes, type HttpAnswer, type Verdict } from './types.ts';

export type Outcome = 'connected' | 'timed out' | 'refused' | 'other';

/** How a TCP attempt with curl ended: an HTTP answer, a timeout (dropped), a refusal (closed port), or something else. */
export function connectOutcome(a: Pick<HttpAnswer, 'ok' | 'error'>): Outcome {
  if (a.ok) return 'connected';
  const e = a.error ?? '';
  if (/\(28\)|timed out/i.test(e)) return 'timed out';
  if (/\(7\)|refused|couldn't connect/i.test(e)) return 'refused';
  return 'other';
}

export interface Attempt {
  from: string;
  to: string;
  port: number;
  answer: Pick<HttpAnswer, 'ok' | 'error' | 'status'>;
}

export const pairName = (a: { from: string; to: string; port: number }): string => `${a.from}→${a.to}:${a.port}`;

/**
 * Every attempt ended as wanted: pairs in `allowed` connect, every other pair times out (a policy drop; a refusal
 * or another error is a failure too, naming what happened). `allowed` holds pair names (`was→db:3306`); `'*'` = all.
 */
export function judgeConnectivity(attempts: readonly Attempt[], allowed: readonly string[] | '*'): Verdict {
  if (attempts.length === 0) return no('no connection was attempted');
  const problems: string[] = [];
  const rows: string[] = [];
  for (const a of attempts) {
    const name = pairName(a);
    const want: Outcome = allowed === '*' || allowed.includes(name) ? 'connected' : 'timed out';
    const got = connectOutcome(a.answer);
    rows.push(`${name} ${got}`);
    if (got === want) continue;
    if (want === 'timed out' && got === 'connected')
      problems.push(`${name} connected (HTTP ${a.answer.status ?? '?'}) where a policy must drop it`);
    else if (want === 'timed out')
      problems.push(`${name} ${got} instead of timing out (a policy drop is never answered): ${a.answer.error ?? ''}`);
    else problems.push(`${name} ${got} where it must connect: ${a.answer.error ?? ''}`);
  }
  if (problems.length > 0) return { ...no(problems.join('; ')), actual: rows };
  return yes(rows.join(', '));
}

/**
 * For each denied attempt, some flow from its source IP to its destination IP is DROPPED with POLICY_DENIED, on
 * the node that enforced it (`node`, when given). `flows` are what that node's agent printed.
 */
export function judgePolicyDrops(
  flows: readonly HubbleFlow[],
  denied: readonly { name: string; srcIp: string; dstIp: string; node?: string }[],
): Verdict {
  if (denied.length === 0) return no('no denied attempt to look for');
  const missing: string[] = [];
  const found: string[] = [];
  for (const d of denied) {
    const between = flows.filter((f) => f.sourceIp === d.srcIp && f.destinationIp === d.dstIp);
    const hit = between.find(
      (f) => f.verdict === 'DROPPED' && f.dropReason === 'POLICY_DENIED' && (!d.node || !f.nodeName || f.nodeName.endsWith(d.node)),
    );
    if (hit) found.push(`${d.name} DROPPED POLICY_DENIED on ${hit.nodeName ?? d.node ?? '?'}`);
    else
      missing.push(
        `${d.name} (${d.srcIp} → ${d.dstIp}): ${between.length === 0 ? 'no flow at all' : `only ${[...new Set(between.map((f) => `${f.verdict}${f.dropReason ? `/${f.dropReason}` : ''}`))].join(', ')}`}${d.node ? ` on ${d.node}` : ''}`,
      );
  }
  if (missing.length > 0) return no(`Hubble shows no DROPPED / POLICY_DENIED flow for ${missing.join('; ')}`);
  return yes(found.join('; '));
}
