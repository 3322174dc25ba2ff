/**
 * helpers/wait/deadlines.ts: every named deadline is shorter than the vitest timeout around it (the lab project's
 * test and hook timeouts, the scenarios that set their own, the run's teardown), so the harness's WaitTimeoutError,
 * with what it saw last, fires before vitest's generic timeout; and LAB_TIME_SCALE stretches both alike.
 * (That a test timing out stops its waits is shown in test/helpers/lab/suite-scope.test.ts, on a child vitest.)
 */
import { describe, expect, test } from 'vitest';
import config from '../../../vitest.config.ts';
import {
  ARRANGE_MS,
  BASE_DEADLINES,
  DEADLINE,
  MARGIN_MS,
  PREPARE_MS,
  SCENARIO_TIMEOUT,
  scaledDeadlines,
  testTimeout,
  timeScale,
  VITEST_TIMEOUT,
  type DeadlineName,
} from '../../../helpers/wait/deadlines.ts';

/**
 * Where each deadline's wait runs, so which vitest timeout wraps it: a hook (suite preparation, the cleanup stack),
 * a scenario with its own timeout, the run's teardown, or (every other one) a scenario with the project's timeout.
 */
const WRAPPED_BY: Partial<Record<DeadlineName, { by: string; timeoutMs: number }>> = {
  helmMs: { by: 'beforeAll (prepareSuite: ensureCilium)', timeoutMs: VITEST_TIMEOUT.hookMs },
  ciliumRolloutMs: { by: 'beforeAll (prepareSuite: ensureCilium)', timeoutMs: VITEST_TIMEOUT.hookMs },
  workloadMs: { by: 'beforeAll (prepareSuite: ensureWorkloads)', timeoutMs: VITEST_TIMEOUT.hookMs },
  rebootMs: { by: '90-l2-failover: the rebooted node back', timeoutMs: SCENARIO_TIMEOUT.nodeBackMs },
  // Run by the last suite file's scope (helpers/lab/lab.ts), under the hook timeout: the worker's own teardown is cut
  // by vitest after 60 s (its pool's STOP_TIMEOUT), shorter than the deletion may take.
  runRemovalMs: { by: "the last suite file's scope (hook timeout)", timeoutMs: VITEST_TIMEOUT.hookMs },
  // A cap on a background recorder, not a wait: the failover scenario stops it; it only bounds one nobody stopped.
  recorderMs: { by: 'nothing (a cap, not a wait)', timeoutMs: Infinity },
};

describe('every named deadline fits inside the vitest timeout around it', () => {
  test.each(Object.keys(BASE_DEADLINES) as DeadlineName[])('%s', (name) => {
    const around = WRAPPED_BY[name] ?? { by: 'a scenario (the lab project testTimeout)', timeoutMs: VITEST_TIMEOUT.testMs };
    expect(DEADLINE[name], `${name} (${DEADLINE[name]} ms) inside ${around.by} (${around.timeoutMs} ms)`).toBeLessThan(around.timeoutMs);
  });

  test('the lab project takes its test and hook timeouts, and the run its teardown timeout, from the deadlines', () => {
    const lab = (config.test?.projects ?? []).find((p) => typeof p === 'object' && 'test' in p && p.test?.name === 'lab') as {
      test: { testTimeout: number; hookTimeout: number };
    };
    expect(lab.test.testTimeout).toBe(VITEST_TIMEOUT.testMs);
    expect(lab.test.hookTimeout).toBe(VITEST_TIMEOUT.hookMs);
    expect(config.test?.teardownTimeout).toBe(VITEST_TIMEOUT.teardownMs);
  });

  test('a whole suite preparation fits its hook: ensureCilium (helm + 3 rollouts), the workloads, then the suite arrangement', () => {
    // The case the issue found: 300 s + 3 × 600 s for ensureCilium alone against a 900 s hook timeout.
    const ensureCilium = DEADLINE.helmMs + 3 * DEADLINE.ciliumRolloutMs;
    expect(PREPARE_MS).toBeGreaterThanOrEqual(ensureCilium + 2 * DEADLINE.helmReadMs + 3 * DEADLINE.workloadMs);
    // 10-native-routing's beforeAll: prepareSuite, then curl-pod and the webpods found Ready.
    expect(PREPARE_MS + 2 * DEADLINE.podsReadyMs).toBeLessThan(VITEST_TIMEOUT.hookMs);
    expect(PREPARE_MS + ARRANGE_MS + MARGIN_MS).toBeLessThanOrEqual(VITEST_TIMEOUT.hookMs);
  });

  test('scenarios whose waits add up beyond the project timeout set their own, with room left for the checks after the waits', () => {
    // 40-lb-sharing's first scenario: two services wait for the shared IP, then each port's first answer and a request (310 s at scale 1).
    const sharing = 2 * DEADLINE.lbipamMs + 2 * (DEADLINE.firstAnswerMs + DEADLINE.requestMs);
    expect(sharing).toBeGreaterThan(VITEST_TIMEOUT.testMs);
    expect(SCENARIO_TIMEOUT.lbSharingMs - sharing).toBeGreaterThanOrEqual(MARGIN_MS);
    // 90-l2-failover: the node back (540 s at scale 1) may overrun by one check; the margin is left after that.
    expect(SCENARIO_TIMEOUT.nodeBackMs - (DEADLINE.rebootMs + DEADLINE.execMs)).toBeGreaterThanOrEqual(MARGIN_MS);
  });

  test('the failure diagnostics are bounded by less than a test; deleting the run fits the teardown window too', () => {
    expect(DEADLINE.diagnosticsMs).toBeLessThan(VITEST_TIMEOUT.testMs);
    expect(DEADLINE.runRemovalMs).toBeLessThan(VITEST_TIMEOUT.teardownMs);
  });
});

describe('LAB_TIME_SCALE', () => {
  test('one factor stretches every deadline alike; unset is 1; anything but a positive number is refused', () => {
    expect(timeScale({})).toBe(1);
    expect(timeScale({ LAB_TIME_SCALE: '2.5' })).toBe(2.5);
    for (const bad of ['0', '-1', 'slow', 'NaN']) expect(() => timeScale({ LAB_TIME_SCALE: bad })).toThrow(/LAB_TIME_SCALE/);
    const doubled = scaledDeadlines(2);
    for (const [k, v] of Object.entries(BASE_DEADLINES)) expect(doubled[k as DeadlineName]).toBe(2 * v);
    expect(testTimeout(1_000, 2_000)).toBe(3_000 + MARGIN_MS);
  });
});
