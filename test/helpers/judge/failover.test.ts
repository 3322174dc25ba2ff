import { describe, expect, test } from 'vitest';
import {
  clockOffset,
  failoverBudget,
  formatFailoverTimeline,
  judgeFailover,
  judgeOutage,
  judgeRebootTarget,
  leaseTakeover,
  leaseTimings,
  measureOutage,
  monotonic,
  parseGoDuration,
  planFailover,
  steadyAgain,
  summarizeProbes,
  type FailoverBudget,
  type LeaseTimelineEvent,
} from '../../../helpers/judge/failover.ts';
import { l2Candidates } from '../../../helpers/judge/l2.ts';
import type { HttpProbeSample } from '../../../helpers/parse/http-probe-loop.ts';
import { loadTopology } from '../../../helpers/lab/topology.ts';

const T0 = 1_754_700_000_000;
const INTERVAL = 300;
const PROBE = { intervalMs: INTERVAL, timeoutMs: 1000 };
const defaults = (): FailoverBudget => failoverBudget(leaseTimings({}), PROBE);

/**
 * A synthetic probe timeline: one character per probe, started every 300 ms from `start`.
 * o = HTTP 200, x = timed out (curl 28), r = refused (curl 7), 5 = HTTP 503, ? = lost in flight.
 */
function probes(pattern: string, start = T0, interval = INTERVAL): HttpProbeSample[] {
  return [...pattern].map((c, i) => {
    const startedAt = start + i * interval;
    const seq = i + 1;
    switch (c) {
      case 'o':
        return { seq, startedAt, endedAt: startedAt + 3, curlExit: 0, httpCode: 200, totalMs: 3 };
      case 'x':
        return { seq, startedAt, endedAt: startedAt + 1000, curlExit: 28, httpCode: null, totalMs: 1000 };
      case 'r':
        return { seq, startedAt, endedAt: startedAt + 1, curlExit: 7, httpCode: null, totalMs: 1 };
      case '5':
        return { seq, startedAt, endedAt: startedAt + 2, curlExit: 0, httpCode: 503, totalMs: 2 };
      case '?':
        return { seq, startedAt, endedAt: null, curlExit: null, httpCode: null, totalMs: null };
      default:
        throw new Error(`bad pattern char ${c}`);
    }
  });
}
/** The reboot happens right before probe number `n` (1-based) starts. */
const rebootBefore = (n: number): number => T0 + (n - 1) * INTERVAL - 50;

