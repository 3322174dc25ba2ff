import { describe, expect, test } from 'vitest';
import { detectArpingFlavour, parseArping } from '../../../helpers/parse/arping.ts';
import { ParseError } from '../../../helpers/parse/common.ts';
import { fixture } from '../../fixtures/load.ts';

describe('parseArping: Habets (the lab router)', () => {
  test('three replies with summary: lower-case MAC, usec turned into ms', () => {
    const r = parseArping(fixture('arping/habets-3-replies.txt'));
    expect(r).toMatchObject({ flavour: 'habets', target: '198.18.10.211', sent: 3, received: 3, complete: true });
    expect(r.replies).toHaveLength(3);
    expect(r.replies[0]).toEqual({ ip: '198.18.10.211', mac: 'a2:d3:49:b2:4f:04', timeMs: expect.closeTo(0.011397, 9) });
  });

  test('nobody answers: Timeout lines, 0 received, no replies', () => {
    const r = parseArping(fixture('arping/habets-no-reply.txt'));
    expect(r).toEqual({ flavour: 'habets', target: '198.18.10.99', sent: 2, received: 0, replies: [], complete: true });
  });

  test('seed capture from the study router (60-byte replies, summary cut off): counted from the lines shown', () => {
    const r = parseArping(fixture('arping/seed-habets-router.txt'));
    expect(r.flavour).toBe('habets');
    expect(r.target).toBe('192.168.10.241');
    expect(r.complete).toBe(false);
    expect(r.sent).toBe(2);
    expect(r.received).toBe(2);
    expect(r.replies.map((x) => x.mac)).toEqual(['08:00:27:85:32:ca', '08:00:27:85:32:ca']);
    expect(r.replies[1]!.timeMs).toBeCloseTo(0.257708, 9);
  });

  test('times printed in msec and sec are converted too', () => {
    const text = [
      'ARPING 198.18.10.5',
      '42 bytes from 0a:00:00:00:00:01 (198.18.10.5): index=0 time=1.500 msec',
      '42 bytes from 0a:00:00:00:00:01 (198.18.10.5): index=1 time=1.250 sec',
      'Timeout',
      '',
      '--- 198.18.10.5 statistics ---',
      '3 packets transmitted, 2 packets received,  33% unanswered (0 extra)',
    ].join('\n');
    const r = parseArping(text);
    expect(r.replies.map((x) => x.timeMs)).toEqual([1.5, 1250]);
    expect(r).toMatchObject({ sent: 3, received: 2, complete: true });
  });

  test('the reply of another host (two answer for one address) is kept with its own MAC', () => {
    const text = [
      'ARPING 198.18.10.211',
      '42 bytes from 0a:00:00:00:00:01 (198.18.10.211): index=0 time=8.000 usec',
      '42 bytes from 0a:00:00:00:00:02 (198.18.10.211): index=0 time=9.000 usec',
      '',
      '--- 198.18.10.211 statistics ---',
      '1 packets transmitted, 2 packets received,   0% unanswered (1 extra)',
    ].join('\n');
    expect(parseArping(text).replies.map((x) => x.mac)).toEqual(['0a:00:00:00:00:01', '0a:00:00:00:00:02']);
  });
});

describe('parseArping: iputils', () => {
  test('three replies: upper-case MAC lowered, ms kept', () => {
    const r = parseArping(fixture('arping/iputils-3-replies.txt'));
    expect(r).toMatchObject({ flavour: 'iputils', target: '198.18.10.211', sent: 3, received: 3, complete: true });
    expect(r.replies[0]).toEqual({ ip: '198.18.10.211', mac: 'a2:d3:49:b2:4f:04', timeMs: 0.535 });
  });

  test('the tooling note example line (two spaces before the time)', () => {
    const text = [
      'ARPING 198.18.10.10 from 198.18.10.200 eth1',
      'Unicast reply from 198.18.10.10 [C6:B2:11:9E:6C:21]  0.611ms',
      'Sent 3 probes (1 broadcast(s))',
      'Received 3 response(s)',
    ].join('\n');
    expect(parseArping(text).replies).toEqual([{ ip: '198.18.10.10', mac: 'c6:b2:11:9e:6c:21', timeMs: 0.611 }]);
  });

  test('nobody answers', () => {
    expect(parseArping(fixture('arping/iputils-no-reply.txt'))).toEqual({
      flavour: 'iputils',
      target: '198.18.10.99',
      sent: 2,
      received: 0,
      replies: [],
      complete: true,
    });
  });

  test('summary missing: the number sent is unknown, so it is an error rather than a guess', () => {
    const cut = fixture('arping/iputils-3-replies.txt').split('\n').slice(0, 3).join('\n');
    expect(() => parseArping(cut)).toThrow(/no "Sent N probes"/);
  });
});

describe('parseArping: bad input', () => {
  test.each([
    ['empty', ''],
    ['blank lines', '\n \n'],
    ['garbage', 'bash: arping: command not found\n'],
    ['replies without header (cut at the start)', '42 bytes from 0a:00:00:00:00:01 (198.18.10.5): index=0 time=1.5 usec\n'],
  ])('%s → ParseError', (_name, text) => {
    expect(() => parseArping(text)).toThrow(ParseError);
  });

  test('a malformed MAC is an error, not a made-up address (both flavours)', () => {
    expect(() => parseArping('ARPING 198.18.10.5\n42 bytes from 0a:00:00:00:01 (198.18.10.5): index=0 time=1.5 usec\n')).toThrow(
      /"0a:00:00:00:01" is not a MAC address/,
    );
    expect(() =>
      parseArping(
        'ARPING 198.18.10.5 from 198.18.10.200 eth1\nUnicast reply from 198.18.10.5 [0A:00:00:00:00:01:02]  0.5ms\nSent 1 probes (1 broadcast(s))\nReceived 1 response(s)\n',
      ),
    ).toThrow(/is not a MAC address/);
  });

  test('the error message names the parser and shows the input', () => {
    expect(() => parseArping('nonsense')).toThrow(/parseArping: .*input began: "nonsense"/);
  });
});

describe('detectArpingFlavour (output of `{ arping --help; arping -V; } 2>&1`)', () => {
  test('Habets', () => {
    expect(detectArpingFlavour(fixture('arping/habets-help-version.txt'))).toBe('habets');
  });
  test('iputils', () => {
    expect(detectArpingFlavour(fixture('arping/iputils-help-version.txt'))).toBe('iputils');
  });
  test('neither', () => {
    expect(detectArpingFlavour('sh: 1: arping: not found\nsh: 1: arping: not found\n')).toBeNull();
    expect(detectArpingFlavour('')).toBeNull();
  });
});
