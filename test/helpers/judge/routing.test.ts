/**
 * The routing judges on the real outputs of seed 002 (test/fixtures/seeds/002, read by the harness's
 * parsers), on captures from the netlab namespaces (test/fixtures/tcpdump/netlab-*), and on counter-examples
 * that must make them say no.
 */
import { describe, expect, test } from 'vitest';
import {
  TUNNEL_ROUTE_MTU,
  VXLAN_PORT,
  defaultRouteDevice,
  judgeEncapsulated,
  judgeLinkUp,
  judgeMisrouted,
  judgeNextHop,
  judgeNoPodRoute,
  judgeOverlayOnNode,
  judgePingAnswered,
  judgePingLost,
  judgeRoutedAcross,
  judgeRoutesAbsent,
  judgeRoutesPresent,
  judgeRoutingMode,
  judgeTunnelRoutes,
  judgeWhoamiFrom,
  planRouterPodRoutes,
  podCidrsByNode,
  routeFor,
  routeNetwork,
} from '../../../helpers/judge/routing.ts';
import type { IpRoute, Packet, RoutingStatus } from '../../../helpers/judge/types.ts';
import { parseIpLink, parseIpRoute, parseTcpdump } from '../../../helpers/parse/index.ts';
import { readFileSync } from 'node:fs';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8');

function pkt(iface: string, direction: Packet['direction'], srcIp: string, dstIp: string): Packet {
  return { iface, direction, srcIp, srcPort: null, dstIp, dstPort: null };
}
function route(dst: string, o: Partial<IpRoute> = {}): IpRoute {
  return { dst, via: null, dev: null, src: null, proto: null, mtu: null, metric: null, ...o };
}

// The seed 002 outputs (test/fixtures/README.md lists the seed lines), read by the harness's own parsers.
const SEED_MISROUTED = parseTcpdump(fixture('tcpdump/seed-any-misrouted.txt')); // router: eth1 In, eth0 Out
const SEED_FIXED = parseTcpdump(fixture('tcpdump/seed-any-routed.txt')); // router after the static routes
const SEED_W0_VXLAN = parseTcpdump(fixture('tcpdump/seed-any-vxlan-node.txt')); // k8s-w0 in VXLAN mode
const SEED_ROUTER_ROUTES = parseIpRoute(fixture('iproute/seed-router-no-pod-routes.txt'));
const SEED_VXLAN_ROUTES = parseIpRoute(fixture('iproute/seed-cilium-host-mtu1450.txt')); // k8s-ctr, VXLAN mode
// The netlab (test/netlab): a namespace router between 198.18.10.0/24 and 198.18.20.0/24, "pods" in 198.19.0.0/16.
const NETLAB_OTV = parseTcpdump(fixture('tcpdump/netlab-any-vxlan-as-otv.txt'));
const NETLAB_VXLAN = parseTcpdump(fixture('tcpdump/netlab-any-vxlan-decoded.txt'));
const NETLAB_MISROUTED = parseTcpdump(fixture('tcpdump/netlab-any-misrouted.txt'));

test('the parsers read every line of the seed fixtures', () => {
  expect(SEED_MISROUTED.map((p) => `${p.iface} ${p.direction}`)).toEqual(['eth1 In', 'eth0 Out', 'eth1 In', 'eth0 Out']);
  expect(SEED_FIXED).toHaveLength(8);
  expect(SEED_W0_VXLAN.map((p) => p.iface)).toEqual([
    'cilium_vxlan',
    'lxca2047e9fb417',
    'cilium_vxlan',
    'cilium_vxlan',
    'lxca2047e9fb417',
    'cilium_vxlan',
  ]);
  expect(SEED_ROUTER_ROUTES.map((r) => r.dst)).toEqual([
    'default',
    '10.0.2.0/24',
    '10.0.2.2',
    '10.0.2.3',
    '10.10.1.0/24',
    '10.10.2.0/24',
    '192.168.10.0/24',
    '192.168.20.0/24',
  ]);
  expect(SEED_VXLAN_ROUTES.map((r) => r.mtu)).toEqual([null, null, 1450, 1450]);
});

