/**
 * The Allure report opens at its top (name, statistics, then the tree): the awesome app scrolls its tree container
 * to the first failed test as it loads, which hides the summary. A report made by `npm run report`'s function from
 * the fixture results, opened from file:// in Debian's headless Chromium.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runReport } from '../../reports/report.ts';
import { versionPaths } from '../../reports/run-context.ts';

const CHROMIUM = '/usr/bin/chromium';
const FIXTURE = fileURLToPath(new URL('../fixtures/report/allure-results', import.meta.url));
type Scrollable = { scrollTop: number };

describe.skipIf(!existsSync(CHROMIUM))(`the Allure report opens at its top (needs ${CHROMIUM})`, () => {
  let root = '';
  let browser: Browser;
  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'clh-top-'));
    cpSync(FIXTURE, versionPaths('9.9.9', root).resultsDir, { recursive: true });
    await runReport({ root, versions: ['9.9.9'], log: () => undefined });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test('after it has rendered its tree, nothing is scrolled and the report name is on screen', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 700 } });
    await page.route('**/*', (route) => (/^(file|data|blob):/.test(route.request().url()) ? route.continue() : route.abort()));
    await page.goto(pathToFileURL(versionPaths('9.9.9', root).reportFile).href);
    await page
      .getByText('a product failure: the backend answers from the wrong pod')
      .first()
      .waitFor({ state: 'visible', timeout: 30_000 });
    await page.waitForTimeout(3000);
    const scrolled = await page.locator('[data-tree-scroll-container]').evaluateAll((els) => els.map((el) => (el as Scrollable).scrollTop));
    expect(scrolled.length).toBeGreaterThan(0);
    expect(
      scrolled.every((top) => top === 0),
      `scrollTop of the tree containers: ${scrolled.join(', ')}`,
    ).toBe(true);
    expect(await page.getByText('Cilium 9.9.9', { exact: true }).first().isVisible(), 'the report name is on screen').toBe(true);
    // A reader scrolling the tree is left alone.
    await page.mouse.move(600, 400);
    await page.mouse.wheel(0, 300);
    await page.waitForTimeout(500);
    const after = await page.locator('[data-tree-scroll-container]').evaluateAll((els) => els.map((el) => (el as Scrollable).scrollTop));
    expect(Math.max(...after)).toBeGreaterThan(0);
    await page.close();
  }, 90_000);
});
