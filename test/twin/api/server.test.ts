/**
 * The twin's API server against @kubernetes/client-node 1.4 and the harness's own Kube wrapper (helpers/kube/index.ts):
 * discovery through KubernetesObjectApi, server-side apply, selectors, the status subresource, namespace deletion,
 * the lease watch (including 410 Gone after compaction), and exec over the WebSocket with exit codes.
 * Needs openssl (for the per-run CA); fast (no network namespaces).
 */
import { CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kube } from '../../../helpers/kube/index.ts';
import { adminKubeconfig, makeTls } from './certs.ts';
import { Resources } from './resources.ts';
import { ApiError, Store } from './store.ts';
import { TwinApiServer } from './server.ts';

let server: TwinApiServer;
let kube: Kube;
let kc: KubeConfig;

beforeAll(async () => {
  const store = new Store(new Resources('1.18.14'));
  store.create(store.resources.byKind('v1', 'Namespace'), { metadata: { name: 'kube-system' } });
  store.create(store.resources.byKind('v1', 'Namespace'), { metadata: { name: 'demo' } });
  store.create(store.resources.byKind('v1', 'Pod'), {
    metadata: { name: 'p1', namespace: 'demo', labels: { app: 'x' } },
    spec: { nodeName: 'n1', containers: [{ name: 'c' }] },
  });
  const tls = await makeTls();
  server = new TwinApiServer({
    store,
    tls,
    kubernetesVersion: '1.33.13',
    execPrecheck: (r) => {
      if (!store.get(store.resources.byKind('v1', 'Pod'), r.namespace, r.pod))
        throw new ApiError(404, 'NotFound', `pods "${r.pod}" not found`);
    },
    exec: (r, io) => {
      io.stdout(Buffer.from(`ran ${r.argv.join(' ')} in ${r.pod}/${r.container}\n`));
      io.stderr(Buffer.from('warn\n'));
      return Promise.resolve(r.argv[0] === 'false' ? 3 : 0);
    },
  });
  await server.start();
  kc = new KubeConfig();
  kc.loadFromString(adminKubeconfig(tls, server.url));
  kube = new Kube(kc, { runId: 'r1' });
}, 30_000);

afterAll(async () => {
  await server?.stop();
});

