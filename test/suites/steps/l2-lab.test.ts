/**
 * The L2 suites' lease recorder against a local fake Kubernetes API (127.0.0.1, test/helpers/kube/fake-kube-api.ts):
 * a failover seen through an API outage, and an API that never comes back. The recorded timeline goes through
 * the failover judge, which must tell "moved" from "the harness lost the API server"; the watcher's own
 * connection events (lost during the "reboot", back after it) are part of that timeline.
 */
import type http from 'node:http';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  failoverBudget,
  formatFailoverTimeline,
  judgeFailover,
  leaseTimings,
  type LeaseTimelineEvent,
} from '../../../helpers/judge/failover.ts';
import { Kube } from '../../../helpers/kube/index.ts';
import { connectionTimelineEvent, readLease, recordLease } from '../../../suites/steps/l2-lab.ts';
import { DEADLINE } from '../../../helpers/wait/deadlines.ts';
import { FakeKubeApi, sendJson, startWatch, status } from '../../helpers/kube/fake-kube-api.ts';

const NAME = 'cilium-l2announce-clh-x-l2-failover';
const LEASE_PATH = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases';
/** Fast timings so the test runs in about two seconds: bound 1 s + 0.5 s + 2.2 × 0.1 s = 1.72 s. */
const budget = failoverBudget(
  leaseTimings({
    'l2-announcements-lease-duration': '1s',
    'l2-announcements-renew-deadline': '500ms',
    'l2-announcements-retry-period': '100ms',
  }),
  { intervalMs: 300, timeoutMs: 100 },
);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let api: FakeKubeApi;
/** What the fake API serves: the holder, and whether it answers at all. */
const state = { holder: 'k8s-w1' as string | null, down: false, rv: 100 };
const watchers = new Set<http.ServerResponse>();

function lease(): object {
  state.rv++;
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: NAME, namespace: 'kube-system', resourceVersion: String(state.rv) },
    spec: {
      ...(state.holder ? { holderIdentity: state.holder } : {}),
      leaseDurationSeconds: 1,
      leaseTransitions: state.holder === 'k8s-w1' ? 0 : 1,
      renewTime: new Date().toISOString(),
    },
  };
}

function setDown(down: boolean): void {
  state.down = down;
  if (down) for (const w of watchers) w.socket?.destroy();
}

function setHolder(holder: string | null): void {
  state.holder = holder;
}

beforeEach(async () => {
  Object.assign(state, { holder: 'k8s-w1', down: false, rv: 100 });
  watchers.clear();
  api = new FakeKubeApi();
  api.routes.push((r, res) => {
    if (r.path !== LEASE_PATH && r.path !== `${LEASE_PATH}/${NAME}`) return false;
    if (state.down) {
      sendJson(res, 503, status(503, 'ServiceUnavailable', 'the API server is rebooting'));
      return true;
    }
    if (r.path === `${LEASE_PATH}/${NAME}`) sendJson(res, 200, lease());
    else if (r.query.get('watch') === 'true') {
      const w = startWatch(res);
      watchers.add(res);
      res.on('close', () => watchers.delete(res));
      w.event('MODIFIED', lease());
    } else
      sendJson(res, 200, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'LeaseList',
        metadata: { resourceVersion: String(state.rv) },
        items: [lease()],
      });
    return true;
  });
  await api.start();
});

afterEach(async () => {
  await api.stop();
});

const kube = (): Kube => new Kube(api.kubeConfig(), { runId: 'x', requestTimeoutMs: 2_000, retries: 0 });

