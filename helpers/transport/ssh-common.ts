/**
 * What the SSH pool (ssh.ts) and its background commands (background.ts) share: results, options, the error, and
 * small signal and text helpers. ssh.ts re-exports the public ones; this module imports nothing of transport/.
 */

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
  /** Signal that ended the command, as ssh2 names it (e.g. "SIGTERM"); null when it exited. */
  signal: string | null;
  durationMs: number;
}

export interface ExecOptions {
  /** Deadline for the whole call (waiting for a slot, connecting, running). Default 60 000. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Run as root (`sudo -n`); a no-op when the SSH user is root. */
  sudo?: boolean;
  /** Written to the command's standard input (which is closed in every case). */
  stdin?: string;
  /**
   * The command may run twice without changing the lab (it only reads, or sets a state that is the same however often
   * it is set). When the connection is lost while it runs (a dropped link, an sshd restart), the pool runs it once more
   * on a fresh connection, within the same deadline. Default false: a command that was running when the connection
   * dropped may have had its effect, so it fails with "connection lost" rather than run again (issue 16, ssh-drop).
   */
  idempotent?: boolean;
}

export class SshError extends Error {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly reason: string,
    opts: { cause?: unknown; result?: ExecResult } = {},
  ) {
    super(`ssh ${host}: \`${shorten(command)}\`: ${reason}`, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SshError';
    this.result = opts.result;
  }
  /** The command's result when it ran but failed (run() on a non-zero exit). */
  readonly result: ExecResult | undefined;
}

/** The connection dropped while the command ran: it may or may not have had its effect (the pool did not re-run it). */
export function lostWhileRunning(err: unknown): boolean {
  return err instanceof SshError && err.reason.startsWith('connection lost while the command ran');
}

export interface Background {
  /** Interrupts the command (SIGINT to its process group, SIGKILL if it lingers) and returns what it printed. Idempotent. */
  stop(): Promise<ExecResult>;
  /** Standard output so far. */
  readonly output: string;
  /** Standard error so far. */
  readonly errorOutput: string;
  /** Process id of the command on the host. */
  readonly pid: number;
  /** Resolves once stdout or stderr matches `pattern` (e.g. tcpdump's "listening on"); rejects at the deadline or if the command ends first. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
}

/** A single-quoted shell word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function shorten(command: string): string {
  const one = command.replace(/\s+/g, ' ').trim();
  return one.length > 160 ? `${one.slice(0, 160)}…` : one;
}

export function tail(s: string): string {
  return s.length > 500 ? `…${s.slice(-500)}` : s;
}

export function reasonOf(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error(typeof r === 'string' ? r : 'aborted');
}

/** One signal that aborts when any source does or after `timeoutMs`; dispose() detaches it from the sources. */
export function linkedSignal(
  sources: (AbortSignal | undefined)[],
  timeoutMs?: number,
): { signal: AbortSignal; timedOut(): boolean; dispose(): void } {
  const ac = new AbortController();
  let timedOut = false;
  const live = sources.filter((s): s is AbortSignal => s !== undefined);
  const onAbort = (e: Event): void => ac.abort((e.target as AbortSignal).reason);
  for (const s of live) {
    if (s.aborted) ac.abort(s.reason);
    else s.addEventListener('abort', onAbort, { once: true });
  }
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          ac.abort(new Error(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
  return {
    signal: ac.signal,
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      for (const s of live) s.removeEventListener('abort', onAbort);
    },
  };
}

export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      t,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
