/**
 * Deadlines and retries, in one place.
 *
 * - `pollUntil`: the one way to wait for the lab to reach a state. Every wait has a deadline and,
 *   when it gives up, says what it was waiting for and what it saw last.
 * - `retryTransient`: p-retry for transport hiccups only (connection reset, stream closed). An expected
 *   failure (a ping that must be lost, a 404 that must come back) is never retried into passing.
 *
 * Time comes from an injectable `Clock`, so waits and timelines are unit-testable without real time.
 */
import pRetry, { AbortError } from 'p-retry';
import { no, type Verdict } from '../judge/types.ts';

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortReason(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

function abortReason(signal: AbortSignal | undefined): Error {
  const r: unknown = signal?.reason;
  return r instanceof Error ? r : new Error('aborted');
}

/** A wait that ran out of time. `lastSeen` is what the last check reported, for the failure message. */
export class WaitTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastSeen: string,
    readonly attempts: number,
  ) {
    super(`Timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}; last seen: ${lastSeen} (${attempts} checks)`);
    this.name = 'WaitTimeoutError';
  }
}

export type Check<T> = { done: true; value: T } | { done: false; seen: string };

/**
 * The signal of the test (or hook) running now: the Lab fixture sets vitest's test `signal` here for each test, so a
 * wait started without a signal of its own still ends when its test times out or the run is cancelled.
 */
let ambientSignal: AbortSignal | undefined;

/** Makes `signal` the running test's signal; returns the function that restores the previous one. */
export function useTestSignal(signal: AbortSignal | undefined): () => void {
  const before = ambientSignal;
  ambientSignal = signal;
  return () => {
    ambientSignal = before;
  };
}

/** The running test's signal (undefined outside a lab test). */
export function testSignal(): AbortSignal | undefined {
  return ambientSignal;
}

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Default: the running test's signal (useTestSignal), taken when the wait starts. */
  signal?: AbortSignal;
  clock?: Clock;
}

/**
 * Calls `check` until it reports done or the deadline passes. `check` describes what it saw each time
 * (`{ done: false, seen: 'holder k8s-w1, renewed 12:00:01' }`); an exception from `check` counts as a
 * not-yet with the error's message as what was seen.
 */
export async function pollUntil<T>(what: string, check: () => Promise<Check<T>>, opts: PollOptions): Promise<T> {
  const clock = opts.clock ?? systemClock;
  const signal = opts.signal ?? ambientSignal;
  const interval = opts.intervalMs ?? 1000;
  const deadline = clock.now() + opts.timeoutMs;
  let lastSeen = 'nothing yet';
  let attempts = 0;
  for (;;) {
    if (signal?.aborted) throw abortReason(signal);
    attempts++;
    try {
      const r = await check();
      if (r.done) return r.value;
      lastSeen = r.seen;
    } catch (err) {
      lastSeen = `error: ${(err as Error).message}`;
    }
    const left = deadline - clock.now();
    if (left <= 0) throw new WaitTimeoutError(what, opts.timeoutMs, lastSeen, attempts);
    await clock.sleep(Math.min(interval, left), signal);
  }
}

/**
 * pollUntil for a wait whose running out of time is a finding, not an error: resolves with the value, or with the
 * WaitTimeoutError (what was seen last) instead of throwing it. Any other error is thrown.
 */
export async function pollSettled<T>(
  what: string,
  check: () => Promise<Check<T>>,
  opts: PollOptions,
): Promise<{ done: true; value: T } | { done: false; timeout: WaitTimeoutError }> {
  try {
    return { done: true, value: await pollUntil(what, check, opts) };
  } catch (err) {
    if (!(err instanceof WaitTimeoutError)) throw err;
    return { done: false, timeout: err };
  }
}

/**
 * Asks `judge` until its verdict says yes, or the deadline passes: then the failing verdict is returned (never a
 * WaitTimeoutError), with what the judge said last, its expected and actual values kept. `onTimeout` may attach
 * what a person looks at next (the object's YAML and events).
 */
export async function pollVerdict<V extends Verdict>(
  what: string,
  judge: () => Promise<V>,
  opts: PollOptions & { onTimeout?: (timeout: WaitTimeoutError) => Promise<void> | void },
): Promise<V | Verdict> {
  let last: V | undefined;
  const r = await pollSettled(
    what,
    async () => {
      last = await judge();
      return last.ok ? { done: true, value: last } : { done: false, seen: last.explanation };
    },
    opts,
  );
  if (r.done) return r.value;
  await opts.onTimeout?.(r.timeout);
  const explanation = `${what}: not within ${Math.round(opts.timeoutMs / 1000)} s; last seen: ${r.timeout.lastSeen}`;
  return last ? { ...last, ok: false, explanation } : no(explanation);
}

/** Error codes and messages that mean "the transport hiccuped", not "the lab answered no". */
const TRANSIENT =
  /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|socket hang up|Not connected|Channel open failure|No response from server|stream closed|connection lost/i;

export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return TRANSIENT.test(`${code} ${err.message}`);
}

export interface RetryOptions {
  /** What is being attempted, for the final error. */
  what: string;
  retries?: number;
  minTimeoutMs?: number;
  maxTimeoutMs?: number;
  signal?: AbortSignal;
  /** Defaults to `isTransient`. */
  shouldRetry?: (err: unknown) => boolean;
}

/** Retries `fn` on transient transport errors only, with exponential backoff (p-retry). */
export async function retryTransient<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const shouldRetry = opts.shouldRetry ?? isTransient;
  try {
    return await pRetry(
      async (attempt) => {
        try {
          return await fn(attempt);
        } catch (err) {
          if (!shouldRetry(err)) throw new AbortError(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
      },
      {
        retries: opts.retries ?? 4,
        minTimeout: opts.minTimeoutMs ?? 250,
        maxTimeout: opts.maxTimeoutMs ?? 4000,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
    );
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    e.message = `${opts.what}: ${e.message}`;
    throw e;
  }
}

/** Rejects with a clear message if `promise` does not settle within `ms`. */
export async function withDeadline<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WaitTimeoutError(what, ms, 'no answer', 1)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
