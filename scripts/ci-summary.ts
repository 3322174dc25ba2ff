/**
 * Reads vitest's JSON reports (the self-tests', and the lab twin's runs of the lab suites) and prints the one line
 * this project's CI reads: "N passed, N failed[, N skipped]" over all of them. Exits non-zero when a test failed,
 * when a report is missing or unreadable, or when CI=true and an integration test (a *.integration.test.ts file)
 * was skipped: under CI the emulated network must really run, never quietly stand aside.
 *
 *   tsx scripts/ci-summary.ts out/self/results.json [more.json ...] [--twin-reports DIR] [--faults FILE]
 *
 * --twin-reports DIR adds DIR/vitest-<version>.json for every Cilium version of lab/versions.yaml's ciliumMatrix
 * (what `npm run test:twin` writes), so a version whose twin run wrote nothing counts as a failure.
 * --faults FILE adds the fault catalogue's verdicts (`npm run test:faults`' summary.json: one pass per fault caught or
 * handled, one failure per fault missed or wrongly failed); a missing or unreadable file counts as one failure.
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

/** The fault runner's summary.json added into a summary: its passed/failed faults, each failed one named. */
export function addFaults(s: Summary, file: string, read: (f: string) => string): Summary {
  let passed = 0;
  let failed = 0;
  const problems: string[] = [];
  try {
    const j = JSON.parse(read(file)) as {
      passed?: unknown;
      failed?: unknown;
      faults?: { name: string; verdict: string; ok: boolean; detail?: string }[];
    };
    if (typeof j.passed !== 'number' || typeof j.failed !== 'number') throw new Error('no passed/failed counts');
    passed = j.passed;
    failed = j.failed;
    for (const f of j.faults ?? []) if (!f.ok) problems.push(`fault ${f.name}: ${f.verdict} ${(f.detail ?? '').slice(0, 200)}`);
    if (passed + failed === 0) problems.push(`no fault ran (${file})`);
  } catch (err) {
    failed = 1;
    problems.push(`no readable fault summary at ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const p = s.passed + passed;
  const f = s.failed + failed;
  const line = `${p} passed, ${f} failed${s.skipped > 0 ? `, ${s.skipped} skipped` : ''}`;
  const all = [...s.problems, ...problems];
  return { ...s, passed: p, failed: f, problems: all, line, ok: f === 0 && all.length === 0 };
}

/** `--faults FILE` arguments (the rest are report files). */
export function faultFiles(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--faults') continue;
    const f = argv[++i];
    if (!f) throw new Error('--faults needs a summary file');
    out.push(f);
  }
  return out;
}

function main(argv: string[]): number {
  const files = reportFiles(argv, () => loadVersions().ciliumMatrix);
  const read = (f: string): string => readFileSync(f, 'utf8');
  const { report, problems } = readReports(files, read);
  let s = summarize(report, process.env.CI === 'true');
  for (const f of faultFiles(argv)) s = addFaults(s, f, read);
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
    } else if (a === '--faults') i++;
    else files.push(a);
  }
  return files.length > 0 ? files : ['out/self/results.json'];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exit(main(process.argv.slice(2)));
}
