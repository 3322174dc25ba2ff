/**
 * Issue 16's lab faults as fault cases (test/twin/fault-cases.ts, section "issue 16: lab faults"): the lab misbehaves
 * the way a real one does and the harness must keep its word. Each case runs only the suites the fault needs; a fault
 * that is an event (a cut, a restart, a signal) is done by `act` while the run is on, triggered by what the twin sees
 * (a route the suite added, a node going down, a capture running), not by a timer, so it lands mid-suite on a slow
 * machine too.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { HARNESS_ROUTE_PROTO } from '../../helpers/transport/probes.ts';
import { router } from '../../helpers/lab/topology.ts';
import { DEADLINE } from '../../helpers/wait/deadlines.ts';
import { classifyResult } from '../../reports/categories.ts';
import { API_RESTART_DOWN_MS } from './api/faults-api.ts';
import { AGENT_NOT_READY_NODE } from './api/faults-lab.ts';
import { dropSshConnections } from './net/ssh-drop.ts';
import type { FaultActContext, FaultCase, FaultRun, TestOutcome } from './fault-cases.ts';
import type { Twin } from './twin.ts';

/** What the run printed when it stopped short (suites/support/run-gate.ts and helpers/lab/interrupt.ts print these). */
export const NOT_RUN_LINE = /not run: /;
export const LEFT_UNDONE_LINE = /left undone/i;

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Polls `cond` every `everyMs` until it holds (true), the run ends or `timeoutMs` passes (false). */
async function until(ctx: FaultActContext, cond: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!ctx.signal.aborted && Date.now() < end) {
    if (await Promise.resolve(cond()).catch(() => false)) return true;
    await sleep(everyMs, ctx.signal);
  }
  return false;
}

function routerName(twin: Twin): string {
  return router(twin.topology)?.name ?? 'router';
}

/** Commands (comm) running in a host's network namespace, e.g. tcpdump, by PID. */
async function processesIn(twin: Twin, host: string): Promise<{ pid: number; comm: string }[]> {
  const { execFile } = await import('node:child_process');
  const ns = twin.net.netlab.ns(host);
  const pids = await new Promise<string>((resolve) => execFile('ip', ['netns', 'pids', ns], (_e, out) => resolve(out ?? '')));
  return pids
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0)
    .map((pid) => {
      try {
        return { pid, comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim() };
      } catch {
        return { pid, comm: '' };
      }
    })
    .filter((p) => p.comm !== '');
}

/** Probes and captures the harness starts on hosts (helpers/transport/background.ts, probes.ts). */
const PROBE_COMMS = /^(tcpdump|arping|curl|ping|timeout)$/;

/** The suite file as `npm test --` takes it (the case's `suites`). */
const suitePath = (file: string): string => `suites/${file}`;

function inFile(run: FaultRun, file: string): TestOutcome[] {
  return run.tests.filter((t) => t.file === file);
}

function notPassed(run: FaultRun): string[] {
  return run.tests
    .filter((t) => t.status !== 'passed')
    .map((t) => `${t.file} "${t.fullName}" ${t.status}${t.failureMessages[0] ? `: ${t.failureMessages[0].split('\n')[0]}` : ''}`);
}

function allPass(run: FaultRun, suites: string[]): string[] {
  const p: string[] = [];
  for (const s of suites) if (inFile(run, s).length === 0) p.push(`${s} ran no test`);
  p.push(...notPassed(run).map((x) => `not passed: ${x}`));
  if (run.exitCode !== 0) p.push(`npm test exited ${run.exitCode ?? `by signal ${run.signal}`}`);
  return p;
}

function noLeftovers(run: FaultRun): string[] {
  return run.leftovers.map((l) => `left behind: ${l}`);
}

/** Text files under `dir` (the run's Allure results) whose content matches `re`. */
function reportFilesMatching(dir: string, re: RegExp, depth = 6): string[] {
  const found: string[] = [];
  const walk = (d: string, left: number): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const f = path.join(d, n);
      const st = statSync(f);
      if (st.isDirectory()) {
        if (left > 0) walk(f, left - 1);
      } else if (st.size < 2_000_000 && /\.(txt|log|json)$|attachment/.test(n)) {
        const text = readFileSync(f, 'utf8');
        if (re.test(text)) found.push(text);
      }
    }
  };
  walk(dir, depth);
  return found;
}

