import { describe, expect, test } from 'vitest';
import {
  pollSettled,
  pollUntil,
  pollVerdict,
  retryTransient,
  useTestSignal,
  WaitTimeoutError,
  withDeadline,
  type Clock,
} from '../../../helpers/wait/retry.ts';
import { compare, type Verdict } from '../../../helpers/judge/types.ts';

/** A clock that only moves when the code under test sleeps. */
function fakeClock(): Clock & { slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: (ms) => {
      slept.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

describe('pollUntil', () => {
  test('returns the value once the check is done', async () => {
    const clock = fakeClock();
    let n = 0;
    const v = await pollUntil(
      'three checks',
      () => Promise.resolve(++n >= 3 ? { done: true as const, value: n } : { done: false as const, seen: `n=${n}` }),
      { timeoutMs: 10_000, intervalMs: 500, clock },
    );
    expect(v).toBe(3);
    expect(clock.slept).toEqual([500, 500]);
  });

  test('gives up at the deadline, naming what it waited for and what it saw last', async () => {
    const clock = fakeClock();
    let n = 0;
    const err = await pollUntil(
      'lease holder to change from k8s-w1',
      () => Promise.resolve({ done: false as const, seen: `holder k8s-w1 (check ${++n})` }),
      { timeoutMs: 2000, intervalMs: 700, clock },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toBe(
      'Timed out after 2 s waiting for lease holder to change from k8s-w1; last seen: holder k8s-w1 (check 4) (4 checks)',
    );
    expect(clock.slept).toEqual([700, 700, 600]);
  });

  test('an exception from the check is what was seen, not the end of the wait', async () => {
    const clock = fakeClock();
    let n = 0;
    const v = await pollUntil(
      'api',
      () => (++n < 2 ? Promise.reject(new Error('ECONNRESET')) : Promise.resolve({ done: true as const, value: 'ok' })),
      { timeoutMs: 5000, clock },
    );
    expect(v).toBe('ok');
  });

  test('an aborted signal stops the wait', async () => {
    const ac = new AbortController();
    ac.abort(new Error('test ended'));
    await expect(
      pollUntil('x', () => Promise.resolve({ done: false as const, seen: '' }), { timeoutMs: 1000, signal: ac.signal }),
    ).rejects.toThrow('test ended');
  });
});

describe('retryTransient', () => {
  test('retries transport errors and succeeds', async () => {
    let n = 0;
    const v = await retryTransient(
      () => (++n < 3 ? Promise.reject(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })) : Promise.resolve('done')),
      { what: 'exec', minTimeoutMs: 1, maxTimeoutMs: 2 },
    );
    expect(v).toBe('done');
    expect(n).toBe(3);
  });

  test('does not retry an answer that is a real failure', async () => {
    let n = 0;
    await expect(
      retryTransient(
        () => {
          n++;
          return Promise.reject(new Error('expected 200, got 404'));
        },
        { what: 'GET /details', minTimeoutMs: 1 },
      ),
    ).rejects.toThrow('GET /details: expected 200, got 404');
    expect(n).toBe(1);
  });
});

test('withDeadline names what did not answer', async () => {
  await expect(withDeadline('sshd on k8s-w0', 20, new Promise(() => {}))).rejects.toThrow(/waiting for sshd on k8s-w0/);
});

describe('pollVerdict and pollSettled: running out of time is a finding, not an exception', () => {
  test('pollVerdict returns the first yes; at the deadline the last no, its expected and actual kept, with onTimeout called once', async () => {
    const clock = fakeClock();
    let n = 0;
    const yesSoon = await pollVerdict('the holder', () => Promise.resolve(compare('holder', ++n >= 3 ? 'w1' : null, 'w1')), {
      timeoutMs: 10_000,
      intervalMs: 1_000,
      clock,
    });
    expect(yesSoon).toMatchObject({ ok: true, actual: 'w1', expected: 'w1' });
    let timedOut = 0;
    const never = await pollVerdict('the holder', () => Promise.resolve(compare('holder', 'w0', 'w1')), {
      timeoutMs: 3_000,
      intervalMs: 1_000,
      clock,
      onTimeout: () => void timedOut++,
    });
    expect(never).toMatchObject({ ok: false, expected: 'w1', actual: 'w0' });
    expect(never.explanation).toBe('the holder: not within 3 s; last seen: holder: expected w1, saw w0');
    expect(timedOut).toBe(1);
  });

  test('a judge that never answered gives a plain no; errors other than the deadline still throw', async () => {
    const clock = fakeClock();
    const v: Verdict = await pollVerdict('x', () => Promise.reject(new Error('unreachable')), { timeoutMs: 1_000, clock });
    expect(v).toEqual({ ok: false, explanation: 'x: not within 1 s; last seen: error: unreachable', notes: [] });
    const r = await pollSettled('y', () => Promise.resolve({ done: false as const, seen: 'nope' }), { timeoutMs: 1_000, clock });
    expect(r.done).toBe(false);
    expect(!r.done && r.timeout).toBeInstanceOf(WaitTimeoutError);
    const ac = new AbortController();
    ac.abort(new Error('test ended'));
    await expect(
      pollSettled('z', () => Promise.resolve({ done: false as const, seen: '' }), { timeoutMs: 1_000, clock, signal: ac.signal }),
    ).rejects.toThrow('test ended');
  });

  test("a wait without a signal of its own takes the running test's (useTestSignal) when it starts, and ends when it aborts", async () => {
    const ac = new AbortController();
    const restore = useTestSignal(ac.signal);
    let polls = 0;
    const waiting = pollUntil('never', () => Promise.resolve({ done: false as const, seen: String(++polls) }), {
      timeoutMs: 60_000,
      intervalMs: 10,
    });
    restore(); // the next test's signal is not this one's: the wait keeps the signal it started with
    setTimeout(() => ac.abort(new Error('the test timed out')), 50);
    await expect(waiting).rejects.toThrow('the test timed out');
    const seen = polls;
    await new Promise((r) => setTimeout(r, 60));
    expect(polls).toBe(seen);
  });
});
