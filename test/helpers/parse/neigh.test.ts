import { describe, expect, test } from 'vitest';
import { ParseError } from '../../../helpers/parse/common.ts';
import { parseNeighbours } from '../../../helpers/parse/neigh.ts';
import { fixture } from '../../fixtures/load.ts';

describe('parseNeighbours', () => {
  test('arp -a on the study router (seed)', () => {
    expect(parseNeighbours(fixture('neigh/seed-arp-a.txt'))).toEqual([
      { ip: '192.168.10.241', mac: '08:00:27:85:32:ca', iface: 'eth1', state: null },
    ]);
  });

  test('ip neigh show dev eth1 (no dev column), INCOMPLETE has no MAC', () => {
    const n = parseNeighbours(fixture('neigh/netlab-router-ip-neigh.txt'));
    expect(n.map((e) => [e.ip, e.mac !== null, e.iface, e.state])).toEqual([
      ['198.18.10.100', true, null, 'REACHABLE'],
      ['198.18.10.99', false, null, 'INCOMPLETE'],
      ['198.18.10.101', true, null, 'REACHABLE'],
    ]);
  });

  test('ip -j neigh gives the same entries', () => {
    expect(parseNeighbours(fixture('neigh/netlab-router-ip-neigh.json'))).toEqual(
      parseNeighbours(fixture('neigh/netlab-router-ip-neigh.txt')),
    );
  });

  test('full ip neigh lines: dev column, router flag, upper-case MAC, STALE', () => {
    const text =
      '198.18.10.200 dev eth1 lladdr 5A:2D:13:C7:24:39 router STALE\nfe80::1 dev eth1 lladdr 5a:2d:13:c7:24:39 router REACHABLE\n';
    expect(parseNeighbours(text)).toEqual([
      { ip: '198.18.10.200', mac: '5a:2d:13:c7:24:39', iface: 'eth1', state: 'STALE' },
      { ip: 'fe80::1', mac: '5a:2d:13:c7:24:39', iface: 'eth1', state: 'REACHABLE' },
    ]);
  });

  test('arp -a incomplete entry', () => {
    expect(parseNeighbours('? (198.18.10.99) at <incomplete> on eth1\n')).toEqual([
      { ip: '198.18.10.99', mac: null, iface: 'eth1', state: null },
    ]);
  });

  test('empty and garbage give nothing; broken JSON is an error', () => {
    expect(parseNeighbours('')).toEqual([]);
    expect(parseNeighbours('Object "neigh" is unknown, try "ip help".\n')).toEqual([]);
    expect(() => parseNeighbours('[{"dst":"198.18.10.1",')).toThrow(ParseError);
  });
});
