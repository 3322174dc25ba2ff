/**
 * Contract tests: helpers/kube/client.ts against a local fake of the Kubernetes API (test/helpers/kube/fake-kube-api.ts).
 * They prove how the wrapper handles answers only a server gives (404, 409, 401, a watch that the server ends or
 * expires, a request that never gets an answer, the exec websocket's status channel). They say nothing about how a
 * real API server or Cilium behaves beyond the shapes reproduced here.
 */
import type http from 'node:http';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Kube, KubeApiError, runLabels, type LeaseHolderChange, type WatchConnectionEvent } from '../../../helpers/kube/index.ts';
import { WaitTimeoutError, type Clock } from '../../../helpers/wait/retry.ts';
import { FakeKubeApi, sendJson, startWatch, status, type FakeRequest } from './fake-kube-api.ts';
import { MANIFEST_DIR } from '../../../suites/support/manifests.ts';

const RUN = 'r20261122-0349-ab12';
const NS = `clh-${RUN}`;

/** Time moves only when the code under test sleeps, and by 1 ms per now() so timestamps are distinct. */
function fakeClock(): Clock {
  let t = 1_700_000_000_000;
  return { now: () => ++t, sleep: (ms) => ((t += ms), Promise.resolve()) };
}

let api: FakeKubeApi;
beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
});
afterEach(async () => {
  await api.stop();
});

const kube = (o: { token?: string; retries?: number; requestTimeoutMs?: number } = {}): Kube =>
  new Kube(api.kubeConfig(o.token), {
    runId: RUN,
    retries: o.retries ?? 1,
    clock: fakeClock(),
    manifestDir: MANIFEST_DIR,
    ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
  });

const calls = (method: string, pathPrefix: string): FakeRequest[] =>
  api.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix));

