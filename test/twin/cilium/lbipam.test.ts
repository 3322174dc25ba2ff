import { describe, expect, test } from 'vitest';
import { pool as poolFixture } from '../../fixtures/lb/load.ts';
import { SVC_IPAM_CONDITION, POOL_CONDITION, REASON } from '../../../helpers/judge/lbipam.ts';
import {
  allocAnyFrom,
  isCompatible,
  lbIpamConfigFrom,
  reconcileLbIpam,
  requestedIPs,
  type LbIpamResult,
  type Pool,
  type Service,
} from './lbipam.ts';

const NOW = '2026-12-04T12:00:00Z';
const config = lbIpamConfigFrom({ 'enable-l2-announcements': 'true' });

function pool(name: string, spec: Pool['spec'], created = '2026-12-01T00:00:00Z'): Pool {
  return { metadata: { name, creationTimestamp: created, generation: 1 }, spec };
}

let seq = 0;
function svc(
  name: string,
  o: {
    ns?: string;
    ann?: Record<string, string>;
    ports?: number[];
    labels?: Record<string, string>;
    cls?: string;
    etp?: string;
    selector?: Record<string, string>;
    type?: string;
    ingress?: string[];
  } = {},
): Service {
  seq++;
  return {
    metadata: {
      namespace: o.ns ?? 'default',
      name,
      creationTimestamp: `2026-12-02T00:00:${String(seq % 60).padStart(2, '0')}Z`,
      generation: 1,
      labels: o.labels ?? {},
      annotations: o.ann ?? {},
    },
    spec: {
      type: o.type ?? 'LoadBalancer',
      loadBalancerClass: o.cls ?? null,
      ports: (o.ports ?? [80]).map((port) => ({ port, protocol: 'TCP' })),
      externalTrafficPolicy: o.etp ?? 'Cluster',
      selector: o.selector ?? { app: name },
    },
    status: o.ingress ? { loadBalancer: { ingress: o.ingress.map((ip) => ({ ip })) } } : {},
  };
}

function run(pools: Pool[], services: Service[]): LbIpamResult {
  return reconcileLbIpam({ pools, services, config, now: NOW });
}

function cond(r: LbIpamResult, key: string): { status: string; reason: string; message: string } {
  const c = r.services.get(key)?.condition;
  if (!c) throw new Error(`no condition on ${key}`);
  return { status: c.status, reason: c.reason, message: c.message };
}

const seedPool = pool('cilium-lb-ippool', { blocks: [{ start: '192.168.10.241', stop: '192.168.10.245' }] });

