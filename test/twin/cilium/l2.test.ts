import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { failoverBudget } from '../../../helpers/judge/failover.ts';
import {
  acquireRetryDelayMs,
  electionStep,
  l2LeaseName,
  l2Timings,
  leaseObject,
  mergeRows,
  microTime,
  policyConditions,
  releaseLease,
  selection,
  type CandidateState,
  type L2Node,
  type L2Policy,
  type L2Service,
  type LeaseSpec,
} from './l2.ts';

const nodes: L2Node[] = [
  {
    name: 'k8s-ctr',
    labels: { 'kubernetes.io/hostname': 'k8s-ctr', 'node-role.kubernetes.io/control-plane': '' },
    devices: ['eth0', 'eth1'],
  },
  { name: 'k8s-w1', labels: { 'kubernetes.io/hostname': 'k8s-w1' }, devices: ['eth0', 'eth1'] },
  { name: 'k8s-w0', labels: { 'kubernetes.io/hostname': 'k8s-w0' }, devices: ['eth0', 'eth1'] },
];

// seed 002: policy1 selecting k8s-ctr and k8s-w1, interfaces ^eth[1-9]+, loadBalancerIPs
const policy1: L2Policy = {
  metadata: { name: 'policy1' },
  spec: {
    serviceSelector: { matchLabels: { app: 'webpod' } },
    nodeSelector: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['k8s-w1', 'k8s-ctr'] }] },
    interfaces: ['^eth[1-9]+'],
    loadBalancerIPs: true,
  },
};
const webpod: L2Service = {
  metadata: { namespace: 'default', name: 'webpod', labels: { app: 'webpod' } },
  spec: {},
  status: { loadBalancer: { ingress: [{ ip: '192.168.10.241' }] } },
};
const T = l2Timings({});

describe('L2 announcement selection', () => {
  test('seed 002: k8s-ctr and k8s-w1 are candidates, each would announce 192.168.10.241 on eth1 only', () => {
    const s = selection([policy1], webpod, nodes);
    expect(s.candidates.map((c) => c.node)).toEqual(['k8s-ctr', 'k8s-w1']);
    expect(s.candidates[0]!.rows).toEqual([{ ip: '192.168.10.241', iface: 'eth1', origins: ['default/webpod'] }]);
    expect(s.ips).toEqual(['192.168.10.241']);
  });

  test('counter-examples: no LB IP yet, loadBalancerIPs false, another class, service selector miss', () => {
    expect(selection([policy1], { ...webpod, status: {} }, nodes).candidates).toEqual([]);
    expect(selection([{ ...policy1, spec: { ...policy1.spec, loadBalancerIPs: false } }], webpod, nodes).candidates).toEqual([]);
    expect(selection([policy1], { ...webpod, spec: { loadBalancerClass: 'io.cilium/bgp-control-plane' } }, nodes).candidates).toEqual([]);
    expect(selection([policy1], { ...webpod, spec: { loadBalancerClass: 'io.cilium/l2-announcer' } }, nodes).candidates).toHaveLength(2);
    expect(selection([policy1], { ...webpod, metadata: { ...webpod.metadata, labels: { app: 'other' } } }, nodes).candidates).toEqual([]);
  });

  test('externalIPs are announced only with externalIPs: true; nil selectors select everything', () => {
    const ext: L2Service = { metadata: { namespace: 'default', name: 'ext' }, spec: { externalIPs: ['198.18.10.50'] } };
    expect(selection([{ metadata: { name: 'p' }, spec: { loadBalancerIPs: true } }], ext, nodes).candidates).toEqual([]);
    const s = selection([{ metadata: { name: 'p' }, spec: { externalIPs: true } }], ext, nodes);
    expect(s.candidates.map((c) => c.node)).toEqual(['k8s-ctr', 'k8s-w1', 'k8s-w0']);
    expect(s.candidates[0]!.rows.map((r) => r.iface)).toEqual(['eth0', 'eth1']);
  });

  test('interface regexes are unanchored (eth0 also matches veth0x); a node without a matching device is still a candidate', () => {
    const p: L2Policy = { metadata: { name: 'p' }, spec: { interfaces: ['eth0'], loadBalancerIPs: true } };
    const s = selection([p], webpod, [
      { name: 'n', labels: {}, devices: ['veth0x', 'eth1'] },
      { name: 'm', labels: {}, devices: ['eth1'] },
    ]);
    expect(s.candidates.find((c) => c.node === 'n')!.rows.map((r) => r.iface)).toEqual(['veth0x']);
    expect(s.candidates.find((c) => c.node === 'm')!.rows).toEqual([]);
  });

  test('the synthetic service labels select by name and namespace', () => {
    const p: L2Policy = {
      metadata: { name: 'p' },
      spec: {
        serviceSelector: { matchLabels: { 'io.kubernetes.service.name': 'webpod', 'io.kubernetes.service.namespace': 'default' } },
        loadBalancerIPs: true,
      },
    };
    expect(selection([p], webpod, nodes).candidates).toHaveLength(3);
  });

  test('a bad selector or regex: the policy gets an error condition (checks in order, stopping at the first) and selects nothing; fixing it turns it False', () => {
    const bad: L2Policy = {
      metadata: { name: 'bad' },
      spec: { interfaces: ['eth['], loadBalancerIPs: true, nodeSelector: { matchExpressions: [{ key: 'x', operator: 'In', values: [] }] } },
    };
    const conds = policyConditions(bad, '2026-12-04T12:00:00Z');
    expect(conds.map((c) => [c.type, c.status, c.reason])).toEqual([['io.cilium/bad-node-selector', 'True', 'error']]);
    expect(selection([bad], webpod, nodes).candidates).toEqual([]);
    const regexOnly = policyConditions(
      { ...bad, spec: { ...bad.spec, nodeSelector: null }, status: { conditions: conds } },
      '2026-12-04T12:01:00Z',
    );
    expect(regexOnly.map((c) => [c.type, c.status, c.message === ''])).toEqual([
      ['io.cilium/bad-node-selector', 'False', true],
      ['io.cilium/bad-interface-regex', 'True', false],
    ]);
    const fixed = policyConditions({ ...policy1, status: { conditions: regexOnly } }, '2026-12-04T12:02:00Z');
    expect(fixed.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['io.cilium/bad-node-selector', 'False', 'error'],
      ['io.cilium/bad-interface-regex', 'False', 'error'],
    ]);
    expect(policyConditions(policy1, 'x')).toEqual([]);
  });

  test('rows of two services on one IP (sharing key) merge into one row with both origins', () => {
    const rows = mergeRows([
      { ip: '198.18.10.9', iface: 'eth1', origins: ['default/b'] },
      { ip: '198.18.10.10', iface: 'eth1', origins: ['default/x'] },
      { ip: '198.18.10.9', iface: 'eth1', origins: ['default/a'] },
    ]);
    expect(rows).toEqual([
      { ip: '198.18.10.9', iface: 'eth1', origins: ['default/a', 'default/b'] },
      { ip: '198.18.10.10', iface: 'eth1', origins: ['default/x'] },
    ]);
  });
});

