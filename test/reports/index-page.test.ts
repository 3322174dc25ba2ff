import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { buildRows, cellWord, escapeHtml, formatDuration, renderIndexPage } from '../../reports/index-page.ts';
import { readResults, summarize, type ScenarioSummary, type VersionSummary } from '../../reports/results.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/report/allure-results', import.meta.url));

function versionFromFixture(version: string, tweak: (s: ScenarioSummary) => ScenarioSummary = (s) => s): VersionSummary {
  const s = summarize({
    version,
    reportHref: `${version}/report/index.html`,
    generatedAt: '2026-11-22T05:00:00.000Z',
    read: readResults(FIXTURE),
  });
  return { ...s, scenarios: s.scenarios.map(tweak) };
}

/** Cells of the scenario table as [scenario title, version, status, text]. */
function cells(html: string): string[][] {
  const out: string[][] = [];
  for (const row of html.matchAll(/<tr data-scenario="[^"]*"><th scope="row"><span class="title">([^<]*)<\/span>[\s\S]*?<\/tr>/g)) {
    for (const td of row[0].matchAll(/<td class="cell[^"]*" data-version="([^"]*)" data-status="([^"]*)"[^>]*>([\s\S]*?)<\/td>/g)) {
      out.push([
        row[1] ?? '',
        td[1] ?? '',
        td[2] ?? '',
        (td[3] ?? '')
          .replace(/<[^>]+>/g, ' ')
          .replace(/\s+/g, ' ')
          .trim(),
      ]);
    }
  }
  return out;
}

describe('renderIndexPage', () => {
  const a = versionFromFixture('1.18.6');
  const b = versionFromFixture('1.17.8', (s) =>
    s.title.startsWith('failover')
      ? {
          ...s,
          durationMs: 65_000,
          measurements: [
            { name: 'failover time', value: 7.25, unit: 's' },
            { name: 'outage', value: 6, unit: 's' },
          ],
        }
      : s.title.startsWith('shared ingress')
        ? {
            ...s,
            status: 'failed',
            category: { id: 'product-failure', name: 'Product failure (assertion)', short: 'fail' },
            message: 'HTTP status from the ingress: expected 503 to be 200',
            previousStatus: 'passed',
          }
        : s,
  );
  const html = renderIndexPage([a, b], { generatedAt: '2026-11-22T05:00:00.000Z' });

  test('one column per version, oldest first, each linking to its report', () => {
    const heads = [...html.matchAll(/<th scope="col" data-version="([^"]+)"><a href="([^"]+)">/g)].map((m) => [m[1], m[2]]);
    expect(heads).toEqual([
      ['1.17.8', '1.17.8/report/index.html'],
      ['1.18.6', '1.18.6/report/index.html'],
    ]);
  });

  test('one row per scenario, a cell per version with pass/fail/skip, duration and measurements', () => {
    const c = cells(html);
    expect(c).toHaveLength(12);
    expect(c).toContainEqual([
      'failover moves the LB IP to another node',
      '1.17.8',
      'passed',
      'pass 1 min 05 s failover time 7.25 s · outage 6 s',
    ]);
    expect(c.find((x) => x[0]!.startsWith('failover') && x[1] === '1.18.6')?.[3]).toMatch(
      /^pass \d+ ms failover time 3.2 s · outage 2.5 s$/,
    );
    expect(c.find((x) => x[0]!.startsWith('shared ingress') && x[1] === '1.17.8')?.[3]).toMatch(
      /^fail \d+ ms was pass HTTP status from the ingress/,
    );
    expect(c.find((x) => x[0]!.startsWith('a broken lab: the router') && x[1] === '1.18.6')?.[3]).toMatch(/^lab unreachable /);
    expect(c.find((x) => x[0]!.startsWith('a broken lab: a wait') && x[1] === '1.18.6')?.[3]).toMatch(/^lab timeout /);
    expect(c.find((x) => x[0]!.startsWith('skipped') && x[1] === '1.18.6')?.[2]).toBe('skipped');
  });

  test('a measurement table: the numbers per version side by side', () => {
    const failover = /<tr><th scope="row">failover time<br>[\s\S]*?<\/tr>/.exec(html)?.[0] ?? '';
    expect([...failover.matchAll(/data-version="([^"]+)" data-measurement="failover time">([^<]*)</g)].map((m) => [m[1], m[2]])).toEqual([
      ['1.17.8', '7.25 s'],
      ['1.18.6', '3.2 s'],
    ]);
  });

  test('a scenario missing from a version reads "not run"', () => {
    const only = versionFromFixture('1.19.0');
    only.scenarios = only.scenarios.slice(0, 1);
    const c = cells(renderIndexPage([a, only], { generatedAt: 'x' }));
    expect(c.filter((x) => x[1] === '1.19.0' && x[2] === 'not-run')).toHaveLength(5);
  });

  test('everything from results is escaped; the page has no script', () => {
    const evil = versionFromFixture('1.18.6', (s) => ({
      ...s,
      title: '<img src=x onerror=alert(1)>',
      message: '"><script>alert(1)</script>',
    }));
    const page = renderIndexPage([evil], { generatedAt: 'x' });
    expect(page).not.toMatch(/<script|<img/i);
    expect(page).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toMatch(/<script/i);
  });

  test('no versions yet: says how to get some', () => {
    expect(renderIndexPage([], { generatedAt: 'x' })).toContain('npm run report');
  });
});

test('buildRows keeps suite files in order and run order inside a file', () => {
  const v = versionFromFixture('1.18.6');
  const rows = buildRows([v]);
  expect(rows.map((r) => r.order)).toEqual([...rows.map((r) => r.order)].sort((x, y) => x - y));
});

test('small formatters', () => {
  expect(formatDuration(null)).toBe('');
  expect(formatDuration(850)).toBe('850 ms');
  expect(formatDuration(3210)).toBe('3.2 s');
  expect(formatDuration(245_000)).toBe('4 min 05 s');
  expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  expect(cellWord({ status: 'broken', category: { id: 'lab-timeout', name: 'Lab timeout', short: 'lab timeout' } })).toBe('lab timeout');
  expect(cellWord({ status: 'broken', category: null })).toBe('broken');
  expect(cellWord({ status: 'skipped', category: null })).toBe('skip');
});
