import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { renderIndexPage } from '../../reports/index-page.ts';
import { readResults, summarize, type VersionSummary } from '../../reports/results.ts';
import { checkCrossVersionPage } from './report-check.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/report/allure-results', import.meta.url));

function version(v: string, withFailover = true): VersionSummary {
  const s = summarize({
    version: v,
    reportHref: `${v}/report/index.html`,
    generatedAt: '2026-12-05T01:00:00.000Z',
    read: readResults(FIXTURE),
  });
  return withFailover ? s : { ...s, scenarios: s.scenarios.map((x) => ({ ...x, measurements: [] })) };
}

describe('the cross-version page after the twin runs', () => {
  test('whole: a column per version and both failover numbers for each', () => {
    const html = renderIndexPage([version('1.17.18'), version('1.18.14')], { generatedAt: '2026-12-05T01:00:00.000Z' });
    expect(checkCrossVersionPage(html, ['1.17.18', '1.18.14'])).toEqual([]);
  });

  test('a version that did not run, or ran without measuring the failover, is named', () => {
    const html = renderIndexPage([version('1.17.18', false), version('1.18.14')], { generatedAt: '2026-12-05T01:00:00.000Z' });
    expect(checkCrossVersionPage(html, ['1.17.18', '1.18.14', '1.19.0'])).toEqual([
      '"failover time" for Cilium 1.17.18 shows no number ("—")',
      '"outage" for Cilium 1.17.18 shows no number ("—")',
      'no column for Cilium 1.19.0 in the scenarios table',
      'no "failover time" cell for Cilium 1.19.0 in the measurements table',
      'no "outage" cell for Cilium 1.19.0 in the measurements table',
    ]);
  });
});
