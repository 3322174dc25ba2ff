import { describe, expect, test } from 'vitest';
import { addFaults, faultFiles, readReports, reportFiles, summarize, type VitestJson } from '../../scripts/ci-summary.ts';

const file = (name: string, statuses: string[], status = 'passed'): VitestJson['testResults'][number] => ({
  name,
  status,
  assertionResults: statuses.map((s, i) => ({ fullName: `t${i}`, status: s })),
});

describe('CI summary line', () => {
  test('counts passed, failed and skipped', () => {
    const s = summarize(
      { testResults: [file('/r/a.test.ts', ['passed', 'passed', 'skipped']), file('/r/b.test.ts', ['failed'], 'failed')] },
      false,
    );
    expect(s.line).toBe('2 passed, 1 failed, 1 skipped');
    expect(s.ok).toBe(false);
  });

  test('a skipped integration test fails the run under CI only', () => {
    const report = { testResults: [file('/r/x.integration.test.ts', ['passed', 'skipped'])] };
    expect(summarize(report, false).ok).toBe(true);
    const ci = summarize(report, true);
    expect(ci.ok).toBe(false);
    expect(ci.problems[0]).toMatch(/integration test skipped under CI: t1/);
    expect(ci.line).toBe('1 passed, 0 failed, 1 skipped');
  });

  test('a file that failed to load counts as a failure', () => {
    const s = summarize(
      { testResults: [{ name: '/r/c.test.ts', status: 'failed', message: 'SyntaxError: x\nmore', assertionResults: [] }] },
      true,
    );
    expect(s.line).toBe('0 passed, 1 failed');
    expect(s.problems).toContain('/r/c.test.ts: SyntaxError: x');
  });

  test('no test at all is not a pass', () => {
    expect(summarize({ testResults: [] }, true).ok).toBe(false);
  });

  test('several reports add up into one line; a missing one is a named failure', () => {
    const reports: Record<string, string> = {
      'self.json': JSON.stringify({ testResults: [file('/r/a.test.ts', ['passed', 'passed'])] }),
      'twin-1.18.json': JSON.stringify({ testResults: [file('/r/suites/00-lab-health.test.ts', ['passed', 'failed'], 'failed')] }),
    };
    const read = (f: string): string => {
      const text = reports[f];
      if (text === undefined) throw new Error(`ENOENT: ${f}`);
      return text;
    };
    const both = readReports(['self.json', 'twin-1.18.json'], read);
    expect(both.problems).toEqual([]);
    expect(summarize(both.report, true).line).toBe('3 passed, 1 failed');
    const missing = readReports(['self.json', 'twin-1.17.json'], read);
    expect(missing.problems[0]).toMatch(/no readable test report at twin-1.17.json: ENOENT/);
    const s = summarize(missing.report, true);
    expect(s.line).toBe('2 passed, 1 failed');
    expect(s.ok).toBe(false);
  });

  test('--twin-reports names one report per Cilium version of the matrix', () => {
    expect(reportFiles(['out/self/results.json', '--twin-reports', 'out/twin'], () => ['1.17.18', '1.18.14'])).toEqual([
      'out/self/results.json',
      'out/twin/vitest-1.17.18.json',
      'out/twin/vitest-1.18.14.json',
    ]);
    expect(reportFiles([], () => [])).toEqual(['out/self/results.json']);
    expect(() => reportFiles(['--twin-reports'], () => [])).toThrow(/needs a folder/);
  });

  test("--faults adds the fault runner's verdicts into the line; a missing summary is one named failure", () => {
    const base = summarize({ testResults: [file('/r/a.test.ts', ['passed', 'passed', 'skipped'])] }, false);
    const summary = JSON.stringify({
      passed: 9,
      failed: 1,
      faults: [
        { name: 'router-pod-routes', verdict: 'caught', ok: true, detail: 'by …' },
        { name: 'lease-stuck', verdict: 'missed', ok: false, detail: '"reboot the lease holder" passed' },
      ],
    });
    const read = (f: string): string => {
      if (f === 'out/faults/summary.json') return summary;
      throw new Error(`ENOENT: ${f}`);
    };
    const s = addFaults(base, 'out/faults/summary.json', read);
    expect(s.line).toBe('11 passed, 1 failed, 1 skipped');
    expect(s.ok).toBe(false);
    expect(s.problems).toEqual(['fault lease-stuck: missed "reboot the lease holder" passed']);
    const ok = addFaults(base, 'out/faults/summary.json', () => JSON.stringify({ passed: 10, failed: 0, faults: [] }));
    expect(ok).toMatchObject({ line: '12 passed, 0 failed, 1 skipped', ok: true });
    const missing = addFaults(base, 'nowhere.json', read);
    expect(missing.line).toBe('2 passed, 1 failed, 1 skipped');
    expect(missing.problems[0]).toMatch(/no readable fault summary at nowhere.json: ENOENT/);
    expect(faultFiles(['x.json', '--faults', 'out/faults/summary.json'])).toEqual(['out/faults/summary.json']);
    expect(reportFiles(['x.json', '--faults', 'out/faults/summary.json'], () => [])).toEqual(['x.json']);
    expect(() => faultFiles(['--faults'])).toThrow(/needs a summary file/);
  });
});
