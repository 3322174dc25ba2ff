/**
 * The L7 policy judges on outputs captured in the lab twin (test/fixtures/l7/twin-*: curl answers from curl-pod,
 * `hubble observe -o json` of the backend's agent; the twin's shapes come from cilium's HTTP403Message and
 * pkg/hubble/parser/seven, see test/twin/README.md) and on counter-examples. Among the real ones: the backend's own
 * 200 to GET /private, sent before the policy was programmed (what a policy that allows everything looks like).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { flowPath, judgeL7Allowed, judgeL7Denied, judgeL7Flows } from '../../../helpers/judge/l7.ts';
import type { HttpAnswer } from '../../../helpers/judge/types.ts';
import { parseCurlOutput, parseHubbleFlows } from '../../../helpers/parse/index.ts';

const fixture = (p: string): string => readFileSync(new URL(`../../fixtures/l7/${p}`, import.meta.url), 'utf8');

function answer(file: string): HttpAnswer {
  const out = parseCurlOutput(fixture(file).replace(/\n\(exit \d+\)\s*$/, '\n'));
  return { ok: out.status !== null, status: out.status, headers: out.headers, body: out.body, error: null };
}

const BACKEND = 'webpod-7f7cd0d15d-2qshx';

describe('judgeL7Allowed / judgeL7Denied', () => {
  test('GET /public: 200 from the backend pod is allowed; the same answer is not a denial', () => {
    const a = answer('twin-curl-get-public-200.txt');
    expect(judgeL7Allowed(a, { method: 'GET', path: '/public', backends: [BACKEND] })).toMatchObject({ ok: true });
    const denied = judgeL7Denied(a, { method: 'GET', path: '/public' });
    expect(denied.ok).toBe(false);
    expect(denied.explanation).toMatch(/GET \/public must be denied with 403 "Access denied", but the backend answered: 200 from webpod-/);
  });

  test('Envoy\'s 403 "Access denied" is a denial, and not an allowed request', () => {
    const a = answer('twin-curl-403.txt');
    expect(judgeL7Denied(a, { method: 'POST', path: '/public' })).toMatchObject({
      ok: true,
      explanation: 'POST /public → 403 "Access denied" (Envoy)',
    });
    expect(judgeL7Allowed(a, { method: 'GET', path: '/public', backends: [BACKEND] }).explanation).toMatch(
      /answered 403 "Access denied" \(denied by the L7 policy\)/,
    );
  });

  test('counter-examples: the backend answering GET /private (policy not enforced), another 403 body, no answer', () => {
    const leaked = judgeL7Denied(answer('twin-curl-get-private-200-before-policy.txt'), { method: 'GET', path: '/private' });
    expect(leaked.ok).toBe(false);
    expect(leaked.explanation).toMatch(
      /GET \/private .*the backend answered: 200 from webpod-7f7cd0d15d-2qshx \(the L7 policy let it through\)/,
    );
    const other = { ...answer('twin-curl-403.txt'), body: 'RBAC: access denied' };
    expect(judgeL7Denied(other, { method: 'GET', path: '/private' }).explanation).toMatch(/body is "RBAC: access denied"/);
    const none: HttpAnswer = { ok: false, status: null, headers: {}, body: '', error: 'curl: (28) Operation timed out' };
    expect(judgeL7Denied(none, { method: 'GET', path: '/private' }).ok).toBe(false);
    expect(judgeL7Allowed(none, { method: 'GET', path: '/public', backends: [BACKEND] }).ok).toBe(false);
    expect(judgeL7Allowed(answer('twin-curl-get-public-200.txt'), { method: 'GET', path: '/public', backends: ['other'] }).ok).toBe(false);
  });
});

describe('judgeL7Flows', () => {
  const flows = parseHubbleFlows(fixture('twin-hubble-l7.jsonl')).flows;
  const expected = [
    { method: 'GET', path: '/public', verdict: 'FORWARDED' as const },
    { method: 'GET', path: '/private', verdict: 'DROPPED' as const },
    { method: 'POST', path: '/public', verdict: 'DROPPED' as const },
  ];

  test('the twin capture shows each request with method, path and verdict', () => {
    expect(flows[0]?.l7).toEqual({
      type: 'REQUEST',
      http: { method: 'GET', url: 'http://198.19.1.2/private', code: null, protocol: 'HTTP/1.1' },
    });
    const v = judgeL7Flows(flows, { destinationIp: '198.19.1.2', expected });
    expect(v.ok, v.explanation).toBe(true);
  });

  test("the shape of cilium's own hubble printer test (a DROPPED L7 request) reads the same way", () => {
    const line =
      '{"flow":{"time":"1970-01-01T00:20:34.567800Z","verdict":"DROPPED","IP":{"source":"1.1.1.1","destination":"2.2.2.2"},"Type":"L7","node_name":"k8s1","l7":{"type":"REQUEST","latency_ns":"10","http":{"method":"POST","url":"http://2.2.2.2/public","protocol":"HTTP/1.1"}},"event_type":{"type":129},"is_reply":false}}';
    const v = judgeL7Flows(parseHubbleFlows(line).flows, {
      destinationIp: '2.2.2.2',
      expected: [{ method: 'POST', path: '/public', verdict: 'DROPPED' }],
    });
    expect(v.ok, v.explanation).toBe(true);
  });

  test('counter-examples: a denied request FORWARDED (policy not enforced), a request missing, flows to another address', () => {
    const forwarded = flows.map((f) => (f.l7?.http?.method === 'POST' ? { ...f, verdict: 'FORWARDED' } : f));
    expect(judgeL7Flows(forwarded, { destinationIp: '198.19.1.2', expected }).explanation).toMatch(
      /POST \/public is FORWARDED in Hubble, not DROPPED/,
    );
    const noPost = flows.filter((f) => f.l7?.http?.method !== 'POST');
    expect(judgeL7Flows(noPost, { destinationIp: '198.19.1.2', expected }).explanation).toMatch(/no L7 request flow for POST \/public/);
    expect(judgeL7Flows(flows, { destinationIp: '198.19.2.9', expected }).ok).toBe(false);
    expect(flowPath('/public?x=1')).toBe('/public');
    expect(flowPath(null)).toBeNull();
  });
});
