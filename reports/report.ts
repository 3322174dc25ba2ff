/**
 * `npm run report`: one Allure 3 report per Cilium version, then the cross-version page.
 *
 *   npm run report                         every version under reports/ with new results, then reports/index.html
 *   npm run report -- --version 1.18.6     only that version (repeatable), then the page
 *   npm run report -- --force              regenerate even when the results did not change
 *   npm run report -- --index-only         only the page, from the reports/<version>/summary.json files present
 *
 * Per version (reports/<version>/, see reports/run-context.ts):
 *   1. `allure generate allure-results -c allurerc.ts` with CILIUM_VERSION=<version>: one HTML file that opens
 *      from file://, and one line appended to history.jsonl (kept between runs, never regenerated).
 *      Results that were already reported (same fingerprint) are skipped, so history grows once per lab run.
 *   2. The analytics script Allure embeds is stripped from every HTML file, and the strip is checked.
 *   3. summary.json: what the cross-version page needs, with what changed since the previous report.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { findAnalytics, stripAnalytics } from './allure-html.ts';
import { renderIndexPage } from './index-page.ts';
import { parseSummary, readResults, summarize, withChanges, type VersionSummary } from './results.ts';
import {
  CILIUM_VERSION_ENV,
  compareVersions,
  isValidVersion,
  REPO_ROOT,
  reportHref,
  REPORTS_DIR_ENV,
  reportsRoot,
  versionPaths,
  versionsWithResults,
} from './run-context.ts';

export const ALLURERC = path.join(REPO_ROOT, 'allurerc.ts');

export interface ReportOptions {
  /** The reports folder (default reports/, or CLH_REPORTS_DIR). */
  root?: string;
  /** Only these versions (default: every version folder with allure-results). */
  versions?: string[];
  force?: boolean;
  indexOnly?: boolean;
  now?: () => Date;
  log?: (line: string) => void;
  allureTimeoutMs?: number;
}

export type VersionState = 'generated' | 'up-to-date' | 'no-results';

export interface VersionOutcome {
  version: string;
  state: VersionState;
  summary: VersionSummary | null;
  analyticsRemoved: number;
}

function htmlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.html'))
    .map((e) => path.join(e.parentPath, e.name));
}

/** Strips analytics from every HTML file under `dir`; throws if any trace is left. Returns scripts removed. */
export function stripAnalyticsIn(dir: string): number {
  let removed = 0;
  for (const file of htmlFiles(dir)) {
    const r = stripAnalytics(readFileSync(file, 'utf8'));
    if (r.removed > 0) writeFileSync(file, r.html);
    removed += r.removed;
    const left = findAnalytics(r.html);
    if (left.length > 0) throw new Error(`${file}: analytics still present after stripping: ${left[0]}`);
  }
  return removed;
}

function readPreviousSummary(file: string): VersionSummary | null {
  return existsSync(file) ? parseSummary(readFileSync(file, 'utf8')).summary : null;
}

async function runAllure(version: string, resultsDir: string, root: string, timeoutMs: number): Promise<void> {
  const r = await execa('allure', ['generate', resultsDir, '--config', ALLURERC], {
    preferLocal: true,
    localDir: REPO_ROOT,
    cwd: REPO_ROOT,
    env: { [CILIUM_VERSION_ENV]: version, [REPORTS_DIR_ENV]: root },
    timeout: timeoutMs,
    all: true,
    reject: false,
  });
  if (r.exitCode !== 0 || r.failed) {
    throw new Error(`allure generate for Cilium ${version} failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}):\n${r.all.slice(-4000)}`);
  }
}

export async function generateVersionReport(version: string, o: ReportOptions = {}): Promise<VersionOutcome> {
  const root = o.root ?? reportsRoot();
  const log = o.log ?? console.log;
  const now = o.now ?? (() => new Date());
  const p = versionPaths(version, root);
  const read = readResults(p.resultsDir);
  for (const f of read.unreadable) log(`Cilium ${p.version}: skipped unreadable result ${f}`);
  if (read.results.length === 0) {
    log(`Cilium ${p.version}: no results in ${path.relative(REPO_ROOT, p.resultsDir) || p.resultsDir}; nothing to report`);
    return { version: p.version, state: 'no-results', summary: null, analyticsRemoved: 0 };
  }
  const previous = readPreviousSummary(p.summaryFile);
  if (!o.force && previous?.resultsFingerprint === read.fingerprint && existsSync(p.reportFile)) {
    log(`Cilium ${p.version}: report is up to date (no new results; history not appended)`);
    return { version: p.version, state: 'up-to-date', summary: previous, analyticsRemoved: 0 };
  }
  await runAllure(p.version, p.resultsDir, root, o.allureTimeoutMs ?? 300_000);
  if (!existsSync(p.reportFile)) throw new Error(`allure generate wrote no ${p.reportFile}`);
  const analyticsRemoved = stripAnalyticsIn(p.reportDir);
  const summary = withChanges(
    summarize({ version: p.version, reportHref: reportHref(p.version), generatedAt: now().toISOString(), read }),
    previous,
  );
  writeFileSync(p.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  log(`Cilium ${p.version}: ${summary.counts.passed} passed, ${summary.counts.failed} failed, ${summary.counts.broken} broken, ${summary.counts.skipped} skipped -> ${p.reportFile}`);
  return { version: p.version, state: 'generated', summary, analyticsRemoved };
}

/** Every readable reports/<version>/summary.json, in version order. */
export function readSummaries(root: string, log: (line: string) => void = console.log): VersionSummary[] {
  if (!existsSync(root)) return [];
  const out: VersionSummary[] = [];
  for (const name of readdirSync(root).filter(isValidVersion).sort(compareVersions)) {
    const file = path.join(root, name, 'summary.json');
    if (!existsSync(file)) continue;
    const { summary, problem } = parseSummary(readFileSync(file, 'utf8'));
    if (summary) out.push(summary);
    else log(`${file}: not a summary this page can read (${problem}); left out`);
  }
  return out;
}

export function writeIndex(root: string, now: Date = new Date(), log: (line: string) => void = console.log): { file: string; versions: string[] } {
  const summaries = readSummaries(root, log);
  const file = path.join(root, 'index.html');
  writeFileSync(file, renderIndexPage(summaries, { generatedAt: now.toISOString() }));
  log(`cross-version page (${summaries.map((s) => s.version).join(', ') || 'no versions'}) -> ${file}`);
  return { file, versions: summaries.map((s) => s.version) };
}

export async function runReport(o: ReportOptions = {}): Promise<{ outcomes: VersionOutcome[]; indexFile: string }> {
  const root = o.root ?? reportsRoot();
  const log = o.log ?? console.log;
  const now = o.now ?? (() => new Date());
  const outcomes: VersionOutcome[] = [];
  if (!o.indexOnly) {
    const versions = o.versions?.length ? o.versions : versionsWithResults(root);
    if (versions.length === 0) log(`no reports/<version>/allure-results under ${root}: run the lab suites first (CILIUM_VERSION=<version> npm test)`);
    for (const v of versions) outcomes.push(await generateVersionReport(v, { ...o, root, log, now }));
  }
  const { file } = writeIndex(root, now(), log);
  return { outcomes, indexFile: file };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      version: { type: 'string', multiple: true },
      force: { type: 'boolean', default: false },
      'index-only': { type: 'boolean', default: false },
    },
    strict: true,
  });
  await runReport({ versions: values.version ?? [], force: values.force, indexOnly: values['index-only'] });
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(1);
    },
  );
}
