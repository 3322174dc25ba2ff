import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../fixtures/report/tmp.ts';
import { describe, expect, test } from 'vitest';
import { fileOf, parseSummary, readResults, summarize, withChanges, type VersionSummary } from '../../reports/results.ts';

/** Real allure-vitest output of the fixture suite (test/fixtures/allure-fixture), one result per outcome. */
const FIXTURE = fileURLToPath(new URL('../fixtures/report/allure-results', import.meta.url));

function fixtureSummary(): VersionSummary {
  return summarize({
    version: '9.1.0-fake',
    reportHref: '9.1.0-fake/report/index.html',
    generatedAt: '2026-11-22T05:00:00.000Z',
    read: readResults(FIXTURE),
  });
}

describe('readResults + summarize on real allure-vitest results', () => {
  test('one scenario per test, with status, category, duration and measurements', () => {
    const s = fixtureSummary();
    expect(s.counts).toEqual({ total: 6, passed: 2, failed: 1, broken: 2, skipped: 1, unknown: 0, unreadable: 0 });
    const by = new Map(s.scenarios.map((x) => [x.title, x]));
    const failover = by.get('failover moves the LB IP to another node');
    expect(failover).toMatchObject({
      status: 'passed',
      category: null,
      file: 'test/fixtures/allure-fixture/scenarios.fixture.ts',
      epic: 'Load balancing',
      feature: 'L2 announcements',
      story: 'failover',
      severity: 'critical',
      measurements: [
        { name: 'failover time', value: 3.2, unit: 's' },
        { name: 'outage', value: 2.5, unit: 's' },
      ],
    });
    expect(failover?.durationMs).toBeGreaterThanOrEqual(0);
    expect(by.get('a product failure: the backend answers from the wrong pod')?.category?.id).toBe('product-failure');
    expect(by.get('a broken lab: the router does not answer SSH')?.category?.id).toBe('lab-unreachable');
    expect(by.get('a broken lab: a wait runs out of time')?.category?.id).toBe('lab-timeout');
    expect(by.get('skipped at run time with a reason')).toMatchObject({ status: 'skipped', message: 'requires Cilium >= 1.99 (fixture)' });
    expect(s.environment.cilium_version_requested).toBe('9.1.0-fake');
    expect(s.runStartedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    // Run order: positions are 0..n-1.
    expect(s.scenarios.map((x) => x.order)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test('the fingerprint changes when the results change, and not otherwise', () => {
    const a = readResults(FIXTURE).fingerprint;
    expect(readResults(FIXTURE).fingerprint).toBe(a);
    const dir = tempDir('clh-res-');
    writeFileSync(path.join(dir, 'x-result.json'), JSON.stringify({ name: 't', status: 'passed' }));
    expect(readResults(dir).fingerprint).not.toBe(a);
  });

  test('bad files are named with the reason, and the scenario is recovered when the text still names it', () => {
    const dir = tempDir('clh-res-');
    writeFileSync(path.join(dir, 'a-result.json'), '{ truncated');
    writeFileSync(path.join(dir, 'b-result.json'), JSON.stringify({ status: 'passed' })); // no name
    writeFileSync(path.join(dir, 'c-result.json'), JSON.stringify({ name: 'weird', status: 'weird' }));
    writeFileSync(
      path.join(dir, 'd-result.json'),
      JSON.stringify({ name: 'ok', fullName: 'p:f.ts#ok', status: 'passed', start: 1, stop: 5 }),
    );
    writeFileSync(
      path.join(dir, 'e-result.json'),
      '{"uuid":"1","name":"failover moves the LB IP","fullName":"cilium-lab-harness:suites/90-l2-failover.test.ts#failover moves the LB IP","status":"pass',
    );
    writeFileSync(path.join(dir, 'f-result.json'), '');
    const r = readResults(dir);
    expect(r.unreadable).toEqual([
      { file: 'a-result.json', reason: "not JSON (Expected property name or '}' in JSON at position 2)", id: null, title: null },
      {
        file: 'b-result.json',
        reason: 'not an Allure result (name: Invalid input: expected string, received undefined)',
        id: null,
        title: null,
      },
      {
        file: 'c-result.json',
        reason: expect.stringMatching(/^not an Allure result \(status: Invalid option: expected one of/),
        id: null,
        title: 'weird',
      },
      {
        file: 'e-result.json',
        reason: expect.stringMatching(/^not JSON \(Unterminated string in JSON/),
        id: 'cilium-lab-harness:suites/90-l2-failover.test.ts#failover moves the LB IP',
        title: 'failover moves the LB IP',
      },
      { file: 'f-result.json', reason: expect.stringMatching(/^not JSON \(.*\): the file is empty$/), id: null, title: null },
    ]);
    expect(r.results).toHaveLength(1);
    const s = summarize({ version: '1.18.6', reportHref: 'h', generatedAt: 'g', read: r });
    const failover = s.scenarios.find((x) => x.title === 'failover moves the LB IP');
    expect(failover).toMatchObject({
      status: 'unreadable',
      file: 'suites/90-l2-failover.test.ts',
      message: expect.stringMatching(/^unreadable result e-result\.json: not JSON/),
    });
    expect(s.counts).toMatchObject({ total: 6, passed: 1, unreadable: 5 });
    expect(readResults(path.join(dir, 'missing')).results).toEqual([]);
  });

  test('a retried test counts once, with its latest result', () => {
    const read = {
      results: [
        { name: 't', fullName: 'p:f.ts#t', status: 'failed' as const, start: 10, stop: 20, labels: [], parameters: [] },
        { name: 't', fullName: 'p:f.ts#t', status: 'passed' as const, start: 30, stop: 35, labels: [], parameters: [] },
      ],
      environment: {},
      fingerprint: 'x',
    };
    const s = summarize({ version: '1', reportHref: 'h', generatedAt: 'g', read });
    expect(s.counts.total).toBe(1);
    expect(s.scenarios[0]).toMatchObject({ status: 'passed', durationMs: 5 });
  });
});

test('fileOf reads the suite file out of allure-vitest full names', () => {
  expect(fileOf('cilium-lab-harness:suites/50-l2-announcements.test.ts#L2 failover moves')).toBe('suites/50-l2-announcements.test.ts');
  expect(fileOf('suites/00-lab-health.test.ts#nodes Ready')).toBe('suites/00-lab-health.test.ts');
  expect(fileOf('no hash here')).toBe('');
  expect(fileOf(undefined)).toBe('');
});

describe('what changed since the previous report', () => {
  test('previousStatus is set per scenario that ran before', () => {
    const now = fixtureSummary();
    const before: VersionSummary = {
      ...now,
      generatedAt: '2026-11-21T05:00:00.000Z',
      scenarios: now.scenarios
        .filter((s) => s.status !== 'skipped')
        .map((s) => ({ ...s, status: s.status === 'failed' ? 'passed' : s.status })),
    };
    const changed = withChanges(now, before);
    expect(changed.previousGeneratedAt).toBe('2026-11-21T05:00:00.000Z');
    const wrongPod = changed.scenarios.find((s) => s.status === 'failed');
    expect(wrongPod?.previousStatus).toBe('passed');
    expect(changed.scenarios.find((s) => s.status === 'skipped')?.previousStatus).toBeNull();
    expect(withChanges(now, null)).toBe(now);
    expect(withChanges(now, { ...before, version: 'other' })).toBe(now);
  });
});

describe('summary.json round trip', () => {
  test('parses what summarize writes; refuses garbage with a reason', () => {
    const s = fixtureSummary();
    expect(parseSummary(JSON.stringify(s)).summary).toEqual(s);
    expect(parseSummary('').summary).toBeNull();
    expect(parseSummary('{"schema": 99}').problem).toMatch(/schema/);
    expect(parseSummary('not json').problem).toBeTruthy();
  });
});
