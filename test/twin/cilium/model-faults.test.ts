/** Issue 16's model faults (model-faults.ts) as LB-IPAM and the L2 election take them: on, they break; off, nothing changes. */
import { describe, expect, test } from 'vitest';
import { FaultSet } from '../faults.ts';
import { lbIpamConfigFrom, reconcileLbIpam, type LbIpamResult, type Pool, type Service } from './lbipam.ts';
import { lbIpamFaults, takeoverBlocked, type LbIpamFaults } from './model-faults.ts';

const NOW = '2026-12-05T03:00:00Z';
const config = lbIpamConfigFrom({ 'enable-l2-announcements': 'true' });
const pool: Pool = {
  metadata: { name: 'p', creationTimestamp: '2026-12-01T00:00:00Z', generation: 1 },
  spec: { blocks: [{ start: '198.18.10.211', stop: '198.18.10.212' }] },
};
let seq = 0;
function svc(name: string, ann: Record<string, string> = {}, ports = [80], ingress?: string[]): Service {
  seq++;
  return {
    metadata: {
      namespace: 'default',
      name,
      creationTimestamp: `2026-12-02T00:00:${String(seq % 60).padStart(2, '0')}Z`,
      generation: 1,
      labels: {},
      annotations: ann,
    },
    spec: {
      type: 'LoadBalancer',
      loadBalancerClass: null,
      ports: ports.map((port) => ({ port, protocol: 'TCP' })),
      externalTrafficPolicy: 'Cluster',
      selector: { app: name },
    },
    status: ingress ? { loadBalancer: { ingress: ingress.map((ip) => ({ ip })) } } : {},
  };
}
const run = (services: Service[], faults?: LbIpamFaults): LbIpamResult =>
  reconcileLbIpam({ pools: [pool], services, config, now: NOW, faults });
const ips = (r: LbIpamResult, n: string): string[] => r.services.get(`default/${n}`)?.ingressIPs ?? [];
const reason = (r: LbIpamResult, n: string): string | undefined => r.services.get(`default/${n}`)?.condition?.reason;

describe('LB-IPAM faults', () => {
  test('lbipam-outside-pool: the IP is just past the pool, satisfied, and kept on the next reconcile; off: from the pool', () => {
    const r = run([svc('a')], { outsidePool: true });
    expect(ips(r, 'a')).toEqual(['198.18.10.213']);
    expect(r.services.get('default/a')?.condition?.status).toBe('True');
    expect(ips(run([svc('a', {}, [80], ['198.18.10.213'])], { outsidePool: true }), 'a')).toEqual(['198.18.10.213']);
    expect(ips(run([svc('b')]), 'b')).toEqual(['198.18.10.211']);
  });

  test('lbipam-wrong-reason: an exhausted pool says no_pool; off: out_of_ips', () => {
    const services = [svc('a'), svc('b'), svc('c')];
    expect(reason(run(services, { wrongReason: true }), 'c')).toBe('no_pool');
    expect(reason(run(services), 'c')).toBe('out_of_ips');
  });

  test('sharing-ignored: the second service of a key does not get the requested IP; off: both share it', () => {
    const ann = { 'lbipam.cilium.io/ips': '198.18.10.212', 'lbipam.cilium.io/sharing-key': 'k' };
    const services = [svc('one', ann, [80]), svc('two', ann, [8080])];
    const broken = run(services, { sharingIgnored: true });
    expect(ips(broken, 'one')).toEqual(['198.18.10.212']);
    expect(ips(broken, 'two')).toEqual([]);
    expect(reason(broken, 'two')).toBe('already_allocated');
    const ok = run(services);
    expect([ips(ok, 'one'), ips(ok, 'two')]).toEqual([['198.18.10.212'], ['198.18.10.212']]);
  });

  test('the FaultSet names map onto the model faults', () => {
    expect(lbIpamFaults(new FaultSet(['sharing-ignored']))).toEqual({ outsidePool: false, wrongReason: false, sharingIgnored: true });
    expect(lbIpamFaults(undefined)).toEqual({ outsidePool: false, wrongReason: false, sharingIgnored: false });
  });
});

describe('lease-stuck', () => {
  test('while a holder is named, no other candidate may take the lease; a released lease is free; off: nothing blocked', () => {
    const f = new FaultSet(['lease-stuck']);
    expect(takeoverBlocked(f, 'k8s-w1', 'k8s-ctr')).toBe(true);
    expect(takeoverBlocked(f, 'k8s-w1', 'k8s-w1')).toBe(false);
    expect(takeoverBlocked(f, '', 'k8s-ctr')).toBe(false);
    expect(takeoverBlocked(new FaultSet(), 'k8s-w1', 'k8s-ctr')).toBe(false);
  });
});
