/**
 * The fault catalogue (issue 16): for each fault of test/twin/faults.ts, what the twin does, which suites
 * `npm run test:faults` runs with it on, and what the run must show. The runner (test/twin/faults-run.ts) judges a
 * run against its case and prints `<fault>: caught|handled|missed|wrongly failed …`; docs/faults.md is generated from
 * the last run, the README's per-suite list from this file.
 *
 * Sections: issue 16's product faults, issue 16's lab faults, then one section per suite added later (each new suite
 * adds at least one product fault its scenarios catch).
 */
import type { Twin } from './twin.ts';
import type { FaultName } from './faults.ts';
import { LAB_FAULT_CASES } from './fault-cases-lab.ts';

/** One test of a fault run, from vitest's JSON report (CLH_VITEST_JSON). */
export interface TestOutcome {
  /** Suite file name, e.g. `10-native-routing.test.ts`. */
  file: string;
  /** describe + test title, as vitest's fullName. */
  fullName: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo';
  /** The failure messages (assertion text, the verdict's explanation). */
  failureMessages: string[];
  durationMs: number;
}

/** What one fault run produced, handed to the case's checks. */
export interface FaultRun {
  tests: TestOutcome[];
  /** `npm test`'s exit code (null if ended by a signal) and how long it ran. */
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  /** Everything the run printed (stdout + stderr), for lab faults whose proof is in what the run says. */
  output: string;
  /** What the run left in the twin (Twin.leftovers(), plus the router's routes compared with before the run). */
  leftovers: string[];
  /** The run's reports folder (Allure results of this run), e.g. to read a timeline attachment. */
  reportsDir: string;
}

/** Something done to the twin while the run is on (cut SSH, restart the API, SIGINT), started with the run. */
export interface FaultActContext {
  twin: Twin;
  /** Resolves when the run's output so far matches `re` (or rejects after `timeoutMs`). */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<string>;
  /** Sends a signal to the whole `npm test` process group. */
  signalRun(sig: NodeJS.Signals): void;
  /** Aborted when the run has ended: stop acting. */
  signal: AbortSignal;
  log(line: string): void;
}

export interface ProductExpect {
  kind: 'product';
  /** The scenario that must fail: its suite file and a pattern of its fullName. */
  caughtBy: { suite: string; scenario: RegExp };
  /** Each must match the scenario's failure message (the explanation names the cause). */
  explains: RegExp[];
  /** A suite the fault must not affect: every test in it passes. */
  unaffected: string;
}

export interface LabExpect {
  kind: 'lab';
  /** What the run must do, as the table says it (printed and in docs/faults.md). */
  must: string;
  /** The problems with the run (empty: handled as the table says). */
  check(run: FaultRun): string[];
}

export interface FaultCase {
  name: FaultName;
  /** What the twin does, as the table says it (README and docs/faults.md). */
  does: string;
  /** Suite files run with the fault on, in run order (only what the fault needs). */
  suites: string[];
  expect: ProductExpect | LabExpect;
  /** Started alongside the run (lab faults that are events, not states). */
  act?(ctx: FaultActContext): Promise<void>;
  /** The fault cannot be undone by turning it off (a node that never returns): the runner uses a fresh twin after it. */
  spoilsTwin?: boolean;
  /** Where the fault's model comes from (what a real regression or lab problem looks like). */
  source: string;
}

export const FAULT_CASES: FaultCase[] = [
  // issue 16: lab faults (test/twin/fault-cases-lab.ts)
  ...LAB_FAULT_CASES,
];
