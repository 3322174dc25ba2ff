import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Lab suites run one file at a time in file-name order (00-, 10-, 20-…): the order is part of the plan. */
class FileOrderSequencer extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return Promise.resolve([...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId)));
  }
}

export default defineConfig({
  test: {
    sequence: { sequencer: FileOrderSequencer },
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
          globalSetup: ['suites/global-setup.ts'],
          // `npm test -- --tags-filter='!destructive'` leaves out the scenarios that reboot a node.
          tags: [{ name: 'destructive', description: 'reboots a lab node (L2 lease failover); runs last' }],
          fileParallelism: false,
          maxWorkers: 1,
          testTimeout: 300_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
