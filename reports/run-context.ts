/**
 * Where one lab run's report files live, and which Cilium version they belong to.
 *
 * Layout, one folder per Cilium version (all git-ignored; `reports/report.ts` writes the last three):
 *   reports/<version>/runs/<UTC time>-<run id>/   one lab run not reported yet: allure-results/ and junit.xml; every
 *                                       run keeps its own folder until `npm run report` has recorded it
 *   reports/<version>/allure-results/   the results of the last reported run (moved here by `npm run report`)
 *   reports/<version>/junit.xml         JUnit XML of the last run that started a scenario, for CI systems
 *   reports/<version>/history.jsonl     Allure 3 history, one line per `npm run report`, kept between runs
 *   reports/<version>/report/index.html the Allure report, one file that opens from file://
 *   reports/<version>/summary.json      what the cross-version page needs from that run
 *   reports/index.html                  the cross-version page
 *
 * The version comes from CILIUM_VERSION (the version `lab:up` installed; CI sets it per matrix entry); without it,
 * for this repo's Vagrant lab, the version `lab:up` installs by default (lab/versions.yaml). The global setup checks
 * it against the Cilium actually running before any suite starts.
 * Pure functions plus small reads (topology and versions files, git commit, directory listing); no Allure here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineProviders, vagrantStateDir } from '../helpers/lab/preflight.ts';
import { loadTopology, topologyFile, type Topology } from '../helpers/lab/topology.ts';
import { loadVersions, versionsFile } from '../helpers/lab/versions.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CILIUM_VERSION_ENV = 'CILIUM_VERSION';
/** Overrides the reports folder (self-tests point it at a temporary directory). */
export const REPORTS_DIR_ENV = 'CLH_REPORTS_DIR';
/** Set by the lab reporter in the vitest main process: where this run's Allure results go. */
export const RESULTS_DIR_ENV = 'CLH_ALLURE_RESULTS_DIR';
/** The run id of the lab run, when the global setup knows it (excluded from history identity). */
export const RUN_ID_ENV = 'CLH_RUN_ID';
/** Used when CILIUM_VERSION is not set: results still land somewhere a person can find them. */
export const UNKNOWN_VERSION = 'unknown';

const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,62}$/;

/** A version usable as a folder name and an Allure label: `1.18.2`, `1.19.0-rc.1`, `fake-a`. */
export function isValidVersion(v: string): boolean {
  return VERSION_RE.test(v) && !v.includes('..');
}

/** `v1.18.2` and ` 1.18.2 ` become `1.18.2`; anything that cannot be a folder name throws. */
export function normalizeVersion(raw: string): string {
  const v = raw.trim().replace(/^v(?=\d)/, '');
  if (!isValidVersion(v)) throw new Error(`not a usable Cilium version: ${JSON.stringify(raw)} (expected e.g. 1.18.2)`);
  return v;
}

export function ciliumVersionFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env[CILIUM_VERSION_ENV];
  if (raw !== undefined && raw.trim() !== '') return normalizeVersion(raw);
  return defaultLabCiliumVersion(env) ?? UNKNOWN_VERSION;
}

/**
 * The Cilium version `npm run lab:up` installs when CILIUM_VERSION is not set, for a topology built by this repo's
 * Vagrantfile; undefined for another lab (`provider: existing`). A topology or versions file that cannot be read
 * throws, naming the file: results are never filed under `unknown` because a file is broken.
 */
export function defaultLabCiliumVersion(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (loadTopology(topologyFile(env)).provider !== 'vagrant') return undefined;
  return normalizeVersion(loadVersions(versionsFile(env)).pins.cilium.value);
}

/**
 * Throws unless a lab run's Cilium version matches the pattern lab/versions.yaml gives for CILIUM_VERSION (the
 * same check `npm run lab:up` makes), naming the variable, the value, the pattern and the file. `npm test` runs it
 * before anything is created; `unknown` (another lab, no CILIUM_VERSION) is not checked.
 */
export function checkCiliumVersion(version: string, env: NodeJS.ProcessEnv = process.env): void {
  if (version === UNKNOWN_VERSION && !env[CILIUM_VERSION_ENV]?.trim()) return;
  const file = versionsFile(env);
  const pin = loadVersions(file).pins.cilium;
  if (!new RegExp(pin.pattern).test(version)) {
    const raw = env[CILIUM_VERSION_ENV]?.trim();
    const what = raw ? `${pin.env} is "${raw}"` : `the Cilium version is "${version}"`;
    throw new Error(`${what}, which does not match ${pin.pattern} (pins.cilium.pattern in ${file}); expected e.g. ${pin.value}`);
  }
}

