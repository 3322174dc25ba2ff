/** The fault verdict (fault-judge.ts) on hand-made fault runs: no twin is built here. */
import { describe, expect, it } from 'vitest';
import type { FaultCase, FaultRun, TestOutcome } from './fault-cases.ts';
import { faultLine, judgeFault, messageStart } from './fault-judge.ts';

const product: FaultCase = {
  name: 'router-pod-routes',
  does: 'the router has a route to every node pod CIDR',
  suites: ['suites/10-native-routing.test.ts', 'suites/30-lb-ipam.test.ts'],
  source: 'test',
  expect: {
    kind: 'product',
    caughtBy: { suite: '10-native-routing.test.ts', scenario: /cannot reach the webpod on the other subnet/ },
    explains: [/answered/, /router forwarded/],
    unaffected: '30-lb-ipam.test.ts',
  },
};

const t = (file: string, fullName: string, status: TestOutcome['status'], failureMessages: string[] = []): TestOutcome => ({
  file,
  fullName,
  status,
  failureMessages,
  durationMs: 10,
});

const SCENARIO = 'native routing curl-pod cannot reach the webpod on the other subnet: the router sends it out its default route';
const OTHER = "native routing curl-pod's node routes the same-subnet pod CIDR directly";

function run(tests: TestOutcome[], more: Partial<FaultRun> = {}): FaultRun {
  return { tests, exitCode: 1, signal: null, durationMs: 1000, output: '', leftovers: [], reportsDir: '/tmp/x', ...more };
}

const lbOk = [t('30-lb-ipam.test.ts', 'lb-ipam webpod gets an IP', 'passed'), t('30-lb-ipam.test.ts', 'lb-ipam out of ips', 'passed')];

describe('judgeFault, product faults', () => {
  it('caught: the named scenario failed naming the cause, the unaffected suite passed, nothing left', () => {
    const j = judgeFault(
      product,
      run([
        t('10-native-routing.test.ts', SCENARIO, 'failed', [
          'AssertionError: the pod answered: the router forwarded it (router has 198.19.2.0/24)\n    at x (y.ts:1:1)',
        ]),
        t('10-native-routing.test.ts', OTHER, 'passed'),
        ...lbOk,
      ]),
    );
    expect(j.verdict).toBe('caught');
    expect(j.ok).toBe(true);
    expect(j.detail).toContain('cannot reach the webpod');
    expect(j.detail).not.toContain(' at x');
    expect(j.explanation).toContain('the router forwarded it');
    expect(faultLine('router-pod-routes', j)).toMatch(/^router-pod-routes: caught by 10-native-routing\.test\.ts /);
  });

  it('missed: the scenario passed', () => {
    const j = judgeFault(product, run([t('10-native-routing.test.ts', SCENARIO, 'passed'), ...lbOk], { exitCode: 0 }));
    expect(j.verdict).toBe('missed');
    expect(j.detail).toContain(`"${SCENARIO}" passed`);
  });

  it('missed: caught by the wrong scenario (says which one failed, with its message)', () => {
    const j = judgeFault(
      product,
      run([
        t('10-native-routing.test.ts', SCENARIO, 'passed'),
        t('10-native-routing.test.ts', OTHER, 'failed', ['no route to 198.19.1.0/24']),
        ...lbOk,
      ]),
    );
    expect(j.verdict).toBe('missed');
    expect(j.detail).toContain(`instead "${OTHER}" failed: no route to 198.19.1.0/24`);
  });

  it('missed: the scenario failed but its explanation does not name the cause', () => {
    const j = judgeFault(product, run([t('10-native-routing.test.ts', SCENARIO, 'failed', ['expected false to be true']), ...lbOk]));
    expect(j.verdict).toBe('missed');
    expect(j.detail).toContain('without naming the cause');
    expect(j.detail).toContain('/answered/');
    expect(j.detail).toContain('expected false to be true');
  });

  it('missed: the scenario did not run (suite not run or renamed)', () => {
    const j = judgeFault(product, run([...lbOk]));
    expect(j.verdict).toBe('missed');
    expect(j.detail).toMatch(/no scenario of 10-native-routing\.test\.ts matches/);
  });

  it('wrongly failed: the unaffected suite failed a test', () => {
    const j = judgeFault(
      product,
      run([
        t('10-native-routing.test.ts', SCENARIO, 'failed', ['the pod answered: the router forwarded it']),
        t('30-lb-ipam.test.ts', 'lb-ipam webpod gets an IP', 'failed', ['no IP after 30 s']),
      ]),
    );
    expect(j.verdict).toBe('wrongly failed');
    expect(j.detail).toContain('the unaffected suite 30-lb-ipam.test.ts failed "lb-ipam webpod gets an IP": no IP after 30 s');
  });

  it('wrongly failed: the unaffected suite did not run', () => {
    const j = judgeFault(product, run([t('10-native-routing.test.ts', SCENARIO, 'failed', ['the pod answered: the router forwarded it'])]));
    expect(j.verdict).toBe('wrongly failed');
    expect(j.detail).toContain('did not run');
  });

  it('wrongly failed: the run left something behind', () => {
    const j = judgeFault(
      product,
      run([t('10-native-routing.test.ts', SCENARIO, 'failed', ['the pod answered: the router forwarded it']), ...lbOk], {
        leftovers: ['Namespace clh-abc (a run namespace)', 'router route "198.19.2.0/24 via 198.18.20.100" (added during the run)'],
      }),
    );
    expect(j.verdict).toBe('wrongly failed');
    expect(j.detail).toContain('left behind: Namespace clh-abc (a run namespace); router route');
  });

  it('a timed-out run is never caught, and says so', () => {
    const j = judgeFault(
      product,
      run([t('10-native-routing.test.ts', SCENARIO, 'failed', ['the pod answered: the router forwarded it']), ...lbOk], {
        timedOut: 'killed after 240 s',
      }),
    );
    expect(j.verdict).toBe('wrongly failed');
    expect(j.detail).toContain('timed out: killed after 240 s');
  });
});

