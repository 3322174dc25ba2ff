import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  LB_CONFIG,
  REASON,
  UnreadableObjectError,
  blockContains,
  externalIpColumn,
  freeAddresses,
  incompatibleSharing,
  judgeConfig,
  judgePool,
  judgeServiceAssigned,
  judgeServiceRefused,
  l2AnnouncePlan,
  parseCiliumVersion,
  pickAddressOutsidePools,
  pickRequestableAddress,
  poolCountsMayLag,
  poolRow,
  readPool,
  readServiceIpam,
  servicesToFill,
  topologyBlock,
} from '../../../helpers/judge/lbipam.ts';
import { DEFAULT_TOPOLOGY_FILE, addressesInRange, lbPoolAddresses, parseTopology, primaryAddress } from '../../../helpers/lab/topology.ts';
import { columns, pool, seedBlock, service } from '../../fixtures/lb/load.ts';

/** The study's block (seed 002): 192.168.10.241-192.168.10.245. */
const SEED_BLOCK = addressesInRange('192.168.10.241', '192.168.10.245');
const v = (s: string) => parseCiliumVersion(s);
const referenceDoc = (): any => parseYaml(readFileSync(DEFAULT_TOPOLOGY_FILE, 'utf8'));
const reference = () => parseTopology(referenceDoc());

describe('reading a Service', () => {
  test('the seed webpod after type LoadBalancer: its IP, a satisfied condition, no request, no key', () => {
    expect(readServiceIpam(service('webpod'))).toEqual({
      name: 'webpod',
      namespace: 'default',
      ips: ['192.168.10.241'],
      condition: { type: 'cilium.io/IPAMRequestSatisfied', status: 'True', reason: 'satisfied', message: '' },
      requestedIps: [],
      sharingKey: null,
      ports: [80],
    });
  });

  test('the EXTERNAL-IP column matches what kubectl printed in the seed', () => {
    const [, afterPatch] = seedBlock('002-lbipam.txt', 'kubectl get svc webpod (after type');
    const [, afterAnnotate] = seedBlock('002-lbipam.txt', 'kubectl get svc webpod (after annotating');
    expect(externalIpColumn(readServiceIpam(service('webpod')))).toBe(columns(afterPatch!)[3]);
    expect(externalIpColumn(readServiceIpam(service('webpod-moved')))).toBe(columns(afterAnnotate!)[3]);
    const shared = seedBlock('002-lbipam.txt', 'kubectl get svc | grep webpod').map(columns);
    for (const [name, fixture] of [
      ['webpod', 'webpod-moved'],
      ['webpod-alt', 'webpod-alt'],
    ] as const) {
      const row = shared.find((c) => c[0] === name)!;
      const s = readServiceIpam(service(fixture));
      expect(externalIpColumn(s)).toBe(row[3]);
      expect(row[4]).toMatch(new RegExp(`^${s.ports[0]}:`));
    }
    expect(externalIpColumn(readServiceIpam(service('just-created')))).toBe('<pending>');
  });

  test('requests: deprecated spec.loadBalancerIP plus the legacy annotation alias, comma list trimmed; legacy sharing key', () => {
    const s = readServiceIpam(service('legacy-request'));
    expect(s.requestedIps).toEqual(['192.168.10.212', '192.168.10.213', '192.168.10.214']);
    expect(s.sharingKey).toBe('old-key');
    expect(s.condition).toBeNull();
  });

  test('the preferred annotation key wins over the legacy alias', () => {
    const o = service('legacy-request');
    o.metadata.annotations['lbipam.cilium.io/ips'] = '192.168.10.215';
    o.metadata.annotations['lbipam.cilium.io/sharing-key'] = 'new-key';
    delete o.spec.loadBalancerIP;
    const s = readServiceIpam(o);
    expect(s.requestedIps).toEqual(['192.168.10.215']);
    expect(s.sharingKey).toBe('new-key');
  });

  test.each([
    ['null', null, /cannot read Service: \(top level\)/],
    ['a string', 'webpod', /cannot read Service/],
    ['no metadata', { spec: {} }, /cannot read Service: metadata/],
    ['no name', { metadata: {} }, /metadata\.name/],
    ['a port that is not a number', { metadata: { name: 'x' }, spec: { ports: [{ port: '80' }] } }, /spec\.ports\.0\.port/],
    [
      'a condition without a type',
      { metadata: { name: 'x' }, status: { conditions: [{ status: 'True' }] } },
      /status\.conditions\.0\.type/,
    ],
  ])('unreadable input (%s) throws, naming the field', (_what, input, msg) => {
    expect(() => readServiceIpam(input)).toThrow(UnreadableObjectError);
    expect(() => readServiceIpam(input)).toThrow(msg);
  });
});

