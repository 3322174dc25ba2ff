/**
 * Pure judgements for the L2 lease failover after the holder reboots (issue 7, suite 90):
 * the time bound derived from the configured lease timings, the outage seen by the router's HTTP
 * probes, the time until another node holds the lease, and — when the lease never moves — whether
 * Cilium did not fail over or the harness lost the API server.
 *
 * Cilium beliefs used here (/work/shared/docs/cilium-behaviour.md):
 * - 2.1: timings come from cilium-config keys l2-announcements-lease-duration / -renew-deadline /
 *   -retry-period, absent unless set; agent defaults 15 s / 5 s / 2 s; the agent corrects insane values
 *   (leaseTimings() in pkg/l2announcer/l2announcer.go, rules copied below).
 * - 2.4: the longest failure→failover time is leaseDuration + leaseRenewDeadline (10–20 s by default);
 *   client ARP-cache effects come on top; the new holder sends one gratuitous ARP.
 * - 2.3: holderIdentity is the node name; a gracefully stopped agent releases its lease (holder ""),
 *   so a reboot may fail over faster than the bound (no lower bound is asserted).
 */
import type { HttpProbeSample } from '../parse/index.ts';
import type { L2Candidate } from './l2.ts';
import type { Verdict } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Lease timings and the failover bound
// ---------------------------------------------------------------------------------------------

export const L2_LEASE_CONFIG_KEYS = {
  leaseDuration: 'l2-announcements-lease-duration',
  renewDeadline: 'l2-announcements-renew-deadline',
  retryPeriod: 'l2-announcements-retry-period',
} as const;

/** Agent defaults when the keys are absent (cilium-behaviour.md 2.1). */
export const L2_LEASE_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 5_000, retryPeriodMs: 2_000 } as const;

/** client-go leaderelection.JitterFactor: candidates retry every retryPeriod × [1, 1 + 1.2]. */
export const LEADER_ELECTION_JITTER = 1.2;

/**
 * Time the router may need to learn the new MAC if it misses the one gratuitous ARP: Linux neighbour
 * defaults delay_first_probe_time 5 s + ucast_solicit 3 × retrans_time 1 s (ip-sysctl.rst). With the GARP
 * the entry is updated at once; an entry still REACHABLE that ignored the GARP can stay wrong longer
 * (base_reachable_time 30 s ± 50 %), which the bound treats as a failure worth seeing.
 */
export const ARP_MARGIN_MS = 8_000;

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration ("15s", "1m30s", "1.5s", "500ms", "0"), in milliseconds. Throws on anything else. */
export function parseGoDuration(text: string): number {
  const s = text.trim();
  const m = /^([-+]?)(.*)$/.exec(s)!;
  const sign = m[1] === '-' ? -1 : 1;
  const body = m[2]!;
  if (body === '0') return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let ns = 0;
  let pos = 0;
  while (pos < body.length) {
    part.lastIndex = pos;
    const p = part.exec(body);
    if (!p) throw new Error(`"${text}" is not a Go duration (expected e.g. 15s, 500ms, 1m30s)`);
    ns += Number(p[1]) * UNIT_NS[p[2]!]!;
    pos = part.lastIndex;
  }
  if (pos === 0) throw new Error(`"${text}" is not a Go duration (expected e.g. 15s, 500ms, 1m30s)`);
  return (sign * ns) / 1e6;
}

export interface LeaseTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Where each value came from, and every correction the agent would apply. */
  notes: string[];
}

/**
 * The lease timings the agents run with, from cilium-config data (keys absent → agent defaults), with the
 * agent's own sanity corrections (leaseTimings() in l2announcer.go):
 * duration < 1 s → 1 s; renew ≤ 0 → 1 s; retry ≤ 0 → 200 ms; duration ≤ renew → renew = duration / 2;
 * renew ≤ 1.2 × retry → retry = renew / 2. An unparseable value throws (the agent would refuse it too).
 */
