/**
 * A long-running command on a lab host (tcpdump, a probe loop), started over one of the SSH pool's channels
 * (helpers/transport/ssh.ts SshHost.background): it runs in a session of its own so stop() interrupts its whole
 * process group, its output is readable while it arrives, and it joins the running suite's cleanup stack
 * (helpers/lab/suite-scope.ts) until it ends.
 *
 * May import: ssh-common.ts (the shared types and errors, so no cycle with ssh.ts), lab/suite-scope.ts.
 */
import { deferCleanup } from '../lab/suite-scope.ts';
import {
  linkedSignal,
  settlesWithin,
  shellQuote,
  SshError,
  tail,
  type Background,
  type ExecOptions,
  type ExecResult,
} from './ssh-common.ts';

/** A channel opened for a background command: runs it to its end, then gives its slot back. */
export interface OpenedChannel {
  collect(
    command: string,
    o: { stdin: string | undefined; signal: AbortSignal; started: number; why: () => string },
    sink: { out: Buffer[]; err: Buffer[]; onData(): void },
  ): Promise<ExecResult>;
  release(): void;
}

/** What a background command needs of its host (the pooled SSH connection). */
export interface BackgroundHost {
  readonly name: string;
  /** Aborted when the pool closes. */
  readonly closing: AbortSignal;
  readonly connectTimeoutMs: number;
  /** The command as sent (`sudo -n` when asked). */
  wrap(command: string, sudo: boolean | undefined): string;
  /** Takes a slot and opens an exec channel for `wrapped` (the slot is given back if it cannot). */
  open(wrapped: string, signal: AbortSignal): Promise<OpenedChannel>;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
}

const PID_MARKER = '__CLH_PID__';
const PID_LINE = new RegExp(`^${PID_MARKER}(\\d+)\\r?\\n`);
const SETSID_KILLED = /^setsid: child \d+ did not exit normally.*\n?/m;

export async function startBackground(
  host: BackgroundHost,
  command: string,
  opts: { sudo?: boolean; signal?: AbortSignal } = {},
): Promise<Background> {
  // The command runs in a session of its own (setsid) so that stop() interrupts its whole process
  // group, pipelines included; the first line it prints is that group's id. `setsid -w` forks when it
  // must and waits, so the channel lives exactly as long as the command.
  // bash (when there) waits for an interrupted child and exits as it did, where dash would die of the
  // SIGINT itself; a lone simple command is exec'd by bash, so the PID is the command's own.
  const inner = `echo ${PID_MARKER}$$; exec "$(command -v bash || echo sh)" -c ${shellQuote(command)}`;
  const wrapped = host.wrap(`exec setsid -w sh -c ${shellQuote(inner)}`, opts.sudo);
  const started = Date.now();
  const startLink = linkedSignal([host.closing, opts.signal], host.connectTimeoutMs * 3);
  let channel: OpenedChannel;
  try {
    channel = await host.open(wrapped, startLink.signal);
  } catch (err) {
    const reason = startLink.timedOut()
      ? 'did not start in time'
      : startLink.signal.aborted
        ? 'aborted before it started'
        : `could not start: ${(err as Error).message}`;
    throw new SshError(host.name, command, reason, { cause: err });
  } finally {
    startLink.dispose();
  }

  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const listeners = new Set<() => void>();
  const changed = (): void => [...listeners].forEach((l) => l());
  const stdoutNow = (): string => Buffer.concat(out).toString('utf8').replace(PID_LINE, '');
  const stderrNow = (): string => Buffer.concat(err).toString('utf8');
  let finished = false;
  let lastSignal: 'INT' | 'KILL' | null = null;
  const stopping = new AbortController();
  const done: Promise<ExecResult> = channel
    .collect(
      command,
      { stdin: undefined, signal: stopping.signal, started, why: () => 'stopped: it did not end after SIGINT and SIGKILL' },
      { out, err, onData: changed },
    )
    .then((r) => {
      // `setsid -w` reports a child killed by a signal as exit 2 plus a line on stderr: say what happened.
      const killed = SETSID_KILLED.test(r.stderr);
      return {
        ...r,
        stdout: r.stdout.replace(PID_LINE, ''),
        stderr: r.stderr.replace(SETSID_KILLED, ''),
        ...(killed ? { code: null, signal: lastSignal ? `SIG${lastSignal}` : 'unknown' } : {}),
      };
    })
    .finally(() => {
      finished = true;
      channel.release();
      changed();
    });
  done.catch(() => undefined);

  /** Resolves with the match once `test` finds it in the output; rejects when the command ends first or at the deadline. */
  const waitFor = <T>(what: string, test: () => T | null, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const finish = (f: () => void): void => {
        clearTimeout(timer);
        listeners.delete(check);
        f();
      };
      const fail = (reason: string): void =>
        finish(() => reject(new SshError(host.name, command, `${reason}; stderr: ${tail(stderrNow().trim() || '(none)')}`)));
      const check = (): void => {
        const v = test();
        if (v !== null) finish(() => resolve(v));
        else if (finished) fail(`ended before ${what}`);
      };
      const timer = setTimeout(() => fail(`no ${what} within ${timeoutMs} ms`), timeoutMs);
      listeners.add(check);
      check();
    });

  const pid = await waitFor(
    'it started',
    () => {
      const m = Buffer.concat(out).toString('utf8').match(PID_LINE);
      return m ? Number(m[1]) : null;
    },
    host.connectTimeoutMs,
  ).catch(async (e: unknown) => {
    stopping.abort();
    await done.catch(() => undefined);
    throw e;
  });

  let stopped: Promise<ExecResult> | undefined;
  const stop = (): Promise<ExecResult> =>
    (stopped ??= (async () => {
      for (const [sig, graceMs] of [
        ['INT', 5_000],
        ['KILL', 3_000],
      ] as const) {
        if (finished) break;
        lastSignal = sig;
        // `kill -SIG -PGID` (no `--`: dash's kill, which sudo's `sh -c` runs, does not take it).
        await host
          .exec(`kill -${sig} -${pid} 2>/dev/null || kill -${sig} ${pid} 2>/dev/null || true`, { sudo: opts.sudo, timeoutMs: 10_000 })
          .catch(() => undefined);
        if (await settlesWithin(done, graceMs)) break;
      }
      if (!finished) stopping.abort();
      return done;
    })());
  if (opts.signal) {
    const onAbort = (): void => void stop().catch(() => undefined);
    if (opts.signal.aborted) onAbort();
    else {
      opts.signal.addEventListener('abort', onAbort, { once: true });
      void done.finally(() => opts.signal?.removeEventListener('abort', onAbort)).catch(() => undefined);
    }
  }
  // On the running suite's cleanup stack until the command ends (a test that failed before stopping it).
  const leaveStack = deferCleanup(`stop \`${tail(command)}\` on ${host.name}`, () => stop().then(() => undefined));
  void done.finally(leaveStack).catch(() => undefined);

  return {
    pid,
    stop,
    get output() {
      return stdoutNow();
    },
    get errorOutput() {
      return stderrNow();
    },
    waitFor: (pattern, timeoutMs) =>
      waitFor(
        `output matching ${String(pattern)}`,
        () => (pattern.test(stdoutNow()) || pattern.test(stderrNow()) ? true : null),
        timeoutMs,
      ).then(() => undefined),
  };
}
