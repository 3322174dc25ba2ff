/**
 * End to end, without a lab: a small vitest run with the lab reporters (test/fixtures/allure-fixture: passes,
 * fails, breaks, skips, attaches a real-looking kubeconfig and bearer token) for two fake Cilium versions,
 * then `npm run report`'s function, then Debian's headless Chromium opening every page from file://.
 * Proves: each version's report exists and renders from a file (content, not the loading spinner); history
 * grows by one line per lab run and not per report call; the cross-version page lists both versions with
 * pass/fail/skip, durations and the measured numbers, and links into each report; no analytics script in any
 * generated HTML and no request leaves the machine; no secret in any attachment, result, JUnit file or page.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { findAnalytics } from '../../reports/allure-html.ts';
import { runReport, type VersionOutcome } from '../../reports/report.ts';
import { parseSummary } from '../../reports/results.ts';
import { REPO_ROOT, versionPaths } from '../../reports/run-context.ts';
import { fakeCredentials } from '../fixtures/report/secrets.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const FIXTURE_CONFIG = path.join('test', 'fixtures', 'allure-fixture', 'vitest.config.ts');
const A = '9.1.0-fake';
const B = '9.2.0-fake';

const creds = fakeCredentials();
const SECRETS = [...creds.secrets, creds.token, creds.password];
let root = '';
let credsFile = '';
let truncated = '';

/** The fixture suite in a child vitest, as a lab run of `version` would be. Exit 1: it has failing tests on purpose. */
async function labRun(version: string, extra: Record<string, string>): Promise<void> {
  const failed = extra.FIXTURE_INGRESS_FAILS === '1' ? 4 : 3;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^VITEST|^TEST$|^NODE_ENV$/.test(k)) env[k] = v;
  const r = await execa(path.join(REPO_ROOT, 'node_modules', '.bin', 'vitest'), ['run', '--config', FIXTURE_CONFIG], {
    cwd: REPO_ROOT,
    env: {
      ...env,
      NO_COLOR: '1',
      FORCE_COLOR: '0',
      CILIUM_VERSION: version,
      CLH_REPORTS_DIR: root,
      FIXTURE_CREDENTIALS: credsFile,
      CLH_RUN_ID: `r-${version}`,
      ...extra,
    },
    extendEnv: false,
    reject: false,
    timeout: 90_000,
    all: true,
  });
  expect(r.exitCode, `fixture run for ${version}:\n${r.all.slice(-3000)}`).toBe(1);
  expect(r.all).toMatch(new RegExp(String.raw`Tests\s+${failed} failed \| ${5 - failed} passed \| 1 skipped \(6\)`));
}

function historyLines(version: string): number {
  const f = versionPaths(version, root).historyFile;
  return existsSync(f)
    ? readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '').length
    : 0;
}

const reportLog: string[] = [];

async function report(o: { allowBroken?: boolean } = {}): Promise<Map<string, VersionOutcome['state']>> {
  const r = await runReport({ root, log: (l) => reportLog.push(l), ...o });
  runsReported.push(Object.fromEntries(r.outcomes.map((x) => [x.version, x.runsReported.length])));
  return new Map(r.outcomes.map((o) => [o.version, o.state]));
}
const runsReported: Record<string, number>[] = [];

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

/** A file's text plus, for a single-file Allure report, every embedded d("name","base64") payload decoded. */
function readable(file: string): string {
  const text = readFileSync(file, 'utf8');
  if (!file.endsWith('.html')) return text;
  const decoded = [...text.matchAll(/\bd\("([^"]+)","([A-Za-z0-9+/=]*)"\)/g)].map((m) =>
    Buffer.from(m[2] ?? '', 'base64').toString('utf8'),
  );
  return [text, ...decoded].join('\n');
}

/** The Allure app replaced its loading spinner with the test tree (failed tests open by default). */
async function reportRendered(page: Page): Promise<void> {
  await page.getByText('a product failure: the backend answers from the wrong pod').first().waitFor({ state: 'visible', timeout: 30_000 });
  await page.locator('#allure-app-loader').waitFor({ state: 'hidden', timeout: 5_000 });
}

const haveChromium = existsSync(CHROMIUM);