export function leaseTimings(config: Record<string, string | undefined>): LeaseTimings {
  const notes: string[] = [];
  const read = (key: string, fallback: number): number => {
    const v = config[key];
    if (v === undefined || v.trim() === '') {
      notes.push(`${key} not set: agent default ${fallback / 1000} s`);
      return fallback;
    }
    try {
      const ms = parseGoDuration(v);
      notes.push(`${key} = ${v}`);
      return ms;
    } catch (err) {
      throw new Error(`cilium-config ${key}: ${(err as Error).message}`);
    }
  };
  let d = read(L2_LEASE_CONFIG_KEYS.leaseDuration, L2_LEASE_DEFAULTS.leaseDurationMs);
  let r = read(L2_LEASE_CONFIG_KEYS.renewDeadline, L2_LEASE_DEFAULTS.renewDeadlineMs);
  let p = read(L2_LEASE_CONFIG_KEYS.retryPeriod, L2_LEASE_DEFAULTS.retryPeriodMs);
  if (d < 1000) {
    notes.push(`lease duration ${d} ms < 1 s: the agent uses 1 s`);
    d = 1000;
  }
  if (r <= 0) {
    notes.push(`renew deadline ${r} ms ≤ 0: the agent uses 1 s`);
    r = 1000;
  }
  if (p <= 0) {
    notes.push(`retry period ${p} ms ≤ 0: the agent uses 200 ms`);
    p = 200;
  }
  if (d <= r) {
    notes.push(`lease duration ${d} ms ≤ renew deadline ${r} ms: the agent uses renew = duration / 2`);
    r = d / 2;
  }
  if (r <= LEADER_ELECTION_JITTER * p) {
    notes.push(`renew deadline ${r} ms ≤ 1.2 × retry period ${p} ms: the agent uses retry = renew / 2`);
    p = r / 2;
  }
  return { leaseDurationMs: d, renewDeadlineMs: r, retryPeriodMs: p, notes };
}

export interface FailoverBudget {
  timings: LeaseTimings;
  /** Reboot → another selected node holds the lease. */
  holderMs: number;
  /** First failed → first successful HTTP probe from the router. */
  outageMs: number;
  parts: { leaseDurationMs: number; renewDeadlineMs: number; acquireRetryMs: number; arpMarginMs: number; probeResolutionMs: number };
  /** The formula with its numbers, for the report and failure messages. */
  formula: string;
}

/**
 * The bounds the failover suite asserts:
 *   holderMs = leaseDuration + renewDeadline + (1 + 1.2) × retryPeriod
 *     - leaseDuration + renewDeadline: the documented longest failure→failover time (cilium-behaviour.md 2.4);
 *     - (1 + 1.2) × retryPeriod: a candidate only tries to acquire every retryPeriod with client-go's jitter
 *       factor 1.2, so it may notice the expiry that much later.
 *   outageMs = holderMs + arpMargin + probe interval + probe timeout
 *     - arpMargin: the router re-learning the MAC if it misses the gratuitous ARP (ARP_MARGIN_MS);
 *     - interval + timeout: the probes' resolution (a failure is only seen when a probe times out, a
 *       recovery only at the next probe).
 * Defaults (15 s / 5 s / 2 s, probes every 300 ms with 1 s timeout): 24.4 s and 33.7 s.
 */
