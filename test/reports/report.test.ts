/**
 * `npm run report` as a user runs it (tsx reports/report.ts), on inputs it must refuse: a version with no results,
 * and result files it cannot read. No allure run is needed for either: both stop before it.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../reports/run-context.ts';

async function report(root: string, args: string[]): Promise<{ code: number | undefined; out: string }> {
  const r = await execa(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['reports/report.ts', ...args], {
    cwd: REPO_ROOT,
    env: { CLH_REPORTS_DIR: root, NO_COLOR: '1' },
    reject: false,
    timeout: 60_000,
    all: true,
  });
  return { code: r.exitCode, out: r.all };
}

describe('npm run report refuses what it cannot report', () => {
  test('--version X with no results for X exits non-zero and says so', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'clh-rep-'));
    const r = await report(root, ['--version', '9.9.9']);
    expect(r.out).toContain('--version 9.9.9: no results to report for Cilium 9.9.9 (run the lab suites with CILIUM_VERSION=9.9.9 first)');
    expect(r.code).toBe(1);
  });

  test('an unreadable result file is named with the reason; exit 1 and the run is kept for --allow-broken', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'clh-rep-'));
    const run = path.join(root, '9.9.9', 'runs', '20261122T034910.123Z-r1');
    const results = path.join(run, 'allure-results');
    mkdirSync(results, { recursive: true });
    writeFileSync(
      path.join(results, 'aaa-result.json'),
      JSON.stringify({ name: 'ok', fullName: 'p:suites/a.test.ts#ok', status: 'passed', start: 1, stop: 2 }),
    );
    writeFileSync(path.join(results, 'bbb-result.json'), '{"name":"half","fullName":"p:suites/a.test.ts#half","sta');
    const r = await report(root, []);
    expect(r.out).toContain(
      `Cilium 9.9.9: unreadable result ${path.join(results, 'bbb-result.json')}: not JSON (Unterminated string in JSON at position 56)`,
    );
    expect(r.out).toContain(
      '1 result file(s) could not be read (named above); their versions were not reported. Fix or remove them, or run: npm run report -- --allow-broken',
    );
    expect(r.code).toBe(1);
  });
});
