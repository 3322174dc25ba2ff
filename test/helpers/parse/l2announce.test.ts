import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { L2AnnounceParseError, parseL2AnnounceTable, splitJsonObjectStream } from '../../../helpers/parse/index.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/kube/l2announce/${name}`, import.meta.url), 'utf8');

describe('parseL2AnnounceTable', () => {
  test("the study lab's table (seed 002)", () => {
    expect(parseL2AnnounceTable(fixture('seed-002-lab.txt'))).toEqual([{ ip: '192.168.10.241', iface: 'eth1' }]);
  });

  test('the 1.17.1 output of cilium/cilium#37959 (VLAN interface name with a dot)', () => {
    expect(parseL2AnnounceTable(fixture('issue-37959.txt'))).toEqual([{ ip: '1.0.0.56', iface: 'vlan.1881' }]);
  });

  test('a header with a leading "#" (old statedb / docs form)', () => {
    expect(parseL2AnnounceTable(fixture('hash-header.txt'))).toEqual([
      { ip: '192.168.10.211', iface: 'eth1' },
      { ip: '192.168.10.212', iface: 'eth1' },
    ]);
  });

  test('the --format=json object stream', () => {
    expect(parseL2AnnounceTable(fixture('stream.json'))).toEqual([
      { ip: '192.168.10.211', iface: 'eth1' },
      { ip: '192.168.10.212', iface: 'eth1' },
    ]);
  });

  test('a compact stream on one line and a single object', () => {
    expect(
      parseL2AnnounceTable('{"IP":"10.0.0.1","NetworkInterface":"eth1","Origins":[]}{"IP":"10.0.0.2","NetworkInterface":"eth2"}'),
    ).toHaveLength(2);
    expect(parseL2AnnounceTable('{"IP":"fd00::5","NetworkInterface":"eth1"}\n')).toEqual([{ ip: 'fd00::5', iface: 'eth1' }]);
  });

  test('no rows: empty output and a header alone are both an empty table (not the holder)', () => {
    expect(parseL2AnnounceTable('')).toEqual([]);
    expect(parseL2AnnounceTable('\n  \n')).toEqual([]);
    expect(parseL2AnnounceTable('IP   NetworkInterface\n')).toEqual([]);
  });

  test('columns in another order are found by name', () => {
    expect(parseL2AnnounceTable('NetworkInterface   IP\neth1               192.168.10.213\n')).toEqual([
      { ip: '192.168.10.213', iface: 'eth1' },
    ]);
  });

  test.each([
    ['garbage', 'error: unknown table "l2-announce"', /not the "IP {2}NetworkInterface" header/],
    ['a row with one column', 'IP   NetworkInterface\n192.168.10.241\n', /row 1 has 1 column/],
    ['a row whose IP is not an IP', 'IP   NetworkInterface\neth1   192.168.10.241\n', /"eth1" is not an IP address/],
    ['truncated JSON stream', fixture('stream.json').slice(0, 90), /ends inside an object \(truncated/],
    ['an object without the fields', '{"Address":"10.0.0.1"}', /lacks string fields "IP" and "NetworkInterface"/],
    ['a JSON array', '[{"IP":"10.0.0.1","NetworkInterface":"eth1"}]', /not the "IP {2}NetworkInterface" header/],
    ['text after the stream', '{"IP":"10.0.0.1","NetworkInterface":"eth1"}\nerror: exit 1', /unexpected text between JSON objects/],
  ])('bad input (%s) is a clear error', (_name, text, message) => {
    expect(() => parseL2AnnounceTable(text)).toThrow(L2AnnounceParseError);
    expect(() => parseL2AnnounceTable(text)).toThrow(message);
  });
});

describe('splitJsonObjectStream', () => {
  test('braces and quotes inside strings do not split objects', () => {
    expect(splitJsonObjectStream('{"a":"}{\\"x"} {"b":{"c":1}}')).toEqual(['{"a":"}{\\"x"}', '{"b":{"c":1}}']);
  });
});