export function failoverBudget(
  t: LeaseTimings,
  probe: { intervalMs: number; timeoutMs: number },
  arpMarginMs: number = ARP_MARGIN_MS,
): FailoverBudget {
  const acquireRetryMs = Math.round((1 + LEADER_ELECTION_JITTER) * t.retryPeriodMs);
  const holderMs = t.leaseDurationMs + t.renewDeadlineMs + acquireRetryMs;
  const probeResolutionMs = probe.intervalMs + probe.timeoutMs;
  const outageMs = holderMs + arpMarginMs + probeResolutionMs;
  const s = (ms: number): string => `${+(ms / 1000).toFixed(3)} s`;
  const formula =
    `holder bound = leaseDuration ${s(t.leaseDurationMs)} + renewDeadline ${s(t.renewDeadlineMs)} + 2.2 × retryPeriod ${s(t.retryPeriodMs)} = ${s(holderMs)}; ` +
    `outage bound = holder bound + ARP margin ${s(arpMarginMs)} + probe interval ${s(probe.intervalMs)} + probe timeout ${s(probe.timeoutMs)} = ${s(outageMs)}` +
    (t.notes.length ? ` (${t.notes.join('; ')})` : '');
  return {
    timings: t,
    holderMs,
    outageMs,
    parts: { leaseDurationMs: t.leaseDurationMs, renewDeadlineMs: t.renewDeadlineMs, acquireRetryMs, arpMarginMs, probeResolutionMs },
    formula,
  };
}

// ---------------------------------------------------------------------------------------------
// Who to reboot
// ---------------------------------------------------------------------------------------------

export type FailoverPlan =
  | {
      ok: true;
      /** policy nodes that make a worker the holder */ arrangeNodes: string[];
      /** policy nodes during the reboot */ allNodes: string[];
      rebootable: string[];
    }
  | { ok: false; reason: string };

/**
 * The reboot must never hit the control plane (the API server lives there). So the suite first selects
 * only the worker candidates (one of them becomes the holder), then widens the policy to every candidate
 * so the others can take over when that worker reboots.
 */
export function planFailover(candidates: L2Candidate[]): FailoverPlan {
  const rebootable = candidates.filter((c) => c.role === 'worker').map((c) => c.node);
  const all = candidates.map((c) => c.node);
  if (rebootable.length === 0) {
    return {
      ok: false,
      reason: `no worker can announce the LB pool (candidates: ${all.join(', ') || 'none'}); rebooting the control plane would take the API server down`,
    };
  }
  if (all.length < 2) return { ok: false, reason: `only ${all.join(', ')} can announce the LB pool: there is no node to fail over to` };
  return { ok: true, arrangeNodes: rebootable, allNodes: all, rebootable };
}

/** The node about to be rebooted holds the lease and is a worker. */
export function judgeRebootTarget(plan: Extract<FailoverPlan, { ok: true }>, holder: string | null): Verdict {
  if (holder === null) return { ok: false, explanation: 'No node holds the lease: there is nothing to fail over from.' };
  if (!plan.rebootable.includes(holder)) {
    return {
      ok: false,
      explanation: `The holder ${holder} is not a worker that may be rebooted (${plan.rebootable.join(', ')}); refusing to reboot it.`,
    };
  }
  return {
    ok: true,
    explanation: `The holder ${holder} is a worker; the others (${plan.allNodes.filter((n) => n !== holder).join(', ')}) can take over.`,
  };
}

// ---------------------------------------------------------------------------------------------
// Clocks
// ---------------------------------------------------------------------------------------------

/**
 * Offset of a remote clock: read it once between two local readings. remote ≈ local + offsetMs,
 * within ± uncertaintyMs (half the round trip).
 */
export function clockOffset(o: { localBefore: number; remote: number; localAfter: number }): { offsetMs: number; uncertaintyMs: number } {
  const mid = (o.localBefore + o.localAfter) / 2;
  return { offsetMs: o.remote - mid, uncertaintyMs: Math.max(0, (o.localAfter - o.localBefore) / 2) };
}

/**
 * Times in the order the events happened (arrival order for events, seq order for probes), made
 * non-decreasing: a clock step backwards (NTP) or equal stamps never give negative durations.
 */