describe('judging a Service that must hold an IP', () => {
  test('the seed webpod holds an IP of the block with IPAMRequestSatisfied True/satisfied', () => {
    const r = judgeServiceAssigned(service('webpod'), { block: SEED_BLOCK });
    expect(r.ok).toBe(true);
    expect(r.explanation).toContain('EXTERNAL-IP 192.168.10.241');
  });

  test('after the annotation it holds exactly the requested IP', () => {
    expect(judgeServiceAssigned(service('webpod-moved'), { block: SEED_BLOCK, wantIp: '192.168.10.245' }).ok).toBe(true);
    const r = judgeServiceAssigned(service('webpod-moved'), { block: SEED_BLOCK, wantIp: '192.168.10.244' });
    expect(r.ok).toBe(false);
    expect(r.explanation).toMatch(/expected the requested IP 192\.168\.10\.244; .*EXTERNAL-IP 192\.168\.10\.245/);
  });

  test('the old IP and the new one both listed is not "moved"', () => {
    const o = service('webpod-moved');
    o.status.loadBalancer.ingress.push({ ip: '192.168.10.241' });
    expect(judgeServiceAssigned(o, { block: SEED_BLOCK, wantIp: '192.168.10.245' }).explanation).toMatch(/only the requested IP/);
  });

  test('an IP outside the block is a no, even with a satisfied condition', () => {
    const r = judgeServiceAssigned(service('foreign-ip'), { block: SEED_BLOCK });
    expect(r.ok).toBe(false);
    expect(r.explanation).toMatch(/only from the block 192\.168\.10\.241-192\.168\.10\.245, got 192\.168\.10\.50/);
  });

  test('pending, with nothing written yet, says so', () => {
    const r = judgeServiceAssigned(service('just-created'), { block: SEED_BLOCK });
    expect(r.ok).toBe(false);
    expect(r.explanation).toBe(
      'expected an IP from the pool; service default/just-created: EXTERNAL-IP <pending>, cilium.io/IPAMRequestSatisfied not written yet',
    );
  });

  test('an IP with a condition that is not True/satisfied is a no', () => {
    const o = service('webpod');
    o.status.conditions[0].status = 'False';
    o.status.conditions[0].reason = 'out_of_ips';
    expect(judgeServiceAssigned(o, { block: SEED_BLOCK }).explanation).toMatch(
      /expected cilium\.io\/IPAMRequestSatisfied True\/satisfied; .*False\/out_of_ips/,
    );
    delete o.status.conditions;
    expect(judgeServiceAssigned(o, { block: SEED_BLOCK }).ok).toBe(false);
  });

  test('only the condition of type cilium.io/IPAMRequestSatisfied counts (not the 1.13 io.cilium name)', () => {
    const o = service('webpod');
    o.status.conditions[0].type = 'io.cilium/lb-ipam-request-satisfied';
    expect(judgeServiceAssigned(o, { block: SEED_BLOCK }).ok).toBe(false);
  });

  test('garbage is a no, not an exception', () => {
    expect(judgeServiceAssigned(undefined, { block: SEED_BLOCK })).toMatchObject({
      ok: false,
      explanation: expect.stringMatching(/cannot read Service/),
    });
  });
});

