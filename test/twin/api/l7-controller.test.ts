import { describe, expect, test } from 'vitest';
import { desiredL7Policies, l7Flows } from './l7-controller.ts';
import { renderHubbleJson } from '../cilium/agent-outputs.ts';
import { parseHubbleFlows } from '../../../helpers/parse/index.ts';
import { judgeL7Flows } from '../../../helpers/judge/l7.ts';

const pod = (ns: string, name: string, labels: Record<string, string>) => ({ metadata: { namespace: ns, name, labels } });
const cnp = {
  metadata: { namespace: 'run', name: 'l7-get-public' },
  spec: {
    endpointSelector: { matchLabels: { app: 'webpod' } },
    ingress: [
      {
        fromEndpoints: [{ matchLabels: { app: 'curl' } }],
        toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/public' }] } }],
      },
    ],
  },
};

describe('desiredL7Policies (suites/manifests/l7-policy.yaml shape)', () => {
  test('selects the webpods of the policy namespace only, with the port and HTTP rules', () => {
    const want = desiredL7Policies(
      [cnp],
      [pod('run', 'webpod-a', { app: 'webpod' }), pod('run', 'curl-pod', { app: 'curl' }), pod('other', 'webpod-b', { app: 'webpod' })],
    );
    expect([...want.entries()]).toEqual([['run/webpod-a', { port: 80, http: [{ method: 'GET', path: '/public' }] }]]);
    expect(desiredL7Policies([{ ...cnp, spec: { endpointSelector: {}, ingress: [{}] } }], [pod('run', 'x', {})]).size).toBe(0);
  });
});

describe('l7Flows: what the twin records, read back by the harness', () => {
  test('a denied request is one DROPPED REQUEST flow; a forwarded one a FORWARDED request and a response with the code', () => {
    const endpointOf = (ip: string) =>
      ip === '198.19.1.2'
        ? { namespace: 'run', pod: 'webpod-a', identity: 3, labels: [] }
        : { namespace: 'run', pod: 'curl-pod', identity: 4, labels: [] };
    const base = {
      pod: { namespace: 'run', name: 'webpod-a', ip: '198.19.1.2' },
      protocol: 'HTTP/1.1',
      srcIp: '198.19.0.3',
      srcPort: 40000,
      latencyMs: 2,
    };
    const denied = l7Flows(
      { ...base, method: 'POST', url: 'http://198.19.1.2/public', path: '/public', code: 403, verdict: 'DROPPED' },
      { node: 'k8s-w1', nowMs: 0, endpointOf, backendPort: 80 },
    );
    const allowed = l7Flows(
      { ...base, method: 'GET', url: 'http://198.19.1.2/public', path: '/public', code: 200, verdict: 'FORWARDED' },
      { node: 'k8s-w1', nowMs: 5, endpointOf, backendPort: 80 },
    );
    expect(denied).toHaveLength(1);
    expect(allowed.map((f) => f.l7?.type)).toEqual(['REQUEST', 'RESPONSE']);
    const flows = parseHubbleFlows([...denied, ...allowed].map(renderHubbleJson).join('\n')).flows;
    expect(flows[2]?.l7?.http?.code).toBe(200);
    const v = judgeL7Flows(flows, {
      destinationIp: '198.19.1.2',
      expected: [
        { method: 'GET', path: '/public', verdict: 'FORWARDED' },
        { method: 'POST', path: '/public', verdict: 'DROPPED' },
      ],
    });
    expect(v.ok, v.explanation).toBe(true);
  });
});