describe('recordLease + judgeFailover', () => {
  test('readLease: the holder and renew time of the lease, null when it does not exist', async () => {
    const k = kube();
    const { state: s, yaml } = await readLease({ kube: k }, NAME);
    expect(s).toMatchObject({ holder: 'k8s-w1', transitions: 0 });
    expect(s?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(yaml).toContain('holderIdentity: k8s-w1');
    expect((await readLease({ kube: k }, 'cilium-l2announce-nope')).state).toBeNull();
  });

  test('a failover seen through an API outage: the errors are recorded and the lease still moved', async () => {
    const rec = recordLease({ kube: kube() }, NAME, { pollMs: 100, readTimeoutMs: 500 });
    await sleep(400);
    const rebootAt = Date.now();
    setDown(true);
    await sleep(500);
    setHolder('k8s-ctr');
    setDown(false);
    await sleep(500);
    await rec.stop();
    await rec.stop(); // idempotent
    const kinds = rec.events.map((e) => e.kind);
    expect(kinds).toContain('api-error');
    const v = judgeFailover({
      leaseName: NAME,
      oldHolder: 'k8s-w1',
      candidates: ['k8s-ctr', 'k8s-w1'],
      rebootAt,
      observedUntil: Date.now(),
      budget,
      events: rec.events,
    });
    expect(v.kind, v.explanation).toBe('moved');
    expect(v.newHolder).toBe('k8s-ctr');
    expect(v.failoverMs!).toBeGreaterThanOrEqual(500);
    expect(v.failoverMs!).toBeLessThan(budget.holderMs);
    expect(v.explanation).toMatch(/[1-9]\d* errors/);
    expect(v.explanation).toContain('the API server is rebooting');
  });

  test('after an 8 s API outage the watch resumes within about 2 s of the API being back (not after a 10 s backoff)', async () => {
    const rec = recordLease({ kube: kube() }, NAME, { pollMs: 200, readTimeoutMs: 500 });
    await sleep(400);
    setDown(true);
    await sleep(8_000);
    const upAt = Date.now();
    setDown(false);
    await sleep(3_000);
    await rec.stop();
    const back = rec.events.find((e) => e.kind === 'watch-connected' && e.at >= upAt);
    expect(back, JSON.stringify(rec.events.filter((e) => e.kind !== 'lease'))).toBeDefined();
    expect(back!.at - upAt).toBeLessThanOrEqual(2_500);
    expect(DEADLINE.recorderReconnectMs).toBeLessThanOrEqual(2_000);
  }, 20_000);

  test('the watch lost during the "reboot" and back after it shows in the merged timeline and in the verdict', async () => {
    const rec = recordLease({ kube: kube() }, NAME, {
      pollMs: 100,
      readTimeoutMs: 500,
      watch: { reconnectDelayMs: 50, maxReconnectDelayMs: 100 },
    });
    await sleep(400);
    const rebootAt = Date.now();
    setDown(true); // drops the open watch, and every request gets 503 until the API is back
    await sleep(500);
    const upAt = Date.now();
    setHolder('k8s-ctr');
    setDown(false);
    await sleep(500);
    await rec.stop();

    // once each: connected before the reboot, lost during the outage (several failed retries, one event), back after it
    type Conn = Extract<LeaseTimelineEvent, { kind: 'watch-connected' | 'watch-disconnected' }>;
    const conn = rec.events.filter((e): e is Conn => e.kind === 'watch-connected' || e.kind === 'watch-disconnected');
    expect(conn.map((e) => e.kind)).toEqual(['watch-connected', 'watch-disconnected', 'watch-connected']);
    const [first, lost, back] = conn as [Conn, Extract<Conn, { kind: 'watch-disconnected' }>, Conn];
    expect(first.at).toBeLessThan(rebootAt);
    expect(lost.at).toBeGreaterThanOrEqual(rebootAt);
    expect(lost.at).toBeLessThan(upAt);
    expect(lost.error).toMatch(/^watch Lease kube-system\/cilium-l2announce-clh-x-l2-failover: no answer: ./);
    expect(back.at).toBeGreaterThanOrEqual(upAt);
    // the watch reports the new holder only once it is back
    const seenByWatch = rec.events.find((e) => e.kind === 'lease' && e.source === 'watch' && e.holder === 'k8s-ctr');
    expect(seenByWatch?.at).toBeGreaterThanOrEqual(back.at);

    // the merged timeline: the reboot, then the disconnect (with its error), then the reconnect
    const lines = formatFailoverTimeline({ rebootAt, oldHolder: 'k8s-w1', events: rec.events, samples: [], probeClockOffsetMs: 0 }).split(
      '\n',
    );
    const reboot = lines.findIndex((l) => l.endsWith('harness  reboot k8s-w1'));
    const disconnect = lines.findIndex((l) => /^ +\+0\.\d{3} {2}watch {4}disconnected: watch Lease kube-system\/\S+: no answer: ./.test(l));
    // The watch back says how long it was away (issue 16: the gap in the timeline).
    const reconnect = lines.findIndex(
      (l, i) => i > disconnect && /^ +\+\d\.\d{3} {2}watch {4}connected \(back after a gap of \d+\.\d s\)$/.test(l),
    );
    expect(reboot, lines.join('\n')).toBeGreaterThan(0);
    expect(disconnect, lines.join('\n')).toBeGreaterThan(reboot);
    expect(reconnect, lines.join('\n')).toBeGreaterThan(disconnect);
    expect(lines.filter((l) => / watch {4}(dis)?connected/.test(l))).toHaveLength(3);

    const v = judgeFailover({
      leaseName: NAME,
      oldHolder: 'k8s-w1',
      candidates: ['k8s-ctr', 'k8s-w1'],
      rebootAt,
      observedUntil: Date.now(),
      budget,
      events: rec.events,
    });
    expect(v.kind, v.explanation).toBe('moved');
    expect(v.explanation).toMatch(/watch 1 disconnects \(at \+0\.\d s\) \/ 2 \(re\)connects \(at −0\.\d s, \+\d\.\d s\)/);
  });

  test('the API never comes back: api-lost, not "Cilium did not fail over"', async () => {
    const rec = recordLease({ kube: kube() }, NAME, { pollMs: 100, readTimeoutMs: 500 });
    await sleep(300);
    const rebootAt = Date.now();
    setDown(true);
    await sleep(budget.holderMs + 300);
    await rec.stop();
    const v = judgeFailover({
      leaseName: NAME,
      oldHolder: 'k8s-w1',
      candidates: ['k8s-ctr', 'k8s-w1'],
      rebootAt,
      observedUntil: Date.now(),
      budget,
      events: rec.events,
    });
    expect(v.kind, v.explanation).toBe('api-lost');
    expect(v.explanation).toContain('lost the API server');
    // the watch was lost once at the "reboot" and never came back
    expect(v.explanation).toMatch(/watch 1 disconnects \(at \+0\.\d s\) \/ 1 \(re\)connects \(at −0\.\d s\)/);
  });

  test('the API answers and the lease stays put: "Cilium did not fail over"', async () => {
    const rec = recordLease({ kube: kube() }, NAME, { pollMs: 100, readTimeoutMs: 500 });
    await sleep(300);
    const rebootAt = Date.now();
    await sleep(budget.holderMs + 300);
    await rec.stop();
    const v = judgeFailover({
      leaseName: NAME,
      oldHolder: 'k8s-w1',
      candidates: ['k8s-ctr', 'k8s-w1'],
      rebootAt,
      observedUntil: Date.now(),
      budget,
      events: rec.events,
    });
    expect(v.kind, v.explanation).toBe('not-moved');
    expect(v.explanation).toContain('Cilium did not fail over');
    // the poll saw every renewal (renewTime moves on each read here), which the message counts
    expect(v.explanation).toMatch(/renewed [1-9]\d* time\(s\) after the reboot/);
  });
});

describe("connectionTimelineEvent: the watcher's connection events in the failover timeline", () => {
  test('connected and resumed are (re)connects, disconnected keeps its error (null when none), relisted has no kind', () => {
    expect(connectionTimelineEvent({ at: 1, state: 'connected' })).toEqual({ at: 1, kind: 'watch-connected' });
    expect(connectionTimelineEvent({ at: 2, state: 'resumed' })).toEqual({ at: 2, kind: 'watch-connected' });
    expect(connectionTimelineEvent({ at: 3, state: 'disconnected', error: 'HTTP 410 Expired: too old resource version' })).toEqual({
      at: 3,
      kind: 'watch-disconnected',
      error: 'HTTP 410 Expired: too old resource version',
    });
    expect(connectionTimelineEvent({ at: 4, state: 'disconnected' })).toEqual({ at: 4, kind: 'watch-disconnected', error: null });
    expect(connectionTimelineEvent({ at: 5, state: 'relisted' })).toBeNull();
  });
});