const SEED_PATH_MISROUTED = { client: '172.20.0.124', target: '172.20.2.178', arrivalIface: 'eth1', towardIface: 'eth2' };
const SEED_PATH_FIXED = { client: '172.20.0.204', target: '172.20.2.6', arrivalIface: 'eth1', towardIface: 'eth2' };

describe('routes', () => {
  test('routeNetwork normalises destinations', () => {
    expect(routeNetwork('default')).toBe('0.0.0.0/0');
    expect(routeNetwork('172.20.0.136')).toBe('172.20.0.136/32');
    expect(routeNetwork('172.20.2.7/24')).toBe('172.20.2.0/24');
    expect(routeNetwork('fe80::/64')).toBeNull();
    expect(routeNetwork('blackhole')).toBeNull();
    expect(routeNetwork('10.0.0.0/33')).toBeNull();
  });

  test('the seed router sends a pod address out its default route eth0', () => {
    expect(defaultRouteDevice(SEED_ROUTER_ROUTES)).toBe('eth0');
    expect(routeFor(SEED_ROUTER_ROUTES, '172.20.2.178')?.dst).toBe('default');
    expect(routeFor(SEED_ROUTER_ROUTES, '192.168.20.100')?.dev).toBe('eth2');
    expect(routeFor(SEED_ROUTER_ROUTES, '10.0.2.2')?.dst).toBe('10.0.2.2');
    expect(routeFor(SEED_ROUTER_ROUTES, 'garbage')).toBeNull();
    expect(defaultRouteDevice([])).toBeNull();
  });

  test('the lowest metric wins between equal prefixes', () => {
    const routes = [route('default', { dev: 'eth9', metric: 200 }), route('default', { dev: 'eth0', metric: 100 })];
    expect(routeFor(routes, '8.8.8.8')?.dev).toBe('eth0');
    expect(defaultRouteDevice(routes)).toBe('eth0');
  });

  test('no pod route on the seed router, and the explanation names where the pod address goes', () => {
    const v = judgeNoPodRoute(SEED_ROUTER_ROUTES, '172.20.0.0/16', '172.20.2.178');
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('default via 10.0.2.2 dev eth0');
  });

  test('a pod route on the router (the workaround, a /16, a blackhole-like entry) is caught', () => {
    for (const extra of [
      route('172.20.2.0/24', { via: '192.168.20.100', dev: 'eth2' }),
      route('172.20.0.0/16', { via: '192.168.10.100', dev: 'eth1' }),
      route('172.16.0.0/12', { dev: 'eth1' }),
    ]) {
      const v = judgeNoPodRoute([...SEED_ROUTER_ROUTES, extra], '172.20.0.0/16', '172.20.2.178');
      expect(v.ok, extra.dst).toBe(false);
      expect(v.explanation).toContain(extra.dst);
    }
  });

  test('an empty table is no evidence', () => {
    expect(judgeNoPodRoute([], '172.20.0.0/16').ok).toBe(false);
  });

  test('judgeNextHop: k8s-ctr would send a k8s-w0 pod to the router', () => {
    const ctr = [
      route('default', { via: '10.0.2.2', dev: 'eth0', metric: 100 }),
      route('172.20.0.0/16', { via: '192.168.10.200', dev: 'eth1' }),
      route('172.20.1.0/24', { via: '192.168.10.101', dev: 'eth1', proto: 'kernel' }),
    ];
    expect(judgeNextHop(ctr, '172.20.2.6', { via: '192.168.10.200' }).ok).toBe(true);
    expect(judgeNextHop(ctr, '172.20.1.9', { via: '192.168.10.200' }).ok).toBe(false);
    expect(judgeNextHop(ctr, '172.20.2.6', { via: '192.168.10.200', dev: 'eth2' }).ok).toBe(false);
    expect(judgeNextHop([], '172.20.2.6', { via: '192.168.10.200' }).ok).toBe(false);
  });

  test('workaround routes present, then gone', () => {
    const wanted = [
      { dst: '172.20.0.0/24', via: '192.168.10.100' },
      { dst: '172.20.2.0/24', via: '192.168.20.100' },
    ];
    const withRoutes = [...SEED_ROUTER_ROUTES, ...wanted.map((w) => route(w.dst, { via: w.via }))];
    expect(judgeRoutesPresent(withRoutes, wanted).ok).toBe(true);
    expect(judgeRoutesPresent(SEED_ROUTER_ROUTES, wanted).ok).toBe(false);
    expect(judgeRoutesPresent([...SEED_ROUTER_ROUTES, route('172.20.2.0/24', { via: '192.168.10.100' })], wanted.slice(1)).ok).toBe(false);
    expect(judgeRoutesPresent(withRoutes, []).ok).toBe(false);

    const dsts = wanted.map((w) => w.dst);
    expect(judgeRoutesAbsent(SEED_ROUTER_ROUTES, dsts).ok).toBe(true);
    const left = judgeRoutesAbsent([...SEED_ROUTER_ROUTES, route('172.20.2.0/24', { via: '192.168.20.100' })], dsts);
    expect(left.ok).toBe(false);
    expect(left.explanation).toContain('172.20.2.0/24 via 192.168.20.100');
  });
});

