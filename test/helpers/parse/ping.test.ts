import { describe, expect, test } from 'vitest';
import { ParseError } from '../../../helpers/parse/common.ts';
import { parsePing } from '../../../helpers/parse/ping.ts';
import { fixture } from '../../fixtures/load.ts';

describe('parsePing', () => {
  test('all answered (iputils)', () => {
    expect(parsePing(fixture('ping/netlab-ok.txt'))).toEqual({
      transmitted: 3,
      received: 3,
      lossPercent: 0,
      rttAvgMs: 0.114,
      unreachable: false,
    });
  });

  test('all lost, silently (pod traffic the router sends to its default route)', () => {
    expect(parsePing(fixture('ping/netlab-lost.txt'))).toEqual({
      transmitted: 2,
      received: 0,
      lossPercent: 100,
      rttAvgMs: null,
      unreachable: false,
    });
  });

  test('the router answers "Destination Net Unreachable" (+errors in the summary)', () => {
    expect(parsePing(fixture('ping/netlab-net-unreachable.txt'))).toEqual({
      transmitted: 2,
      received: 0,
      lossPercent: 100,
      rttAvgMs: null,
      unreachable: true,
    });
  });

  test('no route on the sending host: nothing was sent', () => {
    expect(parsePing(fixture('ping/netlab-no-route.txt'))).toEqual({
      transmitted: 0,
      received: 0,
      lossPercent: 100,
      rttAvgMs: null,
      unreachable: true,
    });
  });

  test('BusyBox ping (small pod images)', () => {
    const text = [
      'PING 198.19.2.10 (198.19.2.10): 56 data bytes',
      '64 bytes from 198.19.2.10: seq=0 ttl=62 time=0.512 ms',
      '',
      '--- 198.19.2.10 ping statistics ---',
      '2 packets transmitted, 1 packets received, 50% packet loss',
      'round-trip min/avg/max = 0.512/0.512/0.512 ms',
    ].join('\n');
    expect(parsePing(text)).toEqual({ transmitted: 2, received: 1, lossPercent: 50, rttAvgMs: 0.512, unreachable: false });
  });

  test('duplicates in the summary do not confuse the counts', () => {
    const text =
      '3 packets transmitted, 3 received, +1 duplicates, 0% packet loss, time 2003ms\nrtt min/avg/max/mdev = 0.1/0.2/0.3/0.05 ms\n';
    expect(parsePing(text)).toMatchObject({ transmitted: 3, received: 3, lossPercent: 0, rttAvgMs: 0.2 });
  });

  test.each([
    ['empty', ''],
    ['garbage', 'Segmentation fault\n'],
    [
      'cut before the statistics',
      'PING 198.18.20.100 (198.18.20.100) 56(84) bytes of data.\n64 bytes from 198.18.20.100: icmp_seq=1 ttl=63 time=0.205 ms\n',
    ],
    ['cut inside the statistics line', fixture('ping/netlab-ok.txt').split('\n').slice(0, 6).join('\n') + '\n3 packets transmitted, 3 rec'],
  ])('%s → ParseError', (_name, text) => {
    expect(() => parsePing(text)).toThrow(ParseError);
  });
});