describe('parseGoDuration', () => {
  test.each([
    ['15s', 15_000],
    ['5s', 5_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['1h', 3_600_000],
    ['200000us', 200],
    ['200000µs', 200],
    ['0', 0],
    ['-1s', -1_000],
  ])('%s = %d ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });
  test.each(['', '15', 's', '15 s', '1.5.s', 'fifteen', '15sec', '-'])('%j is refused', (text) => {
    expect(() => parseGoDuration(text)).toThrow(/not a Go duration/);
  });
});

describe('leaseTimings and failoverBudget', () => {
  test('keys absent (the usual cilium-config): agent defaults 15 s / 5 s / 2 s, bounds 24.4 s and 33.7 s', () => {
    const t = leaseTimings({ 'enable-l2-announcements': 'true' });
    expect(t).toMatchObject({ leaseDurationMs: 15_000, renewDeadlineMs: 5_000, retryPeriodMs: 2_000 });
    expect(t.notes.join('\n')).toContain('l2-announcements-lease-duration not set');
    const b = failoverBudget(t, PROBE);
    expect(b.holderMs).toBe(15_000 + 5_000 + 4_400);
    expect(b.outageMs).toBe(24_400 + 8_000 + 300 + 1_000);
    expect(b.formula).toContain('leaseDuration 15 s + renewDeadline 5 s + 2.2 × retryPeriod 2 s = 24.4 s');
  });

  test("configured values win (the docs' fast example 3s / 1s / 200ms)", () => {
    const t = leaseTimings({
      'l2-announcements-lease-duration': '3s',
      'l2-announcements-renew-deadline': '1s',
      'l2-announcements-retry-period': '200ms',
    });
    expect(t).toMatchObject({ leaseDurationMs: 3_000, renewDeadlineMs: 1_000, retryPeriodMs: 200 });
    expect(failoverBudget(t, PROBE, 0).holderMs).toBe(3_000 + 1_000 + 440);
  });

  test("the agent's corrections: renew ≥ duration → duration / 2; renew ≤ 1.2 × retry → retry = renew / 2", () => {
    const a = leaseTimings({
      'l2-announcements-lease-duration': '4s',
      'l2-announcements-renew-deadline': '6s',
      'l2-announcements-retry-period': '1s',
    });
    expect(a).toMatchObject({ leaseDurationMs: 4_000, renewDeadlineMs: 2_000, retryPeriodMs: 1_000 });
    const b = leaseTimings({ 'l2-announcements-renew-deadline': '2s', 'l2-announcements-retry-period': '2s' });
    expect(b).toMatchObject({ leaseDurationMs: 15_000, renewDeadlineMs: 2_000, retryPeriodMs: 1_000 });
    expect(b.notes.join('\n')).toContain('retry = renew / 2');
  });

  test("too small or zero values get the agent's floors", () => {
    const t = leaseTimings({
      'l2-announcements-lease-duration': '500ms',
      'l2-announcements-renew-deadline': '0',
      'l2-announcements-retry-period': '0s',
    });
    // duration → 1 s; renew → 1 s, then ≥ duration → 0.5 s; retry → 200 ms, 0.5 s > 1.2 × 0.2 s: kept.
    expect(t).toMatchObject({ leaseDurationMs: 1_000, renewDeadlineMs: 500, retryPeriodMs: 200 });
  });

  test('a value that is not a duration stops the suite with the key named', () => {
    expect(() => leaseTimings({ 'l2-announcements-lease-duration': '15' })).toThrow(
      /cilium-config l2-announcements-lease-duration: "15" is not a Go duration/,
    );
  });
});

describe('planFailover and judgeRebootTarget', () => {
  test('reference lab: arrange with k8s-w1 only, then select k8s-ctr and k8s-w1; never reboot k8s-ctr', () => {
    const plan = planFailover(l2Candidates(loadTopology()));
    expect(plan).toEqual({ ok: true, arrangeNodes: ['k8s-w1'], allNodes: ['k8s-ctr', 'k8s-w1'], rebootable: ['k8s-w1'] });
    if (!plan.ok) throw new Error('unreachable');
    expect(judgeRebootTarget(plan, 'k8s-w1').ok).toBe(true);
    const cp = judgeRebootTarget(plan, 'k8s-ctr');
    expect(cp.ok).toBe(false);
    expect(cp.explanation).toContain('refusing to reboot');
    expect(judgeRebootTarget(plan, null).ok).toBe(false);
  });
  test('no worker on the LB subnet, or nobody to fail over to: no plan, with the reason', () => {
    const onlyCp = planFailover([{ node: 'k8s-ctr', role: 'control-plane', iface: 'eth1' }]);
    expect(onlyCp.ok).toBe(false);
    expect(!onlyCp.ok && onlyCp.reason).toContain('API server');
    const lonely = planFailover([{ node: 'k8s-w1', role: 'worker', iface: 'eth1' }]);
    expect(!lonely.ok && lonely.reason).toContain('no node to fail over to');
  });
});

describe('clocks', () => {
  test('clockOffset: remote read between two local reads', () => {
    expect(clockOffset({ localBefore: 1_000, remote: 5_010, localAfter: 1_020 })).toEqual({ offsetMs: 4_000, uncertaintyMs: 10 });
  });
  test('monotonic: steps back and equal stamps never go backwards', () => {
    expect(monotonic([5, 7, 6, 6, 9, 1])).toEqual([5, 7, 7, 7, 9, 9]);
    expect(monotonic([])).toEqual([]);
  });
});

describe('measureOutage / judgeOutage on synthetic timelines', () => {
  test('no outage at all (graceful release + GARP beat the probes): none, 0 s, ok', () => {
    const s = probes('oooooooooooooooooooo');
    const r = measureOutage(s, rebootBefore(8));
    expect(r.kind).toBe('none');
    expect(r.outageMs).toBe(0);
    expect(r.settledMs).toBe(0);
    expect(r.before.ok).toBe(7);
    const v = judgeOutage({ report: r, budget: defaults(), summary: summarizeProbes(s, rebootBefore(8)) });
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('No probe failed');
  });

  test("the study's failover (about 15 s): 50 probes time out, then answers", () => {
    const s = probes(`${'o'.repeat(10)}${'x'.repeat(50)}${'o'.repeat(20)}`);
    const r = measureOutage(s, rebootBefore(11));
    expect(r.kind).toBe('recovered');
    expect(r.windows).toHaveLength(1);
    expect(r.windows[0]).toMatchObject({ firstSeq: 11, endSeq: 61, failed: 50, lost: 0 });
    expect(r.outageMs).toBe(50 * INTERVAL);
    expect(r.settledMs).toBe(50 * INTERVAL);
    expect(judgeOutage({ report: r, budget: defaults(), summary: '' }).ok).toBe(true);
  });

  test('an outage longer than the bound fails with both numbers', () => {
    const s = probes(`oooo${'x'.repeat(120)}oooo`);
    const r = measureOutage(s, rebootBefore(5));
    expect(r.outageMs).toBe(36_000);
    const v = judgeOutage({ report: r, budget: defaults(), summary: '' });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('36.0 s, over the bound 33.7 s');
  });

  test('an outage that never ends before the deadline: unrecovered, a lower bound, fails', () => {
    const s = probes(`oooooo${'x'.repeat(30)}`);
    const r = measureOutage(s, rebootBefore(7));
    expect(r.kind).toBe('unrecovered');
    expect(r.windows[0]!.end).toBeNull();
    expect(r.outageMs).toBe(29 * INTERVAL);
    expect(r.settledMs).toBeNull();
    const v = judgeOutage({ report: r, budget: defaults(), summary: summarizeProbes(s, rebootBefore(7)) });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('never answered again');
    expect(v.explanation).toContain('30 failed');
  });

  test('probes lost in flight neither start nor end an outage; a trailing lost probe is ignored', () => {
    const s = probes('oooo?xxx??xxoooo?');
    const r = measureOutage(s, rebootBefore(5));
    expect(r.kind).toBe('recovered');
    expect(r.windows).toEqual([
      { start: T0 + 5 * INTERVAL, end: T0 + 12 * INTERVAL, firstSeq: 6, endSeq: 13, failed: 5, lost: 2, durationMs: 7 * INTERVAL },
    ]);
    expect(r.after).toEqual({ ok: 4, failed: 5, lost: 4, last: 'ok' });
  });

  test('only lost probes after the reboot: no data, fails', () => {
    const s = probes('oooo????');
    const r = measureOutage(s, rebootBefore(5));
    expect(r.kind).toBe('no-data');
    expect(r.outageMs).toBeNull();
    expect(judgeOutage({ report: r, budget: defaults(), summary: '' }).ok).toBe(false);
  });

  test('clock jitter: results out of order, equal and backward stamps give the same outage as a clean clock', () => {
    const clean = probes(`oooo${'x'.repeat(10)}oooo`);
    const jittery = clean.map((p) => ({ ...p }));
    jittery[6]!.startedAt = jittery[5]!.startedAt; // equal stamps
    jittery[9]!.startedAt -= 2 * INTERVAL; // the router's clock stepped back
    jittery.reverse(); // R lines arrive in any order
    const from = rebootBefore(5);
    const a = measureOutage(clean, from);
    const b = measureOutage(jittery, from);
    expect(b.kind).toBe('recovered');
    expect(b.windows[0]!.firstSeq).toBe(5);
    expect(b.windows[0]!.endSeq).toBe(15);
    expect(b.outageMs).toBe(a.outageMs);
    for (const w of b.windows) expect(w.durationMs).toBeGreaterThanOrEqual(0);
  });

  test('a probe stamped before the reboot but sent after it (stepped clock) is judged in seq order', () => {
    const s = probes('ooooxxxoo');
    s[5]!.startedAt = T0; // stamp far in the past
    const r = measureOutage(s, rebootBefore(5));
    // probe 6 keeps the time of probe 5 (monotonic), so the window is 5..8 still
    expect(r.windows[0]).toMatchObject({ firstSeq: 5, endSeq: 8, failed: 3 });
  });

  test("flapping: two outages; the issue's outage is the first, settled covers both", () => {
    const s = probes(`oooo${'x'.repeat(10)}oo${'r'.repeat(5)}oooo`);
    const r = measureOutage(s, rebootBefore(5));
    expect(r.windows).toHaveLength(2);
    expect(r.outageMs).toBe(10 * INTERVAL);
    expect(r.settledMs).toBe(17 * INTERVAL);
    expect(judgeOutage({ report: r, budget: defaults(), summary: '' }).explanation).toContain('2 outage window(s)');
    const tight = { ...defaults(), outageMs: 4_000 };
    const v = judgeOutage({ report: r, budget: tight, summary: '' });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('flapped');
  });

  test('HTTP 503 counts as a failed probe, not an answer', () => {
    const r = measureOutage(probes('oooo555oo'), rebootBefore(5));
    expect(r.windows[0]).toMatchObject({ failed: 3 });
  });

  test('a service already failing before the reboot is not a failover result', () => {
    expect(
      judgeOutage({ report: measureOutage(probes('xxxxoooo'), rebootBefore(5)), budget: defaults(), summary: '' }).explanation,
    ).toContain('did not answer to begin with');
    expect(
      judgeOutage({ report: measureOutage(probes('ooxxoooo'), rebootBefore(5)), budget: defaults(), summary: '' }).explanation,
    ).toContain('already down');
  });

  test('steadyAgain: the last n probes with a result after the reboot all answered', () => {
    const from = rebootBefore(5);
    expect(steadyAgain(probes('ooooxxxooo'), from, 3)).toBe(true);
    expect(steadyAgain(probes('ooooxxxoo'), from, 3)).toBe(false);
    expect(steadyAgain(probes('ooooxxxooo??'), from, 3)).toBe(true); // still in flight: left out
    expect(steadyAgain(probes('ooooooo'), from, 3)).toBe(true); // no outage at all
    expect(steadyAgain(probes('oooooo'), from, 3)).toBe(false); // too few after the reboot yet
    expect(steadyAgain(probes('ooooxoxoxo'), from, 3)).toBe(false);
  });

  test('summarizeProbes: runs relative to the reboot', () => {
    expect(summarizeProbes(probes('oox?oo'), T0 + 2 * INTERVAL)).toBe(
      '2 ok (−0.6..−0.3 s), 1 failed (+0.0 s), 1 lost (+0.3 s), 2 ok (+0.6..+0.9 s)',
    );
    expect(summarizeProbes([], T0)).toBe('no probes');
  });
});

describe('leaseTakeover / judgeFailover on synthetic lease timelines', () => {
  const R = T0 + 10_000; // the reboot
  const leaseName = 'cilium-l2announce-clh-r1-webpod-l2';
  const candidates = ['k8s-ctr', 'k8s-w1'];
  const read = (
    dt: number,
    holder: string | null,
    renew: string | null,
    source: 'watch' | 'poll' = 'watch',
    transitions = 0,
  ): LeaseTimelineEvent => ({
    at: R + dt,
    kind: 'lease',
    source,
    holder,
    renewTime: renew,
    transitions,
  });
  const renewed = (n: number): string => `2025-08-09T10:00:${String(n).padStart(2, '0')}.000000Z`;
  const steady = [read(-6_000, 'k8s-w1', renewed(0)), read(-4_000, 'k8s-w1', renewed(2)), read(-2_000, 'k8s-w1', renewed(4))];
  const judge = (events: LeaseTimelineEvent[], extra: Partial<Parameters<typeof judgeFailover>[0]> = {}) =>
    judgeFailover({
      leaseName,
      oldHolder: 'k8s-w1',
      candidates,
      rebootAt: R,
      observedUntil: R + 60_000,
      budget: defaults(),
      events,
      ...extra,
    });

  test('the study: k8s-w1 rebooted, k8s-ctr holds the lease about 15 s later', () => {
    const events = [...steady, read(15_200, 'k8s-ctr', renewed(21), 'watch', 1)];
    expect(leaseTakeover(events, { rebootAt: R, oldHolder: 'k8s-w1' })).toEqual({ newHolder: 'k8s-ctr', at: R + 15_200, afterMs: 15_200 });
    const v = judge(events);
    expect(v).toMatchObject({ ok: true, kind: 'moved', newHolder: 'k8s-ctr', failoverMs: 15_200 });
    expect(v.explanation).toContain('moved from k8s-w1 to k8s-ctr 15.2 s after the reboot (bound 24.4 s)');
  });

  test('graceful release: holder "" then the new holder; the empty holder is not a takeover', () => {
    const events = [...steady, read(800, '', renewed(4)), read(2_900, 'k8s-ctr', renewed(7), 'watch', 1)];
    expect(judge(events)).toMatchObject({ ok: true, kind: 'moved', failoverMs: 2_900 });
  });

  test('the lease never moves while the API answers: "Cilium did not fail over", with holder, renew time and probes', () => {
    const polls = [5_000, 10_000, 20_000, 30_000, 40_000].map((dt) => read(dt, 'k8s-w1', renewed(4), 'poll'));
    const v = judge([...steady, ...polls], { probes: '10 ok (−3.0..−0.3 s), 100 failed (+0.0..+29.7 s)' });
    expect(v).toMatchObject({ ok: false, kind: 'not-moved', newHolder: null });
    expect(v.explanation).toContain('Cilium did not fail over');
    expect(v.explanation).toContain('still names k8s-w1');
    expect(v.explanation).toContain(`renewTime ${renewed(4)}`);
    expect(v.explanation).toContain('renewed 0 time(s) after the reboot');
    expect(v.explanation).toContain('100 failed');
  });

  test('the old holder kept renewing after the "reboot" and its boot_id did not change: the message says so', () => {
    const polls = [3_000, 12_000, 26_000, 30_000].map((dt, i) => read(dt, 'k8s-w1', renewed(10 + i * 2), 'poll'));
    const v = judge([...steady, ...polls], { bootIds: { before: 'b1', after: 'b1' } });
    expect(v.kind).toBe('not-moved');
    expect(v.explanation).toContain('renewed 4 time(s) after the reboot');
    expect(v.explanation).toContain('did NOT reboot');
  });

  test('the harness lost the API server: no read after the bound, disconnects recorded → api-lost, not "Cilium failed"', () => {
    const events: LeaseTimelineEvent[] = [
      { at: R - 10_000, kind: 'watch-connected' },
      ...steady,
      { at: R + 1_500, kind: 'watch-disconnected', error: 'socket hang up' },
      { at: R + 5_000, kind: 'api-error', source: 'poll', error: 'connect EHOSTUNREACH 192.168.10.100:6443' },
      { at: R + 30_000, kind: 'api-error', source: 'poll', error: 'connect EHOSTUNREACH 192.168.10.100:6443' },
    ];
    const v = judge(events);
    expect(v).toMatchObject({ ok: false, kind: 'api-lost' });
    expect(v.explanation).toContain('lost the API server');
    expect(v.explanation).not.toContain('Cilium did not fail over');
    expect(v.explanation).toContain('1 disconnects (at +1.5 s)');
    expect(v.explanation).toContain('EHOSTUNREACH');
  });

  test('disconnected, reconnected, then the new holder: moved, with the disconnect in the story', () => {
    const events: LeaseTimelineEvent[] = [
      ...steady,
      { at: R + 2_000, kind: 'watch-disconnected', error: 'ECONNRESET' },
      { at: R + 19_000, kind: 'watch-connected' },
      read(19_100, 'k8s-ctr', renewed(25), 'watch', 1),
    ];
    const v = judge(events);
    expect(v).toMatchObject({ ok: true, kind: 'moved', failoverMs: 19_100 });
    expect(v.explanation).toContain('1 disconnects (at +2.0 s) / 1 (re)connects (at +19.0 s)');
  });

  test('late takeover, a holder outside the policy, a lease already moved before the reboot', () => {
    expect(judge([...steady, read(30_000, 'k8s-ctr', renewed(40))])).toMatchObject({ ok: false, kind: 'late', failoverMs: 30_000 });
    expect(judge([...steady, read(9_000, 'k8s-w0', renewed(13))])).toMatchObject({ ok: false, kind: 'unselected' });
    expect(judge([read(-3_000, 'k8s-ctr', renewed(1))])).toMatchObject({ ok: false, kind: 'moved-before-reboot' });
  });

  test('released and never re-acquired', () => {
    const v = judge([...steady, read(1_000, '', renewed(4)), read(30_000, '', renewed(4), 'poll')]);
    expect(v).toMatchObject({ ok: false, kind: 'released' });
    expect(v.explanation).toContain('no other selected node (k8s-ctr) took it');
  });

  test('nothing read at all', () => {
    expect(judge([])).toMatchObject({ ok: false, kind: 'no-data' });
  });

  test('clock jitter in lease events: equal stamps and a backward step keep arrival order', () => {
    const events = [...steady, read(500, 'k8s-w1', renewed(4)), read(500, '', renewed(4)), read(-400, 'k8s-ctr', renewed(6), 'watch', 1)];
    // the takeover arrived after a post-reboot read, so it happened after the reboot (t clamped to +0.5 s)
    expect(leaseTakeover(events, { rebootAt: R, oldHolder: 'k8s-w1' })).toEqual({ newHolder: 'k8s-ctr', at: R + 500, afterMs: 500 });
  });

  test('formatFailoverTimeline merges lease reads and probes on the harness clock', () => {
    const offset = 250; // router clock runs 250 ms ahead
    const samples = probes('ox?').map((p, i) => ({
      ...p,
      startedAt: R + offset - 300 + i * 300,
      endedAt: p.endedAt === null ? null : R + offset + i * 300,
    }));
    const text = formatFailoverTimeline({
      rebootAt: R,
      oldHolder: 'k8s-w1',
      events: [
        read(-1_000, 'k8s-w1', renewed(4)),
        { at: R + 200, kind: 'watch-disconnected', error: null },
        read(400, 'k8s-ctr', renewed(6), 'poll', 1),
      ],
      samples,
      probeClockOffsetMs: offset,
    });
    expect(text.split('\n').filter(Boolean)).toEqual([
      '    t (s)  source   event (t = 0: reboot of k8s-w1)',
      `   -1.000  watch    holder k8s-w1 renewTime ${renewed(4)} transitions 0`,
      '   -0.300  probe    #1 ok (curl exit 0 http 200 3 ms)',
      '   +0.000  harness  reboot k8s-w1',
      '   +0.000  probe    #2 failed (curl exit 28 http 000 1000 ms)',
      '   +0.200  watch    disconnected',
      '   +0.300  probe    #3 lost (no result)',
      `   +0.400  poll     holder k8s-ctr renewTime ${renewed(6)} transitions 1`,
    ]);
  });

  test('formatFailoverTimeline: a watch that comes back says how long it was away (issue 16: api-restart)', () => {
    const text = formatFailoverTimeline({
      rebootAt: R,
      oldHolder: 'k8s-w1',
      events: [
        { at: R - 2_000, kind: 'watch-connected' },
        { at: R + 1_000, kind: 'watch-disconnected', error: null },
        { at: R + 2_000, kind: 'api-error', source: 'poll', error: 'connect ECONNREFUSED 127.0.0.1:6443' },
        { at: R + 6_500, kind: 'watch-connected' },
      ],
      samples: [],
      probeClockOffsetMs: 0,
    });
    expect(text.split('\n').filter(Boolean)).toEqual([
      '    t (s)  source   event (t = 0: reboot of k8s-w1)',
      '   -2.000  watch    connected',
      '   +0.000  harness  reboot k8s-w1',
      '   +1.000  watch    disconnected',
      '   +2.000  poll     API error: connect ECONNREFUSED 127.0.0.1:6443',
      '   +6.500  watch    connected (back after a gap of 5.5 s)',
    ]);
  });
});
