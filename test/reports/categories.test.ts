import { matchCategory, normalizeCategoriesConfig } from '@allurereport/core-api';
import { describe, expect, test } from 'vitest';
import { WaitTimeoutError } from '../../helpers/wait/retry.ts';
import { allure2Categories, allure3Categories, classifyResult, LAB_CATEGORIES } from '../../reports/categories.ts';

function traceOf(err: Error): string {
  return err.stack ?? `${err.name}: ${err.message}`;
}

class SshError extends Error {
  override name = 'SshError';
}

/** Failures as allure-vitest records them (message, trace = stack) and the category each must land in. */
const CASES: { what: string; status: string; message: string; trace: string; expected: string | null }[] = [
  (() => {
    const e = new WaitTimeoutError('LoadBalancer IP of clh-r1/webpod', 60_000, 'no ingress yet', 31);
    return { what: 'WaitTimeoutError', status: 'broken', message: e.message, trace: traceOf(e), expected: 'lab-timeout' };
  })(),
  (() => {
    const e = new SshError('ssh router: ip route: connect ECONNREFUSED 192.168.10.200:22');
    return { what: 'SshError', status: 'broken', message: e.message, trace: traceOf(e), expected: 'lab-unreachable' };
  })(),
  {
    what: 'API server down',
    status: 'broken',
    message: 'connect EHOSTUNREACH 192.168.10.100:6443',
    trace: 'Error: connect EHOSTUNREACH 192.168.10.100:6443\n    at TCPConnectWrap.afterConnect',
    expected: 'lab-unreachable',
  },
  {
    what: "vitest's own test timeout",
    status: 'broken',
    message:
      'Test timed out in 300000ms.\nIf this is a long-running test, pass a timeout value as the last argument or configure it globally with "testTimeout".',
    trace: 'Error: Test timed out in 300000ms.',
    expected: 'lab-timeout',
  },
  {
    what: 'an assertion about Cilium',
    status: 'failed',
    message: "pod that answered: expected 'webpod-2' to be 'webpod-1' // Object.is equality",
    trace: "AssertionError: pod that answered: expected 'webpod-2' to be 'webpod-1'",
    expected: 'product-failure',
  },
  {
    what: 'an assertion that mentions "unreachable" is still a product failure',
    status: 'failed',
    message: 'expected ping result unreachable=true to be false',
    trace: 'AssertionError: expected true to be false',
    expected: 'product-failure',
  },
  {
    what: 'a harness bug',
    status: 'broken',
    message: "Cannot read properties of undefined (reading 'holder')",
    trace: "TypeError: Cannot read properties of undefined (reading 'holder')\n    at judgeFailover",
    expected: 'harness-error',
  },
  { what: 'passed', status: 'passed', message: '', trace: '', expected: null },
  { what: 'skipped', status: 'skipped', message: 'requires Cilium >= 1.18', trace: '', expected: null },
];

describe('classifyResult tells a broken lab from a product failure', () => {
  for (const c of CASES) {
    test(c.what, () => {
      expect(classifyResult(c)?.id ?? null).toBe(c.expected);
    });
  }
});

describe('the same list drives Allure 3 (allurerc) and Allure 2 (categories.json)', () => {
  test('Allure 3 accepts the categories and classifies every case the same way', () => {
    const normalized = normalizeCategoriesConfig(allure3Categories());
    for (const c of CASES.filter((x) => x.expected)) {
      const matched = matchCategory(normalized, {
        status: c.status,
        labels: [],
        message: c.message,
        trace: c.trace,
        flaky: false,
        duration: 1,
        environment: 'default',
      } as never);
      expect(matched?.id, c.what).toBe(c.expected);
    }
  });

  test('Allure 2 regexes match the whole trace (Java matches()) for the lab categories', () => {
    const a2 = allure2Categories();
    expect(a2.map((c) => c.name)).toEqual(LAB_CATEGORIES.map((c) => c.name));
    for (const c of CASES.filter((x) => x.expected && x.status === 'broken')) {
      const first = a2.find(
        (cat) =>
          cat.matchedStatuses.includes(c.status as 'broken') && (!cat.traceRegex || new RegExp(`^(?:${cat.traceRegex})$`).test(c.trace)),
      );
      expect(first?.name, c.what).toBe(LAB_CATEGORIES.find((x) => x.id === c.expected)?.name);
    }
  });
});