describe('LB-IPAM model', () => {
  test('seed 002: a 5-address range, the first service gets the first address; pool shows 5 available before', () => {
    const empty = run([seedPool], []);
    const p = empty.pools.get('cilium-lb-ippool')!;
    expect(p.counts).toEqual({ total: 5, available: 5, used: 0 });
    // the fixture of seed 002's pool (kubectl get ippools: IPS AVAILABLE 5, CONFLICTING False) has the same conditions
    const fixture = poolFixture('cilium-lb-ippool') as Pool;
    const strip = (cs: { type: string; status: string; reason?: string; message?: string }[]) =>
      cs.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message }));
    expect(strip(p.conditions)).toEqual(strip(fixture.status!.conditions!));

    const r = run([seedPool], [svc('webpod')]);
    expect(r.services.get('default/webpod')!.ingressIPs).toEqual(['192.168.10.241']);
    expect(cond(r, 'default/webpod')).toEqual({ status: 'True', reason: 'satisfied', message: '' });
    expect(r.services.get('default/webpod')!.condition!.type).toBe(SVC_IPAM_CONDITION);
    expect(r.pools.get('cilium-lb-ippool')!.counts).toEqual({ total: 5, available: 4, used: 1 });
  });

  test('an existing assignment is kept (stable), and a new service takes the next free address', () => {
    const r = run([seedPool], [svc('a', { ingress: ['192.168.10.243'] }), svc('b')]);
    expect(r.services.get('default/a')!.ingressIPs).toEqual(['192.168.10.243']);
    expect(r.services.get('default/a')!.changed).toBe(false);
    expect(r.services.get('default/b')!.ingressIPs).toEqual(['192.168.10.241']);
    // a second pass over the written-back objects changes nothing
    const again = run(
      [seedPool],
      [svc('a', { ingress: ['192.168.10.243'] }), { ...svc('b'), status: r.services.get('default/b')!.status }],
    );
    expect(again.services.get('default/b')!.changed).toBe(false);
    expect(again.services.get('default/b')!.ingressIPs).toEqual(['192.168.10.241']);
  });

  test('seed 002: annotating lbipam.cilium.io/ips on a service that holds .241 moves it to the requested .245', () => {
    const annotated = svc('webpod', { ingress: ['192.168.10.241'], ann: { 'lbipam.cilium.io/ips': '192.168.10.245' } });
    const r = run([seedPool], [annotated]);
    expect(r.services.get('default/webpod')).toMatchObject({ ingressIPs: ['192.168.10.245'], changed: true });
    expect(r.pools.get('cilium-lb-ippool')!.counts.available).toBe(4);
  });

  test('AllocAny takes the first address of the smallest free block', () => {
    expect(
      allocAnyFrom([
        { from: 10, to: 20 },
        { from: 30, to: 31 },
      ]),
    ).toBe(30);
    expect(
      allocAnyFrom([
        { from: 10, to: 10 },
        { from: 30, to: 30 },
      ]),
    ).toBe(10);
    expect(allocAnyFrom([])).toBeNull();
  });

  test('a /24 with allowFirstLastIPs unset allocates .0 first (cilium-behaviour.md 1.2); with No it reserves .0 and .255 as used', () => {
    const open = run([pool('p', { blocks: [{ cidr: '198.18.10.0/24' }] })], [svc('a')]);
    expect(open.services.get('default/a')!.ingressIPs).toEqual(['198.18.10.0']);
    expect(open.pools.get('p')!.counts).toEqual({ total: 256, available: 255, used: 1 });
    const closed = run([pool('p', { blocks: [{ cidr: '198.18.10.0/24' }], allowFirstLastIPs: 'No' })], [svc('a')]);
    expect(closed.services.get('default/a')!.ingressIPs).toEqual(['198.18.10.1']);
    expect(closed.pools.get('p')!.counts).toEqual({ total: 256, available: 253, used: 3 });
    // a /31 is too small to reserve anything
    const tiny = run([pool('p', { blocks: [{ cidr: '198.18.10.0/31' }], allowFirstLastIPs: 'No' })], []);
    expect(tiny.pools.get('p')!.counts).toEqual({ total: 2, available: 2, used: 0 });
  });

  test('requesting a reserved first/last address (allowFirstLastIPs No): already_allocated without a key; with a key lbipam.go lets it through', () => {
    const p = pool('p', { blocks: [{ cidr: '198.18.10.0/29' }], allowFirstLastIPs: 'No' });
    const r = run(
      [p],
      [
        svc('plain', { ann: { 'lbipam.cilium.io/ips': '198.18.10.0' } }),
        svc('keyed', { ann: { 'lbipam.cilium.io/ips': '198.18.10.7', 'lbipam.cilium.io/sharing-key': 'k' } }),
      ],
    );
    expect(cond(r, 'default/plain')).toEqual({
      status: 'False',
      reason: 'already_allocated',
      message: "The IP '198.18.10.0' is already allocated to another service",
    });
    expect(r.services.get('default/keyed')!.ingressIPs).toEqual(['198.18.10.7']);
  });

  test('no_pool when no pool selects the service; other classes are ignored; non-LB services ignored', () => {
    const p = pool('blue', {
      blocks: [{ start: '198.18.10.10', stop: '198.18.10.12' }],
      serviceSelector: { matchLabels: { color: 'blue' } },
    });
    const r = run(
      [p],
      [
        svc('red', { labels: { color: 'red' } }),
        svc('other', { cls: 'example.com/lb' }),
        svc('cip', { type: 'ClusterIP' }),
        svc('l2', { cls: 'io.cilium/l2-announcer', labels: { color: 'blue' } }),
      ],
    );
    expect(cond(r, 'default/red')).toEqual({
      status: 'False',
      reason: REASON.noPool,
      message: 'There are no enabled CiliumLoadBalancerIPPools that match this service',
    });
    expect(r.services.get('default/red')!.ingressIPs).toEqual([]);
    expect(r.services.has('default/other')).toBe(false);
    expect(r.services.has('default/cip')).toBe(false);
    expect(r.services.get('default/l2')!.ingressIPs).toEqual(['198.18.10.10']);
  });

  test('the synthetic labels io.kubernetes.service.name/namespace can be selected', () => {
    const p = pool('by-name', {
      blocks: [{ start: '198.18.10.10' }],
      serviceSelector: { matchLabels: { 'io.kubernetes.service.name': 'web', 'io.kubernetes.service.namespace': 'shop' } },
    });
    const r = run([p], [svc('web', { ns: 'shop' }), svc('web')]);
    expect(r.services.get('shop/web')!.ingressIPs).toEqual(['198.18.10.10']);
    expect(cond(r, 'default/web').reason).toBe('no_pool');
  });

  test('out_of_ips when the matching pools are exhausted; a disabled pool gives no_pool for new services but keeps existing IPs', () => {
    const one = pool('one', { blocks: [{ start: '198.18.10.10' }] });
    const r = run([one], [svc('a'), svc('b')]);
    expect(r.services.get('default/a')!.ingressIPs).toEqual(['198.18.10.10']);
    expect(cond(r, 'default/b')).toEqual({
      status: 'False',
      reason: REASON.outOfIps,
      message: 'All enabled CiliumLoadBalancerIPPools that match this service ran out of allocatable IPs',
    });
    const off = pool('one', { blocks: [{ start: '198.18.10.10', stop: '198.18.10.11' }], disabled: true });
    const d = run([off], [svc('a', { ingress: ['198.18.10.10'] }), svc('c')]);
    expect(d.services.get('default/a')!.ingressIPs).toEqual(['198.18.10.10']);
    expect(cond(d, 'default/c').reason).toBe('no_pool');
  });

  test('requested IPs: satisfied, outside every pool, in a pool that does not select the service, already taken', () => {
    const p = pool('p', {
      blocks: [{ start: '198.18.10.10', stop: '198.18.10.20' }],
      serviceSelector: { matchExpressions: [{ key: 'color', operator: 'In', values: ['blue'] }] },
    });
    const blue = { color: 'blue' };
    const r = run(
      [p],
      [
        svc('ok', { labels: blue, ann: { 'lbipam.cilium.io/ips': '198.18.10.15' } }),
        svc('legacy', { labels: blue, ann: { 'io.cilium/lb-ipam-ips': '198.18.10.16' } }),
        svc('outside', { labels: blue, ann: { 'lbipam.cilium.io/ips': '198.18.11.1' } }),
        svc('mismatch', { labels: { color: 'red' }, ann: { 'lbipam.cilium.io/ips': '198.18.10.17' } }),
        svc('taken', { labels: blue, ann: { 'lbipam.cilium.io/ips': '198.18.10.15' } }),
      ],
    );
    expect(r.services.get('default/ok')!.ingressIPs).toEqual(['198.18.10.15']);
    expect(r.services.get('default/legacy')!.ingressIPs).toEqual(['198.18.10.16']);
    expect(cond(r, 'default/outside')).toEqual({
      status: 'False',
      reason: 'no_pool',
      message: "No pool exists with a CIDR containing '198.18.11.1'",
    });
    expect(cond(r, 'default/mismatch')).toEqual({
      status: 'False',
      reason: 'pool_selector_mismatch',
      message: "The pool with the CIDR containing '198.18.10.17', doesn't select this service",
    });
    expect(cond(r, 'default/taken')).toEqual({
      status: 'False',
      reason: 'already_allocated',
      message: "The IP '198.18.10.15' is already allocated to another service",
    });
    expect(r.services.get('default/taken')!.ingressIPs).toEqual([]);
  });

  test('the preferred annotation wins over the legacy alias; spec.loadBalancerIP counts as requested', () => {
    const s = svc('x', { ann: { 'lbipam.cilium.io/ips': '198.18.10.1, 198.18.10.2', 'io.cilium/lb-ipam-ips': '198.18.10.9' } });
    expect(requestedIPs(s)).toEqual(['198.18.10.1', '198.18.10.2']);
    expect(requestedIPs({ ...s, spec: { ...s.spec, loadBalancerIP: '198.18.10.5' } })).toEqual([
      '198.18.10.5',
      '198.18.10.1',
      '198.18.10.2',
    ]);
  });

  test('sharing key: same key and different ports share (seed 002 webpod / webpod-alt); same port clashes', () => {
    const p = seedPool;
    const ann = { 'lbipam.cilium.io/ips': '192.168.10.245', 'lbipam.cilium.io/sharing-key': 'shared-1' };
    const r = run(
      [p],
      [svc('webpod', { ann, ports: [80] }), svc('webpod-alt', { ann, ports: [8080] }), svc('clash', { ann, ports: [80] })],
    );
    expect(r.services.get('default/webpod')!.ingressIPs).toEqual(['192.168.10.245']);
    expect(r.services.get('default/webpod-alt')!.ingressIPs).toEqual(['192.168.10.245']);
    expect(cond(r, 'default/clash')).toEqual({
      status: 'False',
      reason: REASON.incompatibleService,
      message: "The IP '192.168.10.245' is already allocated to an incompatible service. Reason: same port",
    });
    expect(r.pools.get('cilium-lb-ippool')!.counts.used).toBe(1);
  });

  test('sharers that hold the IP keep it when a clashing newcomer was created in the same second (seen in a twin run of 40-lb-sharing)', () => {
    const ann = { 'lbipam.cilium.io/ips': '192.168.10.245', 'lbipam.cilium.io/sharing-key': 'shared-1' };
    const sameSecond = (x: Service): Service => ({ ...x, metadata: { ...x.metadata, creationTimestamp: '2026-12-05T01:50:12Z' } });
    // By name the newcomer sorts between the two holders: share-alt, share-clash, share-http.
    const services = [
      svc('share-alt', { ann, ports: [8080], ingress: ['192.168.10.245'] }),
      svc('share-clash', { ann, ports: [80] }),
      svc('share-http', { ann, ports: [80], ingress: ['192.168.10.245'] }),
    ].map(sameSecond);
    const r = run([seedPool], services);
    expect(r.services.get('default/share-http')!.ingressIPs).toEqual(['192.168.10.245']);
    expect(r.services.get('default/share-alt')!.ingressIPs).toEqual(['192.168.10.245']);
    expect(r.services.get('default/share-clash')!.ingressIPs).toEqual([]);
    expect(cond(r, 'default/share-clash')).toMatchObject({ status: 'False', reason: REASON.incompatibleService });
  });

  test('sharing key: different keys, one key missing, other namespace (with and without permission on both sides)', () => {
    const ip = '192.168.10.242';
    const req = (extra: Record<string, string>) => ({ 'lbipam.cilium.io/ips': ip, ...extra });
    const r = run(
      [seedPool],
      [
        svc('first', {
          ann: req({ 'lbipam.cilium.io/sharing-key': 'k1', 'lbipam.cilium.io/sharing-cross-namespace': 'team-b' }),
          ports: [80],
        }),
        svc('other-key', { ann: req({ 'lbipam.cilium.io/sharing-key': 'k2' }), ports: [81] }),
        svc('no-key', { ann: req({}), ports: [82] }),
        svc('one-sided', {
          ns: 'team-c',
          ann: req({ 'lbipam.cilium.io/sharing-key': 'k1', 'lbipam.cilium.io/sharing-cross-namespace': '*' }),
          ports: [83],
        }),
        svc('mutual', {
          ns: 'team-b',
          ann: req({ 'lbipam.cilium.io/sharing-key': 'k1', 'lbipam.cilium.io/sharing-cross-namespace': 'default' }),
          ports: [84],
        }),
      ],
    );
    expect(cond(r, 'default/other-key').message).toBe(
      `The IP '${ip}' is already allocated to an incompatible service. Reason: different sharing key`,
    );
    expect(cond(r, 'default/no-key').reason).toBe('already_allocated');
    expect(cond(r, 'team-c/one-sided').message).toMatch(/Reason: different and not permitted namespace$/);
    expect(r.services.get('team-b/mutual')!.ingressIPs).toEqual([ip]);
  });

  test('generic request with a sharing key joins a compatible IP of the key, or takes another IP on a port clash; out_of_ips when none is left', () => {
    const key = { 'lbipam.cilium.io/sharing-key': 'k' };
    const two = pool('two', { blocks: [{ start: '198.18.10.10', stop: '198.18.10.11' }] });
    const r = run(
      [two],
      [
        svc('a', { ann: key, ports: [80] }),
        svc('b', { ann: key, ports: [443] }),
        svc('c', { ann: key, ports: [80] }),
        svc('d', { ann: key, ports: [80] }),
      ],
    );
    expect(r.services.get('default/a')!.ingressIPs).toEqual(['198.18.10.10']);
    expect(r.services.get('default/b')!.ingressIPs).toEqual(['198.18.10.10']);
    expect(r.services.get('default/c')!.ingressIPs).toEqual(['198.18.10.11']);
    expect(cond(r, 'default/d').reason).toBe('out_of_ips');
  });

  test('isCompatible: protocol is ignored, externalTrafficPolicy must match, Local needs equal selectors', () => {
    const base = {
      sharingKey: 'k',
      namespace: 'n',
      crossNamespace: [],
      ports: [{ port: 53, protocol: 'TCP' }],
      etp: 'Cluster',
      selector: { app: 'x' },
    };
    expect(isCompatible(base, { ...base, ports: [{ port: 53, protocol: 'UDP' }] })).toEqual({ ok: false, reason: 'same port' });
    expect(isCompatible(base, { ...base, ports: [{ port: 54 }], etp: 'Local' }).reason).toBe('different ExternalTrafficPolicy');
    const local = { ...base, etp: 'Local' };
    expect(isCompatible(local, { ...local, ports: [{ port: 54 }], selector: { app: 'y' } }).reason).toBe(
      'compatible ExternalTrafficPolicy local but selecting different set of pods',
    );
    expect(isCompatible(local, { ...local, ports: [{ port: 54 }] }).ok).toBe(true);
  });

  test('overlapping pools: the newer one is conflicting (cidr_overlap) and allocates nothing; resolved when the overlap goes', () => {
    const old = pool('old', { blocks: [{ cidr: '198.18.10.0/30' }] }, '2026-12-01T00:00:00Z');
    const young = pool('young', { blocks: [{ start: '198.18.10.2', stop: '198.18.10.9' }] }, '2026-12-01T00:00:05Z');
    const r = run([young, old], [svc('a'), svc('b'), svc('c'), svc('d'), svc('e')]);
    const y = r.pools.get('young')!;
    expect(y.conflicting).toBe(true);
    const c = y.conditions.find((x) => x.type === POOL_CONDITION.conflict)!;
    expect([c.status, c.reason, c.message]).toEqual([
      'True',
      'cidr_overlap',
      "Pool conflicts since range '198.18.10.2 - 198.18.10.9' overlaps range '198.18.10.0 - 198.18.10.3' from IP Pool 'old'",
    ]);
    expect(r.pools.get('old')!.conflicting).toBe(false);
    expect(cond(r, 'default/e').reason).toBe('out_of_ips');
    const fixed = run(
      [{ ...young, spec: { blocks: [{ start: '198.18.10.4', stop: '198.18.10.9' }] }, status: { conditions: y.conditions } }, old],
      [],
    );
    const after = fixed.pools.get('young')!.conditions.find((x) => x.type === POOL_CONDITION.conflict)!;
    expect([after.status, after.reason]).toEqual(['False', 'resolved']);
  });

  test('an unchanged pass reports no change; a status flip sets a new lastTransitionTime', () => {
    const one = pool('one', { blocks: [{ start: '198.18.10.10' }] });
    const first = reconcileLbIpam({ pools: [one], services: [], config, now: '2026-12-04T12:00:00Z' });
    const stored = { ...one, status: { conditions: first.pools.get('one')!.conditions } };
    const second = reconcileLbIpam({ pools: [stored], services: [], config, now: '2026-12-04T12:05:00Z' });
    expect(second.pools.get('one')!.changed).toBe(false);
    const s = svc('a');
    const pending = reconcileLbIpam({ pools: [], services: [s], config, now: '2026-12-04T12:00:00Z' });
    const withPool = reconcileLbIpam({
      pools: [stored],
      services: [{ ...s, status: pending.services.get('default/a')!.status }],
      config,
      now: '2026-12-04T12:06:00Z',
    });
    expect(withPool.services.get('default/a')!.condition).toMatchObject({
      status: 'True',
      reason: 'satisfied',
      lastTransitionTime: '2026-12-04T12:06:00Z',
    });
  });

  test('a service LB-IPAM stops serving (class changed) loses our condition and its IPs', () => {
    const s = {
      ...svc('a', { cls: 'example.com/other' }),
      status: {
        loadBalancer: { ingress: [{ ip: '198.18.10.10' }] },
        conditions: [{ type: SVC_IPAM_CONDITION, status: 'True' as const, reason: 'satisfied', message: '', lastTransitionTime: NOW }],
      },
    };
    const r = run([pool('one', { blocks: [{ start: '198.18.10.10' }] })], [s]);
    expect(r.services.get('default/a')).toMatchObject({ responsible: false, ingressIPs: [], changed: true });
    expect(r.services.get('default/a')!.status.conditions).toEqual([]);
  });

  test('lbIpamConfigFrom: class-less services are served unless default-lb-service-ipam is not lbipam', () => {
    expect(lbIpamConfigFrom({})).toEqual({ defaultIPAM: true, lbClasses: [] });
    expect(lbIpamConfigFrom({ 'default-lb-service-ipam': 'nodeipam', 'enable-l2-announcements': 'true' })).toEqual({
      defaultIPAM: false,
      lbClasses: ['io.cilium/l2-announcer'],
    });
  });
});