describe('judgeMisrouted', () => {
  const path = { ...SEED_PATH_MISROUTED, defaultIface: 'eth0' };

  test('passes on the netlab capture of the same pattern', () => {
    const v = judgeMisrouted(NETLAB_MISROUTED, {
      client: '198.18.10.100',
      target: '198.19.2.10',
      arrivalIface: 'eth1',
      towardIface: 'eth2',
      defaultIface: 'eth0',
    });
    expect(v.ok, v.explanation).toBe(true);
  });

  test('passes on the seed capture: eth1 In, eth0 Out, no reply', () => {
    const v = judgeMisrouted(SEED_MISROUTED, path);
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('eth1 In ×2, eth0 Out ×2');
  });

  test('fails on the capture after the static routes (requests leave on eth2, replies come back)', () => {
    const v = judgeMisrouted(SEED_FIXED, { ...SEED_PATH_FIXED, defaultIface: 'eth0' });
    expect(v.ok).toBe(false);
    expect(v.explanation).toMatch(/left on eth2/);
    expect(v.explanation).toMatch(/came back/);
  });

  test('fails when nothing reached the router', () => {
    expect(judgeMisrouted([], path).ok).toBe(false);
  });

  test('fails when packets arrived but did not leave at all (dropped, not misrouted)', () => {
    const v = judgeMisrouted(
      SEED_MISROUTED.filter((p) => p.iface === 'eth1'),
      path,
    );
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('default-route interface eth0');
  });

  test('fails when they arrive on another interface than the client subnet', () => {
    const v = judgeMisrouted(
      SEED_MISROUTED.map((p) => (p.iface === 'eth1' ? { ...p, iface: 'eth2' } : p)),
      path,
    );
    expect(v.ok).toBe(false);
  });

  test('fails when requests also leave toward the target subnet, even with no reply', () => {
    const v = judgeMisrouted([...SEED_MISROUTED, pkt('eth2', 'Out', '172.20.0.124', '172.20.2.178')], path);
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('1 left on eth2');
  });

  test('fails when a reply came back', () => {
    expect(judgeMisrouted([...SEED_MISROUTED, pkt('eth0', 'In', '172.20.2.178', '172.20.0.124')], path).ok).toBe(false);
  });

  test('ignores packets of other pods', () => {
    const other = SEED_MISROUTED.map((p) => ({ ...p, srcIp: '172.20.0.99' }));
    expect(judgeMisrouted(other, path).ok).toBe(false);
  });

  test('lines without a direction (capture not on "any") are no evidence', () => {
    expect(
      judgeMisrouted(
        SEED_MISROUTED.map((p) => ({ ...p, direction: null })),
        path,
      ).ok,
    ).toBe(false);
  });

  test('refuses to judge without a default route, or when the default route is the target side', () => {
    expect(judgeMisrouted(SEED_MISROUTED, { ...path, defaultIface: null }).ok).toBe(false);
    expect(judgeMisrouted(SEED_MISROUTED, { ...path, defaultIface: 'eth2' }).ok).toBe(false);
  });
});

