/**
 * `npm run test:twin`: the lab suites against the lab twin, once per Cilium version of lab/versions.yaml's
 * ciliumMatrix (or `-- --version X` for one), exactly as `npm test` runs them (it runs `npm test` itself, with
 * LAB_TOPOLOGY pointing at the twin and CILIUM_VERSION set), so the pre-flight, the global setup and the reporters
 * are the real ones. Results go under CLH_REPORTS_DIR when set, else out/twin-reports/ (reports/<version>/ layout).
 * Then `npm run report` builds each version's Allure report and the cross-version page from those runs, and the page
 * is checked (test/twin/report-check.ts: a column per version, the failover suite's numbers for each): one more
 * check in the count; so is, after each version's run, what it left in the twin (run-labelled objects, run
 * namespaces, the harness's proto-173 routes on the router). Ends with one line `N passed, N failed` over every
 * version (from vitest's JSON report, CLH_VITEST_JSON) and those checks.
 *
 * Needs root on Linux (network namespaces, sshd) and the packages in .ci/apt/. Everything the twin started is torn
 * down by PID and namespace, also when a run fails or on SIGINT/SIGTERM. Other arguments after `--` go to vitest
 * (e.g. a suite file filter, or --tags-filter='!destructive').
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';
import { loadVersions } from '../../helpers/lab/versions.ts';
import { checkCrossVersionPage } from './report-check.ts';
import { exitNumber, spawnGroup, twinTestEnv, type GroupChild } from './npm-run.ts';
import { parseFaults } from './faults.ts';
import { startTwin, type Twin } from './twin.ts';

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export function parseArgs(argv: string[]): { versions: string[] | null; rest: string[] } {
  const rest: string[] = [];
  const versions: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--version') versions.push(argv[++i] ?? '');
    else if (a.startsWith('--version=')) versions.push(a.slice('--version='.length));
    else rest.push(a);
  }
  return { versions: versions.length > 0 ? versions : null, rest };
}

/** Counts from vitest's JSON reporter output (numPassedTests / numFailedTests / numPendingTests). */
export function countsFromVitestJson(text: string): Counts {
  const j = JSON.parse(text) as { numPassedTests?: number; numFailedTests?: number; numPendingTests?: number; numTodoTests?: number };
  return { passed: j.numPassedTests ?? 0, failed: j.numFailedTests ?? 0, skipped: (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0) };
}

let child: GroupChild | null = null;
let twin: Twin | null = null;
let stopping = false;

async function stopAll(): Promise<void> {
  child?.signal('SIGTERM');
  const t = twin;
  twin = null;
  await t?.teardown().catch((e: unknown) => process.stderr.write(`[twin] teardown: ${(e as Error).message}\n`));
}

function onSignal(sig: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`\n[twin] ${sig}: stopping the run and tearing the twin down\n`);
  void stopAll().finally(() => process.exit(130));
}

async function runOne(version: string, rest: string[], reportsDir: string): Promise<Counts> {
  const started = Date.now();
  process.stderr.write(`[twin] building a Cilium ${version} twin\n`);
  twin = await startTwin({
    ciliumVersion: version,
    faults: parseFaults(process.env.TWIN_FAULTS),
    log: (l) => (process.env.TWIN_DEBUG ? process.stderr.write(`[twin ${version}] ${l}\n`) : undefined),
  });
  process.stderr.write(
    `[twin] ready in ${((Date.now() - started) / 1000).toFixed(1)} s: topology ${twin.topologyFile}, API ${twin.apiUrl}\n`,
  );
  const json = path.join(reportsDir, `vitest-${version}.json`);
  const env = twinTestEnv({ topologyFile: twin.topologyFile, ciliumVersion: version, reportsDir, vitestJson: json });
  // Its own process group, so the whole tree (npm, tsx, vitest, workers) is ended by the group's PID.
  child = spawnGroup('npm', ['test', '--', ...rest], { env });
  const code = exitNumber(await child.done);
  child = null;
  // What the run left behind, looked at before the twin goes: every suite must clean up after itself.
  const left = process.env.LAB_KEEP ? [] : await twin.leftovers().catch((e: unknown) => [`could not look: ${(e as Error).message}`]);
  for (const l of left) process.stderr.write(`[twin] Cilium ${version}: left behind: ${l}\n`);
  await stopAll();
  process.stderr.write(`[twin] Cilium ${version}: npm test exited ${code} after ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  const clean = left.length === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
  if (!existsSync(json)) return { passed: clean.passed, failed: 1 + clean.failed, skipped: 0 };
  const c = countsFromVitestJson(readFileSync(json, 'utf8'));
  return { ...c, passed: c.passed + clean.passed, failed: c.failed + clean.failed };
}

/** `npm run report` on the twin's reports folder, then the cross-version page checked; the problems found. */
async function reportAndCheck(versions: string[], reportsDir: string): Promise<string[]> {
  child = spawnGroup('npm', ['run', 'report'], { env: { ...process.env, CLH_REPORTS_DIR: reportsDir } });
  const code = exitNumber(await child.done);
  child = null;
  const page = path.join(reportsDir, 'index.html');
  if (!existsSync(page)) return [`npm run report exited ${code} and wrote no ${page}`];
  const problems = checkCrossVersionPage(readFileSync(page, 'utf8'), versions);
  return code === 0 ? problems : [`npm run report exited ${code}`, ...problems];
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    process.stderr.write('npm run test:twin needs root on Linux (network namespaces, sshd); see README.md "The lab twin".\n');
    process.exit(2);
  }
  const { versions, rest } = parseArgs(process.argv.slice(2));
  const list = versions ?? loadVersions().ciliumMatrix;
  const reportsDir = path.resolve(process.env.CLH_REPORTS_DIR ?? path.join(REPO_ROOT, 'out', 'twin-reports'));
  mkdirSync(reportsDir, { recursive: true });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const total: Counts = { passed: 0, failed: 0, skipped: 0 };
  const started = Date.now();
  for (const v of list) {
    try {
      const c = await runOne(v, rest, reportsDir);
      total.passed += c.passed;
      total.failed += c.failed;
      total.skipped += c.skipped;
    } catch (err) {
      process.stderr.write(`[twin] Cilium ${v}: ${(err as Error).stack ?? String(err)}\n`);
      await stopAll();
      total.failed += 1;
    }
    if (stopping) return;
  }
  process.stderr.write(`[twin] ${list.join(' and ')} in ${((Date.now() - started) / 1000).toFixed(0)} s, reports in ${reportsDir}\n`);
  if (rest.length === 0 && !stopping) {
    // A full run: every suite ran, so the page must show every version with the failover suite's numbers.
    const reportProblems = await reportAndCheck(list, reportsDir);
    for (const p of reportProblems) process.stderr.write(`[twin] report: ${p}\n`);
    if (reportProblems.length === 0) total.passed += 1;
    else total.failed += 1;
  } else process.stderr.write('[twin] a filtered run: the reports are not built or checked (npm run report does that)\n');
  console.log(`${total.passed} passed, ${total.failed} failed`);
  process.exitCode = total.failed > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await main();
  // Nothing of the twin is left (torn down above); end even if a stray handle (a socket, a timer) would keep Node up.
  process.exit(process.exitCode ?? 0);
}
