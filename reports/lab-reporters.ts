/**
 * The reporters of a lab run (vitest.config.ts: `reporters: ['default', ...labReporters()]`).
 *
 * Both are active only when the `lab` project runs: `npx vitest run --project self` writes no Allure results
 * and no JUnit file (vitest's project filter decides, read in onInit), and `npm run test:self` replaces the
 * config's reporters with its own on the command line anyway.
 *
 * - LabAllureReporter: allure-vitest with `reportMatchers: false`, results in a folder of their own per run,
 *   reports/<version>/runs/<UTC time>-<run id>/allure-results (one run = one report; nothing of an earlier run is
 *   moved or deleted: `npm run report` reports every run folder in order, then removes it), the Cilium version as a label on every result and
 *   as a parameter, the run id as an excluded parameter, environment info and executor.json, the lab
 *   categories, and a writer that redacts every attachment, message and trace before it reaches the disk.
 *   It publishes the results folder in CLH_ALLURE_RESULTS_DIR so the global setup can add what it learns
 *   about the lab (helpers/report.ts `recordLabEnvironment`).
 * - LabJUnitReporter: vitest's JUnit XML in the run folder, redacted, copied to reports/<version>/junit.xml for CI
 *   systems that read it. It ends the run: a run that started no scenario (no test file selected, stopped by the
 *   global setup) leaves no run folder and does not touch reports/<version>/junit.xml.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Status } from 'allure-js-commons';
import AllureVitestReporter, { type AllureVitestReporterConfig } from 'allure-vitest/reporter';
import type { RunnerTask } from 'vitest';
import { JUnitReporter, type TestModule, type Vitest } from 'vitest/node';
import { resolveRunId } from '../helpers/lab/lab-access.ts';
import { redact, redactValue } from '../helpers/report/redact.ts';
import { allure2Categories } from './categories.ts';
import {
  ciliumVersionFromEnv,
  harnessCommit,
  labRunCiliumVersion,
  reportsRoot,
  RESULTS_DIR_ENV,
  RUN_ID_ENV,
  runFolderName,
  UNKNOWN_VERSION,
  versionPaths,
  type VersionPaths,
} from './run-context.ts';

export const CILIUM_VERSION_LABEL = 'cilium_version';
export const CILIUM_VERSION_PARAMETER = 'Cilium version';
export const RUN_ID_PARAMETER = 'run id';
/** Set by the first lab reporter of a run: this run's folder (reports/<version>/runs/<time>-<run id>). */
export const RUN_DIR_ENV = 'CLH_RUN_DIR';

export interface LabReportersOptions {
  /** Defaults to CILIUM_VERSION (or 'unknown'). */
  version?: string;
  /** The reports folder; defaults to reports/ (or CLH_REPORTS_DIR). */
  root?: string;
  /** Projects whose tests are reported; defaults to ['lab']. */
  projects?: string[];
  /** Check CILIUM_VERSION against lab/versions.yaml's pattern (default true; fixtures with fake versions turn it off). */
  checkVersionPattern?: boolean;
  env?: NodeJS.ProcessEnv;
}

interface Resolved {
  paths: VersionPaths;
  projects: string[];
  env: NodeJS.ProcessEnv;
  /** A bad CILIUM_VERSION fails the lab run when it starts, never the loading of vitest.config.ts. */
  problem: string | null;
}

function resolve(o: LabReportersOptions): Resolved {
  const env = o.env ?? process.env;
  const root = o.root ?? reportsRoot(env);
  const projects = o.projects ?? ['lab'];
  try {
    const version = o.version ?? (o.checkVersionPattern === false ? ciliumVersionFromEnv(env) : labRunCiliumVersion(env));
    return { paths: versionPaths(version, root), projects, env, problem: null };
  } catch (err) {
    return { paths: versionPaths(UNKNOWN_VERSION, root), projects, env, problem: (err as Error).message };
  }
}

/** True when one of the reported projects is part of this vitest run; throws if the version was unusable. */
function labIsRunning(vitest: Vitest, lab: Resolved): boolean {
  const running = vitest.projects.some((p) => lab.projects.includes(p.name));
  if (running && lab.problem) throw new Error(`lab reporters: ${lab.problem}`);
  return running;
}

/**
 * This run's folder, the same for both reporters: reports/<version>/runs/<UTC time>-<run id>. The run id is
 * LAB_RUN_ID when set, else a new one, published in LAB_RUN_ID so the global setup and the workers use it too.
 */
