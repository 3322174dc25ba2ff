import { describe, expect, test } from 'vitest';
import { ParseError } from '../../../helpers/parse/common.ts';
import { parseIpRoute } from '../../../helpers/parse/iproute.ts';
import { fixture } from '../../fixtures/load.ts';

describe('parseIpRoute: text', () => {
  test('the study router without pod routes (seed)', () => {
    const routes = parseIpRoute(fixture('iproute/seed-router-no-pod-routes.txt'));
    expect(routes).toHaveLength(8);
    expect(routes[0]).toEqual({ dst: 'default', via: '10.0.2.2', dev: 'eth0', src: '10.0.2.15', proto: 'dhcp', mtu: null, metric: 100 });
    expect(routes[7]).toEqual({
      dst: '192.168.20.0/24',
      via: null,
      dev: 'eth2',
      src: '192.168.20.200',
      proto: 'kernel',
      mtu: null,
      metric: null,
      scope: 'link',
    });
    expect(routes.some((r) => r.dst.startsWith('172.20.'))).toBe(false);
  });

  test('cilium_host routes with mtu 1450 (seed, VXLAN mode)', () => {
    const routes = parseIpRoute(fixture('iproute/seed-cilium-host-mtu1450.txt'));
    expect(routes.map((r) => [r.dst, r.via, r.dev, r.mtu])).toEqual([
      ['172.20.0.0/24', '172.20.0.136', 'cilium_host', null],
      ['172.20.0.136', null, 'cilium_host', null],
      ['172.20.1.0/24', '172.20.0.136', 'cilium_host', 1450],
      ['172.20.2.0/24', '172.20.0.136', 'cilium_host', 1450],
    ]);
  });

  test('netlab node: trailing spaces, a route over a VXLAN device', () => {
    const routes = parseIpRoute(fixture('iproute/netlab-ctr-vxlan-mtu.txt'));
    expect(routes.find((r) => r.dst === '198.19.2.0/24')).toEqual({
      dst: '198.19.2.0/24',
      via: null,
      dev: 'vx0',
      src: '198.19.0.10',
      proto: null,
      mtu: null,
      metric: null,
      scope: 'link',
    });
    expect(routes.find((r) => r.dst === '198.19.1.0/24')?.mtu).toBe(1450);
  });

  test('route types, mtu lock, flags, multipath next hops', () => {
    const text = [
      'blackhole 198.19.9.0/24 proto static',
      'unreachable 198.19.8.0/24',
      '198.19.7.0/24 via 198.18.10.1 dev eth1 onlink mtu lock 1400 linkdown',
      '198.19.5.0/24 proto static metric 20',
      '\tnexthop via 198.18.10.100 dev eth1 weight 1',
      '\tnexthop via 198.18.10.101 dev eth1 weight 2',
      'local 198.18.10.200 dev eth1 table local proto kernel scope host src 198.18.10.200',
    ].join('\n');
    const routes = parseIpRoute(text);
    expect(routes[0]).toMatchObject({ dst: '198.19.9.0/24', type: 'blackhole', proto: 'static', dev: null });
    expect(routes[1]).toMatchObject({ dst: '198.19.8.0/24', type: 'unreachable' });
    expect(routes[2]).toMatchObject({ via: '198.18.10.1', dev: 'eth1', mtu: 1400 });
    expect(routes[3]).toMatchObject({
      metric: 20,
      via: null,
      nexthops: [
        { via: '198.18.10.100', dev: 'eth1', weight: 1 },
        { via: '198.18.10.101', dev: 'eth1', weight: 2 },
      ],
    });
    expect(routes[4]).toMatchObject({ type: 'local', table: 'local', scope: 'host', src: '198.18.10.200' });
  });
});

describe('parseIpRoute: ip -j route', () => {
  test('JSON gives the same routes as text (netlab node)', () => {
    const fromText = parseIpRoute(fixture('iproute/netlab-ctr-vxlan-mtu.txt'));
    const fromJson = parseIpRoute(fixture('iproute/netlab-ctr-vxlan-mtu.json'));
    expect(fromJson).toEqual(fromText);
  });

  test('router table in JSON: default route and connected subnets', () => {
    const routes = parseIpRoute(fixture('iproute/netlab-router.json'));
    expect(routes[0]).toEqual({ dst: 'default', via: '198.18.0.2', dev: 'eth0', src: null, proto: null, mtu: null, metric: null });
    expect(routes.map((r) => r.dev)).toEqual(['eth0', 'eth0', 'eth1', 'eth2', 'loop1', 'loop2']);
  });

  test('multipath and typed routes in JSON', () => {
    const json = JSON.stringify([
      { type: 'blackhole', dst: '198.19.9.0/24', protocol: 'static', flags: [] },
      {
        dst: '198.19.5.0/24',
        protocol: 'static',
        metric: 20,
        flags: [],
        nexthops: [{ gateway: '198.18.10.100', dev: 'eth1', weight: 1, flags: [] }],
      },
    ]);
    expect(parseIpRoute(json)).toEqual([
      { dst: '198.19.9.0/24', via: null, dev: null, src: null, proto: 'static', mtu: null, metric: null, type: 'blackhole' },
      {
        dst: '198.19.5.0/24',
        via: null,
        dev: null,
        src: null,
        proto: 'static',
        mtu: null,
        metric: 20,
        nexthops: [{ via: '198.18.10.100', dev: 'eth1', weight: 1 }],
      },
    ]);
  });
});

describe('parseIpRoute: bad input', () => {
  test('empty text is an empty table', () => {
    expect(parseIpRoute('')).toEqual([]);
    expect(parseIpRoute('\n  \n')).toEqual([]);
  });

  test.each([
    ['garbage', 'Command "rout" is unknown, try "ip help".'],
    ['cut after a keyword', '198.18.10.0/24 dev eth1 proto kernel scope link src'],
    ['cut inside a number', '198.19.1.0/24 via 198.18.10.101 dev eth1 mtu 14x'],
    ['continuation line with no route before it', '\tnexthop via 198.18.10.100 dev eth1 weight 1'],
    ['JSON cut short', fixture('iproute/netlab-router.json').slice(0, 120)],
    ['JSON that is not a list', '{"dst":"default"}'],
    ['JSON entry without dst', '[{"gateway":"198.18.0.2"}]'],
  ])('%s → ParseError', (_name, text) => {
    expect(() => parseIpRoute(text)).toThrow(ParseError);
  });

  test('the error names the offending line', () => {
    expect(() => parseIpRoute('default via 10.0.2.2 dev eth0\n198.18.10.0/24 dev')).toThrow(/"198\.18\.10\.0\/24 dev" ends after "dev"/);
  });
});