describe('twin API server', () => {
  it('answers discovery, version, reads and lists with selectors', async () => {
    expect((await kc.makeApiClient(VersionApi).getCode()).gitVersion).toBe('v1.33.13');
    const core = kc.makeApiClient(CoreV1Api);
    expect((await core.listNamespacedPod({ namespace: 'demo', labelSelector: 'app=x' })).items.map((p) => p.metadata?.name)).toEqual([
      'p1',
    ]);
    expect((await core.listNamespacedPod({ namespace: 'demo', labelSelector: 'app in (y,z)' })).items).toEqual([]);
    expect((await core.listNamespacedPod({ namespace: 'demo', fieldSelector: 'spec.nodeName=n1' })).items).toHaveLength(1);
    expect(await kube.list('cilium.io/v2', 'CiliumLoadBalancerIPPool')).toEqual([]);
  });

  it('applies server-side, removes fields a manager dropped, keeps status, deletes a namespace with its contents', async () => {
    await kube.ensureNamespace();
    const svc = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: kube.namespace, labels: { a: '1' }, annotations: { 'lbipam.cilium.io/ips': '198.18.10.211' } },
      spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
    };
    await kube.apply(svc);
    const res = server.store.resources.byKind('v1', 'Service');
    server.store.patch(res, kube.namespace, 's', { status: { loadBalancer: { ingress: [{ ip: '198.18.10.211' }] } } }, { status: true });
    await kube.apply({ ...svc, metadata: { ...svc.metadata, annotations: {} } });
    const got = await kube.read<typeof svc & { status?: unknown }>({
      apiVersion: 'v1',
      kind: 'Service',
      namespace: kube.namespace,
      name: 's',
    });
    expect(got?.metadata.annotations ?? {}).toEqual({});
    expect(got?.status).toEqual({ loadBalancer: { ingress: [{ ip: '198.18.10.211' }] } });
    expect(await kube.deleteByRunLabel('r1', { timeoutMs: 10_000 })).toContain(`Namespace ${kube.namespace}`);
    expect(server.store.list(res)).toEqual([]);
  });

  it('watches a lease: changes in order, and a relist after 410 Gone', async () => {
    const leases = server.store.resources.byKind('coordination.k8s.io/v1', 'Lease');
    server.store.create(leases, { metadata: { name: 'l', namespace: 'kube-system' }, spec: { holderIdentity: 'n1' } });
    const seen: (string | null)[] = [];
    const states: string[] = [];
    const ac = new AbortController();
    const done = kube.watchLeaseHolder('kube-system', 'l', (c) => seen.push(c.holder), ac.signal, {
      timeoutSeconds: 1,
      reconnectDelayMs: 50,
      onConnection: (e) => states.push(e.state),
    });
    await new Promise((r) => setTimeout(r, 300));
    server.store.patch(leases, 'kube-system', 'l', { spec: { holderIdentity: 'n2' } });
    await new Promise((r) => setTimeout(r, 300));
    server.store.compact();
    server.store.patch(leases, 'kube-system', 'l', { spec: { holderIdentity: 'n3' } });
    server.store.compact();
    // The open watch saw n3 and is up to date; another object's change compacted away puts the revision it resumes
    // from (at its 1 s timeout) before the log: 410 Gone, then a relist.
    server.store.create(leases, { metadata: { name: 'other', namespace: 'kube-system' }, spec: {} });
    server.store.compact();
    await new Promise((r) => setTimeout(r, 2500));
    ac.abort();
    await done;
    expect(seen).toEqual(['n1', 'n2', 'n3']);
    expect(states).toContain('relisted');
  });

  it('keeps a watch open until its timeout (it ended right after it opened before: the request, not the response, closed it)', async () => {
    const leases = server.store.resources.byKind('coordination.k8s.io/v1', 'Lease');
    server.store.create(leases, { metadata: { name: 'open', namespace: 'kube-system' }, spec: { holderIdentity: 'a' } });
    const states: string[] = [];
    const seen: (string | null)[] = [];
    const ac = new AbortController();
    const started = Date.now();
    let connectedAfter = -1;
    const done = kube.watchLeaseHolder('kube-system', 'open', (c) => seen.push(c.holder), ac.signal, {
      timeoutSeconds: 30,
      onConnection: (e) => {
        states.push(e.state);
        if (e.state === 'connected') connectedAfter = e.at - started;
      },
    });
    await new Promise((r) => setTimeout(r, 800));
    server.store.patch(leases, 'kube-system', 'open', { spec: { holderIdentity: 'b' } });
    await new Promise((r) => setTimeout(r, 800));
    ac.abort();
    await done;
    expect(seen).toEqual(['a', 'b']);
    expect(states).toEqual(['connected']);
    // The watch's 200 comes at once, not with the first change (at 800 ms).
    expect(connectedAfter).toBeGreaterThanOrEqual(0);
    expect(connectedAfter).toBeLessThan(700);
  });

  it('execs over the websocket with stdout, stderr and exit codes', async () => {
    const ok = await kube.execInPod('demo', 'p1', ['echo', 'hi'], { container: 'c', timeoutMs: 10_000 });
    expect(ok).toMatchObject({ stdout: 'ran echo hi in p1/c\n', stderr: 'warn\n', code: 0 });
    expect((await kube.execInPod('demo', 'p1', ['false'], { timeoutMs: 10_000 })).code).toBe(3);
    await expect(kube.execInPod('demo', 'nope', ['x'], { timeoutMs: 10_000 })).rejects.toThrow(/404/);
  });
});