export function monotonic(times: number[]): number[] {
  const out: number[] = [];
  let last = -Infinity;
  for (const t of times) {
    last = Math.max(last, t);
    out.push(last);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The router's HTTP probes
// ---------------------------------------------------------------------------------------------

export type ProbeOutcome = 'ok' | 'failed' | 'lost';

/** ok: an HTTP answer (2xx/3xx); failed: anything else; lost: never reported (stopped in flight). */
export function probeOutcome(s: HttpProbeSample): ProbeOutcome {
  if (s.endedAt === null) return 'lost';
  return s.curlExit === 0 && s.httpCode !== null && s.httpCode >= 200 && s.httpCode < 400 ? 'ok' : 'failed';
}

export interface TimedProbe {
  seq: number;
  /** Start time, made monotonic in seq order (probes' own clock). */
  at: number;
  outcome: ProbeOutcome;
  sample: HttpProbeSample;
}

export function probeTimeline(samples: HttpProbeSample[]): TimedProbe[] {
  const sorted = [...samples].sort((a, b) => a.seq - b.seq);
  const at = monotonic(sorted.map((s) => s.startedAt));
  return sorted.map((s, i) => ({ seq: s.seq, at: at[i]!, outcome: probeOutcome(s), sample: s }));
}

export interface OutageWindow {
  /** Start of the first failed probe. */
  start: number;
  /** Start of the first successful probe after it; null if none came. */
  end: number | null;
  firstSeq: number;
  endSeq: number | null;
  failed: number;
  lost: number;
  /** end − start, or (last probe seen − start) as a lower bound when it never ended. */
  durationMs: number;
}

interface Counts {
  ok: number;
  failed: number;
  lost: number;
  /** Outcome of the last probe that has one (ok/failed), null if none. */
  last: 'ok' | 'failed' | null;
}

export interface OutageReport {
  kind: 'none' | 'recovered' | 'unrecovered' | 'no-data';
  /** Probes from this time on (probes' clock) count as "after the reboot". */
  from: number;
  windows: OutageWindow[];
  /** First failed → first successful probe after `from` (the issue's outage); lower bound when unrecovered. */
  outageMs: number | null;
  /** First failed → the success after the last failure: until the service was steady again. */
  settledMs: number | null;
  before: Counts;
  after: Counts;
}

function count(ps: TimedProbe[]): Counts {
  const c: Counts = { ok: 0, failed: 0, lost: 0, last: null };
  for (const p of ps) {
    c[p.outcome]++;
    if (p.outcome !== 'lost') c.last = p.outcome;
  }
  return c;
}

/**
 * Outage windows after `from`: a failed probe opens one, the next successful probe closes it; lost
 * probes (no result) neither open nor close a window. Order is the loop's seq order; times are made
 * monotonic, so jittery or equal stamps never give negative durations.
 */
export function measureOutage(samples: HttpProbeSample[], from: number): OutageReport {
  const timeline = probeTimeline(samples);
  const before = timeline.filter((p) => p.at < from);
  const after = timeline.filter((p) => p.at >= from);
  const windows: OutageWindow[] = [];
  let open: OutageWindow | null = null;
  for (const p of after) {
    if (p.outcome === 'failed') {
      if (!open) {
        open = { start: p.at, end: null, firstSeq: p.seq, endSeq: null, failed: 0, lost: 0, durationMs: 0 };
        windows.push(open);
      }
      open.failed++;
      open.durationMs = p.at - open.start;
    } else if (p.outcome === 'lost') {
      if (open) {
        open.lost++;
        open.durationMs = p.at - open.start;
      }
    } else if (open) {
      open.end = p.at;
      open.endSeq = p.seq;
      open.durationMs = p.at - open.start;
      open = null;
    }
  }
  const first = windows[0];
  const last = windows[windows.length - 1];
  const kind: OutageReport['kind'] = after.every((p) => p.outcome === 'lost')
    ? 'no-data'
    : !first
      ? 'none'
      : last!.end === null
        ? 'unrecovered'
        : 'recovered';
  return {
    kind,
    from,
    windows,
    outageMs: kind === 'no-data' ? null : (first?.durationMs ?? 0),
    settledMs: kind === 'none' ? 0 : kind === 'recovered' ? last!.end! - first!.start : null,
    before: count(before),
    after: count(after),
  };
}

/**
 * The service answers again: the last `okInARow` probes after `from` that have a result all succeeded.
 * Probes still in flight (no result yet) are left out. The suite stops probing once this holds.
 */
export function steadyAgain(samples: HttpProbeSample[], from: number, okInARow: number): boolean {
  const done = probeTimeline(samples).filter((p) => p.at >= from && p.outcome !== 'lost');
  return done.length >= okInARow && done.slice(-okInARow).every((p) => p.outcome === 'ok');
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const signedNumber = (ms: number): string => `${ms < 0 ? '−' : '+'}${(Math.abs(ms) / 1000).toFixed(1)}`;
const signed = (ms: number): string => `${signedNumber(ms)} s`;

/**
 * The probe timeline in runs, relative to `origin` (the reboot, probes' clock):
 * "12 ok (−3.6..−0.3 s), 40 failed (+0.0..+11.7 s), 2 lost (+11.9..+12.2 s), 30 ok (+12.5..+21.2 s)".
 */
export function summarizeProbes(samples: HttpProbeSample[], origin: number): string {
  const runs: { outcome: ProbeOutcome; n: number; from: number; to: number }[] = [];
  for (const p of probeTimeline(samples)) {
    const r = runs[runs.length - 1];
    if (r && r.outcome === p.outcome) {
      r.n++;
      r.to = p.at;
    } else runs.push({ outcome: p.outcome, n: 1, from: p.at, to: p.at });
  }
  if (runs.length === 0) return 'no probes';
  return runs.map((r) => `${r.n} ${r.outcome} (${r.n > 1 ? `${signedNumber(r.from - origin)}..` : ''}${signed(r.to - origin)})`).join(', ');
}

/**
 * The service, as the router sees it: it answered before the reboot; after it, any outage ended with a
 * successful probe within the outage bound, and the service stayed up from then on (settled within it too).
 */
export function judgeOutage(o: { report: OutageReport; budget: FailoverBudget; summary: string }): Verdict {
  const r = o.report;
  const bound = `bound ${secs(o.budget.outageMs)}`;
  const seen = `Probes: ${o.summary}.`;
  if (r.before.ok === 0)
    return { ok: false, explanation: `No probe succeeded before the reboot: the LB IP did not answer to begin with. ${seen}` };
  if (r.before.last === 'failed')
    return { ok: false, explanation: `The last probe before the reboot failed: the service was already down. ${seen}` };
  switch (r.kind) {
    case 'no-data':
      return {
        ok: false,
        explanation: `No probe result after the reboot (${r.after.lost} lost): the probe loop stopped or its output was lost. ${seen}`,
      };
    case 'none':
      return { ok: true, explanation: `No probe failed after the reboot (${r.after.ok} ok, ${r.after.lost} lost). ${seen}` };
    case 'unrecovered': {
      const w = r.windows[r.windows.length - 1]!;
      return {
        ok: false,
        explanation: `HTTP to the LB IP never answered again: failing for at least ${secs(w.durationMs)} when the probes ended (${bound}). ${seen}`,
      };
    }
    case 'recovered': {
      const problems: string[] = [];
      if (r.outageMs! > o.budget.outageMs) problems.push(`the outage lasted ${secs(r.outageMs!)}, over the ${bound}`);
      if (r.settledMs! > o.budget.outageMs)
        problems.push(`the service flapped for ${secs(r.settledMs!)} (${r.windows.length} outages), over the ${bound}`);
      if (r.after.last !== 'ok') problems.push('the last probe failed');
      const what = `outage ${secs(r.outageMs!)} (first failed → first answered), ${r.windows.length} outage window(s), steady after ${secs(r.settledMs!)}`;
      if (problems.length) return { ok: false, explanation: `${problems.join('; ')}: ${what}. ${seen}` };
      return { ok: true, explanation: `HTTP answered again: ${what}, within the ${bound}. ${seen}` };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The lease, watched and polled by the harness
// ---------------------------------------------------------------------------------------------

/** What the harness saw of the lease and of its connection to the API server, on the harness clock. */
export type LeaseTimelineEvent =
  | { at: number; kind: 'lease'; source: 'watch' | 'poll'; holder: string | null; renewTime: string | null; transitions: number | null }
  | { at: number; kind: 'lease-missing'; source: 'watch' | 'poll' }
  | { at: number; kind: 'api-error'; source: 'watch' | 'poll'; error: string }
  | { at: number; kind: 'watch-connected' }
  | { at: number; kind: 'watch-disconnected'; error: string | null };

type LeaseRead = Extract<LeaseTimelineEvent, { kind: 'lease' }>;

/** Events in arrival order with monotonic times `t` (see monotonic()). */
export function orderedTimeline(events: LeaseTimelineEvent[]): (LeaseTimelineEvent & { t: number })[] {
  const t = monotonic(events.map((e) => e.at));
  return events.map((e, i) => ({ ...e, t: t[i]! }));
}

const holderOf = (e: LeaseRead): string | null => (e.holder === '' ? null : e.holder);

/** The first read after the reboot that shows a holder other than the old one. */
export function leaseTakeover(
  events: LeaseTimelineEvent[],
  o: { rebootAt: number; oldHolder: string },
): { newHolder: string; at: number; afterMs: number } | null {
  for (const e of orderedTimeline(events)) {
    if (e.kind !== 'lease' || e.t < o.rebootAt) continue;
    const h = holderOf(e);
    if (h !== null && h !== o.oldHolder) return { newHolder: h, at: e.t, afterMs: e.t - o.rebootAt };
  }
  return null;
}

export type FailoverKind = 'moved' | 'late' | 'unselected' | 'moved-before-reboot' | 'released' | 'not-moved' | 'api-lost' | 'no-data';

export interface FailoverVerdict extends Verdict {
  kind: FailoverKind;
  newHolder: string | null;
  /** Reboot → new holder seen, in ms. */
  failoverMs: number | null;
  /** The last lease read (any source). */
  lastLease: { holder: string | null; renewTime: string | null; transitions: number | null; afterMs: number } | null;
}

/**
 * Did another selected node take the lease within the bound after `oldHolder` was rebooted at `rebootAt`?
 * When it did not, tell apart:
 * - not-moved: the API server answered after the bound and still named the old holder → Cilium did not fail over;
 * - released: the old holder let go (holder "") but nobody took the lease;
 * - api-lost: no successful read after the bound (only errors/disconnects) → the harness lost the API server,
 *   nothing can be said about Cilium.
 * `observedUntil` is when the harness stopped watching; `probes` (a summarizeProbes() line) and `bootIds`
 * go into the message.
 */
export function judgeFailover(o: {
  leaseName: string;
  oldHolder: string;
  candidates: string[];
  rebootAt: number;
  observedUntil: number;
  budget: FailoverBudget;
  events: LeaseTimelineEvent[];
  probes?: string;
  bootIds?: { before: string | null; after: string | null };
}): FailoverVerdict {
  const tl = orderedTimeline(o.events);
  const rel = (t: number): string => signed(t - o.rebootAt);
  const reads = tl.filter((e): e is LeaseRead & { t: number } => e.kind === 'lease');
  const lastRead = reads[reads.length - 1];
  const lastLease = lastRead
    ? { holder: holderOf(lastRead), renewTime: lastRead.renewTime, transitions: lastRead.transitions, afterMs: lastRead.t - o.rebootAt }
    : null;
  const deadline = o.rebootAt + o.budget.holderMs;

  // Connection story: disconnects, errors, and when the API last answered.
  const disconnects = tl.filter((e) => e.kind === 'watch-disconnected');
  const reconnects = tl.filter((e) => e.kind === 'watch-connected');
  const errors = tl.filter((e) => e.kind === 'api-error');
  const answered = tl.filter((e) => e.kind === 'lease' || e.kind === 'lease-missing');
  const lastAnswer = answered[answered.length - 1];
  const conn =
    `API: last answer ${lastAnswer ? rel(lastAnswer.t) : 'never'}, ${errors.length} errors` +
    (errors.length ? ` (last ${rel(errors[errors.length - 1]!.t)}: ${(errors[errors.length - 1] as { error: string }).error})` : '') +
    `, watch ${disconnects.length} disconnects` +
    (disconnects.length ? ` (at ${disconnects.map((e) => rel(e.t)).join(', ')})` : '') +
    ` / ${reconnects.length} (re)connects` +
    (reconnects.length ? ` (at ${reconnects.map((e) => rel(e.t)).join(', ')})` : '');
  const renewsAfter = reads.filter(
    (e, i) => e.t >= o.rebootAt && holderOf(e) === o.oldHolder && i > 0 && e.renewTime !== null && e.renewTime !== reads[i - 1]!.renewTime,
  );
  const lastSeen = lastLease
    ? `holder ${lastLease.holder ?? '(none)'}, renewTime ${lastLease.renewTime ?? 'unset'}, ${lastLease.transitions ?? '?'} transitions, read ${rel(lastRead!.t)}`
    : 'the lease was never read';
  const boot = o.bootIds
    ? o.bootIds.after === null
      ? ` boot_id after: not read (node not back).`
      : o.bootIds.before === o.bootIds.after
        ? ` ${o.oldHolder}'s boot_id did not change: it did NOT reboot.`
        : ` ${o.oldHolder} did reboot (boot_id changed).`
    : '';
  const probes = o.probes ? ` Probes: ${o.probes}.` : '';
  const details = `Last seen: ${lastSeen}. ${o.oldHolder} renewed ${renewsAfter.length} time(s) after the reboot${renewsAfter.length ? ` (last ${rel(renewsAfter[renewsAfter.length - 1]!.t)})` : ''}. ${conn}.${boot}${probes} ${o.budget.formula}.`;
  const where = `Lease kube-system/${o.leaseName}`;
  const base = { lastLease };

  const before = reads.filter((e) => e.t < o.rebootAt);
  const atReboot = before[before.length - 1];
  if (atReboot && holderOf(atReboot) !== o.oldHolder) {
    return {
      ...base,
      ok: false,
      kind: 'moved-before-reboot',
      newHolder: holderOf(atReboot),
      failoverMs: null,
      explanation: `${where} was held by ${holderOf(atReboot) ?? '(none)'}, not ${o.oldHolder}, already before the reboot. ${details}`,
    };
  }

  const take = leaseTakeover(o.events, o);
  if (take) {
    if (!o.candidates.includes(take.newHolder)) {
      return {
        ...base,
        ok: false,
        kind: 'unselected',
        newHolder: take.newHolder,
        failoverMs: take.afterMs,
        explanation: `${where} moved to ${take.newHolder} ${rel(take.at)} after the reboot, but the policy selects only ${o.candidates.join(', ')}. ${details}`,
      };
    }
    if (take.afterMs > o.budget.holderMs) {
      return {
        ...base,
        ok: false,
        kind: 'late',
        newHolder: take.newHolder,
        failoverMs: take.afterMs,
        explanation: `${where} moved from ${o.oldHolder} to ${take.newHolder} only ${secs(take.afterMs)} after the reboot, over the bound ${secs(o.budget.holderMs)}. ${details}`,
      };
    }
    return {
      ...base,
      ok: true,
      kind: 'moved',
      newHolder: take.newHolder,
      failoverMs: take.afterMs,
      explanation: `${where} moved from ${o.oldHolder} to ${take.newHolder} ${secs(take.afterMs)} after the reboot (bound ${secs(o.budget.holderMs)}). ${details}`,
    };
  }

  if (reads.length === 0 && answered.length === 0) {
    return {
      ...base,
      ok: false,
      kind: 'no-data',
      newHolder: null,
      failoverMs: null,
      explanation: `${where} was never read: the harness saw nothing of the lease. ${details}`,
    };
  }
  const answeredAfterDeadline = answered.some((e) => e.t >= deadline);
  const watched = `${secs(o.observedUntil - o.rebootAt)} watched`;
  if (!answeredAfterDeadline) {
    return {
      ...base,
      ok: false,
      kind: 'api-lost',
      newHolder: null,
      failoverMs: null,
      explanation: `${where}: no other holder seen, but the harness lost the API server — no successful read after the bound ${secs(o.budget.holderMs)} (${watched}); whether Cilium failed over is unknown. ${details}`,
    };
  }
  if (lastLease && lastLease.holder === null) {
    return {
      ...base,
      ok: false,
      kind: 'released',
      newHolder: null,
      failoverMs: null,
      explanation: `${where} was released by ${o.oldHolder} but no other selected node (${o.candidates.filter((c) => c !== o.oldHolder).join(', ')}) took it (${watched}). ${details}`,
    };
  }
  return {
    ...base,
    ok: false,
    kind: 'not-moved',
    newHolder: null,
    failoverMs: null,
    explanation: `Cilium did not fail over: the API server answered after the bound ${secs(o.budget.holderMs)} and ${where} still names ${lastLease?.holder ?? '(no lease)'} (${watched}). ${details}`,
  };
}

/** One line per event, lease reads and probes merged, relative to the reboot (harness clock), for the attachment. */
export function formatFailoverTimeline(o: {
  rebootAt: number;
  oldHolder: string;
  events: LeaseTimelineEvent[];
  samples: HttpProbeSample[];
  /** probes' clock − harness clock (clockOffset().offsetMs); 0 when both are the same clock. */
  probeClockOffsetMs: number;
}): string {
  const rows: { t: number; order: number; text: string }[] = [{ t: o.rebootAt, order: 0, text: `harness  reboot ${o.oldHolder}` }];
  // A watch that comes back says how long it was away: the gap in which only the poll (if anything) saw the lease.
  let lostAt: number | null = null;
  orderedTimeline(o.events).forEach((e, i) => {
    let text: string;
    switch (e.kind) {
      case 'lease':
        text = `${e.source.padEnd(8)} holder ${e.holder || '(none)'} renewTime ${e.renewTime ?? 'unset'} transitions ${e.transitions ?? '?'}`;
        break;
      case 'lease-missing':
        text = `${e.source.padEnd(8)} lease not found`;
        break;
      case 'api-error':
        text = `${e.source.padEnd(8)} API error: ${e.error}`;
        break;
      case 'watch-connected':
        text = `watch    connected${lostAt !== null ? ` (back after a gap of ${((e.t - lostAt) / 1000).toFixed(1)} s)` : ''}`;
        lostAt = null;
        break;
      case 'watch-disconnected':
        text = `watch    disconnected${e.error ? `: ${e.error}` : ''}`;
        lostAt ??= e.t;
        break;
    }
    rows.push({ t: e.t, order: 1 + i, text });
  });
  for (const p of probeTimeline(o.samples)) {
    const s = p.sample;
    const detail = p.outcome === 'lost' ? 'no result' : `curl exit ${s.curlExit} http ${s.httpCode ?? '000'} ${s.totalMs} ms`;
    rows.push({ t: p.at - o.probeClockOffsetMs, order: 1e9 + p.seq, text: `probe    #${p.seq} ${p.outcome} (${detail})` });
  }
  rows.sort((a, b) => a.t - b.t || a.order - b.order);
  const fmt = (ms: number): string => `${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(3)}`.padStart(9);
  return (
    [
      `${'t (s)'.padStart(9)}  source   event (t = 0: reboot of ${o.oldHolder})`,
      ...rows.map((r) => `${fmt(r.t - o.rebootAt)}  ${r.text}`),
    ].join('\n') + '\n'
  );
}
