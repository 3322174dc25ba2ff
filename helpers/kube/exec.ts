/**
 * Running a command in a pod's container through the API server (the client's Exec, a websocket), and reading the
 * exit code from the V1Status the API server sends (exitCodeFromStatus, pure).
 */
import { Writable } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import type { ExecResult } from '../transport/ssh.ts';
import { WaitTimeoutError, type Clock } from '../wait/retry.ts';
import { asError, KubeApiError, toKubeError } from './errors.ts';

/**
 * The exit code in the V1Status the API server sends on the exec status channel: Success is 0; a Failure with reason
 * NonZeroExitCode carries the code as the message of the cause with reason ExitCode. Any other Failure means the
 * command did not run (no such container, executable not found...): that is thrown, not turned into a code.
 */
export function exitCodeFromStatus(status: V1Status): number {
  if (status.status === 'Success') return 0;
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = cause?.message !== undefined ? Number(cause.message) : NaN;
    if (Number.isInteger(code)) return code;
    throw new Error(`exec status NonZeroExitCode without a readable exit code: ${JSON.stringify(status)}`);
  }
  throw new Error(`exec failed: ${status.message ?? status.reason ?? JSON.stringify(status)}`);
}

/**
 * Runs argv in a pod's container (no shell) and returns stdout, stderr and the exit code. A non-zero exit is
 * returned, not thrown. Thrown: the pod/container cannot be reached, the command could not start, the deadline
 * passed, or the stream closed before the API server sent the status (the exit code is unknown then).
 */
export async function execInPod(
  kc: KubeConfig,
  clock: Clock,
  namespace: string,
  pod: string,
  argv: string[],
  o: { container?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const what = `exec [${argv.join(' ')}] in ${namespace}/${pod}${o.container ? ` (${o.container})` : ''}`;
  const started = clock.now();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const sink = (into: Buffer[]): Writable =>
    new Writable({
      write(chunk: Buffer | string, _enc, cb): void {
        into.push(Buffer.from(chunk));
        cb();
      },
    });
  const text = (b: Buffer[]): string => Buffer.concat(b).toString('utf8');

  return new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    let socket: { close(): void } | undefined;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const timer = setTimeout(() => {
      socket?.close();
      finish(() =>
        reject(
          new WaitTimeoutError(
            what,
            timeoutMs,
            `stdout: ${text(out).slice(-200) || '(none)'}; stderr: ${text(err).slice(-200) || '(none)'}`,
            1,
          ),
        ),
      );
    }, timeoutMs);
    const onStatus = (status: V1Status): void => {
      finish(() => {
        try {
          resolve({
            stdout: text(out),
            stderr: text(err),
            code: exitCodeFromStatus(status),
            signal: null,
            durationMs: clock.now() - started,
          });
        } catch (e) {
          reject(new KubeApiError(what, null, status.reason ?? null, (e as Error).message));
        }
      });
    };
    new Exec(kc)
      .exec(namespace, pod, o.container ?? '', argv, sink(out), sink(err), null, false, onStatus)
      .then((ws) => {
        const s = ws as unknown as { close(): void; on(event: 'close', cb: () => void): void };
        socket = s;
        if (settled) s.close();
        // Let any status frame already queued be handled before deciding the exit code was lost.
        s.on('close', () =>
          setImmediate(() =>
            finish(() => reject(new KubeApiError(what, null, null, 'exec stream closed without a status (exit code lost)'))),
          ),
        );
      })
      .catch((e: unknown) => finish(() => reject(toKubeError(asError(e), what))));
  });
}