describe('judgeRoutedAcross', () => {
  test('passes on the seed capture after the static routes', () => {
    const v = judgeRoutedAcross(SEED_FIXED, SEED_PATH_FIXED);
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('eth1 In → eth2 Out');
  });

  test('fails on the misrouted seed capture', () => {
    const v = judgeRoutedAcross(SEED_MISROUTED, SEED_PATH_MISROUTED);
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('left elsewhere (eth0 Out ×2)');
  });

  test('fails when requests cross but no reply comes back', () => {
    const v = judgeRoutedAcross(
      SEED_FIXED.filter((p) => p.srcIp === '172.20.0.204'),
      SEED_PATH_FIXED,
    );
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('no reply');
  });

  test('fails when replies come in but are not sent back to the client subnet', () => {
    const v = judgeRoutedAcross(
      SEED_FIXED.filter((p) => !(p.iface === 'eth1' && p.direction === 'Out')),
      SEED_PATH_FIXED,
    );
    expect(v.ok).toBe(false);
  });

  test('fails when some requests also leak out the default route', () => {
    expect(judgeRoutedAcross([...SEED_FIXED, pkt('eth0', 'Out', '172.20.0.204', '172.20.2.6')], SEED_PATH_FIXED).ok).toBe(false);
  });

  test('fails on an empty capture', () => {
    expect(judgeRoutedAcross([], SEED_PATH_FIXED).ok).toBe(false);
  });
});

describe('planRouterPodRoutes (the workaround from CiliumNode objects)', () => {
  const cn = (name: string, internal: string, podCIDRs: string[], extra: object = {}): object => ({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNode',
    metadata: { name },
    spec: {
      addresses: [
        { type: 'InternalIP', ip: internal },
        { type: 'CiliumInternalIP', ip: podCIDRs[0]?.replace(/0\/24$/, '136') ?? '' },
      ],
      ipam: { podCIDRs },
      ...extra,
    },
  });
  // The three nodes of seed 002's workaround (lines 122-128): one route per node pod CIDR via the node.
  const seedNodes = [
    cn('k8s-ctr', '192.168.10.100', ['172.20.0.0/24']),
    cn('k8s-w1', '192.168.10.101', ['172.20.1.0/24']),
    cn('k8s-w0', '192.168.20.100', ['172.20.2.0/24']),
  ];
  const routerSubnets = ['192.168.10.0/24', '192.168.20.0/24'];

  test('gives the seed workaround routes', () => {
    const plan = planRouterPodRoutes(seedNodes, routerSubnets);
    expect(plan.problems).toEqual([]);
    expect(plan.routes).toEqual([
      { node: 'k8s-ctr', dst: '172.20.0.0/24', via: '192.168.10.100' },
      { node: 'k8s-w1', dst: '172.20.1.0/24', via: '192.168.10.101' },
      { node: 'k8s-w0', dst: '172.20.2.0/24', via: '192.168.20.100' },
    ]);
  });

  test('skips IPv6 pod CIDRs and keeps every IPv4 one', () => {
    const plan = planRouterPodRoutes([cn('k8s-ctr', '192.168.10.100', ['fd00::/120', '172.20.0.0/24', '172.20.9.0/24'])], routerSubnets);
    expect(plan.routes.map((r) => r.dst)).toEqual(['172.20.0.0/24', '172.20.9.0/24']);
  });

  test('reports nodes it cannot route to, and garbage', () => {
    const plan = planRouterPodRoutes(
      [
        cn('far', '10.99.0.1', ['172.20.5.0/24']),
        cn('no-cidr', '192.168.10.102', []),
        { metadata: { name: 'no-ip' }, spec: { ipam: { podCIDRs: ['172.20.6.0/24'] } } },
        'garbage',
        { metadata: {}, spec: {} },
      ],
      routerSubnets,
    );
    expect(plan.routes).toEqual([]);
    expect(plan.problems).toHaveLength(5);
    expect(plan.problems[0]).toContain("far's InternalIP 10.99.0.1 is on none of the router's subnets");
    expect(plan.problems[1]).toContain('no-cidr has no IPv4 pod CIDR');
    expect(plan.problems[2]).toContain('no-ip has no IPv4 InternalIP');
  });

  test('an empty cluster is a problem, not an empty plan that passes', () => {
    expect(planRouterPodRoutes([], routerSubnets).problems).toEqual(['the cluster has no CiliumNode objects']);
  });

  test('podCidrsByNode', () => {
    expect(Object.fromEntries(podCidrsByNode([...seedNodes, 'garbage']))).toEqual({
      'k8s-ctr': ['172.20.0.0/24'],
      'k8s-w1': ['172.20.1.0/24'],
      'k8s-w0': ['172.20.2.0/24'],
    });
  });
});

