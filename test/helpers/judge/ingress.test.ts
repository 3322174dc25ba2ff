import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import type { HttpAnswer } from '../../../helpers/judge/types.ts';
import {
  INGRESS_CONFIG,
  classifyEnvoyAnswer,
  ingressAddress,
  judgeIngressAddress,
  judgeRouteMiss,
  judgeRoutedTo,
  sharedIngressService,
} from '../../../helpers/judge/ingress.ts';
import { judgeConfig } from '../../../helpers/judge/lbipam.ts';
import { answer, columns, seedBlock } from '../../fixtures/lb/load.ts';
import { parseCurlOutput } from '../../../helpers/parse/index.ts';

/** A curl output fixture read the way curlFrom reads it (helpers/transport/probes.ts). */
function curled(file: string): HttpAnswer {
  const out = parseCurlOutput(readFileSync(new URL(`../../fixtures/lb/${file}`, import.meta.url), 'utf8'));
  return {
    ok: out.status !== null,
    status: out.status,
    headers: out.headers,
    body: out.body,
    error: out.status === null ? 'curl: (7) Failed to connect' : null,
  };
}

/** Seed 003's `curl -v` response header lines ("< name: value") as the lower-case map curlFrom returns. */
function seedHeaders(): Record<string, string> {
  const lines = seedBlock('003-ingress.txt', 'curl -s http://$LBIP/details/1 -v');
  return Object.fromEntries(
    lines.map((l) => {
      const m = /^< ([^:]+): (.*)$/.exec(l);
      if (!m) throw new Error(`not a header line: ${l}`);
      return [m[1]!.toLowerCase(), m[2]!];
    }),
  );
}

describe('classifying what Envoy returned', () => {
  test("the seed's /details/1 headers are an upstream answer relayed by Envoy", () => {
    const a: HttpAnswer = { ok: true, status: 200, headers: seedHeaders(), body: '', error: null };
    expect(a.headers).toMatchObject({ server: 'envoy', 'x-envoy-upstream-service-time': '20', 'content-length': '178' });
    expect(classifyEnvoyAnswer(a)).toBe('upstream');
  });

  test.each([
    ['route-miss', 'local-reply'],
    ['envoy-503', 'local-reply'],
    ['app-404', 'upstream'],
    ['ingress-details', 'upstream'],
    ['nginx-404', 'not-envoy'],
    ['router-webpod-a', 'not-envoy'],
    ['refused', 'no-answer'],
  ] as const)('%s is %s', (name, kind) => {
    expect(classifyEnvoyAnswer(answer(name))).toBe(kind);
  });

  test('header names are matched as curlFrom gives them (lower case); the server value in any case', () => {
    const a = answer('route-miss');
    a.headers['server'] = 'Envoy ';
    expect(classifyEnvoyAnswer(a)).toBe('local-reply');
  });
});

describe('judging what curl printed (through helpers/parse parseCurlOutput)', () => {
  test("the route miss: Envoy's own 404", () => {
    expect(judgeRouteMiss(curled('curl-route-miss.txt'))).toMatchObject({ ok: true, notes: [] });
  });

  test('/details/1 routed to details; header names arrive lower-cased whatever case Envoy wrote', () => {
    const a = curled('curl-details.txt');
    expect(a.headers['server']).toBe('envoy');
    expect(judgeRoutedTo(a, { label: 'details', name: 'details', path: '/details/1' })).toMatchObject({ ok: true });
    expect(judgeRouteMiss(a).ok).toBe(false);
  });

  test('a refused connection is no answer, for both judges', () => {
    const a = curled('curl-refused.txt');
    expect(classifyEnvoyAnswer(a)).toBe('no-answer');
    expect(judgeRoutedTo(a, { label: 'details', path: '/details/1' }).ok).toBe(false);
    expect(judgeRouteMiss(a).ok).toBe(false);
  });
});

