/**
 * The run's gate (issue 16, lab fault agent-not-ready): when the lab health suite fails, the lab is not whole, and a
 * suite that needs a healthy lab (every suite that declares needs in suites/support/plan.ts) would fail on it for the
 * lab's reason, not its own, after minutes of upgrades and waits. Such a suite is not run: each of its scenarios is
 * reported skipped with the note `not run: <why>` (vitest's output, the JSON report, Allure's status message through
 * reports/lab-reporters.ts), and one line says so on stderr.
 *
 * The state lives on globalThis: the lab project runs every file in one worker without isolation, so it outlives a
 * file, and a module re-evaluated per file (the setup file) still sees it.
 */
import type { RunnerTask, RunnerTestFile, RunnerTestSuite, TestContext } from 'vitest';
import { needsOf, suiteFileName } from './plan.ts';

const KEY = Symbol.for('cilium-lab-harness.run-gate');

interface GateState {
  /** Why the lab is not healthy (the failed health scenarios), or empty. */
  reasons: string[];
}

function state(): GateState {
  const g = globalThis as unknown as Record<symbol, GateState | undefined>;
  return (g[KEY] ??= { reasons: [] });
}

/** Records that the lab health check failed, with what it found (first line of the failure). */
export function markLabUnhealthy(reason: string): void {
  state().reasons.push(reason);
}

/** Why the lab is not healthy, or null when nothing said it is not. */
export function labUnhealthy(): string | null {
  const r = state().reasons;
  return r.length > 0 ? `lab health failed: ${r.join('; ')}` : null;
}

/** For tests of the gate itself. */
export function resetRunGate(): void {
  state().reasons = [];
}

/** Does the suite file need a healthy lab? Every planned suite that declares needs; the health suite declares none. */
export function needsHealthyLab(fileOrUrl: string): boolean {
  try {
    const n = needsOf(fileOrUrl);
    return Object.keys(n.cilium ?? {}).length > 0 || (n.workloads ?? []).length > 0 || n.destructive === true;
  } catch {
    return true; // not in the plan: assume it needs a lab like every scenario does
  }
}

/** What the gate needs of vitest's runner to take a suite's hooks away (vitest/suite getHooks/setHooks). */
export interface HookAccess {
  getHooks(suite: RunnerTestSuite): Record<string, unknown> | undefined;
  setHooks(suite: RunnerTestSuite, hooks: Record<string, unknown>): void;
}

/**
 * Marks every test under `suite` skipped with the note `note` (vitest then reports each as skipped with it, Allure as
 * its status message) and takes the hooks of the nested suites away (nothing of them runs: no beforeAll arranging a
 * lab that is not whole); returns how many tests.
 */
export function markNotRun(suite: RunnerTestSuite | RunnerTask, note: string, hooks?: HookAccess): number {
  let n = 0;
  const visit = (t: RunnerTask): void => {
    // A suite stays 'run' (its hooks gone): vitest reports the tests of a skipped suite without their note.
    if (t.type === 'suite') {
      const h = hooks?.getHooks(t);
      if (h && hooks) hooks.setHooks(t, Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? [] : v])));
      for (const c of t.tasks) visit(c);
      return;
    }
    t.mode = 'skip';
    t.result = { ...t.result, state: 'skip', note } as RunnerTask['result'];
    n++;
  };
  for (const c of (suite as RunnerTestSuite).tasks ?? []) visit(c);
  return n;
}

/**
 * Before a suite file runs (a file-level beforeAll from the lab project's setup file): when the lab is known to be
 * unhealthy and the file needs a healthy lab, none of it runs (not its hooks, not its tests): each scenario is
 * reported skipped with the note `not run: <why>`, and one line on stderr says so. Returns whether it was gated.
 */
export function gateSuiteFile(file: RunnerTestFile, o: { hooks?: HookAccess; write?: (line: string) => void } = {}): boolean {
  const why = labUnhealthy();
  const name = suiteFileName(file.filepath);
  if (!why || !needsHealthyLab(name)) return false;
  const n = markNotRun(file, `not run: ${why}`, o.hooks);
  (o.write ?? ((l) => process.stderr.write(l)))(`[lab] not run: ${name} (${n} scenario${n === 1 ? '' : 's'}): ${why}\n`);
  return true;
}

/**
 * For the lab health suite: every failed scenario of it marks the lab unhealthy (with its first message line), so the
 * suites after it that need a healthy lab are not run. Call once at the top of its describe with its `test`.
 */
export function stopTheRunWhenThisFails(test: { beforeEach(fn: (ctx: TestContext) => void): void }): void {
  test.beforeEach(({ onTestFailed }) => {
    onTestFailed(({ task }) => {
      const first = (task.result?.errors?.[0]?.message ?? 'failed').split('\n')[0];
      markLabUnhealthy(`"${task.name}": ${first}`);
    });
  });
}