describe('VXLAN', () => {
  test('the tunnel MTU is the seed value', () => {
    expect(TUNNEL_ROUTE_MTU).toBe(1450);
    expect(VXLAN_PORT).toBe(8472);
  });

  test('judgeTunnelRoutes passes on the seed routes of k8s-ctr', () => {
    const v = judgeTunnelRoutes(SEED_VXLAN_ROUTES, { ownPodCidrs: ['172.20.0.0/24'], otherPodCidrs: ['172.20.1.0/24', '172.20.2.0/24'] });
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('172.20.2.0/24 via 172.20.0.136 dev cilium_host mtu 1450');
  });

  test('judgeTunnelRoutes fails on native-mode routes, missing MTU, missing CIDR, foreign via', () => {
    const own = { ownPodCidrs: ['172.20.0.0/24'], otherPodCidrs: ['172.20.1.0/24', '172.20.2.0/24'] };
    const native = [route('172.20.1.0/24', { via: '192.168.10.101', dev: 'eth1', proto: 'kernel' })];
    expect(judgeTunnelRoutes(native, own).explanation).toContain('dev eth1 instead of cilium_host');
    const noMtu = SEED_VXLAN_ROUTES.map((r) => ({ ...r, mtu: null }));
    expect(judgeTunnelRoutes(noMtu, own).explanation).toContain('mtu (none) instead of 1450');
    expect(judgeTunnelRoutes(SEED_VXLAN_ROUTES.slice(0, 3), own).explanation).toContain('no route for 172.20.2.0/24');
    const foreignVia = SEED_VXLAN_ROUTES.map((r) => ({ ...r, via: r.via && '172.20.9.1' }));
    expect(judgeTunnelRoutes(foreignVia, own).ok).toBe(false);
    expect(judgeTunnelRoutes(SEED_VXLAN_ROUTES, { ...own, otherPodCidrs: [] }).ok).toBe(false);
    expect(judgeTunnelRoutes(SEED_VXLAN_ROUTES, { ...own, mtu: 1500 }).ok).toBe(false);
  });

  test('judgeLinkUp on the seed `ip link show cilium_vxlan` line', () => {
    const links = parseIpLink(fixture('seeds/002/k8s-ctr-ip-link-cilium_vxlan.txt'));
    expect(judgeLinkUp(links, 'cilium_vxlan').ok).toBe(true);
    expect(judgeLinkUp(links, 'cilium_geneve').ok).toBe(false);
    expect(judgeLinkUp([], 'cilium_vxlan').ok).toBe(false);
    expect(judgeLinkUp(parseIpLink('7: cilium_vxlan: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN'), 'cilium_vxlan').ok).toBe(
      false,
    );
  });

  test('judgeOverlayOnNode passes on the seed k8s-w0 capture (cilium_vxlan P / Out)', () => {
    const v = judgeOverlayOnNode(SEED_W0_VXLAN, { client: '172.20.0.204', target: '172.20.2.6' });
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('cilium_vxlan P ×2');
  });

  test('judgeOverlayOnNode fails when the same ICMP travels on eth1 (native) or only one way', () => {
    const native = SEED_W0_VXLAN.map((p) => (p.iface === 'cilium_vxlan' ? { ...p, iface: 'eth1' } : p));
    expect(judgeOverlayOnNode(native, { client: '172.20.0.204', target: '172.20.2.6' }).ok).toBe(false);
    const oneWay = SEED_W0_VXLAN.filter((p) => p.srcIp === '172.20.0.204');
    expect(judgeOverlayOnNode(oneWay, { client: '172.20.0.204', target: '172.20.2.6' }).ok).toBe(false);
    expect(judgeOverlayOnNode([], { client: '172.20.0.204', target: '172.20.2.6' }).ok).toBe(false);
  });

  // Not in the seed (the note shows only the node capture); the outer headers of a router capture
  // `tcpdump -i any -nn 'udp port 8472 or net 172.20.0.0/16'` as the contract's parser returns them.
  const udp = (iface: string, direction: Packet['direction'], src: string, sport: number, dst: string, dport: number): Packet => ({
    iface,
    direction,
    srcIp: src,
    srcPort: sport,
    dstIp: dst,
    dstPort: dport,
  });
  const ENCAP: Packet[] = [
    udp('eth1', 'In', '192.168.10.100', 54321, '192.168.20.100', 8472),
    udp('eth2', 'Out', '192.168.10.100', 54321, '192.168.20.100', 8472),
    udp('eth2', 'In', '192.168.20.100', 40001, '192.168.10.100', 8472),
    udp('eth1', 'Out', '192.168.20.100', 40001, '192.168.10.100', 8472),
  ];
  const encapCtx = {
    fromNode: '192.168.10.100',
    toNode: '192.168.20.100',
    nodeAddresses: ['192.168.10.100', '192.168.10.101', '192.168.20.100'],
    podCidr: '172.20.0.0/16',
  };

  test('judgeEncapsulated passes on UDP 8472 both ways between node addresses', () => {
    expect(judgeEncapsulated(ENCAP, encapCtx).ok).toBe(true);
  });

  const netlabCtx = {
    fromNode: '198.18.10.100',
    toNode: '198.18.20.100',
    nodeAddresses: ['198.18.10.100', '198.18.20.100'],
    podCidr: '198.19.0.0/16',
  };

  test('judgeEncapsulated passes on the netlab router captures, decoded as OTV (tcpdump default) and as VXLAN', () => {
    for (const capture of [NETLAB_OTV, NETLAB_VXLAN]) {
      const v = judgeEncapsulated(capture, netlabCtx);
      expect(v.ok, v.explanation).toBe(true);
    }
    // The inner (pod) addresses are there, but only inside the tunnel.
    expect(NETLAB_OTV.every((p) => p.inner?.srcIp.startsWith('198.19.'))).toBe(true);
  });

  test('judgeEncapsulated fails on the netlab capture of the same traffic unencapsulated and misrouted', () => {
    const v = judgeEncapsulated(NETLAB_MISROUTED, netlabCtx);
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('no UDP 8472 packet from 198.18.10.100 to 198.18.20.100');
    expect(v.explanation).toContain('4 packet(s) with a pod address (198.19.0.0/16)');
  });

  test('judgeEncapsulated fails on the netlab capture when a node address is not a node of the topology', () => {
    expect(judgeEncapsulated(NETLAB_VXLAN, { ...netlabCtx, nodeAddresses: ['198.18.10.100'] }).explanation).toContain('non-node addresses');
  });

  test('judgeEncapsulated fails on the seed native captures (bare pod addresses, no UDP 8472)', () => {
    for (const capture of [SEED_MISROUTED, SEED_FIXED]) {
      const v = judgeEncapsulated(capture, encapCtx);
      expect(v.ok).toBe(false);
      expect(v.explanation).toContain('with a pod address');
    }
  });

  test('judgeEncapsulated fails when one bare pod packet slips through next to the tunnel', () => {
    expect(judgeEncapsulated([...ENCAP, SEED_FIXED[0] as Packet], encapCtx).ok).toBe(false);
  });

  test('judgeEncapsulated fails with tunnel traffic one way only, or between non-node addresses', () => {
    expect(judgeEncapsulated(ENCAP.slice(0, 2), encapCtx).explanation).toContain('back to 192.168.10.100');
    const foreign = [...ENCAP, udp('eth1', 'In', '192.168.10.77', 1, '192.168.20.100', 8472)];
    expect(judgeEncapsulated(foreign, encapCtx).explanation).toContain('non-node addresses');
    expect(
      judgeEncapsulated(
        ENCAP.map((p) => ({ ...p, dstPort: 6081 })),
        encapCtx,
      ).ok,
    ).toBe(false);
    expect(judgeEncapsulated([], encapCtx).ok).toBe(false);
  });
});

