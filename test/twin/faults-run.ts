/**
 * `npm run test:faults` (issue 16): every case of the fault catalogue (test/twin/fault-cases.ts) run on one lab twin
 * of the newest ciliumMatrix version, reused across faults. For each case: the router's routes are recorded, the
 * fault is turned on (`twin.faults.set([name])`), `npm test -- <case.suites>` runs against the twin (as
 * `npm run test:twin` runs it: test/twin/npm-run.ts) while the case's `act` runs alongside, then what the run left
 * (Twin.leftovers(), and the router's routes compared with before once the fault is off again) is collected and the
 * run judged (fault-judge.ts). A case that `spoilsTwin`, or a run after which the twin is unhealthy (something left,
 * an agent not ready), gets the next case a fresh twin. Every run is bounded in time (the case's `timeoutMs`, else
 * FAULTS_TIMEOUT_S, else 240 s): past it the run's process group is killed and the run judged with the reason.
 *
 *   npm run test:faults [-- name,name…] [--version X]
 *
 * Prints one line per fault (`<fault>: caught|handled|missed|wrongly failed …`) and `N passed, N failed`; exits 1 when
 * any failed. Writes out/faults/summary.json (FAULTS_OUT, what scripts/ci-summary.ts --faults reads), each run's
 * output and reports under out/faults/<fault>/, and after a run of the whole catalogue docs/faults.md and the
 * README's "Faults each suite is proven to catch" section (both generated: fault-docs.ts).
 *
 * FAULTS_LANES=N (default 1): N lanes, each with its own twin (prefix FAULTS_PREFIX + lane number) and its own
 * `npm test` per fault; a free lane takes the next case (fault-lanes.ts), the reuse rule above holds per lane, and
 * the lines, summary.json and docs keep catalogue order.
 *
 * Needs root on Linux, like test:twin. SIGINT/SIGTERM end every lane's running `npm test` group and tear every
 * lane's twin down (one still being built is waited for first).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, router } from '../../helpers/lab/topology.ts';
import { loadVersions } from '../../helpers/lab/versions.ts';
import { HARNESS_ROUTE_PROTO } from '../../helpers/transport/probes.ts';
import { FAULT_CASES, type FaultActContext, type FaultCase, type FaultRun, type TestOutcome } from './fault-cases.ts';
import { faultDocs, readmeFaultsSection, replaceReadmeSection, type FaultResult } from './fault-docs.ts';
import { faultLine, judgeFault } from './fault-judge.ts';
import { lanePrefix, parseLanes, runInLanes } from './fault-lanes.ts';
import { FAULT_NAMES, isFaultName } from './faults.ts';
import { spawnGroup, twinTestEnv, type GroupChild } from './npm-run.ts';
import { startTwin, type Twin } from './twin.ts';

export const DEFAULT_FAULT_TIMEOUT_MS = 240_000;
/** How long the fault's undoing may take to show on the router (routes back as before). */
const CONVERGE_MS = 10_000;
const ACT_GRACE_MS = 10_000;

export interface FaultArgs {
  /** The cases to run (in catalogue order). */
  cases: FaultCase[];
  version: string | null;
  /** True when no filter was given: the whole catalogue (docs are written). */
  all: boolean;
}

/** `name,name…` (repeatable, comma or space separated) and `--version X`; unknown names and names without a case are errors. */
export function parseFaultArgs(argv: string[], cases: readonly FaultCase[]): FaultArgs {
  const names: string[] = [];
  let version: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--version') version = argv[++i] ?? '';
    else if (a.startsWith('--version=')) version = a.slice('--version='.length);
    else
      names.push(
        ...a
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      );
  }
  if (version === '') throw new Error('--version needs a Cilium version');
  const unknown = names.filter((n) => !isFaultName(n));
  if (unknown.length > 0)
    throw new Error(`unknown fault${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${FAULT_NAMES.join(', ')})`);
  const caseless = names.filter((n) => !cases.some((c) => c.name === n));
  if (caseless.length > 0) throw new Error(`no case in test/twin/fault-cases.ts yet for ${caseless.join(', ')}`);
  if (names.length === 0) return { cases: [...cases], version, all: true };
  return { cases: cases.filter((c) => names.includes(c.name)), version, all: false };
}

interface JsonAssertion {
  fullName: string;
  status: string;
  failureMessages?: string[];
  duration?: number | null;
}
interface JsonFile {
  name: string;
  status: string;
  message?: string;
  assertionResults: JsonAssertion[];
}

const STATUSES = new Set(['passed', 'failed', 'skipped', 'pending', 'todo']);