/** The Cilium version a lab run is filed under, checked (ciliumVersionFromEnv, then checkCiliumVersion). */
export function labRunCiliumVersion(env: NodeJS.ProcessEnv = process.env): string {
  const version = ciliumVersionFromEnv(env);
  checkCiliumVersion(version, env);
  return version;
}

export function reportsRoot(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env[REPORTS_DIR_ENV];
  return dir ? path.resolve(dir) : path.join(REPO_ROOT, 'reports');
}

export interface VersionPaths {
  version: string;
  dir: string;
  resultsDir: string;
  junitFile: string;
  /** One folder per lab run not reported yet (runFolderName). */
  runsDir: string;
  historyFile: string;
  reportDir: string;
  reportFile: string;
  summaryFile: string;
}

/** Relative to the reports folder: how index.html links to a version's report. */
export function reportHref(version: string): string {
  return `${encodeURIComponent(version)}/report/index.html`;
}

export function versionPaths(version: string, root: string = reportsRoot()): VersionPaths {
  const v = normalizeVersion(version);
  const dir = path.join(root, v);
  return {
    version: v,
    dir,
    resultsDir: path.join(dir, 'allure-results'),
    junitFile: path.join(dir, 'junit.xml'),
    runsDir: path.join(dir, 'runs'),
    historyFile: path.join(dir, 'history.jsonl'),
    reportDir: path.join(dir, 'report'),
    reportFile: path.join(dir, 'report', 'index.html'),
    summaryFile: path.join(dir, 'summary.json'),
  };
}

/** `20261122T034910.123Z-r20261122-0349-ab12`: UTC start time (to the millisecond) first, so names sort in run order. */
export function runFolderName(runId: string, started: Date): string {
  return `${started.toISOString().replace(/[-:]/g, '')}-${runId}`;
}

/** The run folders of a version (reports/<version>/runs/*), oldest first. */
export function runFolders(paths: Pick<VersionPaths, 'runsDir'>): string[] {
  if (!existsSync(paths.runsDir)) return [];
  return readdirSync(paths.runsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((name) => path.join(paths.runsDir, name));
}

/** Allure 3 environment ids must match ^[A-Za-z0-9_-]+$ and be at most 64 characters. */
export function environmentId(version: string): string {
  return `cilium-${version.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 64);
}

/** Version order for columns: numeric parts compared as numbers (1.9 < 1.17 < 1.18.10), a pre-release before its
 * release, names that are not versions (unknown) last. */
export function compareVersions(a: string, b: string): number {
  const split = (v: string): (number | string)[] => v.split(/[.+-]/).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return typeof y === 'string' ? 1 : -1;
    if (y === undefined) return typeof x === 'string' ? -1 : 1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    if (typeof x === 'number') return -1;
    if (typeof y === 'number') return 1;
    return x.localeCompare(y);
  }
  return 0;
}

/** The versions that have Allure results (reported, or runs not reported yet) under `root`, in version order. */
export function versionsWithResults(root: string = reportsRoot()): string[] {
  if (!existsSync(root)) return [];
  const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();
  return readdirSync(root)
    .filter((name) => isValidVersion(name) && (isDir(path.join(root, name, 'allure-results')) || isDir(path.join(root, name, 'runs'))))
    .sort(compareVersions);
}

/**
 * The provider of the run context: for the Vagrant lab, the one its VMs were actually created with (Vagrant keeps
 * `.vagrant/machines/<name>/<provider>/id`), not VAGRANT_DEFAULT_PROVIDER (which may be unset, or not what built them).
 */
export function labProvider(t: Topology, env: NodeJS.ProcessEnv = process.env): string {
  if (t.provider !== 'vagrant') return 'existing lab';
  const created = machineProviders(t, vagrantStateDir(env));
  const byProvider = new Map<string, string[]>();
  for (const [machine, provider] of Object.entries(created)) byProvider.set(provider, [...(byProvider.get(provider) ?? []), machine]);
  if (byProvider.size === 0) return 'vagrant (no VM created here)';
  if (byProvider.size === 1) return `vagrant (${[...byProvider.keys()][0]})`;
  return `vagrant (${[...byProvider]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([p, ms]) => `${p}: ${ms.join(', ')}`)
    .join('; ')})`;
}

/** The commit the harness ran from: GITHUB_SHA in CI, else `git rev-parse HEAD`, else 'unknown'. */
export function harnessCommit(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GITHUB_SHA) return env.GITHUB_SHA;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
    }).trim();
  } catch {
    return 'unknown';
  }
}