describe('reachability', () => {
  const ping = (transmitted: number, received: number) => ({
    transmitted,
    received,
    lossPercent: transmitted === 0 ? 0 : Math.round((100 * (transmitted - received)) / transmitted),
    rttAvgMs: received > 0 ? 0.5 : null,
    unreachable: false,
  });

  test('judgePingLost: every request lost, and something was sent', () => {
    expect(judgePingLost(ping(2, 0)).ok).toBe(true);
    expect(judgePingLost(ping(2, 1)).ok).toBe(false);
    expect(judgePingLost(ping(0, 0)).ok).toBe(false);
  });

  test('judgePingAnswered: every request answered', () => {
    expect(judgePingAnswered(ping(2, 2)).ok).toBe(true);
    expect(judgePingAnswered(ping(3, 2)).ok).toBe(false);
    expect(judgePingAnswered(ping(0, 0)).ok).toBe(false);
  });

  test('judgeWhoamiFrom: the answer must name the expected pod (seed 002 line 219 shape)', () => {
    const body = 'Hostname: webpod-697b545f57-lq7nw\nIP: 127.0.0.1\nIP: 172.20.2.6\nGET / HTTP/1.1\nHost: 172.20.2.6\n';
    const ok = { ok: true, status: 200, headers: {}, body, error: null };
    expect(judgeWhoamiFrom(ok, 'webpod-697b545f57-lq7nw').ok).toBe(true);
    expect(judgeWhoamiFrom(ok, 'webpod-697b545f57-other').explanation).toContain('names webpod-697b545f57-lq7nw');
    expect(judgeWhoamiFrom({ ...ok, status: 503 }, 'webpod-697b545f57-lq7nw').ok).toBe(false);
    expect(judgeWhoamiFrom({ ok: false, status: null, headers: {}, body: '', error: 'connect timeout' }, 'x').explanation).toContain(
      'connect timeout',
    );
    expect(judgeWhoamiFrom({ ...ok, body: '<h1>Web Server : router</h1>' }, 'webpod-697b545f57-lq7nw').ok).toBe(false);
  });
});

describe('judgeRoutingMode', () => {
  const st = (network: 'Native' | 'Tunnel', tunnelProtocol: string | null): RoutingStatus => ({
    kubeProxyReplacement: true,
    routing: { network, tunnelProtocol, host: 'BPF' },
  });

  test('every agent must run the wanted mode', () => {
    const tunnel = [
      { node: 'k8s-ctr', status: st('Tunnel', 'vxlan') },
      { node: 'k8s-w0', status: st('Tunnel', 'vxlan') },
    ];
    expect(judgeRoutingMode(tunnel, { network: 'Tunnel', tunnelProtocol: 'vxlan' }).ok).toBe(true);
    expect(judgeRoutingMode(tunnel, { network: 'Native' }).ok).toBe(false);
    expect(judgeRoutingMode(tunnel, { network: 'Tunnel', tunnelProtocol: 'geneve' }).ok).toBe(false);
    const mixed = [...tunnel, { node: 'k8s-w1', status: st('Native', null) }];
    expect(judgeRoutingMode(mixed, { network: 'Tunnel', tunnelProtocol: 'vxlan' }).explanation).toContain('k8s-w1: Native');
    expect(judgeRoutingMode([], { network: 'Native' }).ok).toBe(false);
  });
});
