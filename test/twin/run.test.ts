/** npm run test:twin's argument handling and its count of vitest's JSON report (no twin is built here). */
import { describe, expect, it } from 'vitest';
import { countsFromVitestJson, parseArgs } from './run.ts';

describe('test:twin', () => {
  it('takes --version (repeatable) and passes everything else to vitest', () => {
    expect(parseArgs(['--version', '1.18.14', 'suites/00-lab-health.test.ts'])).toEqual({
      versions: ['1.18.14'],
      rest: ['suites/00-lab-health.test.ts'],
    });
    expect(parseArgs(['--version=1.17.18', '--version', '1.18.14'])).toEqual({ versions: ['1.17.18', '1.18.14'], rest: [] });
    expect(parseArgs([])).toEqual({ versions: null, rest: [] });
  });

  it("counts passed, failed and skipped tests from vitest's JSON reporter", () => {
    expect(countsFromVitestJson(JSON.stringify({ numPassedTests: 34, numFailedTests: 1, numPendingTests: 2, numTodoTests: 1 }))).toEqual({
      passed: 34,
      failed: 1,
      skipped: 3,
    });
  });
});