// -- ssh-drop -------------------------------------------------------------------------------------

const sshDrop: { cut: string[]; when: string } = { cut: [], when: '' };
const SSH_DROP_SUITE = '10-native-routing.test.ts';

// -- api-restart ----------------------------------------------------------------------------------

const apiRestart: { restartedAt: number | null; node: string | null } = { restartedAt: null, node: null };
const FAILOVER_SUITE = '90-l2-failover.test.ts';

// -- interrupt ------------------------------------------------------------------------------------

const interrupt: { sentAt: number | null; startedAt: number; during: string; after: string[] } = {
  sentAt: null,
  startedAt: 0,
  during: '',
  after: [],
};
const INTERRUPT_SUITE = '20-vxlan.test.ts';
/** The table: "the run stops within 30 s". */
export const INTERRUPT_STOP_MS = 30_000;

export const LAB_FAULT_CASES: FaultCase[] = [
  {
    name: 'ssh-drop',
    does: 'cuts every SSH connection to the router once, mid-suite',
    suites: [suitePath(SSH_DROP_SUITE)],
    source: 'a real lab: a VirtualBox NAT port forward or a flapping host-only link drops established SSH sessions',
    async act(ctx) {
      sshDrop.cut = [];
      sshDrop.when = '';
      const r = routerName(ctx.twin);
      // Mid-suite: the moment the suite's workaround routes (proto 173) appear on the router, the scenario that adds
      // them is running and will remove them over SSH afterwards.
      const routed = await until(
        ctx,
        async () => (await ctx.twin.net.netlab.nsExec(r, ['ip', 'route', 'show', 'proto', String(HARNESS_ROUTE_PROTO)])).trim() !== '',
        240_000,
      );
      if (!routed) return;
      sshDrop.when = 'while the scenario with the router routes ran';
      sshDrop.cut = await dropSshConnections(ctx.twin.net, r);
      ctx.log(`cut ${sshDrop.cut.length} SSH connection(s) to ${r} ${sshDrop.when}`);
    },
    expect: {
      kind: 'lab',
      must: 'pass: the pool reconnects; no command is run twice where that would change the lab',
      check(run) {
        const p: string[] = [];
        if (sshDrop.cut.length === 0) p.push('no SSH connection to the router was cut (the fault did not happen)');
        p.push(...allPass(run, [SSH_DROP_SUITE]));
        // A lab-changing command run twice shows as iproute2's "File exists" / "No such process" in a failure.
        if (/RTNETLINK answers: File exists/.test(run.output)) p.push('a route was added twice (RTNETLINK: File exists)');
        p.push(...noLeftovers(run));
        return p;
      },
    },
  },
  {
    name: 'api-restart',
    does: "restarts the API server (new connections refused for a few seconds, watches closed) during the failover suite's lease watch",
    suites: [suitePath(FAILOVER_SUITE)],
    timeoutMs: 300_000,
    source: 'kubeadm: kube-apiserver is a static pod; a restart (upgrade, OOM, certificate rotation) closes every watch',
    async act(ctx) {
      apiRestart.restartedAt = null;
      apiRestart.node = null;
      // The lease watch runs from just before the reboot to after the takeover: restart when the holder goes down.
      let down: string | null = null;
      ctx.twin.net.onNodeState((node, state) => {
        if (state === 'down' && down === null) down = node;
      });
      if (!(await until(ctx, () => down !== null, 300_000, 100))) return;
      await sleep(1_000, ctx.signal);
      if (ctx.signal.aborted) return;
      apiRestart.node = down;
      apiRestart.restartedAt = Date.now();
      ctx.log(`${down} went down: restarting the API server (${API_RESTART_DOWN_MS} ms refused)`);
      await ctx.twin.server.restart(API_RESTART_DOWN_MS);
    },
    expect: {
      kind: 'lab',
      must: 'pass: the watch resumes or relists; the failover time is still measured, with the gap recorded in the timeline',
      check(run) {
        const p: string[] = [];
        if (apiRestart.restartedAt === null) p.push('the API server was not restarted (no node went down)');
        p.push(...allPass(run, [FAILOVER_SUITE]));
        const timelines = reportFilesMatching(run.reportsDir, /event \(t = 0: reboot of/);
        if (timelines.length === 0) p.push('no failover timeline attachment in the reports');
        // The restart refuses connections for API_RESTART_DOWN_MS: the watch must come back after a gap about that long.
        const minGapS = (API_RESTART_DOWN_MS - 1_000) / 1000;
        for (const t of timelines) {
          const gaps = [...t.matchAll(/watch {4}connected \(back after a gap of ([\d.]+) s\)/g)].map((m) => Number(m[1]));
          if (!gaps.some((g) => g >= minGapS))
            p.push(`the timeline shows no watch gap of ${minGapS} s or more (gaps seen: ${gaps.join(', ') || 'none'})`);
        }
        if (reportFilesMatching(run.reportsDir, /"measurement: failover time"/).length === 0) p.push('no failover time was recorded');
        p.push(...noLeftovers(run));
        return p;
      },
    },
  },
  {
    name: 'api-slow',
    does: 'answers every API call after 2 s',
    // Every call 2 s late: the two suites took 194 s on a loaded 2-core machine.
    timeoutMs: 480_000,
    suites: [suitePath('00-lab-health.test.ts'), suitePath('40-lb-sharing.test.ts')],
    source: 'an overloaded control plane (etcd on a slow disk, a 2-CPU VM under a Cilium upgrade)',
    expect: {
      kind: 'lab',
      must: "pass, within the suites' deadlines",
      check(run) {
        return [...allPass(run, ['00-lab-health.test.ts', '40-lb-sharing.test.ts']), ...noLeftovers(run)];
      },
    },
  },
  {
    name: 'node-never-returns',
    does: 'the rebooted node never comes back',
    suites: [suitePath(FAILOVER_SUITE)],
    spoilsTwin: true,
    // The suite waits its whole reboot bound (DEADLINE.rebootMs) before it may say "lab timeout"; the arrangement before.
    timeoutMs: DEADLINE.rebootMs + 300_000,
    source: 'a real lab: a VM that hangs in its boot (a full disk, a stuck fsck) after `systemctl reboot`',
    expect: {
      kind: 'lab',
      must: 'fail 90-l2-failover as "lab timeout" within its bound (no hang), the run ends, cleanup runs',
      check(run) {
        const p: string[] = [];
        const tests = inFile(run, FAILOVER_SUITE);
        const back = tests.find((t) => /comes back/.test(t.fullName));
        if (!back) p.push('the "comes back" scenario did not run');
        else if (back.status !== 'failed') p.push(`the "comes back" scenario ${back.status}, not failed`);
        else {
          // As the reports classify it (reports/categories.ts): an assertion is `failed`, any other error `broken`.
          const message = back.failureMessages.join('\n');
          const category = classifyResult({ status: /^AssertionError/.test(message) ? 'failed' : 'broken', message });
          if (category?.short !== 'lab timeout')
            p.push(`the "comes back" scenario failed as "${category?.short ?? '?'}", not "lab timeout": ${message.split('\n')[0]}`);
        }
        if (run.signal !== null || run.exitCode === 0 || run.exitCode === null)
          p.push(`the run did not end as a failure (exit ${run.exitCode}, signal ${run.signal})`);
        if (/Test timed out in/.test(run.output)) p.push("vitest's own timeout fired (the harness's bound did not end the wait first)");
        p.push(...noLeftovers(run));
        return p;
      },
    },
  },
  {
    name: 'agent-not-ready',
    does: 'one agent reports a non-Ok state',
    suites: [suitePath('00-lab-health.test.ts'), suitePath('40-lb-sharing.test.ts')],
    source: 'cilium-dbg status: `Cilium: Failure` on an agent whose datapath or kvstore is broken (cilium-behaviour.md 5.2)',
    expect: {
      kind: 'lab',
      must: 'fail 00-lab-health naming the node and the state; the run stops before suites that need a healthy lab, each reported as not run with that reason',
      check(run) {
        const p: string[] = [];
        const health = inFile(run, '00-lab-health.test.ts');
        const agents = health.find((t) => /Cilium agent/.test(t.fullName));
        const msg = agents?.failureMessages.join('\n') ?? '';
        if (!agents || agents.status !== 'failed') p.push(`the agent health scenario did not fail (${agents?.status ?? 'not run'})`);
        else if (!msg.includes(AGENT_NOT_READY_NODE) || !/Failure/.test(msg))
          p.push(`the failure does not name ${AGENT_NOT_READY_NODE} and its state: ${msg.split('\n')[0]}`);
        const later = inFile(run, '40-lb-sharing.test.ts');
        if (later.length === 0) p.push('40-lb-sharing reported no test (not reported as not run)');
        for (const t of later)
          if (t.status !== 'skipped' && t.status !== 'pending') p.push(`40-lb-sharing "${t.fullName}" ${t.status}, not "not run"`);
        const line = run.output.split('\n').find((l) => NOT_RUN_LINE.test(l) && l.includes('40-lb-sharing'));
        if (!line) p.push('the run does not say 40-lb-sharing was not run');
        else if (!line.includes(AGENT_NOT_READY_NODE)) p.push(`the not-run line does not give the reason: ${line.trim()}`);
        p.push(...noLeftovers(run));
        return p;
      },
    },
  },
  {
    name: 'interrupt',
    does: 'the run is interrupted (SIGINT) in the middle of a suite',
    suites: [suitePath(INTERRUPT_SUITE)],
    source: 'a person pressing Ctrl-C, or CI cancelling a job (SIGINT/SIGTERM to the process group)',
    async act(ctx) {
      interrupt.sentAt = null;
      interrupt.startedAt = Date.now();
      interrupt.during = '';
      interrupt.after = [];
      const r = routerName(ctx.twin);
      // Mid-suite: while the suite's capture runs on the router.
      let seen = '';
      const capturing = await until(
        ctx,
        async () => {
          const ps = (await processesIn(ctx.twin, r)).filter((x) => x.comm === 'tcpdump');
          seen = ps.map((x) => `${x.comm} (pid ${x.pid})`).join(', ');
          return ps.length > 0;
        },
        240_000,
        50,
      );
      if (!capturing) return;
      interrupt.during = seen;
      interrupt.sentAt = Date.now();
      ctx.log(`SIGINT to the run while ${seen} runs on ${r}`);
      ctx.signalRun('SIGINT');
      await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener('abort', () => resolve())));
      ctx.log(`the run ended ${((Date.now() - interrupt.sentAt) / 1000).toFixed(1)} s after SIGINT`);
      // After the run: probes or captures still running on any host are what the run left behind.
      for (const h of ctx.twin.topology.nodes) {
        for (const x of await processesIn(ctx.twin, h.name).catch(() => []))
          if (PROBE_COMMS.test(x.comm)) interrupt.after.push(`${h.name}: ${x.comm} (pid ${x.pid})`);
      }
    },
    expect: {
      kind: 'lab',
      must: 'the run stops within 30 s, runs every cleanup, leaves no object, route or capture process behind, and says what it left undone',
      check(run) {
        const p: string[] = [];
        if (interrupt.sentAt === null) return ['no SIGINT was sent (no capture was seen running on the router)'];
        const stoppedMs = interrupt.startedAt + run.durationMs - interrupt.sentAt;
        if (stoppedMs > INTERRUPT_STOP_MS) p.push(`the run took ${(stoppedMs / 1000).toFixed(1)} s to stop after SIGINT (at most 30 s)`);
        p.push(...noLeftovers(run));
        for (const a of interrupt.after) p.push(`process left running: ${a}`);
        if (!LEFT_UNDONE_LINE.test(run.output)) p.push('the run does not say what it left undone');
        return p;
      },
    },
  },
];