export function runFolder(lab: Pick<Resolved, 'paths' | 'env'>, now: Date = new Date()): string {
  const given = lab.env[RUN_DIR_ENV];
  if (given && path.dirname(given) === lab.paths.runsDir) return given;
  const runId = resolveRunId(lab.env, now);
  lab.env.LAB_RUN_ID = runId;
  const dir = path.join(lab.paths.runsDir, runFolderName(runId, now));
  lab.env[RUN_DIR_ENV] = dir;
  return dir;
}

/** True when the run wrote at least one test result (it started a scenario). */
export function runStartedAScenario(runDir: string): boolean {
  const results = path.join(runDir, 'allure-results');
  return existsSync(results) && readdirSync(results).some((f) => f.endsWith('-result.json'));
}

/** Static facts known when the run starts; the global setup adds the lab's (Kubernetes, kernel, routing…). */
export function staticEnvironment(version: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const info: Record<string, string> = {
    cilium_version_requested: version,
    harness_commit: harnessCommit(env),
    node: process.version,
    runner_host: env.RUNNER_NAME ?? os.hostname(),
  };
  if (env.GITHUB_RUN_ID && env.GITHUB_REPOSITORY) {
    info.ci_run = `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`;
  }
  return info;
}

/** executor.json: where the run came from, shown by Allure next to the report name. Null outside CI. */
export function executorInfo(version: string, env: NodeJS.ProcessEnv = process.env): Record<string, string | number> | null {
  if (!env.GITHUB_RUN_ID || !env.GITHUB_REPOSITORY) return null;
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  return {
    name: 'GitHub Actions',
    type: 'github',
    buildName: `${env.GITHUB_WORKFLOW ?? 'nightly'} #${env.GITHUB_RUN_NUMBER ?? env.GITHUB_RUN_ID}`,
    buildOrder: Number(env.GITHUB_RUN_NUMBER ?? 0),
    buildUrl: `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}`,
    reportName: `Cilium ${version}`,
  };
}

/** The allure-vitest configuration of a lab run. Exported for tests. */
export function labAllureConfig(
  paths: VersionPaths,
  env: NodeJS.ProcessEnv = process.env,
  skipNote: () => string | undefined = () => undefined,
): AllureVitestReporterConfig {
  return {
    resultsDir: paths.resultsDir,
    reportMatchers: false,
    environmentInfo: staticEnvironment(paths.version, env),
    globalLabels: { [CILIUM_VERSION_LABEL]: paths.version },
    categories: allure2Categories().map((c) => ({
      ...c,
      matchedStatuses: c.matchedStatuses.map((st) => (st === 'failed' ? Status.FAILED : Status.BROKEN)),
    })),
    listeners: [
      {
        // Before the history id is computed: the version is part of identity, the run id is not.
        beforeTestResultStop: (result) => {
          if (!result.parameters.some((p) => p.name === CILIUM_VERSION_PARAMETER)) {
            result.parameters.push({ name: CILIUM_VERSION_PARAMETER, value: paths.version });
          }
          const runId = env[RUN_ID_ENV];
          if (runId && !result.parameters.some((p) => p.name === RUN_ID_PARAMETER)) {
            result.parameters.push({ name: RUN_ID_PARAMETER, value: runId, excluded: true });
          }
          // allure-vitest drops the reason given to ctx.skip(reason); a skipped scenario must say why.
          const note = skipNote();
          if (result.status === Status.SKIPPED && note && !result.statusDetails?.message) {
            result.statusDetails = { ...result.statusDetails, message: note };
          }
        },
      },
    ],
  };
}

type Writer = {
  writeResult(result: unknown): void;
  writeGroup(result: unknown): void;
  writeAttachment(distFileName: string, content: Buffer): void;
  writeAttachmentFromPath(distFileName: string, from: string): void;
  writeEnvironmentInfo(info: Record<string, string | undefined>): void;
  writeCategoriesDefinitions(categories: unknown[]): void;
  writeGlobals(distFileName: string, info: unknown): void;
};

/** The buffer as text when it is UTF-8 text (no NUL, decodes and re-encodes to the same bytes), else null. */
function asText(content: Buffer): string | null {
  if (content.includes(0)) return null;
  const text = content.toString('utf8');
  return Buffer.from(text, 'utf8').equals(content) ? text : null;
}