describe('judgeFault, lab faults', () => {
  const lab = (problems: string[]): FaultCase => ({
    name: 'api-slow',
    does: 'answers every API call after 2 s',
    suites: ['suites/30-lb-ipam.test.ts'],
    source: 'test',
    expect: { kind: 'lab', must: 'pass, within the suites deadlines', check: () => problems },
  });

  it('handled when the check finds nothing', () => {
    const j = judgeFault(lab([]), run([...lbOk], { exitCode: 0 }));
    expect(j).toMatchObject({ verdict: 'handled', ok: true, detail: 'pass, within the suites deadlines' });
  });

  it('wrongly failed when the run failed a test, missed when it passed where the check wanted otherwise', () => {
    expect(judgeFault(lab(['a test failed']), run([t('30-lb-ipam.test.ts', 'x', 'failed', ['boom'])])).verdict).toBe('wrongly failed');
    expect(judgeFault(lab(['it should have failed']), run([...lbOk], { exitCode: 0 })).verdict).toBe('missed');
  });

  it('leftovers and a failing act count against a lab fault too', () => {
    const j = judgeFault(lab([]), run([...lbOk], { exitCode: 0, leftovers: ['Lease x'], actError: 'no output matched' }));
    expect(j.ok).toBe(false);
    expect(j.detail).toContain('the act failed: no output matched');
    expect(j.detail).toContain('left behind: Lease x');
  });
});

describe('messageStart', () => {
  it('drops colours and stack frames, joins lines, bounds the length', () => {
    expect(messageStart(['\u001b[31mAssertionError\u001b[39m: bad\n    at f (a.ts:1:1)\nmore'])).toBe('bad more');
    expect(messageStart(['x'.repeat(500)], 20)).toHaveLength(20);
    expect(
      messageStart(['AssertionError: mtu 1500 instead of 1450: expected false to be true // Object.is equality', 'AssertionError: b']),
    ).toBe('mtu 1500 instead of 1450 b');
  });
});
