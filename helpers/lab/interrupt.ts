/**
 * An interrupted run (SIGINT or SIGTERM: Ctrl-C, a cancelled CI job) still undoes what it did and says what it left
 * undone (issue 16, lab fault `interrupt`). The lab's state lives in the vitest worker (the Lab fixture and the
 * suites' cleanup stacks), while vitest's main process exits 1 ms after the signal. So:
 *
 * - the worker (`cleanUpOnInterrupt`, installed by the Lab fixture): on the signal it runs the run's cleanup stack —
 *   the open suite scopes first (captures and probe loops ended by their PID, routes removed, the suite's objects
 *   deleted), then the run's objects — bounded by INTERRUPT_CLEANUP_MS, writes a report (what was running, the suites
 *   not started, cleanups that failed or did not finish) to the run's interrupt file, and exits 130;
 * - the main process (`holdExitForInterruptCleanup`, installed by the global setup): on the signal it blocks,
 *   bounded by INTERRUPT_HOLD_MS, until the worker's report is written (and asks the worker to stop, in case only the
 *   main process got the signal), then prints it: the run ends after its cleanup, and its output says what was left
 *   undone. Both bounds together stay under the 30 s the issue allows.
 *
 * May import: this folder, vitest (for the running test's name); nothing of transport/ or kube/ (the cleanups do that).
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import type { Cleanups } from './cleanups.ts';

/** How long the worker's cleanups may take after the signal. */
export const INTERRUPT_CLEANUP_MS = 20_000;
/** How long the main process waits for the worker's report (the cleanups plus writing it). */
export const INTERRUPT_HOLD_MS = 25_000;

const END = '--- end of interrupt report ---';

export function interruptFiles(runId: string, dir: string = os.tmpdir()): { report: string; workerPid: string } {
  return { report: path.join(dir, `clh-interrupt-${runId}.txt`), workerPid: path.join(dir, `clh-worker-${runId}.pid`) };
}

export interface InterruptState {
  signal: string;
  /** The scenario running when the signal came (file and name), if any. */
  running: string | null;
  /** Suite files of the run that had not started. */
  notStarted: string[];
  /** Cleanups that ran and failed, with why. */
  failed: string[];
  /** Cleanups still registered when the time ran out (not done). */
  unfinished: string[];
  /** Cleanups that ran to their end. */
  done: string[];
}

/** The report's text: what was undone and what was left undone. Pure. */
export function formatInterruptReport(s: InterruptState): string {
  const lines = [`[lab] ${s.signal}: the run was interrupted; every cleanup ran (${s.done.length} done)`];
  const undone: string[] = [];
  if (s.running) undone.push(`the scenario that was running did not finish: ${s.running}`);
  if (s.notStarted.length > 0) undone.push(`suites not started: ${s.notStarted.join(', ')}`);
  for (const f of s.failed) undone.push(`cleanup failed: ${f}`);
  for (const u of s.unfinished) undone.push(`cleanup not finished within ${INTERRUPT_CLEANUP_MS / 1000} s: ${u}`);
  lines.push(`[lab] left undone (${undone.length}):`);
  for (const u of undone) lines.push(`[lab]   - ${u}`);
  return `${lines.join('\n')}\n`;
}

