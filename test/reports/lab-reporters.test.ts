import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../fixtures/report/tmp.ts';
import { describe, expect, test } from 'vitest';
import type { Vitest } from 'vitest/node';
import {
  CILIUM_VERSION_LABEL,
  executorInfo,
  labAllureConfig,
  LabAllureReporter,
  LabJUnitReporter,
  labReporters,
  redactingWriter,
  staticEnvironment,
} from '../../reports/lab-reporters.ts';
import { RESULTS_DIR_ENV, runFolders, versionPaths } from '../../reports/run-context.ts';
import { fakeCredentials } from '../fixtures/report/secrets.ts';

/** Just enough of vitest's Vitest object for the reporters' onInit. */
function fakeVitest(...projects: string[]): Vitest {
  return {
    config: { root: '/' },
    logger: { log: () => undefined },
    projects: projects.map((name) => ({
      name,
      config: { browser: { enabled: false }, setupFiles: [] as string[], runner: undefined },
      provide: () => undefined,
    })),
  } as unknown as Vitest;
}

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/**
 * One lab run as vitest drives the two reporters (separate process: its own environment); `scenarios` result files
 * are written where allure-vitest writes them. Returns the run's folder.
 */
async function labRun(root: string, runId: string, scenarios: string[]): Promise<string> {
  const env: NodeJS.ProcessEnv = { LAB_RUN_ID: runId };
  const [allure, junit] = labReporters({ version: '1.18.6', root, env });
  allure.onInit(fakeVitest('lab'));
  await junit.onInit(fakeVitest('lab'));
  const dir = env[RESULTS_DIR_ENV] ?? '';
  for (const name of scenarios) writeFileSync(path.join(dir, `${runId}-${name}-result.json`), JSON.stringify({ name, status: 'passed' }));
  allure.onTestRunEnd([]);
  await junit.onTestRunEnd([]);
  return path.dirname(dir);
}

describe('labAllureConfig', () => {
  const paths = versionPaths('1.18.6', '/r');

  test('reportMatchers off, results in reports/<version>/allure-results, version label, categories', () => {
    const c = labAllureConfig(paths, {});
    expect(c.reportMatchers).toBe(false);
    expect(c.resultsDir).toBe('/r/1.18.6/allure-results');
    expect(c.globalLabels).toEqual({ [CILIUM_VERSION_LABEL]: '1.18.6' });
    expect(c.categories?.map((x) => x.name)).toEqual(['Lab unreachable', 'Lab timeout', 'Product failure (assertion)', 'Harness error']);
    expect(c.environmentInfo?.cilium_version_requested).toBe('1.18.6');
  });

  test('every result gets the Cilium version as a parameter and the run id excluded from history identity', () => {
    let note: string | undefined = 'requires Cilium >= 1.99';
    const c = labAllureConfig(paths, { CLH_RUN_ID: 'r20261122-0349-ab12' }, () => note);
    const stop = c.listeners?.[0]?.beforeTestResultStop;
    const result = { status: 'skipped', parameters: [] as { name: string; value: string; excluded?: boolean }[], statusDetails: {} };
    stop?.(result as never);
    expect(result.parameters).toEqual([
      { name: 'Cilium version', value: '1.18.6' },
      { name: 'run id', value: 'r20261122-0349-ab12', excluded: true },
    ]);
    expect(result.statusDetails).toEqual({ message: 'requires Cilium >= 1.99' });
    // Idempotent, and a run id set by describeScenario wins.
    const again = { status: 'passed', parameters: [{ name: 'run id', value: 'mine', excluded: true }], statusDetails: {} };
    note = undefined;
    stop?.(again as never);
    stop?.(again as never);
    expect(again.parameters).toEqual([
      { name: 'run id', value: 'mine', excluded: true },
      { name: 'Cilium version', value: '1.18.6' },
    ]);
    expect(again.statusDetails).toEqual({});
  });
});

describe('redactingWriter', () => {
  const c = fakeCredentials();
  function capture() {
    const seen: Record<string, unknown> = {};
    const inner = {
      writeResult: (r: unknown) => (seen.result = r),
      writeGroup: (g: unknown) => (seen.group = g),
      writeAttachment: (n: string, b: Buffer) => (seen[n] = b),
      writeAttachmentFromPath: () => {
        throw new Error('must go through writeAttachment');
      },
      writeEnvironmentInfo: (i: unknown) => (seen.env = i),
      writeCategoriesDefinitions: (x: unknown) => (seen.categories = x),
      writeGlobals: (n: string, g: unknown) => (seen[n] = g),
    };
    return { seen, writer: redactingWriter(inner) };
  }

  test('text attachments, results and globals lose their secrets; binary attachments are untouched', () => {
    const { seen, writer } = capture();
    writer.writeAttachment('a-attachment.yaml', Buffer.from(c.kubeconfig));
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    writer.writeAttachment('b-attachment.png', png);
    const file = path.join(tempDir('clh-w-'), 'log.txt');
    writeFileSync(file, `Authorization: Bearer ${c.token}`);
    writer.writeAttachmentFromPath('c-attachment.txt', file);
    writer.writeResult({
      name: 't',
      statusDetails: { message: `token: ${c.token}`, trace: `password=${c.password}` },
      steps: [{ name: `sshpass -p ${c.password} ssh vagrant@router` }],
    });
    writer.writeGlobals('g-globals.json', { errors: [{ message: `Bearer ${c.token}` }] });
    const all = JSON.stringify(Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('utf8') : v])));
    for (const s of [c.token, c.password, ...c.secrets]) expect(all).not.toContain(s);
    expect(seen['b-attachment.png']).toEqual(png);
    expect((seen['a-attachment.yaml'] as Buffer).toString()).toContain('server: https://192.168.10.100:6443');
  });
});

