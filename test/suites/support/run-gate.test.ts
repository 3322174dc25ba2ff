import { afterEach, describe, expect, test } from 'vitest';
import type { RunnerTestFile } from 'vitest';
import { gateSuiteFile, labUnhealthy, markLabUnhealthy, needsHealthyLab, resetRunGate } from '../../../suites/support/run-gate.ts';

/** A collected suite file as vitest hands it to a file-level beforeAll: a describe with two tests. */
function fakeFile(name: string): RunnerTestFile {
  const test = (n: string) => ({ type: 'test', name: n, mode: 'run', id: n, meta: {}, context: {} });
  const describeTask = { type: 'suite', name: 'a suite', mode: 'run', tasks: [test('one'), test('two')], id: 'd', meta: {} };
  return {
    type: 'suite',
    name,
    filepath: `/repo/suites/${name}`,
    mode: 'run',
    tasks: [describeTask],
    id: 'f',
    meta: {},
  } as unknown as RunnerTestFile;
}

describe('the run gate (issue 16: agent-not-ready)', () => {
  afterEach(() => resetRunGate());

  test('a healthy run gates nothing', () => {
    const f = fakeFile('40-lb-sharing.test.ts');
    expect(gateSuiteFile(f, { write: () => undefined })).toBe(false);
  });

  test('after lab health failed, a suite that needs a healthy lab is not run: every scenario skipped with the reason, and one line says so', () => {
    markLabUnhealthy('"one healthy Cilium agent": k8s-w1: agent cilium-x is not healthy (state Failure)');
    const lines: string[] = [];
    const f = fakeFile('40-lb-sharing.test.ts');
    const hooks = new Map<unknown, Record<string, unknown>>([[f.tasks[0], { beforeAll: [() => undefined], afterAll: [() => undefined] }]]);
    const access = { getHooks: (s: unknown) => hooks.get(s), setHooks: (s: unknown, h: Record<string, unknown>) => void hooks.set(s, h) };
    expect(gateSuiteFile(f, { hooks: access, write: (l) => lines.push(l) })).toBe(true);
    // The describe's hooks are gone: its beforeAll would arrange a lab that is not whole.
    expect(hooks.get(f.tasks[0])).toEqual({ beforeAll: [], afterAll: [] });
    const d = f.tasks[0] as unknown as { mode: string; tasks: { mode: string; result?: { state: string; note?: string } }[] };
    expect(d.mode).toBe('run');
    for (const t of d.tasks) {
      expect(t.mode).toBe('skip');
      expect(t.result?.state).toBe('skip');
      expect(t.result?.note).toMatch(/^not run: lab health failed: .*k8s-w1.*state Failure/);
    }
    expect(lines).toEqual([`[lab] not run: 40-lb-sharing.test.ts (2 scenarios): ${labUnhealthy()}\n`]);
  });

  test('the health suite itself is never gated (it declares no needs)', () => {
    markLabUnhealthy('x');
    expect(needsHealthyLab('00-lab-health.test.ts')).toBe(false);
    expect(needsHealthyLab('90-l2-failover.test.ts')).toBe(true);
    expect(gateSuiteFile(fakeFile('00-lab-health.test.ts'), { write: () => undefined })).toBe(false);
  });
});
