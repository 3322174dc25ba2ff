/**
 * L7 HTTP policy judgements (76-l7-policy): was a request let through to the backend, or denied by Envoy, and does
 * Hubble show each request with its method, path and verdict? Pure: answers and parsed flows in, verdicts out.
 *
 * Beliefs (cilium/cilium, read through the code index in December 2026):
 * - L1 a request an L7 HTTP rule does not allow is answered by Envoy with 403 and the body `Access denied` by default
 *   (pkg/option/config.go `HTTP403Message`: "the response body for 403 responses, defaults to \"Access denied\"").
 * - L2 an allowed request reaches the backend (here traefik/whoami, whose answer names the pod: `Hostname:`).
 * - L3 Hubble turns Envoy's access log into L7 flows (pkg/hubble/parser/seven): `l7.type` REQUEST/RESPONSE, `l7.http`
 *   with method and url (and code on responses); the verdict of a denied request is DROPPED, of a forwarded one
 *   FORWARDED (seven/parser.go decodeVerdict: VerdictDenied -> DROPPED, VerdictForwarded -> FORWARDED).
 */
import { describeAnswer } from './backends.ts';
import { no, yes, type HttpAnswer, type Verdict } from './types.ts';
import { parseWhoami, type HubbleFlow } from '../parse/index.ts';

export const ACCESS_DENIED_BODY = 'Access denied';

export interface L7Request {
  method: string;
  path: string;
}

function what(r: L7Request): string {
  return `${r.method} ${r.path}`;
}

/** L2: the request reached one of the backend pods: HTTP 200 and a whoami answer naming one of them. */
export function judgeL7Allowed(a: HttpAnswer, r: L7Request & { backends: readonly string[] }): Verdict {
  if (!a.ok || a.status === null) return no(`${what(r)} must reach the backend; ${describeAnswer(a)}`);
  const who = parseWhoami(a.body);
  if (a.status !== 200) {
    const denied = a.status === 403 && a.body.trim() === ACCESS_DENIED_BODY;
    return no(
      `${what(r)} must reach the backend with 200; it was answered ${a.status}${denied ? ` "${ACCESS_DENIED_BODY}" (denied by the L7 policy)` : ` (${describeAnswer(a)})`}`,
    );
  }
  if (!who || !r.backends.includes(who.hostname))
    return no(`${what(r)} answered 200, but not by a backend pod (${r.backends.join(', ')}): ${describeAnswer(a)}`);
  return yes(`${what(r)} → 200 from ${who.hostname}`);
}

/** L1: Envoy denied the request: HTTP 403 with the body `Access denied`, and no backend's answer. */
export function judgeL7Denied(a: HttpAnswer, r: L7Request): Verdict {
  if (!a.ok || a.status === null) return no(`${what(r)} must be denied by Envoy with 403 "${ACCESS_DENIED_BODY}"; ${describeAnswer(a)}`);
  const who = parseWhoami(a.body);
  if (who)
    return no(
      `${what(r)} must be denied with 403 "${ACCESS_DENIED_BODY}", but the backend answered: ${a.status} from ${who.hostname} (the L7 policy let it through)`,
    );
  if (a.status !== 403) return no(`${what(r)} must be denied with 403 "${ACCESS_DENIED_BODY}"; answered ${describeAnswer(a)}`);
  const body = a.body.trim();
  if (body !== ACCESS_DENIED_BODY)
    return no(`${what(r)} answered 403, but the body is ${JSON.stringify(body.slice(0, 80))}, not "${ACCESS_DENIED_BODY}"`);
  return yes(`${what(r)} → 403 "${ACCESS_DENIED_BODY}" (Envoy)`);
}

/** The path of an L7 flow's url (Hubble prints the URL Envoy saw: absolute `http://host/path` or a bare path). */
export function flowPath(url: string | null): string | null {
  if (url === null || url === '') return null;
  try {
    return new URL(url, 'http://placeholder.invalid').pathname;
  } catch {
    return null;
  }
}

/**
 * L3: for each request, Hubble has an L7 REQUEST flow towards `destinationIp` with its method, its path and the
 * verdict wanted (FORWARDED for allowed, DROPPED for denied). Response flows are not required (reported only).
 */
export function judgeL7Flows(
  flows: HubbleFlow[],
  o: { destinationIp: string; expected: (L7Request & { verdict: 'FORWARDED' | 'DROPPED' })[] },
): Verdict {
  const l7 = flows.filter((f) => f.l7?.http && f.l7.type === 'REQUEST' && f.destinationIp === o.destinationIp);
  const problems: string[] = [];
  const found: string[] = [];
  for (const e of o.expected) {
    const same = l7.filter((f) => f.l7?.http?.method === e.method && flowPath(f.l7.http.url) === e.path);
    if (same.length === 0) {
      problems.push(`no L7 request flow for ${what(e)}`);
      continue;
    }
    const right = same.filter((f) => f.verdict === e.verdict);
    if (right.length === 0)
      problems.push(`${what(e)} is ${[...new Set(same.map((f) => f.verdict))].join('/')} in Hubble, not ${e.verdict}`);
    else found.push(`${what(e)} ${e.verdict}`);
  }
  const seen = [...new Set(l7.map((f) => `${f.l7?.http?.method ?? '?'} ${flowPath(f.l7?.http?.url ?? null) ?? '?'} ${f.verdict}`))];
  return problems.length === 0
    ? yes(`Hubble shows each request with method, path and verdict: ${found.join('; ')}`)
    : no(`${problems.join('; ')} (L7 request flows to ${o.destinationIp}: ${seen.join('; ') || 'none'}; ${flows.length} flows in all)`);
}
