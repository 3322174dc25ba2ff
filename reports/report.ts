/**
 * `npm run report`: one Allure 3 report per Cilium version, then the cross-version page.
 *
 *   npm run report                         every version under reports/ with new results, then reports/index.html
 *   npm run report -- --version 1.18.6     only that version (repeatable), then the page
 *   npm run report -- --force              regenerate even when the results did not change
 *   npm run report -- --index-only         only the page, from the reports/<version>/summary.json files present
 *   npm run report -- --allow-broken       report versions whose result files cannot all be read (else: exit 1)
 *
 * Exit code 1 when a version given with --version has no results, or a result file cannot be read.
 *
 * Per version (reports/<version>/, see reports/run-context.ts), for each run folder not reported yet, oldest first
 * (or, with none, allure-results):
 *   1. `allure generate allure-results -c allurerc.ts` with CILIUM_VERSION=<version>: one HTML file that opens
 *      from file://, and one line appended to history.jsonl (kept between runs, never regenerated).
 *      Results that were already reported (same fingerprint) are skipped, so history grows once per lab run.
 *   2. The analytics script Allure embeds is stripped from every HTML file, and the strip is checked; the report
 *      gets a small script that opens it at its top (reports/allure-html.ts openAtTop).
 *   3. summary.json: what the cross-version page needs, with what changed since the previous report.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { findAnalytics, openAtTop, stripAnalytics } from './allure-html.ts';
import { renderIndexPage } from './index-page.ts';
import {
  parseSummary,
  readResults,
  summarize,
  withChanges,
  type ReadResults,
  type UnreadableResult,
  type VersionSummary,
} from './results.ts';
import {
  CILIUM_VERSION_ENV,
  compareVersions,
  isValidVersion,
  REPO_ROOT,
  reportHref,
  REPORTS_DIR_ENV,
  reportsRoot,
  runFolders,
  versionPaths,
  versionsWithResults,
  type VersionPaths,
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
  /** Report versions with unreadable result files anyway (the page shows those scenarios as unreadable). */
  allowBroken?: boolean;
}

export type VersionState = 'generated' | 'up-to-date' | 'no-results';

