/**
 * The cross-version page stays readable with ten Cilium versions: rendered in Debian's headless Chromium from
 * file://, the scenario column keeps a readable width (no scenario name wrapped to a word per line) and the ten
 * version columns share the rest of a laptop-sized window.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { renderIndexPage } from '../../reports/index-page.ts';
import { readResults, summarize, type VersionSummary } from '../../reports/results.ts';

const CHROMIUM = '/usr/bin/chromium';
/** What the page code reads of an element (the project's TypeScript has no DOM library). */
type Boxed = { getBoundingClientRect(): { width: number } };
const FIXTURE = fileURLToPath(new URL('../fixtures/report/allure-results', import.meta.url));

/** Ten versions of the fixture run, each with a long failure message in one cell (the widest content a cell has). */
function tenVersions(): VersionSummary[] {
  const base = summarize({ version: 'x', reportHref: 'x', generatedAt: '2026-11-22T05:00:00.000Z', read: readResults(FIXTURE) });
  return Array.from({ length: 10 }, (_, i) => {
    const version = `1.${10 + i}.${i * 3}`;
    return {
      ...base,
      version,
      reportHref: `${version}/report/index.html`,
      scenarios: base.scenarios.map((s, j) =>
        j === i % base.scenarios.length
          ? {
              ...s,
              status: 'failed' as const,
              message: 'HTTP status from the ingress: expected 503 to be 200 after 30 attempts over 60 s from the router',
              category: { id: 'product-failure', name: 'Product failure (assertion)', short: 'fail' },
            }
          : s,
      ),
    };
  });
}

describe.skipIf(!existsSync(CHROMIUM))(`the cross-version page with ten versions (needs ${CHROMIUM})`, () => {
  let browser: Browser;
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'clh-ten-'));
    writeFileSync(path.join(dir, 'index.html'), renderIndexPage(tenVersions(), { generatedAt: '2026-11-22T05:00:00.000Z' }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('scenario names keep a readable width; the version columns share the rest of a 1366 px window', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
    await page.goto(pathToFileURL(path.join(dir, 'index.html')).href);
    const titles = await page.locator('#scenarios th[scope=row] .title').evaluateAll((els) =>
      // An inline element has one client rect per line it is laid out on.
      els.map((el) => ({ text: el.textContent ?? '', rects: el.getClientRects().length })),
    );
    expect(titles.length).toBeGreaterThan(3);
    for (const t of titles) {
      const words = t.text.split(/\s+/).length;
      // Never a word per line: a name of n words takes at most half as many lines (and never more than 3).
      expect(t.rects, `"${t.text}" is on ${t.rects} lines`).toBeLessThanOrEqual(Math.min(3, Math.max(1, Math.ceil(words / 2))));
    }
    const scenarioColumn = await page
      .locator('#scenarios thead th')
      .first()
      .evaluate((el) => (el as Boxed).getBoundingClientRect().width);
    expect(scenarioColumn).toBeGreaterThanOrEqual(220);
    const versionColumns = await page
      .locator('#scenarios thead th[data-version]')
      .evaluateAll((els) => els.map((el) => (el as Boxed).getBoundingClientRect().width));
    expect(versionColumns).toHaveLength(10);
    for (const w of versionColumns) expect(w).toBeGreaterThanOrEqual(70);
    // The table fits the window: no sideways scrolling to see the newest version.
    const overflow = await page.locator('html').evaluate((el) => {
      const root = el as unknown as { scrollWidth: number; clientWidth: number };
      return root.scrollWidth - root.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await page.close();
  }, 60_000);
});
