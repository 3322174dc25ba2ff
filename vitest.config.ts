import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { labReporters } from './reports/lab-reporters.ts';
import { VITEST_TIMEOUT } from './helpers/wait/deadlines.ts';

/**
 * Lab suites run one file at a time in file-name order (00-, 10-, 20-…): the order is part of the plan.
 * Each project is told which of its files were picked (`labSuiteFiles`), so the lab fixture can fold the
 * Cilium settings of the suites still to come into an upgrade it has to make anyway (helpers/cilium/needs.ts).
 */
class FileOrderSequencer extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
    for (const project of new Set(sorted.map((s) => s.project))) {
      project.provide(
        'labSuiteFiles',
        sorted.filter((s) => s.project === project).map((s) => s.moduleId),
      );
    }
    return Promise.resolve(sorted);
  }
}

export default defineConfig({
  test: {
    // Lab runs only (both stand aside unless the `lab` project runs; `npm run test:self` replaces them on its
    // command line): Allure results and JUnit XML in reports/<CILIUM_VERSION>/, see reports/lab-reporters.ts.
    // CLH_VITEST_JSON=<file> adds vitest's JSON report (npm run test:twin counts the results from it).
    reporters: [
      'default',
      ...labReporters(),
      ...(process.env.CLH_VITEST_JSON ? [['json', { outputFile: process.env.CLH_VITEST_JSON }] as ['json', { outputFile: string }]] : []),
    ],
    sequence: { sequencer: FileOrderSequencer },
    // Room for the lab's end: the run's objects deleted within DEADLINE.runRemovalMs (helpers/wait/deadlines.ts).
    teardownTimeout: VITEST_TIMEOUT.teardownMs,
    projects: [
      {
        extends: true,
        test: {
          name: 'self',
          include: ['test/**/*.test.ts', 'helpers/**/*.test.ts', 'scripts/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'lab',
          include: ['suites/**/*.test.ts'],
          globalSetup: ['suites/support/global-setup.ts'],
          // Once lab health failed, the suites that need a healthy lab are reported not run (suites/support/run-gate.ts).
          setupFiles: ['suites/support/run-gate-setup.ts'],
          // `npm test -- --tags-filter='!destructive'` leaves out the scenarios that reboot a node.
          tags: [{ name: 'destructive', description: 'reboots a lab node (L2 lease failover); runs last' }],
          fileParallelism: false,
          maxWorkers: 1,
          // One worker serves every suite file, so the worker-scoped lab fixture connects once per run.
          isolate: false,
          // Derived from the named deadlines they wrap (helpers/wait/deadlines.ts; LAB_TIME_SCALE stretches both), so
          // the harness's own timeout, with what it saw last, fires before vitest's.
          testTimeout: VITEST_TIMEOUT.testMs,
          hookTimeout: VITEST_TIMEOUT.hookMs,
        },
      },
    ],
  },
});