describe('judging a Service that must be refused', () => {
  const v118 = v('1.18.1');

  test('a requested IP in no pool: no_pool', () => {
    expect(judgeServiceRefused(service('outside'), { reason: REASON.noPool }).ok).toBe(true);
    expect(judgeServiceRefused(service('outside'), { reason: REASON.outOfIps }).ok).toBe(false);
  });

  test('an exhausted pool: out_of_ips', () => {
    const r = judgeServiceRefused(service('one-too-many'), { reason: REASON.outOfIps });
    expect(r.ok).toBe(true);
    expect(r.explanation).toContain(
      'False/out_of_ips "All enabled CiliumLoadBalancerIPPools that match this service ran out of allocatable IPs"',
    );
  });

  test('same key, same IP, clashing port: incompatible service, message names the same port', () => {
    expect(judgeServiceRefused(service('same-port'), incompatibleSharing(v118, 'same port')).ok).toBe(true);
    const wrongCause = judgeServiceRefused(service('same-port'), incompatibleSharing(v118, 'different sharing key'));
    expect(wrongCause.ok).toBe(false);
    expect(wrongCause.explanation).toMatch(/with a message matching \/different sharing key\/i; .*Reason: same port/);
  });

  test('newer wording "same port and protocol" still matches the loose pattern', () => {
    const o = service('same-port');
    o.status.conditions[0].message =
      "The IP '192.168.10.245' is already allocated to an incompatible service. Reason: same port and protocol";
    expect(judgeServiceRefused(o, incompatibleSharing(v118, 'same port')).ok).toBe(true);
  });

  test('another key asking for the taken IP: incompatible service, message names the different sharing key', () => {
    expect(judgeServiceRefused(service('other-key'), incompatibleSharing(v118, 'different sharing key')).ok).toBe(true);
    expect(judgeServiceRefused(service('other-key'), incompatibleSharing(v118, 'same port')).ok).toBe(false);
  });

  test('no key asking for the taken IP: already_allocated, which is not the incompatible-service reason', () => {
    expect(judgeServiceRefused(service('no-key'), { reason: REASON.alreadyAllocated }).ok).toBe(true);
    expect(judgeServiceRefused(service('no-key'), incompatibleSharing(v118, 'same port')).ok).toBe(false);
    expect(judgeServiceRefused(service('same-port'), { reason: REASON.alreadyAllocated }).ok).toBe(false);
  });

  test('1.16 (real capture, #30692) used already_allocated_different_sharing_key with no detail: right for 1.16, wrong for 1.17+', () => {
    const legacy = service('legacy-1.16-different-key');
    expect(judgeServiceRefused(legacy, incompatibleSharing(v('1.16.2'), 'same port')).ok).toBe(true);
    expect(judgeServiceRefused(legacy, incompatibleSharing(v('1.17.6'), 'different sharing key')).ok).toBe(false);
  });

  test('a service that got an IP is not refused, whatever its condition says', () => {
    const o = service('webpod');
    o.status.conditions[0] = { type: 'cilium.io/IPAMRequestSatisfied', status: 'False', reason: 'no_pool', message: '' };
    expect(judgeServiceRefused(o, { reason: REASON.noPool }).explanation).toMatch(/^expected no IP and .*EXTERNAL-IP 192\.168\.10\.241/);
  });

  test('pending without a condition yet is not a verdict', () => {
    expect(judgeServiceRefused(service('just-created'), { reason: REASON.outOfIps }).ok).toBe(false);
  });
});