describe('a route miss', () => {
  test("Envoy's own 404: yes", () => {
    const r = judgeRouteMiss(answer('route-miss'));
    expect(r).toEqual({
      ok: true,
      explanation: 'Envoy answered 404 itself (route miss): server: envoy, x-envoy-upstream-service-time: (none), content-length: 0',
      notes: [],
    });
  });

  test("a backend's 404 through Envoy (the seed's /ratings case) is not a route miss", () => {
    const r = judgeRouteMiss(answer('app-404'));
    expect(r.ok).toBe(false);
    expect(r.explanation).toMatch(/a backend answered \(it has x-envoy-upstream-service-time\)/);
  });

  test('a 404 from something that is not Envoy, a 200, Envoy 503, no answer: no', () => {
    expect(judgeRouteMiss(answer('nginx-404')).explanation).toMatch(/did not come from Envoy.*server: nginx\/1\.27\.0/);
    expect(judgeRouteMiss(answer('ingress-productpage')).ok).toBe(false);
    expect(judgeRouteMiss(answer('envoy-503')).explanation).toMatch(/Envoy answered 503 itself/);
    expect(judgeRouteMiss(answer('refused')).explanation).toMatch(/^expected Envoy's 404 route miss; no HTTP answer/);
  });

  test('a route-miss 404 with a body passes on the header but notes the body', () => {
    const a = answer('route-miss');
    a.body = 'route not found';
    expect(judgeRouteMiss(a)).toMatchObject({ ok: true, notes: [expect.stringMatching(/carried a body \(15 bytes\)/)] });
  });
});

describe('routed to a backend', () => {
  test('/details/1 reached the details backend through Envoy, path unchanged', () => {
    const r = judgeRoutedTo(answer('ingress-details'), { label: 'details', name: 'details', path: '/details/1' });
    expect(r.ok).toBe(true);
    expect(r.explanation).toBe(
      'HTTP 200 from details-7d9c8b7b5-x2m4k (Name details) for GET /details/1 via Envoy (server: envoy, x-envoy-upstream-service-time: 20, content-length: 480)',
    );
  });

  test('the wrong backend, a route miss, a direct answer, no answer: no', () => {
    expect(judgeRoutedTo(answer('ingress-productpage'), { label: 'details', name: 'details', path: '/details/1' }).explanation).toMatch(
      /answered by Name productpage/,
    );
    expect(judgeRoutedTo(answer('route-miss'), { label: 'productpage', name: 'productpage', path: '/' }).explanation).toMatch(
      /Envoy's own reply/,
    );
    expect(judgeRoutedTo(answer('router-webpod-a'), { label: 'productpage', name: 'productpage', path: '/' }).explanation).toMatch(
      /not from Envoy/,
    );
    expect(judgeRoutedTo(answer('refused'), { label: 'productpage', path: '/' }).explanation).toMatch(/no HTTP answer/);
  });
});

describe('config and objects', () => {
  const lab = {
    'enable-ingress-controller': 'true',
    'ingress-default-lb-mode': 'shared',
    'ingress-shared-lb-service-name': 'cilium-ingress',
    'enable-l2-announcements': 'true',
    'enable-envoy-config': 'true',
    'routing-mode': 'tunnel',
    'tunnel-protocol': 'vxlan',
    'kube-proxy-replacement': 'true',
  };

  test('the 6w lab config (shared mode, L2 on) satisfies the ingress suite', () => {
    expect(judgeConfig(lab, INGRESS_CONFIG).ok).toBe(true);
  });

  test('dedicated mode and an absent key are named', () => {
    const r = judgeConfig(
      { ...lab, 'ingress-default-lb-mode': 'dedicated', 'enable-l2-announcements': undefined as unknown as string },
      INGRESS_CONFIG,
    );
    expect(r.explanation).toBe(
      'cilium-config differs from what the suite needs: enable-l2-announcements=(absent) (want "true"), ingress-default-lb-mode="dedicated" (want "shared")',
    );
  });

  test('the shared ingress service: kube-system/cilium-ingress, or the configured name', () => {
    const [, row] = seedBlock('003-ingress.txt', 'kubectl get svc -n kube-system cilium-ingress');
    expect(sharedIngressService(lab)).toEqual({ namespace: 'kube-system', name: columns(row!)[0] });
    expect(sharedIngressService({})).toEqual({ namespace: 'kube-system', name: 'cilium-ingress' });
    expect(sharedIngressService({ 'ingress-shared-lb-service-name': 'edge ' })).toEqual({ namespace: 'kube-system', name: 'edge' });
  });

  test("the Ingress's ADDRESS (seed: the cilium-ingress EXTERNAL-IP)", () => {
    const [, svcRow] = seedBlock('003-ingress.txt', 'kubectl get svc -n kube-system cilium-ingress');
    const [, ingRow] = seedBlock('003-ingress.txt', 'kubectl get ingress');
    const ing = { metadata: { name: 'basic-ingress' }, status: { loadBalancer: { ingress: [{ ip: columns(ingRow!)[3] }] } } };
    expect(ingressAddress(ing)).toBe(columns(svcRow!)[3]);
    expect(ingressAddress({ metadata: { name: 'x' }, status: { loadBalancer: {} } })).toBeNull();
    expect(ingressAddress({ metadata: { name: 'x' }, status: { loadBalancer: { ingress: [{ hostname: 'lb.example' }] } } })).toBeNull();
    expect(ingressAddress('garbage')).toBeNull();
  });

  test('judging the ADDRESS: the shared service IP, or what it shows instead', () => {
    const ing = { metadata: { name: 'paths' }, status: { loadBalancer: { ingress: [{ ip: '192.168.10.211' }] } } };
    expect(judgeIngressAddress(ing, '192.168.10.211')).toEqual({ ok: true, explanation: 'Ingress ADDRESS 192.168.10.211', notes: [] });
    expect(judgeIngressAddress(ing, '192.168.10.212').explanation).toBe(
      'expected the Ingress ADDRESS 192.168.10.212; it shows 192.168.10.211',
    );
    expect(judgeIngressAddress({ metadata: { name: 'paths' } }, '192.168.10.211').explanation).toMatch(/it shows \(none\)$/);
  });
});
