/**
 * The models against the harness's own judges, with the objects the LB and L2 suites really create
 * (suites/manifests via helpers/judge/lb-objects.ts): what the suites will conclude when they run in the twin.
 */
import { describe, expect, test } from 'vitest';
import {
  incompatibleSharing,
  judgePool,
  judgeServiceAssigned,
  judgeServiceRefused,
  parseCiliumVersion,
  REASON,
} from '../../../helpers/judge/lbipam.ts';
import { l2Policy, lbPool, lbService, loadManifest, type LbServiceOptions } from '../../../suites/steps/lb-objects.ts';
import { judgeLeaseHolder } from '../../../helpers/judge/l2.ts';
import { electionStep, l2Timings, leaseObject, selection, type L2Node, type L2Policy } from './l2.ts';
import { lbIpamConfigFrom, reconcileLbIpam, type Pool, type Service } from './lbipam.ts';

const runId = 'r20261204-1200-ab12';
const ns = `clh-${runId}`;
const block = ['198.18.10.240', '198.18.10.241', '198.18.10.242', '198.18.10.243'];
const pool = lbPool(loadManifest('lbipam-pool.yaml', { runId, namespace: ns }), {
  runId,
  name: `clh-${runId}-pool`,
  block: { start: block[0]!, stop: block[3]! },
  selects: { runId },
}) as unknown as Pool;
pool.metadata.creationTimestamp = '2026-12-04T12:00:00Z';
const svcTemplate = loadManifest('lbipam-service.yaml', { runId, namespace: ns });
const config = lbIpamConfigFrom({ 'enable-l2-announcements': 'true', 'kube-proxy-replacement': 'true', 'routing-mode': 'tunnel' });
let seq = 0;
function svc(o: Omit<LbServiceOptions, 'runId' | 'namespace'>): Service {
  const s = lbService(svcTemplate, { runId, namespace: ns, ...o }) as unknown as Service;
  s.metadata.creationTimestamp = `2026-12-04T12:01:${String(seq++).padStart(2, '0')}Z`;
  return s;
}

/** Runs LB-IPAM and returns the services as the API would then hold them (status written back). */
function cluster(services: Service[]): { get: (name: string) => Service; pool: () => unknown } {
  const r = reconcileLbIpam({ pools: [pool], services, config, now: '2026-12-04T12:02:00Z' });
  return {
    get: (name) => {
      const s = services.find((x) => x.metadata.name === name)!;
      return { ...s, status: r.services.get(`${ns}/${name}`)!.status };
    },
    pool: () => ({ ...pool, status: { conditions: r.pools.get(pool.metadata.name)!.conditions } }),
  };
}

const v118 = parseCiliumVersion('1.18.14');

describe("LB suites' judges on the LB-IPAM model", () => {
  test('30-lb-ipam: assigned from the block, a requested IP, no_pool outside the pools, out_of_ips when full; pool counts', () => {
    const c = cluster([
      svc({ name: 'webpod-lb', port: 80 }),
      svc({ name: 'lb-requested', port: 80, requestIps: ['198.18.10.243'] }),
      svc({ name: 'lb-outside', port: 80, requestIps: ['198.18.10.250'] }),
      svc({ name: 'lb-fill-1', port: 80 }),
      svc({ name: 'lb-fill-2', port: 80 }),
      svc({ name: 'lb-one-too-many', port: 80 }),
    ]);
    expect(judgeServiceAssigned(c.get('webpod-lb'), { block }).ok).toBe(true);
    expect(judgeServiceAssigned(c.get('lb-requested'), { block, wantIp: '198.18.10.243' }).ok).toBe(true);
    expect(judgeServiceRefused(c.get('lb-outside'), { reason: REASON.noPool }).ok).toBe(true);
    expect(judgeServiceAssigned(c.get('lb-fill-2'), { block }).ok).toBe(true);
    expect(judgeServiceRefused(c.get('lb-one-too-many'), { reason: REASON.outOfIps }).ok).toBe(true);
    expect(judgePool(c.pool(), { total: 4, available: 0, used: 4, countsMayLag: false })).toMatchObject({ ok: true });
  });

  test('40-lb-sharing: sharers on different ports share; same port, other key and no key are refused as the suite expects', () => {
    const ip = '198.18.10.242';
    const c = cluster([
      svc({ name: 'share-a', port: 80, requestIps: [ip], sharingKey: 'k' }),
      svc({ name: 'share-b', port: 8080, requestIps: [ip], sharingKey: 'k' }),
      svc({ name: 'clash-port', port: 80, requestIps: [ip], sharingKey: 'k' }),
      svc({ name: 'clash-key', port: 9090, requestIps: [ip], sharingKey: 'other' }),
      svc({ name: 'clash-nokey', port: 9091, requestIps: [ip] }),
    ]);
    expect(judgeServiceAssigned(c.get('share-a'), { block, wantIp: ip }).ok).toBe(true);
    expect(judgeServiceAssigned(c.get('share-b'), { block, wantIp: ip }).ok).toBe(true);
    expect(judgeServiceRefused(c.get('clash-port'), incompatibleSharing(v118, 'same port')).ok).toBe(true);
    expect(judgeServiceRefused(c.get('clash-key'), incompatibleSharing(v118, 'different sharing key')).ok).toBe(true);
    expect(judgeServiceRefused(c.get('clash-nokey'), { reason: REASON.alreadyAllocated }).ok).toBe(true);
  });
});

describe('L2 suite objects on the L2 model', () => {
  test("the suite's policy (nodes In list, exact interface regex) makes those nodes candidates; the elected holder passes judgeLeaseHolder", () => {
    const policy = l2Policy(loadManifest('lbipam-l2-policy.yaml', { runId, namespace: ns }), {
      runId,
      name: `clh-${runId}-l2`,
      selects: { runId },
      nodes: ['k8s-ctr', 'k8s-w1'],
      interfaces: ['^eth1$'],
    }) as unknown as L2Policy;
    const c = cluster([svc({ name: 'webpod-lb', port: 80 })]);
    const service = c.get('webpod-lb');
    const nodes: L2Node[] = ['k8s-ctr', 'k8s-w1', 'k8s-w0'].map((n) => ({
      name: n,
      labels: { 'kubernetes.io/hostname': n },
      devices: ['eth0', 'eth1'],
    }));
    const sel = selection([policy], service, nodes);
    expect(sel.candidates.map((x) => x.node)).toEqual(['k8s-ctr', 'k8s-w1']);
    expect(sel.candidates[0]!.rows).toEqual([{ ip: '198.18.10.240', iface: 'eth1', origins: [`${ns}/webpod-lb`] }]);
    const e = electionStep({
      lease: null,
      candidates: sel.candidates.map((x) => ({ node: x.node, alive: true })),
      nowMs: Date.parse('2026-12-04T12:03:00Z'),
      timings: l2Timings({}),
    });
    const lease = leaseObject(ns, 'webpod-lb', e.lease!);
    const v = judgeLeaseHolder({
      leaseName: lease.metadata.name,
      lease: { holder: lease.spec.holderIdentity, renewTime: lease.spec.renewTime, transitions: lease.spec.leaseTransitions },
      candidates: ['k8s-ctr', 'k8s-w1'],
    });
    expect(v.ok).toBe(true);
    expect(v.holder).toBe('k8s-ctr');
  });
});