/** vitest's JSON report as TestOutcome[]; a file that failed to load becomes one failed outcome named `(file)`. */
export function outcomesFromVitestJson(text: string): TestOutcome[] {
  const j = JSON.parse(text) as { testResults?: JsonFile[] };
  const out: TestOutcome[] = [];
  for (const f of j.testResults ?? []) {
    const file = path.basename(f.name);
    if (f.status === 'failed' && f.assertionResults.every((a) => a.status !== 'failed'))
      out.push({ file, fullName: '(file)', status: 'failed', failureMessages: [f.message ?? 'failed to run'], durationMs: 0 });
    for (const a of f.assertionResults) {
      out.push({
        file,
        fullName: a.fullName,
        status: (STATUSES.has(a.status) ? a.status : 'failed') as TestOutcome['status'],
        failureMessages: a.failureMessages ?? [],
        durationMs: a.duration ?? 0,
      });
    }
  }
  return out;
}

/** Routes of `ip route show` that differ: added ones and removed ones, each named. */
export function routeDiff(before: string, after: string): string[] {
  const lines = (s: string): string[] =>
    s
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
  const b = new Set(lines(before));
  const a = new Set(lines(after));
  return [
    ...[...a].filter((r) => !b.has(r)).map((r) => `router route "${r}" (added during the run)`),
    ...[...b].filter((r) => !a.has(r)).map((r) => `router route "${r}" (removed during the run)`),
  ];
}

/** Resolves once `text()` matches `re`, polling; rejects after `timeoutMs` or when `signal` aborts. */
export async function waitForText(text: () => string, re: RegExp, timeoutMs: number, signal: AbortSignal): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(text());
    if (m) return m[0];
    if (signal.aborted) throw new Error(`the run ended before its output matched ${String(re)}`);
    if (Date.now() > deadline) throw new Error(`no output matched ${String(re)} within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------------

/** One lane (FAULTS_LANES): its own twin (own namespace prefix), its running `npm test` group, whether to reuse the twin. */
interface Lane {
  id: number;
  prefix: string;
  twin: Twin | null;
  /** A twin being built (SIGINT/SIGTERM waits for it, then tears it down). */
  building: Promise<Twin> | null;
  child: GroupChild | null;
  reuse: boolean;
}

let lanes: Lane[] = [];
let stopping = false;

function say(line: string): void {
  process.stderr.write(`[faults] ${line}\n`);
}

function laneSay(lane: Lane, line: string): void {
  say(lanes.length > 1 ? `lane ${lane.id}: ${line}` : line);
}

async function tearDown(lane: Lane): Promise<void> {
  lane.child?.signal('SIGKILL');
  const t = lane.twin;
  lane.twin = null;
  await t?.teardown().catch((e: unknown) => laneSay(lane, `teardown: ${(e as Error).message}`));
}

function onSignal(sig: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  say(`${sig}: ending the run and tearing ${lanes.length > 1 ? `the ${lanes.length} lanes' twins` : 'the twin'} down`);
  for (const l of lanes) l.child?.signal('SIGTERM');
  // A twin still being built is waited for (startTwin has its own deadlines), then torn down like the others.
  const down = (l: Lane): Promise<void> =>
    (l.building ?? Promise.resolve()).then(
      () => tearDown(l),
      () => tearDown(l),
    );
  void Promise.all(lanes.map(down)).finally(() => process.exit(130));
}

async function routerRoutes(t: Twin): Promise<string> {
  return t.net.netlab.nsExec(router(t.topology)?.name ?? 'router', ['ip', 'route', 'show']);
}

async function freshTwin(lane: Lane, version: string): Promise<Twin> {
  await tearDown(lane);
  const started = Date.now();
  laneSay(lane, `building a Cilium ${version} twin (namespaces ${lane.prefix}-*)`);
  lane.building = startTwin({
    ciliumVersion: version,
    // Its own namespace prefix (FAULTS_PREFIX, default `tf`, plus the lane number with lanes), apart from test:twin's `tw` twins.
    prefix: lane.prefix,
    log: (l) => (process.env.TWIN_DEBUG ? process.stderr.write(`[twin ${lane.prefix} ${version}] ${l}\n`) : undefined),
  }).then((t) => {
    lane.twin = t; // set before anyone awaiting `building` resumes, so a SIGINT's teardown sees it
    return t;
  });
  const t = await lane.building.finally(() => {
    lane.building = null;
  });
  if (stopping) throw new Error('stopping: the twin is torn down by the signal handler');
  laneSay(lane, `twin ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return t;
}

