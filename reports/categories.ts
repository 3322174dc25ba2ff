/**
 * Why a lab test did not pass, told apart so a morning reader knows whom to call:
 *   Lab unreachable  the harness could not talk to the lab (SSH, API server, network): fix the lab, not Cilium
 *   Lab timeout      something the harness waited for never came (WaitTimeoutError, vitest's own timeouts)
 *   Product failure  an assertion about Cilium's behaviour failed: this is the finding
 *   Harness error    any other exception: a bug in the harness or an unexpected answer
 * allure-js-commons marks assertion errors `failed` and every other exception `broken`; the categories refine
 * `broken`. One list feeds allure-vitest (categories.json), allurerc (Allure 3 categories) and the
 * cross-version page (`classifyResult`), so the three never disagree. Pure.
 *
 * Note for suite authors: a WaitTimeoutError counts as a lab problem. When "the product never reached the
 * state in time" is the finding (an LB IP never assigned), catch the wait and assert on what was seen.
 */
export type FailureStatus = 'failed' | 'broken';

export interface LabCategory {
  id: string;
  name: string;
  description: string;
  statuses: FailureStatus[];
  /** Tested against the error's message and trace (the trace starts with `ErrorName: message`). */
  pattern?: RegExp;
  /** Short word for a table cell. */
  short: string;
}

const UNREACHABLE =
  /SshError|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ECONNRESET|EPIPE|connect ETIMEDOUT|getaddrinfo|socket hang up|Not connected|No lab|lab is not (?:up|reachable)|unreachable|pre-?flight/i;
const TIMEOUT = /WaitTimeoutError|Timed out after|timed out|Test timed out|Hook timed out|deadline/i;

export const LAB_CATEGORIES: readonly LabCategory[] = [
  {
    id: 'lab-unreachable',
    name: 'Lab unreachable',
    description: 'The harness could not reach a lab machine or the API server (SSH, connection refused, host unreachable).',
    statuses: ['broken'],
    pattern: UNREACHABLE,
    short: 'lab unreachable',
  },
  {
    id: 'lab-timeout',
    name: 'Lab timeout',
    description: 'A wait for the lab ran out of time (WaitTimeoutError) or vitest stopped a test or hook.',
    statuses: ['broken'],
    pattern: TIMEOUT,
    short: 'lab timeout',
  },
  {
    id: 'product-failure',
    name: 'Product failure (assertion)',
    description: 'An assertion about Cilium failed: the lab answered, and the answer was not the documented behaviour.',
    statuses: ['failed'],
    short: 'fail',
  },
  {
    id: 'harness-error',
    name: 'Harness error',
    description: 'Any other exception: a bug in the harness, or an answer it could not parse.',
    statuses: ['broken'],
    short: 'broken',
  },
];

/** The first category that matches, or null for passed/skipped results. */
export function classifyResult(r: { status: string; message?: string | null; trace?: string | null }): LabCategory | null {
  const text = `${r.message ?? ''}\n${r.trace ?? ''}`;
  for (const c of LAB_CATEGORIES) {
    if (!(c.statuses as string[]).includes(r.status)) continue;
    if (!c.pattern || c.pattern.test(text)) return c;
  }
  return null;
}

/** Allure 2 style (allure-vitest writes it as categories.json): regexes must match the whole trace there. */
export function allure2Categories(): { name: string; matchedStatuses: FailureStatus[]; traceRegex?: string }[] {
  return LAB_CATEGORIES.map((c) => ({
    name: c.name,
    matchedStatuses: c.statuses,
    ...(c.pattern ? { traceRegex: `[\\s\\S]*(?:${c.pattern.source})[\\s\\S]*` } : {}),
  }));
}

export interface Allure3CategoryMatcher {
  statuses: FailureStatus[];
  message?: RegExp;
  trace?: RegExp;
}

/** Allure 3 (allurerc `categories`): the pattern may match the message or the trace. */
export function allure3Categories(): {
  id: string;
  name: string;
  matchers: Allure3CategoryMatcher[];
  groupBy: ['severity'];
  expand: boolean;
}[] {
  return LAB_CATEGORIES.map((c) => ({
    id: c.id,
    name: c.name,
    matchers: c.pattern
      ? [
          { statuses: c.statuses, message: c.pattern },
          { statuses: c.statuses, trace: c.pattern },
        ]
      : [{ statuses: c.statuses }],
    groupBy: ['severity'],
    expand: c.id === 'product-failure',
  }));
}