/** Runs `cleanups` (newest first, all of them) within `timeoutMs`; what ran, failed, and was still waiting. */
export async function runCleanupsBounded(
  cleanups: Cleanups,
  timeoutMs: number,
): Promise<Pick<InterruptState, 'done' | 'failed' | 'unfinished'>> {
  const before = cleanups.names;
  let timer: NodeJS.Timeout | undefined;
  let failed: string[] = [];
  const finished = await Promise.race([
    cleanups.run().then(
      () => true,
      (err: unknown) => {
        const errors = err instanceof AggregateError ? (err.errors as Error[]) : [err as Error];
        failed = errors.map((e) => e.message.replace(/^cleanup "/, '"'));
        return true;
      },
    ),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
  ]);
  clearTimeout(timer);
  // Cleanups.run pops each item before running it: the one running at the deadline is no longer listed.
  const left = finished ? [] : cleanups.names;
  const unfinished = finished
    ? []
    : before
        .filter((n) => !left.includes(n))
        .slice(-1)
        .concat(left);
  const done = before.filter((n) => !unfinished.includes(n) && !failed.some((f) => f.startsWith(`"${n}"`)));
  return { done, failed, unfinished };
}

let installed = false;

/**
 * Worker side: on SIGINT/SIGTERM run `lab.cleanups` (bounded), write the report for the main process, exit 130.
 * `suiteFiles` and the running test (vitest's expect state) say what was left undone.
 */
export function cleanUpOnInterrupt(lab: { runId: string; cleanups: Cleanups; suiteFiles: string[] | null }): () => void {
  if (installed) return () => undefined;
  installed = true;
  const files = interruptFiles(lab.runId);
  writeFileSync(files.workerPid, String(process.pid));
  let started = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) return;
    started = true;
    // The main process may be gone: output must not crash the cleanup (EPIPE on a closed pipe).
    process.stdout.on('error', () => undefined);
    process.stderr.on('error', () => undefined);
    const state = expect.getState();
    const testPath = state.testPath ?? null;
    const current = testPath ? path.basename(testPath) : null;
    const order = (lab.suiteFiles ?? []).map((f) => path.basename(f));
    const at = current ? order.indexOf(current) : -1;
    void (async () => {
      const r = await runCleanupsBounded(lab.cleanups, INTERRUPT_CLEANUP_MS);
      const report = formatInterruptReport({
        signal,
        running: current && state.currentTestName ? `${current} "${state.currentTestName}"` : current,
        notStarted: at >= 0 ? order.slice(at + 1) : [],
        ...r,
      });
      try {
        writeFileSync(files.report, `${report}${END}\n`);
      } catch {
        process.stderr.write(report);
      }
      rmSync(files.workerPid, { force: true });
      process.exit(130);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The run ended normally: no hook, no PID file left in the temporary folder.
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!started) rmSync(files.workerPid, { force: true });
    installed = false;
  };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Main-process side (the global setup): on SIGINT/SIGTERM, hold vitest's exit (which it schedules 1 ms after the
 * signal) until the worker reported its cleanup, at most `holdMs`, then print the report. Synchronous on purpose:
 * nothing else of the main process may run (and exit) meanwhile.
 */
export function holdExitForInterruptCleanup(runId: string, o: { holdMs?: number; write?: (text: string) => void } = {}): () => void {
  const files = interruptFiles(runId);
  rmSync(files.report, { force: true });
  const write = o.write ?? ((t: string) => process.stderr.write(t));
  let held = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (held) return;
    held = true;
    let pid = 0;
    try {
      pid = Number(readFileSync(files.workerPid, 'utf8'));
      process.kill(pid, signal); // in case the signal reached only this process
    } catch {
      return; // no worker (yet), or already gone: nothing of the lab to undo here
    }
    const until = Date.now() + (o.holdMs ?? INTERRUPT_HOLD_MS);
    let text = '';
    while (Date.now() < until) {
      text = existsSync(files.report) ? readFileSync(files.report, 'utf8') : '';
      if (text.includes(END)) break;
      sleepSync(100);
    }
    if (text.includes(END)) write(text.replace(`${END}\n`, ''));
    else
      write(
        `[lab] ${signal}: the run was interrupted and the worker did not report its cleanup within ${(o.holdMs ?? INTERRUPT_HOLD_MS) / 1000} s\n` +
          `[lab] left undone: unknown — objects labelled cilium-lab-harness/run=${runId} and the harness's router routes may remain (the next run removes them)\n`,
      );
    rmSync(files.report, { force: true });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}
