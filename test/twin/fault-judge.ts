/**
 * The verdict on one fault run (issue 16), pure: a FaultCase and what its run produced (FaultRun) in, one of
 * `caught` (a product fault failed its named scenario with an explanation matching every `explains` pattern, the
 * unaffected suite fully passed, nothing left behind), `handled` (a lab fault whose check found no problem),
 * `missed` or `wrongly failed` out, with a detail saying what happened. The runner (faults-run.ts) prints
 * `<fault>: <verdict> <detail>`.
 *
 * Product faults: the scenario not failing (passed, skipped, not run, or another scenario failing instead) or failing
 * without naming the cause is `missed`; the unaffected suite failing, or the run leaving something behind, is
 * `wrongly failed`. Lab faults: problems found by the case's check are `wrongly failed` when the run failed a test
 * (or exited non-zero), else `missed` (the run passed where it had to fail).
 */
import type { FaultCase, FaultRun, TestOutcome } from './fault-cases.ts';

export type Verdict = 'caught' | 'handled' | 'missed' | 'wrongly failed';

export interface Judgement {
  verdict: Verdict;
  detail: string;
  /** The catching scenario's failure message (product faults), for docs/faults.md. */
  explanation?: string;
  /** The scenario that failed (product faults: its suite file and fullName), for docs/faults.md. */
  scenario?: string;
  /** True for caught / handled. */
  ok: boolean;
}

const MESSAGE_CHARS = 160;

/** The first line(s) of a failure message worth printing: ANSI codes and stack frames out, one line, bounded. */
export function messageStart(messages: readonly string[], chars = MESSAGE_CHARS): string {
  const text = messages
    .join('\n')
    // eslint-disable-next-line no-control-regex
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((l) => !/^\s+at /.test(l))
    // vitest's own tail of a failed verdict says nothing the explanation does not.
    .map((l) => l.replace(/^AssertionError: /, '').replace(/: expected (false|true) to be (true|false) \/\/ Object\.is equality$/, ''))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

function sameFile(outcomeFile: string, suite: string): boolean {
  const base = (p: string): string => p.split('/').pop() ?? p;
  return base(outcomeFile) === base(suite);
}

function describeTest(t: TestOutcome): string {
  return `"${t.fullName}"`;
}

/** Why the unaffected suite is not clean ([] when every test in it passed and at least one ran). */
function unaffectedProblems(tests: TestOutcome[], suite: string): string[] {
  const mine = tests.filter((t) => sameFile(t.file, suite));
  if (mine.length === 0) return [`the unaffected suite ${suite} did not run`];
  const failed = mine.filter((t) => t.status === 'failed');
  if (failed.length > 0)
    return failed.map((t) => `the unaffected suite ${suite} failed ${describeTest(t)}: ${messageStart(t.failureMessages)}`);
  if (!mine.some((t) => t.status === 'passed')) return [`the unaffected suite ${suite} passed no test (all skipped)`];
  return [];
}

function leftoverProblems(run: FaultRun): string[] {
  return run.leftovers.length > 0 ? [`left behind: ${run.leftovers.join('; ')}`] : [];
}

function runProblems(run: FaultRun): string[] {
  return [...(run.timedOut ? [`timed out: ${run.timedOut}`] : []), ...(run.actError ? [`the act failed: ${run.actError}`] : [])];
}

export function judgeFault(c: FaultCase, run: FaultRun): Judgement {
  const e = c.expect;
  if (e.kind === 'lab') {
    const problems = [...runProblems(run), ...e.check(run), ...leftoverProblems(run)];
    if (problems.length === 0) return { verdict: 'handled', ok: true, detail: e.must };
    const failedSomething = run.tests.some((t) => t.status === 'failed') || (run.exitCode !== 0 && run.exitCode !== null) || !!run.signal;
    return { verdict: failedSomething ? 'wrongly failed' : 'missed', ok: false, detail: problems.join('; ') };
  }

  const { suite, scenario } = e.caughtBy;
  const inSuite = run.tests.filter((t) => sameFile(t.file, suite));
  const named = inSuite.filter((t) => scenario.test(t.fullName));
  const failed = named.find((t) => t.status === 'failed');
  const missed: string[] = [];
  let explanation: string | undefined;
  if (!failed) {
    const others = inSuite.filter((t) => t.status === 'failed');
    const instead =
      others.length > 0 ? `; instead ${others.map((t) => `${describeTest(t)} failed: ${messageStart(t.failureMessages)}`).join('; ')}` : '';
    if (named.length === 0) missed.push(`no scenario of ${suite} matches ${String(scenario)} (ran: ${inSuite.length} tests)${instead}`);
    else missed.push(`${named.map((t) => `${describeTest(t)} ${t.status}`).join('; ')}${instead}`);
  } else {
    explanation = messageStart(failed.failureMessages, 600);
    const text = failed.failureMessages.join('\n');
    const unnamed = e.explains.filter((re) => !re.test(text));
    if (unnamed.length > 0)
      missed.push(
        `${describeTest(failed)} failed without naming the cause (no match for ${unnamed.map(String).join(', ')}): ${messageStart(failed.failureMessages)}`,
      );
  }
  const wrong = [...unaffectedProblems(run.tests, e.unaffected), ...leftoverProblems(run)];
  const extra = runProblems(run);
  if (missed.length > 0)
    return { verdict: 'missed', ok: false, detail: [...missed, ...extra, ...wrong].join('; '), ...(explanation ? { explanation } : {}) };
  const scenarioSeen = { scenario: `${suite}: ${(failed as TestOutcome).fullName}` };
  if (wrong.length > 0 || extra.length > 0)
    return {
      ...scenarioSeen,
      verdict: 'wrongly failed',
      ok: false,
      detail: [...extra, ...wrong].join('; '),
      ...(explanation ? { explanation } : {}),
    };
  return {
    ...scenarioSeen,
    verdict: 'caught',
    ok: true,
    detail: `by ${suite} ${describeTest(failed as TestOutcome)}: ${messageStart((failed as TestOutcome).failureMessages)}`,
    ...(explanation ? { explanation } : {}),
  };
}

/** The printed line for one fault. */
export function faultLine(name: string, j: Judgement): string {
  return `${name}: ${j.verdict} ${j.detail}`;
}
