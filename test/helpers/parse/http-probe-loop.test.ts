import { describe, expect, test } from 'vitest';
import { parseHttpProbeLog } from '../../../helpers/parse/http-probe-loop.ts';

const T = 1_754_700_000_000;

describe('parseHttpProbeLog', () => {
  test('a complete run: begin, starts, results out of order, end', () => {
    const text = [
      `clhp B ${T} 3 300 ${T + 60_000}`,
      `clhp S 1 ${T + 1}`,
      `clhp R 1 ${T + 4} 0 200 0.003120`,
      `clhp S 2 ${T + 302}`,
      `clhp S 3 ${T + 603}`,
      `clhp R 3 ${T + 606} 0 200 0.002900`,
      `clhp R 2 ${T + 1303} 28 000 1.001234`,
      `clhp E ${T + 1310} count`,
      '',
    ].join('\n');
    const log = parseHttpProbeLog(text);
    expect(log.begin).toEqual({ at: T, maxProbes: 3, intervalMs: 300, deadlineAt: T + 60_000 });
    expect(log.end).toEqual({ at: T + 1310, reason: 'count' });
    expect(log.ignored).toEqual([]);
    expect(log.samples).toEqual([
      { seq: 1, startedAt: T + 1, endedAt: T + 4, curlExit: 0, httpCode: 200, totalMs: 3 },
      { seq: 2, startedAt: T + 302, endedAt: T + 1303, curlExit: 28, httpCode: null, totalMs: 1001 },
      { seq: 3, startedAt: T + 603, endedAt: T + 606, curlExit: 0, httpCode: 200, totalMs: 3 },
    ]);
  });

  test('a probe stopped in flight has no result (lost) and the run has no end line', () => {
    const log = parseHttpProbeLog(`clhp S 1 ${T}\nclhp R 1 ${T + 2} 0 200 0.002\nclhp S 2 ${T + 300}\n`);
    expect(log.end).toBeNull();
    expect(log.samples[1]).toEqual({ seq: 2, startedAt: T + 300, endedAt: null, curlExit: null, httpCode: null, totalMs: null });
  });

  test('a result without its start line is dated from its duration', () => {
    const log = parseHttpProbeLog(`clhp R 7 ${T + 1000} 7 000 0.500\n`);
    expect(log.samples).toEqual([{ seq: 7, startedAt: T + 500, endedAt: T + 1000, curlExit: 7, httpCode: null, totalMs: 500 }]);
  });

  test('noise, a truncated last line, CRLF and duplicates are ignored, not guessed', () => {
    const text = [
      'Warning: Permanently added router',
      `clhp S 1 ${T}\r`,
      `clhp S 1 ${T + 999}`,
      `clhp R 1 ${T + 3} 0 200 0.003`,
      `clhp R 1 ${T + 5} 28 000 1.0`,
      `clhp S 2 ${T + 300}`,
      `clhp R 2 ${T + 1300} 0 20`,
    ].join('\n');
    const log = parseHttpProbeLog(text);
    expect(log.samples).toEqual([
      { seq: 1, startedAt: T, endedAt: T + 3, curlExit: 0, httpCode: 200, totalMs: 3 },
      { seq: 2, startedAt: T + 300, endedAt: null, curlExit: null, httpCode: null, totalMs: null },
    ]);
    expect(log.ignored).toEqual([
      'Warning: Permanently added router',
      `clhp S 1 ${T + 999}`,
      `clhp R 1 ${T + 5} 28 000 1.0`,
      `clhp R 2 ${T + 1300} 0 20`,
    ]);
  });

  test('empty and garbage input give no samples', () => {
    expect(parseHttpProbeLog('')).toEqual({ begin: null, end: null, samples: [], ignored: [] });
    const g = parseHttpProbeLog('clhp\nclhp X 1 2\nclhp S one two\nclhp E 12 maybe\n\u0000\u0001');
    expect(g.samples).toEqual([]);
    expect(g.end).toBeNull();
    expect(g.ignored).toHaveLength(5);
  });

  test('a probe whose curl the stop interrupted (exit 130) is lost in flight, not a failure', () => {
    const log = parseHttpProbeLog(
      [`clhp S 1 ${T}`, `clhp R 1 ${T + 40} 0 200 0.004`, `clhp S 2 ${T + 300}`, `clhp R 2 ${T + 339} 130 000 0`].join('\n'),
    );
    expect(log.samples).toEqual([
      { seq: 1, startedAt: T, endedAt: T + 40, curlExit: 0, httpCode: 200, totalMs: 4 },
      { seq: 2, startedAt: T + 300, endedAt: null, curlExit: null, httpCode: null, totalMs: null },
    ]);
    expect(log.ignored).toEqual([]);
  });
});