describe.skipIf(!haveChromium)(`npm run report for two Cilium versions (needs ${CHROMIUM}: apt-get install chromium)`, () => {
  const states: Map<string, VersionOutcome['state']>[] = [];
  const history: Record<string, number>[] = [];

  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'clh-report-'));
    credsFile = path.join(root, 'fixture-credentials.json');
    writeFileSync(credsFile, JSON.stringify({ kubeconfig: creds.kubeconfig, token: creds.token, password: creds.password }));
    await labRun(A, { FIXTURE_FAILOVER_S: '3.2', FIXTURE_OUTAGE_S: '2.5' });
    await labRun(B, { FIXTURE_FAILOVER_S: '7.25', FIXTURE_OUTAGE_S: '6', FIXTURE_INGRESS_FAILS: '1' });
    rmSync(credsFile);
    states.push(await report());
    history.push({ [A]: historyLines(A), [B]: historyLines(B) });
    states.push(await report()); // no new lab run: nothing to append
    history.push({ [A]: historyLines(A), [B]: historyLines(B) });
    writeFileSync(credsFile, JSON.stringify({ kubeconfig: creds.kubeconfig, token: creds.token, password: creds.password }));
    // The next night, A only, run twice before anyone reports (a re-run): both runs are kept and reported in order.
    await labRun(A, { FIXTURE_FAILOVER_S: '3.3', FIXTURE_OUTAGE_S: '2.6' });
    await labRun(A, { FIXTURE_FAILOVER_S: '3.4', FIXTURE_OUTAGE_S: '2.75' });
    rmSync(credsFile);
    states.push(await report());
    history.push({ [A]: historyLines(A), [B]: historyLines(B) });
    // Then one of B's result files is truncated: named with the reason, not reported, unless --allow-broken.
    const bResults = versionPaths(B, root).resultsDir;
    const victim = readdirSync(bResults).find(
      (f) => f.endsWith('-result.json') && readFileSync(path.join(bResults, f), 'utf8').includes('"skipped at run time with a reason"'),
    );
    const text = readFileSync(path.join(bResults, victim!), 'utf8');
    writeFileSync(path.join(bResults, victim!), text.slice(0, text.indexOf('"status"') + 12));
    truncated = victim!;
    states.push(await report());
    states.push(await report({ allowBroken: true }));
  }, 400_000);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test('each version has one report file, regenerated only when there are new results', () => {
    expect([...states[0]!.entries()]).toEqual([
      [A, 'generated'],
      [B, 'generated'],
    ]);
    expect([...states[1]!.entries()]).toEqual([
      [A, 'up-to-date'],
      [B, 'up-to-date'],
    ]);
    expect([...states[2]!.entries()]).toEqual([
      [A, 'generated'],
      [B, 'up-to-date'],
    ]);
    expect(runsReported.slice(0, 3)).toEqual([
      { [A]: 1, [B]: 1 },
      { [A]: 0, [B]: 0 },
      { [A]: 2, [B]: 0 },
    ]);
    // Reported runs leave no run folder; the last one's results are the version's allure-results.
    expect(
      existsSync(path.join(versionPaths(A, root).dir, 'runs')) ? readdirSync(path.join(versionPaths(A, root).dir, 'runs')) : [],
    ).toEqual([]);
    for (const v of [A, B]) {
      const p = versionPaths(v, root);
      expect(existsSync(p.reportFile), p.reportFile).toBe(true);
      // Single-file mode: the page carries its data, no data/ folder beside it.
      expect(existsSync(path.join(p.reportDir, 'data'))).toBe(false);
      expect(readFileSync(p.junitFile, 'utf8')).toMatch(new RegExp(`<testsuites[^>]+tests="6"[^>]+failures="${v === B ? 4 : 3}"`));
    }
  });

  test('history grows by one line per lab run, kept between runs, even for two runs before one report', () => {
    expect(history).toEqual([
      { [A]: 1, [B]: 1 },
      { [A]: 1, [B]: 1 },
      { [A]: 3, [B]: 1 },
    ]);
  });

  test('an unreadable result file is named with the reason; its version is reported only with --allow-broken', () => {
    expect(states[3]?.get(B)).toBe('no-results');
    expect(reportLog).toContain(
      `Cilium ${B}: unreadable result ${path.join(versionPaths(B, root).resultsDir, truncated)}: not JSON (Unterminated string in JSON at position ${readFileSync(path.join(versionPaths(B, root).resultsDir, truncated), 'utf8').length})`,
    );
    expect(states[4]?.get(B)).toBe('generated');
    const b = parseSummary(readFileSync(versionPaths(B, root).summaryFile, 'utf8')).summary;
    expect(b?.scenarios.find((s) => s.title === 'skipped at run time with a reason')?.status).toBe('unreadable');
  });

  test('the second night knows what changed', () => {
    const a = parseSummary(readFileSync(versionPaths(A, root).summaryFile, 'utf8')).summary;
    expect(a?.previousGeneratedAt).not.toBeNull();
    expect(a?.scenarios.every((s) => s.previousStatus === s.status)).toBe(true);
    expect(a?.scenarios.find((s) => s.title.startsWith('failover'))?.measurements).toEqual([
      { name: 'failover time', value: 3.4, unit: 's' },
      { name: 'outage', value: 2.75, unit: 's' },
    ]);
  });

  test('no analytics script in any generated HTML', () => {
    const html = allFiles(root).filter((f) => f.endsWith('.html'));
    expect(html.length).toBe(3);
    for (const f of html) {
      const text = readFileSync(f, 'utf8');
      expect(findAnalytics(text), f).toEqual([]);
      expect(text, f).not.toContain('googletagmanager');
    }
  });

  test('no secret in any attachment, result, JUnit file, history, summary or page', () => {
    const files = allFiles(root);
    const attachments = files.filter((f) => /-attachment\.\w+$/.test(f));
    // The fixture attaches a kubeconfig, a curl log, a raw header (past the helpers) and a failure log per run.
    expect(attachments.length).toBeGreaterThanOrEqual(8);
    const kubeconfig = attachments.map((f) => readFileSync(f, 'utf8')).find((t) => t.includes('certificate-authority-data'));
    expect(kubeconfig).toContain('server: https://192.168.10.100:6443');
    expect(kubeconfig).toMatch(/client-key-data: "?\[REDACTED\]"?\n/);
    for (const f of files) {
      const text = readable(f);
      for (const s of SECRETS) expect(text.includes(s), `${s.slice(0, 10)}… in ${path.relative(root, f)}`).toBe(false);
    }
  });

  describe('in headless Chromium, from file://', () => {
    let ctx: BrowserContext;
    let page: Page;
    let profile = '';
    const external: string[] = [];

    beforeAll(async () => {
      profile = mkdtempSync(path.join(os.tmpdir(), 'clh-chromium-'));
      ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
      await ctx.route('**/*', async (route) => {
        const url = route.request().url();
        if (url.startsWith('file:') || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
        external.push(url);
        return route.abort();
      });
      page = ctx.pages()[0] ?? (await ctx.newPage());
    }, 60_000);

    afterAll(async () => {
      await ctx?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
    });

    for (const v of [A, B]) {
      test(`the Cilium ${v} report renders its tests, not a spinner`, async () => {
        await page.goto(pathToFileURL(versionPaths(v, root).reportFile).href);
        await reportRendered(page);
        const text = await page.locator('body').innerText();
        expect(text).toContain(`Cilium ${v}`);
        expect(text).toContain('a broken lab: the router does not answer SSH');
        // Grouped by epic > feature > story; passed groups start closed and open on a click (the app
        // remembers open groups between pages, so only closed ones are clicked).
        const path = ['Load balancing', 'L2 announcements', 'failover', 'failover moves the LB IP to another node'];
        for (let i = 0; i + 1 < path.length; i++) {
          if (
            await page
              .getByText(path[i + 1]!, { exact: true })
              .first()
              .isVisible()
          )
            continue;
          await page.getByText(path[i]!, { exact: true }).first().click();
        }
        await page.getByText(path.at(-1)!, { exact: true }).first().waitFor({ state: 'visible', timeout: 10_000 });
      }, 60_000);
    }

    test('the cross-version page lists both versions, cell by cell, and links into each report', async () => {
      await page.goto(pathToFileURL(path.join(root, 'index.html')).href);
      const heads = await Promise.all(
        (await page.locator('#scenarios thead th[data-version]').all()).map((th) => th.getAttribute('data-version')),
      );
      expect(heads).toEqual([A, B]);
      const cell = async (title: string, v: string): Promise<string> =>
        (
          await page
            .locator('#scenarios tr', { has: page.getByText(title, { exact: true }) })
            .locator(`td[data-version="${v}"]`)
            .innerText()
        ).replace(/\s+/g, ' ');
      expect(await cell('failover moves the LB IP to another node', A)).toMatch(/^pass \d+ ms failover time 3\.4 s · outage 2\.75 s$/);
      expect(await cell('failover moves the LB IP to another node', B)).toMatch(/^pass \d+ ms failover time 7\.25 s · outage 6 s$/);
      expect(await cell('shared ingress answers on its LB IP', A)).toMatch(/^pass /);
      expect(await cell('shared ingress answers on its LB IP', B)).toMatch(/^fail \d+ ms HTTP status from the ingress/);
      expect(await cell('a product failure: the backend answers from the wrong pod', A)).toMatch(/^fail /);
      expect(await cell('a broken lab: the router does not answer SSH', B)).toMatch(/^lab unreachable /);
      expect(await cell('a broken lab: a wait runs out of time', B)).toMatch(/^lab timeout /);
      expect(await cell('skipped at run time with a reason', A)).toMatch(/^skip .*requires Cilium >= 1\.99/);
      expect(await cell('skipped at run time with a reason', B)).toMatch(/^unreadable result .*-result\.json: not JSON/);
      const measured = await page.locator('#measurements td[data-measurement="failover time"]').allInnerTexts();
      expect(measured).toEqual(['3.4 s', '7.25 s']);
      await page.locator(`#scenarios thead a[href="${B}/report/index.html"]`).click();
      await reportRendered(page);
      expect(await page.locator('body').innerText()).toContain(`Cilium ${B}`);
      expect(page.url()).toBe(pathToFileURL(versionPaths(B, root).reportFile).href);
    }, 60_000);

    test('no page asked for anything outside the machine', () => {
      expect(external).toEqual([]);
    });
  });
});