describe('reading and judging a pool', () => {
  test('the seed pool prints the seed row of kubectl get ippools', () => {
    const [header, row] = seedBlock('002-lbipam.txt', 'kubectl get ippools');
    expect(header).toMatch(/NAME\s+DISABLED\s+CONFLICTING\s+IPS AVAILABLE\s+AGE/);
    const r = poolRow(readPool(pool('cilium-lb-ippool')));
    expect([r.name, r.disabled, r.conflicting, r.ipsAvailable]).toEqual(columns(row!).slice(0, 4));
  });

  test('the seed pool: 5 available of 5, none used, no conflict', () => {
    const r = judgePool(pool('cilium-lb-ippool'), { total: 5, available: 5, used: 0, countsMayLag: false });
    expect(r).toEqual({ ok: true, explanation: expect.stringContaining('IPS AVAILABLE 5'), notes: [] });
    expect(readPool(pool('cilium-lb-ippool')).blocks).toEqual([{ start: '192.168.10.241', stop: '192.168.10.245' }]);
  });

  test('a wrong count is a no, naming the condition', () => {
    const r = judgePool(pool('cilium-lb-ippool'), { available: 4, countsMayLag: true });
    expect(r.ok).toBe(false);
    expect(r.explanation).toMatch(/^expected cilium\.io\/IPsAvailable 4, got 5;/);
  });

  test('a blank IPsAvailable (1.18.1 bug, #41536) is a no unless counts may lag; then it is noted', () => {
    expect(judgePool(pool('blank-available'), { available: 5, countsMayLag: false }).explanation).toMatch(
      /IPsAvailable 5, the count is blank/,
    );
    const tolerated = judgePool(pool('blank-available'), { available: 5, total: 5, countsMayLag: true });
    expect(tolerated.ok).toBe(true);
    expect(tolerated.notes).toEqual([expect.stringMatching(/IPsAvailable is blank: tolerated.*#41536/)]);
    expect(judgePool(pool('blank-available'), { total: 6, countsMayLag: true }).ok).toBe(false);
  });

  test('a conflicting pool is a no with the reason', () => {
    const r = judgePool(pool('overlapping'), { countsMayLag: false });
    expect(r.ok).toBe(false);
    expect(r.explanation).toMatch(/PoolConflict True\/cidr_overlap/);
    expect(readPool(pool('overlapping')).blocks).toEqual([{ cidr: '192.168.10.208/29' }]);
  });

  test('a pool the operator has not processed yet has no PoolConflict condition: not yet', () => {
    const r = judgePool(pool('unprocessed'), { available: 5, countsMayLag: true });
    expect(r.ok).toBe(false);
    expect(r.explanation).toMatch(
      /expected cilium\.io\/PoolConflict False \(set on every new pool\); pool unprocessed: .*CONFLICTING \(blank\)/,
    );
  });

  test('a disabled pool is a no; start without stop is one address', () => {
    expect(judgePool(pool('disabled-single'), { countsMayLag: false }).explanation).toMatch(/expected an enabled pool/);
    expect(readPool(pool('disabled-single')).blocks).toEqual([{ start: '192.168.10.99', stop: '192.168.10.99' }]);
  });

  test('a count that is not a decimal string reads as blank', () => {
    const p = pool('cilium-lb-ippool');
    p.status.conditions[2].message = '5 IPs';
    expect(readPool(p).available).toBeNull();
  });

  test('garbage: no spec, a block with neither cidr nor start, not an object', () => {
    expect(() => readPool({ metadata: { name: 'x' } })).toThrow(/cannot read CiliumLoadBalancerIPPool: spec/);
    expect(() => readPool({ metadata: { name: 'x' }, spec: { blocks: [{ stop: '1.2.3.4' }] } })).toThrow(
      /spec\.blocks\.0: neither cidr nor start/,
    );
    expect(judgePool('pool', { countsMayLag: true })).toMatchObject({ ok: false });
  });
});

describe('the lab config the LB suites need', () => {
  // cilium config view of the base lab (team contract: native routing, KPR, L2 announcements off: key absent, cb 2.1)
  const base = {
    'routing-mode': 'native',
    'tunnel-protocol': 'vxlan',
    'auto-direct-node-routes': 'true',
    'kube-proxy-replacement': 'true',
  };

  test('the base lab is not ready for LB suites: native routing and no L2 announcements, both named', () => {
    const r = judgeConfig(base, LB_CONFIG);
    expect(r.ok).toBe(false);
    expect(r.explanation).toBe(
      'cilium-config differs from what the suite needs: routing-mode="native" (want "tunnel"), enable-l2-announcements=(absent) (want "true")',
    );
  });

  test('after the converge (tunnel/vxlan, L2 announcements on) it is', () => {
    expect(
      judgeConfig({ ...base, 'routing-mode': 'tunnel', 'auto-direct-node-routes': 'false', 'enable-l2-announcements': 'true' }, LB_CONFIG)
        .ok,
    ).toBe(true);
  });

  test('values are compared as the strings cilium-config holds', () => {
    expect(judgeConfig({ ...base, 'routing-mode': 'tunnel', 'enable-l2-announcements': 'True' }, LB_CONFIG).ok).toBe(false);
  });
});

describe('version rules', () => {
  test.each([
    ['1.18.1', { major: 1, minor: 18, patch: 1, pre: null }],
    ['v1.17.6', { major: 1, minor: 17, patch: 6, pre: null }],
    [
      'quay.io/cilium/cilium:v1.17.6@sha256:5649db451c88d928ea585514746d50d91e6210801b300c897283ea319d68de15',
      { major: 1, minor: 17, patch: 6, pre: null },
    ],
    ['1.19.0-pre.0', { major: 1, minor: 19, patch: 0, pre: 'pre.0' }],
  ])('parses %s', (text, want) => {
    expect(parseCiliumVersion(text)).toEqual(want);
  });

  test.each(['', 'latest', 'v1.18', 'quay.io/cilium/cilium@sha256:abc'])('no version in %j', (text) => {
    expect(parseCiliumVersion(text)).toBeNull();
  });

  test('pool counts may lag on 1.18.0-1.18.2 (and when the version is unknown), not on 1.17 or later 1.18', () => {
    const lag = (s: string) => poolCountsMayLag(v(s));
    expect(['1.18.0', '1.18.1', '1.18.2'].map(lag)).toEqual([true, true, true]);
    expect(['1.17.4', '1.17.6', '1.18.3', '1.19.0'].map(lag)).toEqual([false, false, false, false]);
    expect(poolCountsMayLag(null)).toBe(true);
  });

  test('the sharing refusal reason changed in 1.17 (PR #33808)', () => {
    expect(incompatibleSharing(v('1.17.0'), 'same port')).toEqual({
      reason: 'already_allocated_incompatible_service',
      message: /same port/i,
    });
    expect(incompatibleSharing(v('1.18.1'), 'different sharing key')).toEqual({
      reason: 'already_allocated_incompatible_service',
      message: /different sharing key/i,
    });
    expect(incompatibleSharing(v('1.16.2'), 'same port')).toEqual({ reason: 'already_allocated_different_sharing_key' });
    expect(incompatibleSharing(null, 'same port').reason).toBe('already_allocated_incompatible_service');
  });
});

describe('picking addresses', () => {
  const t = reference();
  const block = lbPoolAddresses(t);

  test('the reference block is the five addresses 192.168.10.211-215', () => {
    expect(topologyBlock(t)).toEqual({ start: '192.168.10.211', stop: '192.168.10.215' });
    expect(block).toHaveLength(5);
  });

  test('a requestable address is the last free one, never the one the service holds', () => {
    expect(pickRequestableAddress(block, ['192.168.10.211'])).toBe('192.168.10.215');
    expect(pickRequestableAddress(block, ['192.168.10.215'])).toBe('192.168.10.214');
    expect(() => pickRequestableAddress(block, block)).toThrow(/no free address left in 192\.168\.10\.211-192\.168\.10\.215/);
  });

  test('filling the pool takes one service per free address', () => {
    expect(servicesToFill(block, ['192.168.10.213'])).toBe(4);
    expect(servicesToFill(block, ['192.168.10.213', '192.168.10.213', '10.0.0.1'])).toBe(4);
    expect(freeAddresses(block, [])).toEqual(block);
  });

  test('an address outside every pool: highest host of the subnet, not a node, not in any pool', () => {
    const avoid = t.nodes.flatMap((n) => n.interfaces.map((i) => i.address));
    const pools = [topologyBlock(t)];
    expect(pickAddressOutsidePools({ subnet: '192.168.10.0/24', pools, avoid })).toBe('192.168.10.254');
    expect(pickAddressOutsidePools({ subnet: '192.168.10.0/24', pools: [...pools, { cidr: '192.168.10.240/28' }], avoid })).toBe(
      '192.168.10.239',
    );
    expect(pickAddressOutsidePools({ subnet: '192.168.10.0/24', pools, avoid: [...avoid, '192.168.10.254/24'] })).toBe('192.168.10.253');
    expect(() =>
      pickAddressOutsidePools({ subnet: '192.168.10.0/30', pools: [{ start: '192.168.10.1', stop: '192.168.10.2' }], avoid: [] }),
    ).toThrow(/every address of 192\.168\.10\.0\/30/);
  });

  test('block membership: inclusive ranges and CIDRs', () => {
    expect(blockContains({ start: '192.168.10.211', stop: '192.168.10.215' }, '192.168.10.215')).toBe(true);
    expect(blockContains({ start: '192.168.10.211', stop: '192.168.10.215' }, '192.168.10.216')).toBe(false);
    expect(blockContains({ cidr: '192.168.10.208/29' }, '192.168.10.215')).toBe(true);
  });
});

describe('who announces the block', () => {
  test('reference lab: k8s-ctr and k8s-w1 on lan1 via eth1 (k8s-w0 sits on lan2)', () => {
    expect(l2AnnouncePlan(reference())).toEqual({ subnet: '192.168.10.0/24', nodes: ['k8s-ctr', 'k8s-w1'], interfaces: ['^eth1$'] });
  });

  test('a block on lan2 is announced by k8s-w0 only', () => {
    const doc = referenceDoc();
    doc.lbPool = { start: '192.168.20.211', stop: '192.168.20.215' };
    const t = parseTopology(doc);
    expect(l2AnnouncePlan(t)).toEqual({ subnet: '192.168.20.0/24', nodes: ['k8s-w0'], interfaces: ['^eth1$'] });
  });

  test('interface names are escaped in the anchored regex', () => {
    const doc = referenceDoc();
    doc.nodes[1].interfaces[0].name = 'eth1.100';
    expect(l2AnnouncePlan(parseTopology(doc)).interfaces).toEqual(['^eth1\\.100$', '^eth1$']);
  });

  test('no Kubernetes node on the block subnet is an error', () => {
    const doc = referenceDoc();
    doc.subnets.push({ name: 'lan3', cidr: '192.168.30.0/24' });
    doc.nodes[0].interfaces.push({ name: 'eth3', address: '192.168.30.200/24', subnet: 'lan3' });
    doc.lbPool = { start: '192.168.30.211', stop: '192.168.30.215' };
    expect(() => l2AnnouncePlan(parseTopology(doc))).toThrow(/no Kubernetes node has an interface on lan3/);
    expect(primaryAddress(parseTopology(doc).nodes[0]!)).toBe('192.168.10.200');
  });
});