/** Wraps an Allure writer so nothing secret reaches the results folder, whoever attached it. */
export function redactingWriter(inner: Writer): Writer {
  const clean = <T>(v: T): T => redactValue(v) as T;
  const attachment = (name: string, content: Buffer): void => {
    const text = asText(content);
    inner.writeAttachment(name, text === null ? content : Buffer.from(redact(text), 'utf8'));
  };
  return {
    writeResult: (r) => inner.writeResult(clean(r)),
    writeGroup: (g) => inner.writeGroup(clean(g)),
    writeAttachment: attachment,
    writeAttachmentFromPath: (name, from) => attachment(name, readFileSync(from)),
    writeEnvironmentInfo: (info) => inner.writeEnvironmentInfo(clean(info)),
    writeCategoriesDefinitions: (c) => inner.writeCategoriesDefinitions(c),
    writeGlobals: (name, g) => inner.writeGlobals(name, clean(g)),
  };
}

export class LabAllureReporter extends AllureVitestReporter {
  private readonly lab: Resolved;
  private readonly current: { skipNote?: string };
  private active = false;

  constructor(o: LabReportersOptions = {}) {
    const lab = resolve(o);
    const current: { skipNote?: string } = {};
    super(labAllureConfig(lab.paths, lab.env, () => current.skipNote));
    this.lab = lab;
    this.current = current;
  }

  override onInit(vitest: Vitest): void {
    this.active = labIsRunning(vitest, this.lab);
    if (!this.active) return;
    // One run = one report, and no run is ever lost: each run writes to a folder of its own, and nothing of an
    // earlier run is moved or deleted here (`npm run report` reports each run folder in order, then removes it).
    const resultsDir = path.join(runFolder(this.lab), 'allure-results');
    (this as unknown as { config: { resultsDir?: string } }).config.resultsDir = resultsDir;
    super.onInit(vitest);
    const self = this as unknown as { allureReporterRuntime?: { writer?: Writer } };
    const runtime = self.allureReporterRuntime;
    if (!runtime?.writer)
      throw new Error('allure-vitest internals changed: cannot install the redacting writer (see reports/lab-reporters.ts)');
    runtime.writer = redactingWriter(runtime.writer);
    const executor = executorInfo(this.lab.paths.version, this.lab.env);
    if (executor) writeFileSync(path.join(resultsDir, 'executor.json'), JSON.stringify(executor, null, 2));
    this.lab.env[RESULTS_DIR_ENV] = resultsDir;
  }

  override onTestRunEnd(tests: ReadonlyArray<TestModule>): void {
    if (this.active) super.onTestRunEnd(tests);
  }

  override handleTask(task: RunnerTask): void {
    const project = task.file?.projectName ?? '';
    if (!this.lab.projects.includes(project)) return;
    // super.handleTask recurses through this override, so each test sets its own note before it is written.
    if (task.type === 'test') this.current.skipNote = (task.result as { note?: string } | undefined)?.note;
    super.handleTask(task);
  }
}

export class LabJUnitReporter extends JUnitReporter {
  private readonly lab: Resolved;
  private active = false;
  private runDir = '';

  constructor(o: LabReportersOptions = {}) {
    const lab = resolve(o);
    super({ outputFile: lab.paths.junitFile, suiteName: `cilium-lab-harness (Cilium ${lab.paths.version})` });
    this.lab = lab;
  }

  override async onInit(vitest: Vitest): Promise<void> {
    this.active = labIsRunning(vitest, this.lab);
    if (!this.active) return;
    // vitest opens (and so empties) its output file when the run starts: it is the run's own, never the last run's.
    this.runDir = runFolder(this.lab);
    mkdirSync(this.runDir, { recursive: true });
    (this as unknown as { options: { outputFile?: string } }).options.outputFile = path.join(this.runDir, 'junit.xml');
    await super.onInit(vitest);
  }

  override async onTestRunEnd(testModules: ReadonlyArray<TestModule>): Promise<void> {
    if (!this.active) return;
    await super.onTestRunEnd(testModules.filter((m) => this.lab.projects.includes(m.project.name)));
    const file = path.join(this.runDir, 'junit.xml');
    if (existsSync(file)) writeFileSync(file, redact(readFileSync(file, 'utf8')));
    // Runs after the Allure reporter (labReporters order): a run that started no scenario leaves nothing behind.
    if (!runStartedAScenario(this.runDir)) {
      rmSync(this.runDir, { recursive: true, force: true });
      return;
    }
    if (existsSync(file)) copyFileSync(file, this.lab.paths.junitFile);
  }
}

/** Allure + JUnit for lab runs, filed under the Cilium version (in this order: the JUnit reporter ends the run). */
export function labReporters(o: LabReportersOptions = {}): [LabAllureReporter, LabJUnitReporter] {
  return [new LabAllureReporter(o), new LabJUnitReporter(o)];
}
