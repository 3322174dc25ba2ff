/**
 * The lab project's setup file (vitest.config.ts setupFiles): runs before each suite file and lets the run's gate
 * (suites/support/run-gate.ts) keep a suite that needs a healthy lab from running once lab health failed.
 */
import { beforeAll } from 'vitest';
import type { RunnerTestFile } from 'vitest';
import { getHooks, setHooks } from 'vitest/suite';
import { gateSuiteFile, type HookAccess } from './run-gate.ts';

// eslint-disable-next-line no-empty-pattern
beforeAll(({}, file) => {
  gateSuiteFile(file as RunnerTestFile, { hooks: { getHooks, setHooks } as unknown as HookAccess });
});