describe('the reporters stand aside unless the lab project runs', () => {
  test('self-only run: no results folder, no JUnit file', async () => {
    const root = tempDir('clh-lr-');
    const env: NodeJS.ProcessEnv = {};
    const allure = new LabAllureReporter({ version: '1.18.6', root, env });
    const junit = new LabJUnitReporter({ version: '1.18.6', root, env });
    allure.onInit(fakeVitest('self'));
    await junit.onInit(fakeVitest('self'));
    allure.onTestRunEnd([]);
    await junit.onTestRunEnd([]);
    expect(existsSync(path.join(root, '1.18.6'))).toBe(false);
    expect(env[RESULTS_DIR_ENV]).toBeUndefined();
  });

  test('lab run: results in a folder of its own (reports/<version>/runs/<time>-<run id>), earlier results untouched, published to the setup', () => {
    const root = tempDir('clh-lr-');
    const stale = path.join(root, '1.18.6', 'allure-results', 'old-result.json');
    mkdirSync(path.dirname(stale), { recursive: true });
    writeFileSync(stale, '{}');
    writeFileSync(path.join(root, '1.18.6', 'history.jsonl'), '{"uuid":"kept"}\n');
    const env: NodeJS.ProcessEnv = {
      GITHUB_RUN_ID: '42',
      GITHUB_REPOSITORY: 'o/r',
      GITHUB_RUN_NUMBER: '7',
      LAB_SSH_PASSWORD: 'not-in-env-file',
      LAB_RUN_ID: 'nightly-7',
    };
    new LabAllureReporter({ version: '1.18.6', root, env }).onInit(fakeVitest('lab'));
    const dir = env[RESULTS_DIR_ENV] ?? '';
    expect(path.relative(root, dir)).toMatch(/^1\.18\.6\/runs\/\d{8}T\d{6}\.\d{3}Z-nightly-7\/allure-results$/);
    expect(readFileSync(stale, 'utf8')).toBe('{}');
    expect(readFileSync(path.join(root, '1.18.6', 'history.jsonl'), 'utf8')).toContain('kept');
    expect(readFileSync(path.join(dir, 'environment.properties'), 'utf8')).toContain('cilium_version_requested=1.18.6');
    expect(JSON.parse(readFileSync(path.join(dir, 'categories.json'), 'utf8'))).toHaveLength(4);
    expect(JSON.parse(readFileSync(path.join(dir, 'executor.json'), 'utf8'))).toMatchObject({
      buildUrl: 'https://github.com/o/r/actions/runs/42',
      reportName: 'Cilium 1.18.6',
    });
  });

  test('an unusable CILIUM_VERSION fails the lab run when it starts, never the self-tests', () => {
    const root = tempDir('clh-lr-');
    const r = new LabAllureReporter({ root, env: { CILIUM_VERSION: '../../etc' } });
    expect(() => r.onInit(fakeVitest('self'))).not.toThrow();
    expect(() => new LabAllureReporter({ root, env: { CILIUM_VERSION: '../../etc' } }).onInit(fakeVitest('lab'))).toThrow(
      /not a usable Cilium version/,
    );
  });
});

describe('never lose a run', () => {
  test('runs that start no scenario (no file selected, stopped by the setup) leave nothing and destroy nothing', async () => {
    const root = tempDir('clh-lr-');
    await labRun(root, 'real-run', ['ping', 'failover']);
    const before = filesUnder(root);
    const junitBefore = readFileSync(path.join(root, '1.18.6', 'junit.xml'), 'utf8');
    await labRun(root, 'typo-1', []);
    await labRun(root, 'typo-2', []);
    expect(filesUnder(root)).toEqual(before);
    expect(before.filter((f) => f.endsWith('-result.json'))).toEqual([
      expect.stringMatching(/^1\.18\.6\/runs\/\d{8}T\d{6}\.\d{3}Z-real-run\/allure-results\/real-run-failover-result\.json$/),
      expect.stringMatching(/^1\.18\.6\/runs\/\d{8}T\d{6}\.\d{3}Z-real-run\/allure-results\/real-run-ping-result\.json$/),
    ]);
    expect(readFileSync(path.join(root, '1.18.6', 'junit.xml'), 'utf8')).toBe(junitBefore);
  });

  test('every run that started a scenario keeps its own folder until it is reported, in run order', async () => {
    const root = tempDir('clh-lr-');
    const first = await labRun(root, 'run-1', ['ping']);
    const second = await labRun(root, 'run-2', ['ping']);
    expect(runFolders(versionPaths('1.18.6', root))).toEqual([first, second]);
    expect(filesUnder(first)).toEqual(expect.arrayContaining(['allure-results/run-1-ping-result.json', 'junit.xml']));
    expect(filesUnder(second)).toEqual(expect.arrayContaining(['allure-results/run-2-ping-result.json', 'junit.xml']));
  });
});

test('static environment and executor info', () => {
  expect(staticEnvironment('1.18.6', { GITHUB_SHA: 'abc', RUNNER_NAME: 'lab-host-1' })).toMatchObject({
    cilium_version_requested: '1.18.6',
    harness_commit: 'abc',
    runner_host: 'lab-host-1',
  });
  expect(executorInfo('1.18.6', {})).toBeNull();
});
