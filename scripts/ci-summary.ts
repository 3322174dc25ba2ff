/**
 * Reads vitest's JSON reports (the self-tests', and the lab twin's runs of the lab suites) and prints the one line
 * this project's CI reads: "N passed, N failed[, N skipped]" over all of them. Exits non-zero when a test failed,
 * when a report is missing or unreadable, or when CI=true and an integration test (a *.integration.test.ts file)
 * was skipped: under CI the emulated network must really run, never quietly stand aside.
 *
 *   tsx scripts/ci-summary.ts out/self/results.json [more.json ...] [--twin-reports DIR]
 *
 * --twin-reports DIR adds DIR/vitest-<version>.json for every Cilium version of lab/versions.yaml's ciliumMatrix
 * (what `npm run test:twin` writes), so a version whose twin run wrote nothing counts as a failure.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadVersions } from '../helpers/lab/versions.ts';

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

/** Reads every report; one that is missing or not JSON counts as one failure, named. */
export function readReports(files: string[], read: (f: string) => string): { report: VitestJson; problems: string[] } {
  const testResults: VitestJson['testResults'] = [];
  const problems: string[] = [];
  for (const f of files) {
    try {
      testResults.push(...(JSON.parse(read(f)) as VitestJson).testResults);
    } catch (err) {
      problems.push(`no readable test report at ${f}: ${(err as Error).message.split('\n')[0]}`);
      testResults.push({ name: f, status: 'failed', message: 'no readable test report', assertionResults: [] });
    }
  }
  return { report: { testResults }, problems };
}

function main(files: string[]): number {
  const { report, problems } = readReports(files, (f) => readFileSync(f, 'utf8'));
  const s = summarize(report, process.env.CI === 'true');
  for (const p of [...problems, ...s.problems]) console.log(`problem: ${p}`);
  console.log(s.line);
  return s.ok ? 0 : 1;
}

/** The report files named on the command line, with --twin-reports DIR expanded to one per matrix version. */
export function reportFiles(argv: string[], matrix: () => readonly string[]): string[] {
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--twin-reports') {
      const dir = argv[++i];
      if (!dir) throw new Error('--twin-reports needs a folder');
      files.push(...matrix().map((v) => path.join(dir, `vitest-${v}.json`)));
    } else files.push(a);
  }
  return files.length > 0 ? files : ['out/self/results.json'];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exit(main(reportFiles(process.argv.slice(2), () => loadVersions().ciliumMatrix)));
}