describe('server-side apply', () => {
  test('PATCH apply-patch with field manager cilium-lab-harness and force; the rendered manifest carries the run labels', async () => {
    api.routes.push((r, res) => {
      if (r.method !== 'PATCH') return false;
      sendJson(res, 200, JSON.parse(r.body));
      return true;
    });
    const applied = await kube().applyManifest('webpod.yaml');
    expect(applied.map((o) => `${o.kind}/${o.metadata?.name}`)).toEqual(['Deployment/webpod', 'Service/webpod']);
    const [deploy] = calls('PATCH', '/apis/apps/v1');
    expect(deploy?.path).toBe(`/apis/apps/v1/namespaces/${NS}/deployments/webpod`);
    expect(deploy?.headers['content-type']).toBe('application/apply-patch+yaml');
    expect(deploy?.query.get('fieldManager')).toBe('cilium-lab-harness');
    expect(deploy?.query.get('force')).toBe('true');
    expect(JSON.parse(deploy?.body ?? '{}').metadata.labels).toEqual({ app: 'webpod', ...runLabels(RUN) });
    expect(calls('PATCH', `/api/v1/namespaces/${NS}/services/webpod`)).toHaveLength(1);
  });

  test('a cluster-scoped pool goes to the cluster-scoped path, with its per-run name', async () => {
    api.routes.push((r, res) => (r.method === 'PATCH' ? (sendJson(res, 200, JSON.parse(r.body)), true) : false));
    await kube().apply({
      apiVersion: 'cilium.io/v2alpha1',
      kind: 'CiliumLoadBalancerIPPool',
      metadata: { name: `clh-${RUN}-pool`, labels: runLabels(RUN) },
    });
    expect(calls('PATCH', '/apis/cilium.io/v2alpha1')[0]?.path).toBe(`/apis/cilium.io/v2alpha1/ciliumloadbalancerippools/clh-${RUN}-pool`);
  });

  test('409 Conflict once: retried, then succeeds', async () => {
    let n = 0;
    api.routes.push((r, res) => {
      if (r.method !== 'PATCH') return false;
      if (++n === 1)
        sendJson(res, 409, status(409, 'Conflict', 'Operation cannot be fulfilled on services "webpod": the object has been modified'));
      else sendJson(res, 200, JSON.parse(r.body));
      return true;
    });
    const svc = await kube().apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'webpod', namespace: NS } });
    expect(svc.metadata?.name).toBe('webpod');
    expect(calls('PATCH', '/api/v1')).toHaveLength(2);
  });

  test('409 Conflict every time: KubeApiError 409 naming the object and the conflicting fields', async () => {
    api.routes.push((r, res) => {
      if (r.method !== 'PATCH') return false;
      sendJson(
        res,
        409,
        status(409, 'Conflict', 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply"', [
          { reason: 'FieldManagerConflict', field: '.spec.replicas', message: 'conflict with "kubectl-client-side-apply" using apps/v1' },
        ]),
      );
      return true;
    });
    const err = await kube({ retries: 2 })
      .apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'webpod', namespace: NS } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(409);
    expect((err as Error).message).toBe(
      `apply Deployment ${NS}/webpod: HTTP 409 Conflict: Apply failed with 1 conflict: conflict with "kubectl-client-side-apply"; .spec.replicas: conflict with "kubectl-client-side-apply" using apps/v1 (conflict with the object on the server)`,
    );
    expect(calls('PATCH', '/apis/apps/v1')).toHaveLength(3);
  });

  test('401: KubeApiError 401 with what to check, and no retry', async () => {
    const err = await kube({ token: 'stale-token', retries: 3 })
      .apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: NS } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(401);
    expect((err as Error).message).toMatch(
      /HTTP 401 Unauthorized: Unauthorized \(the API server did not accept the credentials: check LAB_KUBECONFIG/,
    );
    expect(api.requests).toHaveLength(1);
  });

  test('a request that gets no answer fails at the request deadline, saying so', async () => {
    api.routes.push(() => new Promise<boolean>(() => undefined));
    const started = Date.now();
    const err = await kube({ retries: 0, requestTimeoutMs: 300 })
      .apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: NS } })
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/apply ConfigMap clh-.*\/x: no answer: request timed out/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('404', () => {
  test('read gives null and delete gives false instead of throwing', async () => {
    const k = kube();
    expect(await k.read({ apiVersion: 'v1', kind: 'Service', namespace: NS, name: 'gone' })).toBeNull();
    expect(await k.delete({ apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumLoadBalancerIPPool', name: 'gone' })).toBe(false);
  });

  test('a wait on an object that does not exist times out saying it was not found', async () => {
    const err = await kube()
      .waitDeploymentAvailable(NS, 'webpod', 5000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(
      /^Timed out after 5 s waiting for Deployment clh-.*\/webpod to be available; last seen: not found/,
    );
  });

  test('a wait on a Service sees the LB IP appear', async () => {
    let n = 0;
    api.routes.push((r, res) => {
      if (r.path !== `/api/v1/namespaces/${NS}/services/web`) return false;
      n++;
      sendJson(res, 200, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: NS },
        spec: { type: 'LoadBalancer' },
        status: { loadBalancer: n < 3 ? {} : { ingress: [{ ip: '192.168.10.211' }] } },
      });
      return true;
    });
    expect(await kube().waitServiceLbIp(NS, 'web', 60_000)).toBe('192.168.10.211');
  });

  test('deleteByRunLabel lists every kind by run label, deletes (an object already gone is fine), namespace last, then waits until nothing is left', async () => {
    const listed = new Map<string, number>();
    const items: Record<string, { metadata: { name: string; namespace?: string } }[]> = {
      '/apis/cilium.io/v2alpha1/ciliumloadbalancerippools': [{ metadata: { name: `clh-${RUN}-pool` } }],
      '/api/v1/services': [{ metadata: { name: 'webpod', namespace: NS } }],
      '/api/v1/namespaces': [{ metadata: { name: NS } }],
    };
    api.routes.push((r, res) => {
      if (r.method === 'GET' && r.path in items) {
        expect(r.query.get('labelSelector')).toBe(`cilium-lab-harness/run=${RUN}`);
        const n = (listed.get(r.path) ?? 0) + 1;
        listed.set(r.path, n);
        // still listed on the first check after the delete, gone on the next one
        sendJson(res, 200, { apiVersion: 'v1', kind: 'List', metadata: {}, items: n <= 2 ? items[r.path] : [] });
        return true;
      }
      if (
        r.method === 'GET' &&
        (r.path.endsWith('/pods') ||
          r.path.endsWith('/deployments') ||
          r.path.endsWith('/ingresses') ||
          r.path.endsWith('/configmaps') ||
          r.path.endsWith('/ciliuml2announcementpolicies'))
      ) {
        sendJson(res, 200, { apiVersion: 'v1', kind: 'List', metadata: {}, items: [] });
        return true;
      }
      if (r.method === 'DELETE') {
        if (r.path.endsWith('/services/webpod')) sendJson(res, 404, status(404, 'NotFound', 'services "webpod" not found'));
        else sendJson(res, 200, status(200, '', ''));
        return true;
      }
      return false;
    });
    const deleted = await kube().deleteByRunLabel();
    expect(deleted).toEqual([`CiliumLoadBalancerIPPool clh-${RUN}-pool`, `Namespace ${NS}`]);
    const deletes = api.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
    expect(deletes).toEqual([
      `/apis/cilium.io/v2alpha1/ciliumloadbalancerippools/clh-${RUN}-pool`,
      `/api/v1/namespaces/${NS}/services/webpod`,
      `/api/v1/namespaces/${NS}`,
    ]);
    expect(listed.get('/api/v1/namespaces')).toBe(3);
  });
});

describe('exec in a pod (websocket status channel)', () => {
  test('stdout, stderr and a non-zero exit code from the V1Status', async () => {
    api.wsRoute = (r) => {
      expect(r.path).toBe('/api/v1/namespaces/kube-system/pods/cilium-abcde/exec');
      expect(r.query.getAll('command')).toEqual(['cilium-dbg', 'status', '-o', 'json']);
      expect(r.query.get('container')).toBe('cilium-agent');
      return (ws) => {
        ws.channel(1, '{"cilium":');
        ws.channel(1, '{"state":"Warning"}}\n');
        ws.channel(2, 'level=warning msg=degraded\n');
        ws.channel(
          3,
          JSON.stringify({
            metadata: {},
            status: 'Failure',
            reason: 'NonZeroExitCode',
            message: 'command terminated with non-zero exit code',
            details: { causes: [{ reason: 'ExitCode', message: '1' }] },
          }),
        );
        ws.close();
      };
    };
    const r = await kube().execInPod('kube-system', 'cilium-abcde', ['cilium-dbg', 'status', '-o', 'json'], { container: 'cilium-agent' });
    expect(r).toMatchObject({ stdout: '{"cilium":{"state":"Warning"}}\n', stderr: 'level=warning msg=degraded\n', code: 1, signal: null });
    expect(r.durationMs).toBeGreaterThan(0);
  });

  test('Success is exit code 0', async () => {
    api.wsRoute = () => (ws) => {
      ws.channel(1, 'IP               NetworkInterface\n192.168.10.211   eth1\n');
      ws.channel(3, JSON.stringify({ metadata: {}, status: 'Success' }));
      ws.close();
    };
    expect(await kube().execInPod('kube-system', 'cilium-abcde', ['cilium-dbg', 'shell', '--', 'db/show', 'l2-announce'])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('192.168.10.211'),
    });
  });

  test('a pod that does not exist: KubeApiError 404', async () => {
    const err = await kube()
      .execInPod(NS, 'nope', ['true'])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe(404);
    expect((err as Error).message).toMatch(/^exec \[true\] in clh-.*\/nope: HTTP 404/);
  });

  test('a stream that closes without a status: the exit code is lost, which is an error', async () => {
    api.wsRoute = () => (ws) => {
      ws.channel(1, 'partial');
      ws.close();
    };
    await expect(kube().execInPod(NS, 'curl-pod', ['curl', 'webpod'])).rejects.toThrow(
      /exec stream closed without a status \(exit code lost\)/,
    );
  });

  test('a command that never ends hits the deadline', async () => {
    api.wsRoute = () => (ws) => ws.channel(1, 'still running');
    await expect(kube().execInPod(NS, 'curl-pod', ['sleep', '1000'], { timeoutMs: 300 })).rejects.toThrow(
      /waiting for exec \[sleep 1000\] in clh-.*\/curl-pod; last seen: stdout: still running/,
    );
  });
});

describe('lease watcher', () => {
  const LEASE_PATH = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases';
  const lease = (holder: string | null, rv: string, transitions: number) => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'cilium-l2announce-clh-x-webpod', namespace: 'kube-system', resourceVersion: rv },
    spec: {
      ...(holder !== null ? { holderIdentity: holder } : {}),
      leaseDurationSeconds: 15,
      leaseTransitions: transitions,
      renewTime: `2026-11-22T03:49:${rv.slice(-2)}.000000Z`,
    },
  });

  function leaseServer(script: {
    list: () => object;
    watches: ((w: ReturnType<typeof startWatch>, r: FakeRequest, res: http.ServerResponse) => void)[];
  }): { watchRvs: (string | null)[]; lists: number } {
    const seen = { watchRvs: [] as (string | null)[], lists: 0 };
    let watchNo = 0;
    api.routes.push((r, res: http.ServerResponse) => {
      if (r.path !== LEASE_PATH) return false;
      expect(r.query.get('fieldSelector')).toBe('metadata.name=cilium-l2announce-clh-x-webpod');
      if (r.query.get('watch') !== 'true') {
        seen.lists++;
        sendJson(res, 200, script.list());
        return true;
      }
      seen.watchRvs.push(r.query.get('resourceVersion'));
      const step = script.watches[watchNo++];
      const w = startWatch(res);
      if (step) step(w, r, res);
      return true;
    });
    return seen;
  }

  /** Holder changes and connection events, in the order the watcher reported them. */
  type Logged = { change: LeaseHolderChange } | { conn: WatchConnectionEvent };

  /** Watches until `until` holds after a report (or 10 s pass); returns everything reported, in order. */
  async function watchLog(
    k: Kube,
    until: (log: Logged[]) => boolean,
  ): Promise<{ log: Logged[]; changes: LeaseHolderChange[]; conns: WatchConnectionEvent[] }> {
    const log: Logged[] = [];
    const ac = new AbortController();
    const push = (l: Logged): void => {
      log.push(l);
      if (until(log)) ac.abort();
    };
    const done = k.watchLeaseHolder('kube-system', 'cilium-l2announce-clh-x-webpod', (change) => push({ change }), ac.signal, {
      reconnectDelayMs: 10,
      onConnection: (conn) => push({ conn }),
    });
    const guard = setTimeout(() => ac.abort(), 10_000);
    await done;
    clearTimeout(guard);
    const changes = log.flatMap((l) => ('change' in l ? [l.change] : []));
    const conns = log.flatMap((l) => ('conn' in l ? [l.conn] : []));
    return { log, changes, conns };
  }

  async function collect(k: Kube, until: (events: LeaseHolderChange[]) => boolean): Promise<LeaseHolderChange[]> {
    return (await watchLog(k, (log) => until(log.flatMap((l) => ('change' in l ? [l.change] : []))))).changes;
  }

  /** The log as short words: holder changes as the holder, connection events as their state (and error). */
  const story = (log: Logged[]): string[] =>
    log.map((l) =>
      'change' in l ? `holder ${l.change.holder ?? 'none'}` : `${l.conn.state}${l.conn.error !== undefined ? `: ${l.conn.error}` : ''}`,
    );
  /** Every report has a timestamp, strictly later than the one before (the fake clock moves 1 ms per now()). */
  const inClockOrder = (log: Logged[]): boolean =>
    log
      .map((l) => ('change' in l ? l.change.at : l.conn.at))
      .every((at, i, all) => Number.isInteger(at) && at > 1_700_000_000_000 && (i === 0 || at > all[i - 1]!));
  const HOLDER_ONLY =
    (n: number) =>
    (log: Logged[]): boolean =>
      log.filter((l) => 'change' in l).length === n;

  test('each holder change is reported once with a timestamp; a watch the server ends is resumed from the last resourceVersion; 410 Gone relists', async () => {
    let listNo = 0;
    const seen = leaseServer({
      list: () =>
        ++listNo === 1
          ? {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'LeaseList',
              metadata: { resourceVersion: '100' },
              items: [lease('k8s-w1', '100', 0)],
            }
          : {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'LeaseList',
              metadata: { resourceVersion: '200' },
              items: [lease('k8s-w1', '199', 2)],
            },
      watches: [
        (w) => {
          w.event('MODIFIED', lease('k8s-w1', '101', 0)); // renewal: same holder
          w.event('MODIFIED', lease('k8s-ctr', '102', 1)); // failover
          w.event('BOOKMARK', { kind: 'Lease', apiVersion: 'coordination.k8s.io/v1', metadata: { resourceVersion: '150' } });
          w.end(); // the server ends the watch (timeoutSeconds)
        },
        (w) => {
          w.event('MODIFIED', lease('k8s-ctr', '151', 1)); // renewal
          w.event('MODIFIED', lease('k8s-w1', '152', 2)); // back
          w.event('ERROR', {
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            code: 410,
            reason: 'Expired',
            message: 'too old resource version: 152 (180)',
          });
        },
        (w) => w.event('DELETED', lease('k8s-w1', '201', 2)),
      ],
    });
    const { log, changes: events } = await watchLog(kube(), HOLDER_ONLY(4));
    expect(events.map((e) => e.holder)).toEqual(['k8s-w1', 'k8s-ctr', 'k8s-w1', null]);
    expect(events.map((e) => e.transitions)).toEqual([0, 1, 2, null]);
    expect(events[1]?.renewTime).toBe('2026-11-22T03:49:02.000000Z');
    expect(events.every((e, i) => i === 0 || e.at > (events[i - 1]?.at ?? 0))).toBe(true);
    expect(seen.watchRvs).toEqual(['100', '150', '200']);
    expect(seen.lists).toBe(2);
    // and the connection story, interleaved with the changes in the order it happened
    expect(story(log)).toEqual([
      'holder k8s-w1',
      'connected',
      'holder k8s-ctr',
      'disconnected',
      'resumed',
      'holder k8s-w1',
      'disconnected: watch Lease kube-system/cilium-l2announce-clh-x-webpod: HTTP 410 Expired: too old resource version: 152 (180) (listing again)',
      'relisted',
      'connected',
      'holder none',
    ]);
    expect(inClockOrder(log)).toBe(true);
  });

  test('a dropped connection reconnects and resumes', async () => {
    let first = true;
    api.routes.unshift((r, res) => {
      if (r.path === LEASE_PATH && r.query.get('watch') === 'true' && first) {
        first = false;
        res.socket?.destroy();
        return true;
      }
      return false;
    });
    const seen = leaseServer({
      list: () => ({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'LeaseList',
        metadata: { resourceVersion: '300' },
        items: [lease('k8s-w0', '300', 4)],
      }),
      watches: [(w) => w.event('MODIFIED', lease('k8s-w1', '301', 5))],
    });
    const { log, changes: events, conns } = await watchLog(kube(), HOLDER_ONLY(2));
    expect(events.map((e) => e.holder)).toEqual(['k8s-w0', 'k8s-w1']);
    expect(seen.watchRvs).toEqual(['300']);
    expect(api.requests.filter((r) => r.query.get('watch') === 'true').map((r) => r.query.get('resourceVersion'))).toEqual(['300', '300']);
    // the watch never opened before the drop: the failed attempt is the disconnect; the retry still starts from the list
    expect(story(log).map((x) => x.replace(/:.*/, ''))).toEqual(['holder k8s-w0', 'disconnected', 'connected', 'holder k8s-w1']);
    expect(conns[0]?.error).toMatch(/^watch Lease kube-system\/cilium-l2announce-clh-x-webpod: no answer: .*(socket hang up|ECONNRESET)/);
    expect(inClockOrder(log)).toBe(true);
  });

  test('an ERROR event other than 410, and a watch that ends with nothing in it, are retried after a backoff', async () => {
    const slept: number[] = [];
    let t = 0;
    const clock: Clock = { now: () => ++t, sleep: (ms) => (slept.push(ms), (t += ms), Promise.resolve()) };
    const seen = leaseServer({
      list: () => ({
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'LeaseList',
        metadata: { resourceVersion: '40' },
        items: [lease('k8s-ctr', '40', 1)],
      }),
      watches: [
        (w) => (
          w.event('ERROR', {
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            code: 500,
            reason: 'InternalError',
            message: 'etcd leader changed',
          }),
          w.end()
        ),
        (w) => w.end(),
        (w) => w.event('MODIFIED', lease('k8s-w0', '41', 2)),
      ],
    });
    const k = new Kube(api.kubeConfig(), { runId: RUN, retries: 0, clock });
    const { log, changes: events } = await watchLog(k, HOLDER_ONLY(2));
    expect(events.map((e) => e.holder)).toEqual(['k8s-ctr', 'k8s-w0']);
    expect(seen.watchRvs).toEqual(['40', '40', '40']);
    expect(slept).toEqual([10, 20]);
    expect(story(log)).toEqual([
      'holder k8s-ctr',
      'connected',
      'disconnected: watch Lease kube-system/cilium-l2announce-clh-x-webpod: HTTP 500 InternalError: etcd leader changed',
      'resumed',
      'disconnected', // the empty watch the server ended
      'resumed',
      'holder k8s-w0',
    ]);
  });

  test('a lease that does not exist yet is holder null, then reported when created', async () => {
    leaseServer({
      list: () => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'LeaseList', metadata: { resourceVersion: '10' }, items: [] }),
      watches: [(w) => w.event('ADDED', lease('k8s-ctr', '11', 0))],
    });
    expect((await collect(kube(), (ev) => ev.length === 2)).map((e) => e.holder)).toEqual([null, 'k8s-ctr']);
  });

  test('401 on the list rejects instead of retrying forever', async () => {
    const ac = new AbortController();
    const err = await kube({ token: 'bad' })
      .watchLeaseHolder('kube-system', 'x', () => undefined, ac.signal)
      .catch((e: unknown) => e);
    expect((err as KubeApiError).code).toBe(401);
  });

  test('401 on the watch itself (after a good list) rejects too', async () => {
    api.routes.push((r, res) => {
      if (r.path !== LEASE_PATH) return false;
      if (r.query.get('watch') === 'true') sendJson(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      else sendJson(res, 200, { apiVersion: 'coordination.k8s.io/v1', kind: 'LeaseList', metadata: { resourceVersion: '5' }, items: [] });
      return true;
    });
    const events: LeaseHolderChange[] = [];
    const conns: WatchConnectionEvent[] = [];
    const err = await kube()
      .watchLeaseHolder('kube-system', 'cilium-l2announce-clh-x-webpod', (e) => events.push(e), new AbortController().signal, {
        onConnection: (c) => conns.push(c),
      })
      .catch((e: unknown) => e);
    expect((err as KubeApiError).code).toBe(401);
    expect((err as Error).message).toMatch(/^watch Lease kube-system\/cilium-l2announce-clh-x-webpod: HTTP 401/);
    expect(events.map((e) => e.holder)).toEqual([null]);
    // the watcher says it lost the watch before it gives up
    expect(conns).toEqual([{ at: expect.any(Number), state: 'disconnected', error: (err as Error).message }]);
  });

  describe('connection events: each once, in order, with a timestamp', () => {
    test('a watch the server closes: disconnected (no error), then resumed from the last resourceVersion', async () => {
      const seen = leaseServer({
        list: () => ({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'LeaseList',
          metadata: { resourceVersion: '100' },
          items: [lease('k8s-w1', '100', 0)],
        }),
        watches: [
          (w) => (w.event('MODIFIED', lease('k8s-w1', '101', 0)), w.end()), // a renewal, then the server's timeout
          (w) => w.event('MODIFIED', lease('k8s-ctr', '102', 1)),
        ],
      });
      const { log, conns } = await watchLog(kube(), HOLDER_ONLY(2));
      expect(story(log)).toEqual(['holder k8s-w1', 'connected', 'disconnected', 'resumed', 'holder k8s-ctr']);
      expect(conns[1]).not.toHaveProperty('error');
      expect(inClockOrder(log)).toBe(true);
      expect(seen.watchRvs).toEqual(['100', '101']);
      expect(seen.lists).toBe(1);
    });

    test('410 Gone: disconnected naming the 410, relisted, then connected from the new list (not resumed)', async () => {
      let listNo = 0;
      const seen = leaseServer({
        list: () => ({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'LeaseList',
          metadata: { resourceVersion: listNo++ === 0 ? '100' : '500' },
          items: [lease(listNo === 1 ? 'k8s-w1' : 'k8s-ctr', '100', listNo)],
        }),
        watches: [
          (w) =>
            w.event('ERROR', {
              kind: 'Status',
              apiVersion: 'v1',
              status: 'Failure',
              code: 410,
              reason: 'Expired',
              message: 'too old resource version: 100 (450)',
            }),
          (w) => w.event('MODIFIED', lease('k8s-w0', '501', 3)),
        ],
      });
      const { log, conns } = await watchLog(kube(), HOLDER_ONLY(3));
      // the relist is reported before the holder change it revealed
      expect(story(log)).toEqual([
        'holder k8s-w1',
        'connected',
        'disconnected: watch Lease kube-system/cilium-l2announce-clh-x-webpod: HTTP 410 Expired: too old resource version: 100 (450) (listing again)',
        'relisted',
        'holder k8s-ctr',
        'connected',
        'holder k8s-w0',
      ]);
      expect(conns.filter((c) => c.state === 'relisted')).toEqual([{ at: expect.any(Number), state: 'relisted' }]);
      expect(inClockOrder(log)).toBe(true);
      expect(seen.watchRvs).toEqual(['100', '500']);
      expect(seen.lists).toBe(2);
    });

    test('a connection dropped mid-stream: disconnected with the transport error, then resumed from the last event', async () => {
      const seen = leaseServer({
        list: () => ({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'LeaseList',
          metadata: { resourceVersion: '300' },
          items: [lease('k8s-w0', '300', 4)],
        }),
        watches: [
          (w, _r, res) => {
            w.event('MODIFIED', lease('k8s-w1', '301', 5));
            setTimeout(() => res.socket?.destroy(), 50); // no end of the chunked body: the connection just goes
          },
          (w) => w.event('MODIFIED', lease('k8s-ctr', '302', 6)),
        ],
      });
      const { log, conns } = await watchLog(kube(), HOLDER_ONLY(3));
      expect(story(log).map((x) => x.replace(/:.*/, ''))).toEqual([
        'holder k8s-w0',
        'connected',
        'holder k8s-w1',
        'disconnected',
        'resumed',
        'holder k8s-ctr',
      ]);
      expect(conns[1]?.error).toMatch(/^watch Lease kube-system\/cilium-l2announce-clh-x-webpod: no answer: ./);
      expect(inClockOrder(log)).toBe(true);
      expect(seen.watchRvs).toEqual(['300', '301']);
    });

    test('an outage: one disconnected for all the failed tries, one resumed when a watch opens again', async () => {
      let watchNo = 0;
      api.routes.unshift((r, res) => {
        if (r.path !== LEASE_PATH || r.query.get('watch') !== 'true') return false;
        watchNo++;
        if (watchNo === 2 || watchNo === 3) {
          sendJson(res, 503, status(503, 'ServiceUnavailable', 'the API server is rebooting'));
          return true;
        }
        return false;
      });
      const seen = leaseServer({
        list: () => ({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'LeaseList',
          metadata: { resourceVersion: '60' },
          items: [lease('k8s-w1', '60', 0)],
        }),
        watches: [
          (w, _r, res) => (w.event('MODIFIED', lease('k8s-w1', '61', 0)), setTimeout(() => res.socket?.destroy(), 50)),
          (w) => w.event('MODIFIED', lease('k8s-ctr', '62', 1)),
        ],
      });
      const { log } = await watchLog(kube(), HOLDER_ONLY(2));
      expect(story(log).map((x) => x.replace(/:.*/, ''))).toEqual([
        'holder k8s-w1',
        'connected',
        'disconnected',
        'resumed',
        'holder k8s-ctr',
      ]);
      expect(watchNo).toBe(4);
      expect(seen.watchRvs).toEqual(['60', '61']);
      expect(api.requests.filter((r) => r.query.get('watch') === 'true').map((r) => r.query.get('resourceVersion'))).toEqual([
        '60',
        '61',
        '61',
        '61',
      ]);
    });
  });

  test(
    'a stop that comes while the lease is being listed ends the watcher without opening a watch, and reports no connection event',
    { timeout: 10_000 },
    async () => {
      const ac = new AbortController();
      const changes: LeaseHolderChange[] = [];
      const conns: WatchConnectionEvent[] = [];
      api.routes.push((r, res) => {
        if (r.path !== LEASE_PATH) return false;
        if (r.query.get('watch') === 'true') {
          startWatch(res); // would stay open for good
          return true;
        }
        ac.abort(); // the harness stops while the list is on its way
        sendJson(res, 200, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'LeaseList',
          metadata: { resourceVersion: '7' },
          items: [lease('k8s-w1', '7', 0)],
        });
        return true;
      });
      const started = Date.now();
      await kube().watchLeaseHolder('kube-system', 'cilium-l2announce-clh-x-webpod', (e) => changes.push(e), ac.signal, {
        onConnection: (c) => conns.push(c),
      });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(changes.map((e) => e.holder)).toEqual(['k8s-w1']);
      expect(conns).toEqual([]); // stopping is not a disconnect
      expect(api.requests.filter((r) => r.query.get('watch') === 'true')).toEqual([]);
    },
  );
});
