/**
 * Cilium Ingress judgements: did Envoy route the request to the right backend, or answer by itself?
 *
 * Beliefs (cilium-behaviour.md section 3, "cb §3"):
 * - Every response through Cilium's Ingress carries `server: envoy` (Envoy overwrites the backend's server header).
 * - A response from a backend also carries `x-envoy-upstream-service-time` (the seed's `/details/1` answer shows
 *   `x-envoy-upstream-service-time: 20`).
 * - A route miss (no rule matches the host or path) is Envoy's own reply: 404, `server: envoy`, no upstream time
 *   header, `content-length: 0`, empty body. A 404 *from the backend* keeps its body and has the upstream time header.
 * - Shared mode serves every Ingress through one LoadBalancer Service, kube-system/cilium-ingress
 *   (name from config key `ingress-shared-lb-service-name`).
 * Pure: answers and objects in, verdicts out.
 */
import { z } from 'zod';
import { describeAnswer, judgeAnsweredBy, type BackendExpectation } from './backends.ts';
import { LB_CONFIG } from './lbipam.ts';
import { no, yes, type HttpAnswer, type Verdict } from './types.ts';

export const UPSTREAM_TIME_HEADER = 'x-envoy-upstream-service-time';

/**
 * - `no-answer`: no HTTP response at all (refused, reset, timeout)
 * - `not-envoy`: an HTTP response without `server: envoy` (the request did not go through Cilium's Envoy)
 * - `upstream`: Envoy forwarded the request and relayed a backend's response
 * - `local-reply`: Envoy answered by itself (route miss, no healthy upstream, ...)
 */
export type EnvoyAnswerKind = 'no-answer' | 'not-envoy' | 'upstream' | 'local-reply';

export function classifyEnvoyAnswer(a: HttpAnswer): EnvoyAnswerKind {
  if (!a.ok || a.status === null) return 'no-answer';
  if ((a.headers['server'] ?? '').trim().toLowerCase() !== 'envoy') return 'not-envoy';
  return UPSTREAM_TIME_HEADER in a.headers ? 'upstream' : 'local-reply';
}

function envoyEvidence(a: HttpAnswer): string {
  const server = a.headers['server'];
  const upstream = a.headers[UPSTREAM_TIME_HEADER];
  const length = a.headers['content-length'];
  return [
    `server: ${server ?? '(none)'}`,
    `${UPSTREAM_TIME_HEADER}: ${upstream ?? '(none)'}`,
    `content-length: ${length ?? '(none)'}`,
  ].join(', ');
}

/**
 * The request went through Envoy to the expected backend: 200 (or `status`), `server: envoy`, an upstream time
 * header, and a whoami body from that backend (which received `path` unchanged).
 */
export function judgeRoutedTo(a: HttpAnswer, want: BackendExpectation & { path: string; status?: number }): Verdict {
  const kind = classifyEnvoyAnswer(a);
  if (kind === 'no-answer') return no(`expected ${want.path} to reach ${want.label} through Envoy; ${describeAnswer(a)}`);
  if (kind !== 'upstream') {
    return no(
      `expected ${want.path} to reach ${want.label} through Envoy; the answer was ${kind === 'not-envoy' ? 'not from Envoy' : "Envoy's own reply"} (${describeAnswer(a)}; ${envoyEvidence(a)})`,
    );
  }
  const v = judgeAnsweredBy(a, want);
  return v.ok ? { ...v, explanation: `${v.explanation} via Envoy (${envoyEvidence(a)})` } : v;
}

/**
 * Envoy found no route: HTTP 404 answered by Envoy itself (`server: envoy`, no upstream time header).
 * The body is reported; an empty body is expected (cb §3) but the header is what tells a route miss from a
 * backend's 404.
 */
// VERIFY: the empty body / content-length 0 of Cilium's Envoy route-miss reply on the lab's version (cb §3).
export function judgeRouteMiss(a: HttpAnswer): Verdict {
  const kind = classifyEnvoyAnswer(a);
  const seen = `${describeAnswer(a)}; ${envoyEvidence(a)}`;
  if (kind === 'no-answer') return no(`expected Envoy's 404 route miss; ${seen}`);
  if (kind === 'not-envoy') return no(`expected Envoy's 404 route miss; the answer did not come from Envoy: ${seen}`);
  if (kind === 'upstream') return no(`expected Envoy's 404 route miss; a backend answered (it has ${UPSTREAM_TIME_HEADER}): ${seen}`);
  if (a.status !== 404) return no(`expected Envoy's 404 route miss; Envoy answered ${a.status ?? '?'} itself: ${seen}`);
  const notes = a.body.trim() === '' ? [] : [`Envoy's 404 carried a body (${a.body.length} bytes); expected empty (cb §3)`];
  return yes(`Envoy answered 404 itself (route miss): ${envoyEvidence(a)}`, notes);
}

// ---------------------------------------------------------------------------------------------
// Config and objects
// ---------------------------------------------------------------------------------------------

/** cilium-config keys the ingress suite relies on (cb §3 and §4.2), on top of the LB suites' keys; values are strings. */
export const INGRESS_CONFIG = {
  ...LB_CONFIG,
  'enable-ingress-controller': 'true',
  'ingress-default-lb-mode': 'shared',
} as const;

/** The shared-mode LoadBalancer Service (cb §3): kube-system/<ingress-shared-lb-service-name>, default cilium-ingress. */
export function sharedIngressService(config: Record<string, string>): { namespace: string; name: string } {
  const name = config['ingress-shared-lb-service-name']?.trim();
  return { namespace: 'kube-system', name: name ? name : 'cilium-ingress' };
}

const ingressSchema = z.looseObject({
  metadata: z.looseObject({ name: z.string() }),
  status: z
    .looseObject({
      loadBalancer: z.looseObject({ ingress: z.array(z.looseObject({ ip: z.string().optional() })).optional() }).optional(),
    })
    .optional(),
});

/** The Ingress's ADDRESS (`.status.loadBalancer.ingress[0].ip`), which mirrors its LB Service IP (cb §3); null if none/unreadable. */
export function ingressAddress(obj: unknown): string | null {
  const r = ingressSchema.safeParse(obj);
  if (!r.success) return null;
  return r.data.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip ?? null;
}

/** The Ingress shows `ip` as its ADDRESS (it mirrors the shared LB Service's IP, cb §3). */
export function judgeIngressAddress(obj: unknown, ip: string): Verdict {
  const got = ingressAddress(obj);
  return got === ip ? yes(`Ingress ADDRESS ${got}`) : no(`expected the Ingress ADDRESS ${ip}; it shows ${got ?? '(none)'}`);
}