describe('L2 lease and election', () => {
  const t0 = Date.parse('2026-12-04T12:00:00Z');
  const both: CandidateState[] = [
    { node: 'k8s-w1', alive: true },
    { node: 'k8s-ctr', alive: true },
  ];

  test('timings: 15 s / 5 s / 2 s by default, from cilium-config keys when set, clamped as the agent does', () => {
    expect(T).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 5_000, retryPeriodMs: 2_000 });
    expect(
      l2Timings({
        'l2-announcements-lease-duration': '3s',
        'l2-announcements-renew-deadline': '1s',
        'l2-announcements-retry-period': '200ms',
      }),
    ).toEqual({ leaseDurationMs: 3000, renewDeadlineMs: 1000, retryPeriodMs: 200 });
    expect(l2Timings({ 'l2-announcements-lease-duration': '4s', 'l2-announcements-renew-deadline': '5s' }).renewDeadlineMs).toBe(2000);
  });

  test('the lease is kube-system/cilium-l2announce-<ns>-<name>, holder = node name (seed 002: cilium-l2announce-default-webpod)', () => {
    const r = electionStep({ lease: null, candidates: both, nowMs: t0, timings: T });
    expect(r).toMatchObject({ action: 'create', holder: 'k8s-w1', changed: true });
    const obj = leaseObject('default', 'webpod', r.lease!);
    expect(obj.metadata).toEqual({ name: 'cilium-l2announce-default-webpod', namespace: 'kube-system' });
    expect(obj.spec).toEqual({
      holderIdentity: 'k8s-w1',
      leaseDurationSeconds: 15,
      acquireTime: '2026-12-04T12:00:00.000000Z',
      renewTime: '2026-12-04T12:00:00.000000Z',
      leaseTransitions: 0,
    });
    expect(l2LeaseName('kube-system', 'cilium-ingress')).toBe('cilium-l2announce-kube-system-cilium-ingress');
    const seedLine = readFileSync(new URL('../../fixtures/seeds/002-l2/lease-holder-before-reboot.txt', import.meta.url), 'utf8').trim();
    expect(seedLine).toBe(`holderIdentity: ${obj.spec.holderIdentity}`);
  });

  test('the holder renews every retry period, keeping acquireTime; nothing is written in between', () => {
    const lease = electionStep({ lease: null, candidates: both, nowMs: t0, timings: T }).lease!;
    const early = electionStep({ lease, candidates: both, nowMs: t0 + 1000, timings: T });
    expect(early).toMatchObject({ action: 'none', changed: false, dueAtMs: t0 + 2000 });
    const r = electionStep({ lease, candidates: both, nowMs: t0 + 2000, timings: T });
    expect(r.action).toBe('renew');
    expect(r.lease).toMatchObject({
      holderIdentity: 'k8s-w1',
      acquireTime: lease.acquireTime,
      renewTime: microTime(t0 + 2000),
      leaseTransitions: 0,
    });
  });

  test('a dead holder keeps the lease until renewTime + leaseDuration; only then another candidate takes over (transitions + 1)', () => {
    const lease: LeaseSpec = {
      holderIdentity: 'k8s-w1',
      leaseDurationSeconds: 15,
      acquireTime: microTime(t0),
      renewTime: microTime(t0 + 4000),
      leaseTransitions: 0,
    };
    const down: CandidateState[] = [
      { node: 'k8s-w1', alive: false },
      { node: 'k8s-ctr', alive: true },
    ];
    const before = electionStep({ lease, candidates: down, nowMs: t0 + 4000 + 14_999, timings: T });
    expect(before).toMatchObject({ action: 'none', holder: 'k8s-w1', changed: false, dueAtMs: t0 + 19_000 });
    const after = electionStep({ lease, candidates: down, nowMs: t0 + 19_000, timings: T });
    expect(after).toMatchObject({ action: 'takeover', holder: 'k8s-ctr', changed: true });
    expect(after.lease).toMatchObject({ acquireTime: microTime(t0 + 19_000), renewTime: microTime(t0 + 19_000), leaseTransitions: 1 });
    // the failover falls within the harness's own budget for these timings
    expect(19_000 - 4000).toBeLessThanOrEqual(failoverBudget({ ...T, notes: [] }, { intervalMs: 300, timeoutMs: 1000 }).holderMs);
  });

  test('a holder that comes back before expiry renews its own lease; no live candidate leaves the lease alone', () => {
    const lease: LeaseSpec = {
      holderIdentity: 'k8s-w1',
      leaseDurationSeconds: 15,
      acquireTime: microTime(t0),
      renewTime: microTime(t0),
      leaseTransitions: 2,
    };
    expect(electionStep({ lease, candidates: both, nowMs: t0 + 10_000, timings: T })).toMatchObject({ action: 'renew', holder: 'k8s-w1' });
    expect(electionStep({ lease, candidates: [{ node: 'k8s-w1', alive: false }], nowMs: t0 + 60_000, timings: T })).toMatchObject({
      action: 'none',
      changed: false,
    });
  });

  test('a graceful stop releases (holder "", duration 1 s); the next candidate acquires at once, transitions + 1', () => {
    const lease: LeaseSpec = {
      holderIdentity: 'k8s-w1',
      leaseDurationSeconds: 15,
      acquireTime: microTime(t0),
      renewTime: microTime(t0),
      leaseTransitions: 3,
    };
    const rel = releaseLease(lease, t0 + 500);
    expect(rel).toEqual({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: microTime(t0 + 500),
      renewTime: microTime(t0 + 500),
      leaseTransitions: 3,
    });
    const r = electionStep({ lease: rel, candidates: [{ node: 'k8s-ctr', alive: true }], nowMs: t0 + 600, timings: T });
    expect(r).toMatchObject({ action: 'acquire', holder: 'k8s-ctr' });
    expect(r.lease!.leaseTransitions).toBe(4);
    expect(r.lease!.leaseDurationSeconds).toBe(15);
  });

  test('candidates retry every retryPeriod × [1, 2.2) (client-go jitter 1.2)', () => {
    expect(acquireRetryDelayMs(T, 0)).toBe(2000);
    expect(acquireRetryDelayMs(T, 0.5)).toBe(3200);
  });

  test('a live holder no policy selects any more releases its lease', () => {
    const lease: LeaseSpec = {
      holderIdentity: 'k8s-w0',
      leaseDurationSeconds: 15,
      acquireTime: microTime(t0),
      renewTime: microTime(t0),
      leaseTransitions: 0,
    };
    const r = electionStep({ lease, candidates: both, nowMs: t0 + 1000, timings: T, holderAliveOutsideCandidates: true });
    expect(r).toMatchObject({ action: 'release', holder: null });
    expect(electionStep({ lease: r.lease, candidates: both, nowMs: t0 + 1000, timings: T })).toMatchObject({
      action: 'acquire',
      holder: 'k8s-w1',
    });
  });
});
