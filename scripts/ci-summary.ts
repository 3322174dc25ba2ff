/**
 * Reads vitest's JSON report of the self-tests and prints the one line this project's CI reads:
 * "N passed, N failed[, N skipped]". Exits non-zero when a test failed, when the report is missing,
 * or when CI=true and an integration test (a *.integration.test.ts file) was skipped: under CI the
 * emulated network must really run, never quietly stand aside.
 *
 *   tsx scripts/ci-summary.ts out/self/results.json
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface JsonAssertion {
  fullName: string;
  status: string;
}
interface JsonFile {
  name: string;
  status: string;
  message?: string;
  assertionResults: JsonAssertion[];
}
export interface VitestJson {
  testResults: JsonFile[];
}

export interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  problems: string[];
  line: string;
  ok: boolean;
}

const SKIPPED = new Set(['skipped', 'pending', 'todo']);
export const INTEGRATION_FILE = /\.integration\.test\.ts$/;

export function summarize(report: VitestJson, ci: boolean): Summary {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const problems: string[] = [];
  for (const file of report.testResults) {
    // A file that failed to load has no assertions but still failed.
    if (file.status === 'failed' && file.assertionResults.every((a) => a.status !== 'failed')) {
      failed++;
      problems.push(`${file.name}: ${file.message?.split('\n')[0] ?? 'failed to run'}`);
    }
    for (const a of file.assertionResults) {
      if (a.status === 'passed') passed++;
      else if (a.status === 'failed') failed++;
      else if (SKIPPED.has(a.status)) {
        skipped++;
        if (ci && INTEGRATION_FILE.test(file.name)) problems.push(`integration test skipped under CI: ${a.fullName} (${file.name})`);
      }
    }
  }
  if (passed + failed === 0) problems.push('no test ran');
  const line = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
  return { passed, failed, skipped, problems, line, ok: failed === 0 && problems.length === 0 };
}

function main(file: string): number {
  let report: VitestJson;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as VitestJson;
  } catch (err) {
    console.log(`no self-test report at ${file}: ${(err as Error).message}`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  const s = summarize(report, process.env.CI === 'true');
  for (const p of s.problems) console.log(`problem: ${p}`);
  console.log(s.line);
  return s.ok ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exit(main(process.argv[2] ?? 'out/self/results.json'));
}
