/**
 * helpers/lab/suite-objects.ts against a local fake Kubernetes API (127.0.0.1, test/helpers/kube/fake-kube-api.ts): what a
 * suite creates is remembered, removed newest first (or exactly the objects asked for), and checked gone with a
 * deadline; every failure is reported; the YAML and events of what it made are there for attachments.
 * They prove the mechanism against the shapes the fake reproduces, nothing about a real API server.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Kube } from '../../../helpers/kube/index.ts';
import { withPolicyNodes } from '../../../suites/steps/l2-objects.ts';
import { WaitTimeoutError } from '../../../helpers/wait/retry.ts';
import { refOf, refText, SuiteObjects } from '../../../helpers/lab/suite-objects.ts';
import { FakeKubeApi, sendJson, status } from '../kube/fake-kube-api.ts';
import { closeSuiteScope, currentSuiteScope, openSuiteScope } from '../../../helpers/lab/suite-scope.ts';
import { MANIFEST_DIR } from '../../../suites/support/manifests.ts';

let api: FakeKubeApi;
beforeEach(async () => {
  api = new FakeKubeApi();
  await api.start();
});
afterEach(async () => {
  await api.stop();
});

/**
 * A tiny object store behind the fake API: PATCH stores, GET reads, DELETE removes (after `lingerMs`; never when
 * Infinity). DELETEs of a path in `refuse` get a 403.
 */
function store(o: { lingerMs?: number; refuse?: string[] } = {}): Map<string, unknown> {
  const objects = new Map<string, unknown>();
  api.routes.push((r, res) => {
    if (!/^\/apis?\//.test(r.path) || r.path.endsWith('/events')) return false;
    if (r.method === 'PATCH') {
      objects.set(r.path, JSON.parse(r.body));
      sendJson(res, 200, objects.get(r.path));
    } else if (r.method === 'GET' && objects.has(r.path)) sendJson(res, 200, objects.get(r.path));
    else if (r.method === 'DELETE' && o.refuse?.includes(r.path))
      sendJson(res, 403, status(403, 'Forbidden', 'deleting is not allowed here'));
    else if (r.method === 'DELETE' && objects.has(r.path)) {
      const body = objects.get(r.path);
      if (o.lingerMs === undefined) objects.delete(r.path);
      else if (Number.isFinite(o.lingerMs)) setTimeout(() => objects.delete(r.path), o.lingerMs);
      sendJson(res, 200, body);
    } else return false;
    return true;
  });
  return objects;
}

const lab = () => ({
  kube: new Kube(api.kubeConfig(), { runId: 'r1', retries: 0, manifestDir: MANIFEST_DIR }),
  runId: 'r1',
  namespace: 'clh-r1',
});
const deletes = (): string[] => api.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
const service = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'clh-r1' },
  spec: { type: 'LoadBalancer' },
});
const POOL_PATH = '/apis/cilium.io/v2alpha1/ciliumloadbalancerippools/clh-r1-l2';
const SERVICE_PATH = '/api/v1/namespaces/clh-r1/services/webpod-l2';