/** One fault: on, the run (with its act), off, what it left; the FaultRun and whether the twin is still fit for reuse. */
async function runCase(lane: Lane, t: Twin, c: FaultCase, outDir: string): Promise<{ run: FaultRun; healthy: boolean }> {
  const dir = path.join(outDir, c.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'output.log');
  const json = path.join(dir, 'vitest.json');
  const before = await routerRoutes(t);
  t.faults.set([c.name]);
  await t.net.settled();
  let output = '';
  const onOutput = (s: string): void => {
    output += s;
    appendFileSync(logFile, s);
    if (process.env.FAULTS_VERBOSE) process.stderr.write(s);
  };
  const started = Date.now();
  const timeoutMs =
    c.timeoutMs ?? (Number(process.env.FAULTS_TIMEOUT_S) > 0 ? Number(process.env.FAULTS_TIMEOUT_S) * 1000 : DEFAULT_FAULT_TIMEOUT_MS);
  const run = spawnGroup('npm', ['test', '--', ...c.suites], {
    env: twinTestEnv({ topologyFile: t.topologyFile, ciliumVersion: t.ciliumVersion, reportsDir: dir, vitestJson: json }),
    onOutput,
  });
  lane.child = run;
  const ended = new AbortController();
  let actError: string | undefined;
  const ctx: FaultActContext = {
    twin: t,
    waitForOutput: (re, ms) => waitForText(() => output, re, ms, ended.signal),
    signalRun: (sig) => run.signal(sig),
    signal: ended.signal,
    log: (l) => onOutput(`[act ${c.name}] ${l}\n`),
  };
  const act = c.act
    ? c.act(ctx).catch((e: unknown) => {
        actError = (e as Error).message;
      })
    : Promise.resolve();
  let timedOut: string | undefined;
  let killer: NodeJS.Timeout | undefined;
  const bound = new Promise<void>((resolve) => {
    killer = setTimeout(() => {
      timedOut = `the run was still going after ${Math.round(timeoutMs / 1000)} s: its process group was killed`;
      run.signal('SIGTERM');
      setTimeout(() => run.signal('SIGKILL'), 5_000).unref();
      resolve();
    }, timeoutMs);
  });
  const result = await Promise.race([run.done, bound.then(() => run.done)]);
  clearTimeout(killer);
  lane.child = null;
  ended.abort();
  const actEnded = await Promise.race([
    act.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), ACT_GRACE_MS).unref()),
  ]);
  if (!actEnded) actError = actError ?? `the act did not end within ${ACT_GRACE_MS / 1000} s of the run`;
  const durationMs = Date.now() - started;

  const leftovers = process.env.LAB_KEEP ? [] : await t.leftovers().catch((e: unknown) => [`could not look: ${(e as Error).message}`]);
  // The fault off again: the twin converges back (the router's routes as before), bounded.
  t.faults.set([]);
  await t.net.settled();
  let routes: string[] = [];
  const deadline = Date.now() + CONVERGE_MS;
  for (;;) {
    routes = routeDiff(before, await routerRoutes(t).catch((e: unknown) => `could not read: ${(e as Error).message}`));
    if (routes.length === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  // The harness's own (proto 173) routes are named by Twin.leftovers() already.
  const all = [...leftovers, ...routes.filter((r) => !new RegExp(`proto ${HARNESS_ROUTE_PROTO}\\b`).test(r))];
  let tests: TestOutcome[] = [];
  if (existsSync(json)) {
    try {
      tests = outcomesFromVitestJson(readFileSync(json, 'utf8'));
    } catch (e) {
      onOutput(`[faults] unreadable ${json}: ${(e as Error).message}\n`);
    }
  }
  let healthy = all.length === 0 && !timedOut && !c.spoilsTwin;
  if (healthy) {
    try {
      await t.cluster.waitAgentsReady(60_000);
    } catch (e) {
      healthy = false;
      laneSay(lane, `${c.name}: the twin is not healthy after the run (${(e as Error).message}): a fresh twin for the next fault`);
    }
  }
  return {
    run: {
      tests,
      exitCode: result.code,
      signal: result.signal,
      durationMs,
      output,
      leftovers: all,
      reportsDir: dir,
      ...(timedOut ? { timedOut } : {}),
      ...(actError ? { actError } : {}),
    },
    healthy,
  };
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    process.stderr.write('npm run test:faults needs root on Linux (network namespaces, sshd); see test/twin/README.md "Faults".\n');
    process.exit(2);
  }
  let args: FaultArgs;
  try {
    args = parseFaultArgs(process.argv.slice(2), FAULT_CASES);
  } catch (e) {
    process.stderr.write(`npm run test:faults: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const matrix = loadVersions().ciliumMatrix;
  const version = args.version ?? (matrix[matrix.length - 1] as string);
  const outDir = path.resolve(process.env.FAULTS_OUT ?? path.join(REPO_ROOT, 'out', 'faults'));
  mkdirSync(outDir, { recursive: true });
  const caseless = FAULT_NAMES.filter((n) => !FAULT_CASES.some((c) => c.name === n));
  if (args.all && caseless.length > 0) say(`faults without a case yet (not run): ${caseless.join(', ')}`);
  let laneCount: number;
  try {
    laneCount = Math.min(parseLanes(process.env.FAULTS_LANES), Math.max(1, args.cases.length));
    const prefix = process.env.FAULTS_PREFIX ?? 'tf';
    lanes = Array.from({ length: laneCount }, (_, k) => ({
      id: k + 1,
      prefix: lanePrefix(prefix, k + 1, laneCount),
      twin: null,
      building: null,
      child: null,
      reuse: false,
    }));
  } catch (e) {
    process.stderr.write(`npm run test:faults: ${(e as Error).message}\n`);
    process.exit(2);
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = Date.now();
  if (laneCount > 1) say(`${args.cases.length} fault(s) on ${laneCount} lanes (FAULTS_LANES), each with its own twin`);
  // Each lane takes the next case when it is free; the lines print in catalogue order (fault-lanes.ts). A case that
  // spoils its twin (node-never-returns: it waits out the whole reboot bound, ~10 min) starts first, so the other
  // lanes work through the rest meanwhile instead of waiting for it at the end.
  const results = await runInLanes(
    args.cases,
    laneCount,
    async (c, laneId): Promise<FaultResult> => {
      const lane = lanes[laneId - 1] as Lane;
      const t0 = Date.now();
      try {
        const t = lane.reuse && lane.twin ? lane.twin : await freshTwin(lane, version);
        laneSay(lane, `${c.name}: npm test -- ${c.suites.join(' ')}`);
        const { run, healthy } = await runCase(lane, t, c, outDir);
        lane.reuse = healthy;
        const j = judgeFault(c, run);
        const r = { name: c.name, kind: c.expect.kind, judgement: j, durationMs: Date.now() - t0 };
        if (!stopping) laneSay(lane, `${c.name}: ${(r.durationMs / 1000).toFixed(0)} s`);
        return r;
      } catch (e) {
        lane.reuse = false;
        return {
          name: c.name,
          kind: c.expect.kind,
          judgement: { verdict: 'wrongly failed', ok: false, detail: `the runner failed: ${(e as Error).message.split('\n')[0]}` },
          durationMs: Date.now() - t0,
        };
      }
    },
    {
      stop: () => stopping,
      first: (c) => c.spoilsTwin === true,
      onResult: (r) => {
        if (!stopping) console.log(faultLine(r.name, r.judgement));
      },
    },
  );
  if (stopping) return;
  await Promise.all(lanes.map((l) => tearDown(l)));
  const passed = results.filter((r) => r.judgement.ok).length;
  const failed = results.length - passed;
  const totalMs = Date.now() - started;
  const finishedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  writeFileSync(
    path.join(outDir, 'summary.json'),
    `${JSON.stringify(
      {
        version,
        finishedAt,
        durationMs: totalMs,
        passed,
        failed,
        all: args.all,
        caseless,
        faults: results.map((r) => ({ name: r.name, kind: r.kind, durationMs: r.durationMs, ...r.judgement })),
      },
      null,
      2,
    )}\n`,
  );
  if (args.all && !process.env.FAULTS_NO_DOCS) {
    const meta = { version, finishedAt, durationMs: totalMs };
    writeFileSync(path.join(REPO_ROOT, 'docs', 'faults.md'), faultDocs(args.cases, results, meta));
    const readme = path.join(REPO_ROOT, 'README.md');
    writeFileSync(readme, replaceReadmeSection(readFileSync(readme, 'utf8'), readmeFaultsSection(args.cases, results)));
    say('wrote docs/faults.md and the README section "Faults each suite is proven to catch"');
  }
  const sumS = results.reduce((a, r) => a + r.durationMs, 0) / 1000;
  say(
    `${results.length} fault(s) on Cilium ${version} in ${(totalMs / 1000).toFixed(0)} s` +
      (laneCount > 1 ? ` on ${laneCount} lanes (the faults' own times add up to ${sumS.toFixed(0)} s)` : ''),
  );
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await main();
  process.exit(process.exitCode ?? 0);
}