export interface VersionOutcome {
  version: string;
  state: VersionState;
  summary: VersionSummary | null;
  /** The run folders reported by this call, in order. */
  runsReported: string[];
  /** Result files that could not be read, with the reason. */
  unreadable: UnreadableResult[];
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
    throw new Error(
      `allure generate for Cilium ${version} failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode}`}):\n${r.all.slice(-4000)}`,
    );
  }
}

/** One set of results turned into the version's report, history line and summary. */
async function reportResults(
  p: VersionPaths,
  read: ReadResults,
  o: ReportOptions & { root: string; log: (line: string) => void; now: () => Date; resultsDir: string },
): Promise<VersionSummary> {
  const previous = readPreviousSummary(p.summaryFile);
  await runAllure(p.version, o.resultsDir, o.root, o.allureTimeoutMs ?? 300_000);
  if (!existsSync(p.reportFile)) throw new Error(`allure generate wrote no ${p.reportFile}`);
  stripAnalyticsIn(p.reportDir);
  writeFileSync(p.reportFile, openAtTop(readFileSync(p.reportFile, 'utf8')));
  const knownScenarios = [...(previous?.scenarios ?? []), ...readSummaries(o.root, () => undefined).flatMap((x) => x.scenarios)];
  const summary = withChanges(
    summarize({ version: p.version, reportHref: reportHref(p.version), generatedAt: o.now().toISOString(), read, knownScenarios }),
    previous,
  );
  writeFileSync(p.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  o.log(
    `Cilium ${p.version}: ${summary.counts.passed} passed, ${summary.counts.failed} failed, ${summary.counts.broken} broken, ${summary.counts.skipped} skipped -> ${p.reportFile}`,
  );
  return summary;
}

/**
 * One version: every run folder not reported yet (reports/<version>/runs/*), oldest first, each its own report and
 * history line; a reported run's results become reports/<version>/allure-results and its folder is removed. With no
 * run folder, reports/<version>/allure-results as before (skipped when already reported, unless `force`).
 */
export async function generateVersionReport(version: string, o: ReportOptions = {}): Promise<VersionOutcome> {
  const root = o.root ?? reportsRoot();
  const log = o.log ?? console.log;
  const now = o.now ?? (() => new Date());
  const p = versionPaths(version, root);
  const rel = (f: string): string => (f.startsWith(`${REPO_ROOT}${path.sep}`) ? path.relative(REPO_ROOT, f) : f);
  const runs = runFolders(p);
  let outcome: VersionOutcome = { version: p.version, state: 'no-results', summary: null, runsReported: [], unreadable: [] };
  const take = (dir: string): ReadResults | null => {
    const read = readResults(dir);
    for (const u of read.unreadable) log(`Cilium ${p.version}: unreadable result ${rel(path.join(dir, u.file))}: ${u.reason}`);
    outcome.unreadable.push(...read.unreadable.map((u) => ({ ...u, file: path.join(dir, u.file) })));
    if (read.unreadable.length > 0 && !o.allowBroken) {
      log(
        `Cilium ${p.version}: not reported: ${read.unreadable.length} unreadable result file(s) in ${rel(dir)} (kept; fix or remove them, or run with --allow-broken)`,
      );
      return null;
    }
    return read;
  };

  if (runs.length === 0) {
    const read = take(p.resultsDir);
    if (!read) return outcome;
    if (read.results.length === 0 && read.unreadable.length === 0) {
      log(`Cilium ${p.version}: no results in ${rel(p.resultsDir)}; nothing to report`);
      return outcome;
    }
    const previous = readPreviousSummary(p.summaryFile);
    if (!o.force && previous?.resultsFingerprint === read.fingerprint && existsSync(p.reportFile)) {
      log(`Cilium ${p.version}: report is up to date (no new results; history not appended)`);
      return { ...outcome, state: 'up-to-date', summary: previous };
    }
    const summary = await reportResults(p, read, { ...o, root, log, now, resultsDir: p.resultsDir });
    return { ...outcome, state: 'generated', summary };
  }

  for (const run of runs) {
    const dir = path.join(run, 'allure-results');
    const read = take(dir);
    if (!read) return outcome; // later runs wait too: history stays in run order
    if (read.results.length === 0 && read.unreadable.length === 0) {
      log(`Cilium ${p.version}: run ${path.basename(run)} started no scenario; its folder is removed`);
      rmSync(run, { recursive: true, force: true });
      continue;
    }
    const previous = readPreviousSummary(p.summaryFile);
    // Already recorded (a report that stopped before removing the folder): do not append its history line twice.
    const summary =
      previous?.resultsFingerprint === read.fingerprint && existsSync(p.reportFile)
        ? previous
        : await reportResults(p, read, { ...o, root, log, now, resultsDir: dir });
    // Recorded: its results become the version's last reported results, and its folder goes.
    rmSync(p.resultsDir, { recursive: true, force: true });
    renameSync(dir, p.resultsDir);
    rmSync(run, { recursive: true, force: true });
    outcome = { ...outcome, state: 'generated', summary, runsReported: [...outcome.runsReported, path.basename(run)] };
  }
  if (outcome.state === 'no-results') return generateVersionReport(version, { ...o, root, log, now });
  return outcome;
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

export function writeIndex(
  root: string,
  now: Date = new Date(),
  log: (line: string) => void = console.log,
): { file: string; versions: string[] } {
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
    if (versions.length === 0)
      log(`no reports/<version>/allure-results under ${root}: run the lab suites first (CILIUM_VERSION=<version> npm test)`);
    for (const v of versions) outcomes.push(await generateVersionReport(v, { ...o, root, log, now }));
  }
  const { file } = writeIndex(root, now(), log);
  return { outcomes, indexFile: file };
}

/** The exit code of `npm run report` for these outcomes: 1 when a version asked for has no results, or a result file
 * could not be read (unless allowBroken); every reason is printed. */
export function reportExitCode(
  outcomes: VersionOutcome[],
  o: { askedVersions: string[]; allowBroken: boolean },
  log: (line: string) => void = console.error,
): number {
  let code = 0;
  for (const v of o.askedVersions) {
    const out = outcomes.find((x) => x.version === v || x.version === v.replace(/^v(?=\d)/, ''));
    if (!out || out.state === 'no-results') {
      log(`--version ${v}: no results to report for Cilium ${v} (run the lab suites with CILIUM_VERSION=${v} first)`);
      code = 1;
    }
  }
  const unreadable = outcomes.flatMap((x) => x.unreadable);
  if (unreadable.length > 0 && !o.allowBroken) {
    log(
      `${unreadable.length} result file(s) could not be read (named above); their versions were not reported. Fix or remove them, or run: npm run report -- --allow-broken`,
    );
    code = 1;
  }
  return code;
}

async function main(argv: string[]): Promise<number> {
  const options = {
    version: { type: 'string', multiple: true },
    force: { type: 'boolean', default: false },
    'index-only': { type: 'boolean', default: false },
    'allow-broken': { type: 'boolean', default: false },
  } as const;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true }));
  } catch (err) {
    throw new Error(
      `npm run report: ${(err as Error).message}. Options: --version <version> (repeatable), --force, --index-only, --allow-broken`,
    );
  }
  const askedVersions = values.version ?? [];
  const { outcomes } = await runReport({
    versions: askedVersions,
    force: values.force,
    indexOnly: values['index-only'],
    allowBroken: values['allow-broken'],
  });
  return reportExitCode(outcomes, { askedVersions, allowBroken: values['allow-broken'] });
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