describe('refs', () => {
  test('Kind namespace/name, Kind name for cluster-scoped objects; v1 and ? where the object leaves them out', () => {
    expect(refOf(service('a'))).toEqual({ apiVersion: 'v1', kind: 'Service', namespace: 'clh-r1', name: 'a' });
    expect(refText(refOf(service('a')))).toBe('Service clh-r1/a');
    expect(refText(refOf({ apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumLoadBalancerIPPool', metadata: { name: 'p' } }))).toBe(
      'CiliumLoadBalancerIPPool p',
    );
    expect(refOf({ metadata: {} })).toEqual({ apiVersion: 'v1', kind: '?', name: '?' });
  });
});

describe('SuiteObjects: what a suite creates is removed, last first, and checked gone', () => {
  test('pool, service, policy (applied twice) are deleted policy first, and the removal waits until they are gone', async () => {
    const objects = store({ lingerMs: 300 });
    const o = new SuiteObjects(lab(), { label: 'l2-announcements' });
    await o.createFromManifest('l2-pool.yaml', { name: 'l2', start: '198.18.10.211', stop: '198.18.10.215', service: 'webpod-l2' });
    await o.createFromManifest('l2-service.yaml', { name: 'webpod-l2', backend: 'webpod' });
    const policy = (nodes: string[]) =>
      o.createFromManifest('l2-policy.yaml', { name: 'l2', service: 'webpod-l2' }, (p) =>
        withPolicyNodes(p, { nodes, interfaces: ['eth1'] }),
      );
    await policy(['k8s-w1']);
    const [widened] = await policy(['k8s-ctr', 'k8s-w1']);
    expect((widened as any).spec.nodeSelector.matchExpressions[0].values).toEqual(['k8s-ctr', 'k8s-w1']);
    expect(objects.size).toBe(3);
    expect(o.refs.map(refText)).toEqual([
      'CiliumLoadBalancerIPPool clh-r1-l2',
      'Service clh-r1/webpod-l2',
      'CiliumL2AnnouncementPolicy clh-r1-l2',
    ]);
    expect(await o.dump()).toContain('clh-r1-l2');

    const deleted = await o.remove({ timeoutMs: 10_000 });
    expect(deleted).toEqual(['CiliumL2AnnouncementPolicy clh-r1-l2', 'Service clh-r1/webpod-l2', 'CiliumLoadBalancerIPPool clh-r1-l2']);
    expect(deletes()).toEqual(['/apis/cilium.io/v2alpha1/ciliuml2announcementpolicies/clh-r1-l2', SERVICE_PATH, POOL_PATH]);
    expect(objects.size).toBe(0); // it waited for the lingering objects
    expect(o.refs).toEqual([]);
    expect(await o.remove({ timeoutMs: 1_000 })).toEqual([]); // nothing left to remove
  });

  test('an object that never goes away fails the removal with the wait timeout, naming it, and stays remembered', async () => {
    store({ lingerMs: Infinity });
    const o = new SuiteObjects(lab(), { label: 'l2-announcements' });
    await o.createFromManifest('l2-service.yaml', { name: 'webpod-l2', backend: 'webpod' });
    const err = await o.remove({ timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(
      /the l2-announcements objects to be gone \(Service clh-r1\/webpod-l2\).*still there: Service clh-r1\/webpod-l2/,
    );
    expect(o.refs.map(refText)).toEqual(['Service clh-r1/webpod-l2']);
  });

  test('only the objects asked for are removed, in the order given; the rest stay remembered', async () => {
    const objects = store({ lingerMs: 200 });
    const o = new SuiteObjects(lab(), { label: 'lbipam' });
    for (const name of ['keep', 'a', 'b']) await o.create(service(name));
    const removed = await o.remove({ objects: [service('a'), service('b')], timeoutMs: 10_000 });
    expect(removed).toEqual(['Service clh-r1/a', 'Service clh-r1/b']);
    expect(deletes()).toEqual(['/api/v1/namespaces/clh-r1/services/a', '/api/v1/namespaces/clh-r1/services/b']);
    expect([...objects.keys()]).toEqual(['/api/v1/namespaces/clh-r1/services/keep']);
    expect(o.refs.map(refText)).toEqual(['Service clh-r1/keep']);
  });

  test('a delete the API refuses is reported with every other failure; the rest are still deleted and checked gone', async () => {
    const objects = store({ refuse: [SERVICE_PATH] });
    const o = new SuiteObjects(lab(), { label: 'l2-announcements' });
    await o.createFromManifest('l2-pool.yaml', { name: 'l2', start: '198.18.10.211', stop: '198.18.10.215', service: 'webpod-l2' });
    await o.createFromManifest('l2-service.yaml', { name: 'webpod-l2', backend: 'webpod' });
    const err = await o.remove({ timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(/^removing the l2-announcements objects failed: Service clh-r1\/webpod-l2: .*403/);
    expect(deletes()).toEqual([SERVICE_PATH, POOL_PATH]); // the refusal did not stop the pool's deletion
    expect([...objects.keys()]).toEqual([SERVICE_PATH]);
    expect(o.refs.map(refText)).toEqual(['Service clh-r1/webpod-l2']); // a later remove() tries it again
  });

  test('an object created but already gone is not listed as deleted, and the removal does not wait for it', async () => {
    const objects = store();
    const o = new SuiteObjects(lab(), { label: 'lbipam' });
    await o.create(service('a'));
    objects.clear();
    expect(await o.remove({ timeoutMs: 1_000 })).toEqual([]);
    expect(o.refs).toEqual([]);
  });
});

describe('SuiteObjects: what a person reads when a test fails', () => {
  test('YAML without managedFields; a missing object and an unreadable one say so', async () => {
    const objects = store();
    const o = new SuiteObjects(lab(), { label: 'lbipam' });
    await o.create(service('a'));
    objects.set('/api/v1/namespaces/clh-r1/services/a', {
      ...service('a'),
      metadata: { name: 'a', namespace: 'clh-r1', managedFields: [{ manager: 'x' }] },
    });
    const yaml = await o.yamlOf(refOf(service('a')));
    expect(yaml).toContain('name: a');
    expect(yaml).not.toContain('managedFields');
    expect(await o.yamlOf(refOf(service('gone')))).toBe('# Service clh-r1/gone: not found\n');
    api.token = 'rotated';
    expect(await o.yamlOf(refOf(service('a')))).toMatch(/^# Service clh-r1\/a: could not read: .*401/);
  });

  test('dump: every remembered object, oldest first, one YAML document each', async () => {
    const objects = store();
    const o = new SuiteObjects(lab(), { label: 'lbipam' });
    await o.create(service('a'));
    await o.create(service('b'));
    objects.delete('/api/v1/namespaces/clh-r1/services/b');
    const docs = (await o.dump()).split('---\n');
    expect(docs).toHaveLength(2);
    expect(docs[0]).toContain('name: a');
    expect(docs[1]).toBe('# Service clh-r1/b: not found\n');
  });

  test('events of a namespaced object, one line each; none for a cluster-scoped one', async () => {
    store();
    api.routes.push((r, res) => {
      if (r.path !== '/api/v1/namespaces/clh-r1/events') return false;
      expect(r.query.get('fieldSelector')).toBe('involvedObject.name=a');
      sendJson(res, 200, {
        apiVersion: 'v1',
        kind: 'EventList',
        metadata: {},
        items: [
          {
            metadata: { name: 'a.1' },
            involvedObject: { kind: 'Service', name: 'a' },
            type: 'Warning',
            reason: 'AllocationFailed',
            message: 'out of IPs',
            lastTimestamp: '2026-11-22T03:49:00Z',
          },
        ],
      });
      return true;
    });
    const o = new SuiteObjects(lab(), { label: 'lbipam' });
    expect(await o.eventsOf(refOf(service('a')))).toMatch(/Warning AllocationFailed: out of IPs$/);
    expect(await o.eventsOf({ apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumLoadBalancerIPPool', name: 'p' })).toBeNull();
  });
});

describe("the running suite's cleanup stack", () => {
  test('a test that fails after creating objects still removes them when the suite ends (newest first), without an afterAll', async () => {
    const objects = store();
    const scope = openSuiteScope('l2-announcements');
    try {
      const failingTest = async (): Promise<void> => {
        const o = new SuiteObjects(lab(), { label: 'l2-announcements' });
        await o.createFromManifest('l2-pool.yaml', { name: 'l2', start: '198.18.10.211', stop: '198.18.10.215', service: 'webpod-l2' });
        await o.createFromManifest('l2-service.yaml', { name: 'webpod-l2', backend: 'webpod' });
        throw new Error('the scenario failed');
      };
      await expect(failingTest()).rejects.toThrow('the scenario failed');
      expect(scope.cleanups.names).toEqual(['remove the l2-announcements objects']);
      expect(objects.size).toBe(2);
    } finally {
      await closeSuiteScope(scope);
    }
    expect(deletes()).toEqual([SERVICE_PATH, POOL_PATH]);
    expect(objects.size).toBe(0);
    expect(currentSuiteScope()).toBeNull();
  });

  test('objects the suite removed itself leave the stack: nothing is deleted twice', async () => {
    store();
    const scope = openSuiteScope('s');
    try {
      const o = new SuiteObjects(lab(), { label: 's' });
      await o.create(service('a'));
      await o.create(service('b'));
      await o.remove({ objects: [service('a')] });
      expect(scope.cleanups.size).toBe(1); // b is still there
      await o.remove();
      expect(scope.cleanups.size).toBe(0);
    } finally {
      await closeSuiteScope(scope);
    }
    expect(deletes()).toEqual(['/api/v1/namespaces/clh-r1/services/a', '/api/v1/namespaces/clh-r1/services/b']);
  });
});
