/**
 * helpers/lab/suite-scope.ts and the chores of the Lab fixture (helpers/lab/lab.ts labTestWith): one cleanup stack per
 * suite that changes join by themselves, run newest first when the suite ends (also after a failing test); the
 * diagnostics a suite declares once, attached to each failing test; and a test that times out stops its waits.
 * The last two run a real vitest in a child process on test/fixtures/chores-fixture (a stand-in Lab, no lab).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { closeSuiteScope, currentSuiteScope, deferCleanup, diagnoseOnFailure, openSuiteScope } from '../../../helpers/lab/suite-scope.ts';
import { REPO_ROOT } from '../../../helpers/lab/topology.ts';
import { isLastSuiteFile } from '../../../helpers/lab/lab.ts';

describe('the cleanup stack', () => {
  test('outside a suite registering is a no-op; inside, undos run newest first, every one even when one fails', async () => {
    expect(currentSuiteScope()).toBeNull();
    deferCleanup('nobody runs this', () => undefined)();
    const ran: string[] = [];
    const scope = openSuiteScope('s');
    deferCleanup('first', () => void ran.push('first'));
    deferCleanup('broken', () => {
      throw new Error('boom');
    });
    const leave = deferCleanup('undone by its owner', () => void ran.push('owner'));
    deferCleanup('last', () => void ran.push('last'));
    leave();
    expect(scope.cleanups.names).toEqual(['last', 'broken', 'first']);
    await expect(closeSuiteScope(scope)).rejects.toThrow('cleanup "broken" failed: boom');
    expect(ran).toEqual(['last', 'first']);
    expect(currentSuiteScope()).toBeNull();
    await expect(scope.close()).rejects.toThrow('boom'); // closing again runs nothing again, reports the same outcome
    expect(ran).toEqual(['last', 'first']);
  });

  test('diagnostics are declared inside a suite only', () => {
    expect(() => diagnoseOnFailure('x', () => 'y')).toThrow(/outside a suite/);
    const scope = openSuiteScope('s');
    diagnoseOnFailure('pods', () => [], { type: 'yaml' });
    expect(scope.diagnostics.map((d) => d.name)).toEqual(['pods']);
    void closeSuiteScope(scope);
  });
});

test("the run's last suite file is known by name; unknown files never are", () => {
  expect(
    isLastSuiteFile('/repo/suites/90-l2-failover.test.ts', ['/r/suites/00-lab-health.test.ts', '/r/suites/90-l2-failover.test.ts']),
  ).toBe(true);
  expect(
    isLastSuiteFile('/repo/suites/00-lab-health.test.ts', ['/r/suites/00-lab-health.test.ts', '/r/suites/90-l2-failover.test.ts']),
  ).toBe(false);
  expect(isLastSuiteFile('/repo/suites/00-lab-health.test.ts', null)).toBe(false);
  expect(isLastSuiteFile('file:///repo/suites/10-native-routing.test.ts', ['10-native-routing.test.ts'])).toBe(true);
});

describe('the Lab fixture does the chores (a child vitest run)', () => {
  test(
    'a failing test still undoes its change at the suite end, diagnostics are attached per failing test, a timed-out test polls no more, the run cleans up after its last file',
    { timeout: 90_000 },
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'clh-chores-'));
      const log = path.join(dir, 'events.jsonl');
      try {
        const env: Record<string, string> = {};
        for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^VITEST|^TEST$|^NODE_ENV$/.test(k)) env[k] = v;
        const r = await execa(
          path.join(REPO_ROOT, 'node_modules', '.bin', 'vitest'),
          ['run', '--config', path.join('test', 'fixtures', 'chores-fixture', 'vitest.config.ts')],
          {
            cwd: REPO_ROOT,
            env: { ...env, NO_COLOR: '1', CHORES_LOG: log },
            extendEnv: false,
            reject: false,
            timeout: 80_000,
            all: true,
          },
        );
        expect(r.all).toMatch(/Tests\s+2 failed \(2\)/);
        expect(r.all).toMatch(/Test timed out in 400ms/);
        const events = readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { at: number; event: string; name?: string });
        const names = events.map((e) => (e.name ? `${e.event}: ${e.name}` : e.event)).filter((e) => e !== 'poll');
        // Diagnostics once per failing test; the stack after afterAll, newest first; then, the run's last file having
        // ended, the run's own cleanup (before the worker's teardown, which vitest cuts after 60 s), once.
        expect(names).toEqual([
          'diagnostics',
          'aborted',
          'diagnostics',
          'afterAll',
          'afterAll done',
          'cleanup: failing test',
          'cleanup: beforeAll',
          'run cleanup',
        ]);
        const aborted = events.find((e) => e.event === 'aborted')!.at;
        const polls = events.filter((e) => e.event === 'poll').map((e) => e.at);
        expect(polls.length).toBeGreaterThan(2);
        // No poll after the test timed out, though the wait's own deadline (10 s) was far off and afterAll idled 500 ms.
        expect(polls.filter((t) => t > aborted)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
