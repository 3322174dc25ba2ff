import { readFileSync } from 'node:fs';
import { ApiException, type V1DaemonSet, type V1Deployment, type V1Node, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import {
  conditionMatches,
  daemonSetRolledOut,
  deploymentAvailable,
  exitCodeFromStatus,
  isRetriableKubeError,
  KubeApiError,
  ManifestError,
  manifestPath,
  nodeReadiness,
  podsReady,
  renderManifest,
  runLabels,
  runNamespace,
  serviceLbIp,
  staleSelector,
  toKubeError,
} from '../../../helpers/kube/index.ts';
import { MANIFEST_DIR } from '../../../suites/support/manifests.ts';

const RUN = 'r20261122-0349-ab12';
const NS = runNamespace(RUN);
const manifest = (name: string): string => readFileSync(manifestPath(name, MANIFEST_DIR), 'utf8');

describe('renderManifest', () => {
  test('webpod: both objects in the run namespace, run labels on objects and pod template, selectors untouched', () => {
    const [deploy, svc] = renderManifest(manifest('webpod.yaml'), { runId: RUN, namespace: NS }) as any[];
    expect(NS).toBe('clh-r20261122-0349-ab12');
    expect(deploy.kind).toBe('Deployment');
    expect(deploy.metadata).toEqual({ name: 'webpod', namespace: NS, labels: { app: 'webpod', ...runLabels(RUN) } });
    expect(deploy.spec.replicas).toBe(3);
    expect(deploy.spec.selector).toEqual({ matchLabels: { app: 'webpod' } });
    expect(deploy.spec.template.metadata.labels).toEqual({ app: 'webpod', 'app.kubernetes.io/managed-by': 'cilium-lab-harness', 'cilium-lab-harness/run': RUN });
    expect(deploy.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]).toEqual({ labelSelector: { matchLabels: { app: 'webpod' } }, topologyKey: 'kubernetes.io/hostname' });
    expect(deploy.spec.template.spec.containers[0].image).toBe('traefik/whoami');
    expect(svc).toMatchObject({ kind: 'Service', metadata: { name: 'webpod', namespace: NS }, spec: { type: 'ClusterIP', selector: { app: 'webpod' }, ports: [{ port: 80, targetPort: 80 }] } });
  });

  test('curl-pod: pinned to the given node, netshoot idling, no grace period', () => {
    const [pod] = renderManifest(manifest('curl-pod.yaml'), { runId: RUN, namespace: NS, nodeName: 'k8s-ctr' }) as any[];
    expect(pod.metadata).toEqual({ name: 'curl-pod', namespace: NS, labels: { app: 'curl', ...runLabels(RUN) } });
    expect(pod.spec.nodeName).toBe('k8s-ctr');
    expect(pod.spec.terminationGracePeriodSeconds).toBe(0);
    expect(pod.spec.containers[0]).toEqual({ name: 'curl', image: 'nicolaka/netshoot', command: ['tail'], args: ['-f', '/dev/null'] });
  });

  const pool = `
apiVersion: cilium.io/v2alpha1
kind: CiliumLoadBalancerIPPool
metadata:
  name: lb-pool
  namespace: should-be-dropped
spec:
  blocks:
    - start: \${poolStart}
      stop: \${poolStop}
  serviceSelector:
    matchLabels:
      cilium-lab-harness/run: \${runId}
  disabled: \${disabled}
`;

  test('a cluster-scoped pool: per-run name, no namespace, placeholders filled with typed values', () => {
    const [p] = renderManifest(pool, { runId: RUN, namespace: NS, vars: { poolStart: '192.168.10.211', poolStop: '192.168.10.215', disabled: false } }) as any[];
    expect(p.metadata).toEqual({ name: `clh-${RUN}-lb-pool`, labels: runLabels(RUN) });
    expect(p.spec).toEqual({ blocks: [{ start: '192.168.10.211', stop: '192.168.10.215' }], serviceSelector: { matchLabels: { 'cilium-lab-harness/run': RUN } }, disabled: false });
  });

  test('a value is set on the parsed object, never spliced into YAML text', () => {
    const [p] = renderManifest(pool, { runId: RUN, namespace: NS, vars: { poolStart: '1.2.3.4\n    - cidr: 0.0.0.0/0', poolStop: 'x: y', disabled: true } }) as any[];
    expect(p.spec.blocks).toEqual([{ start: '1.2.3.4\n    - cidr: 0.0.0.0/0', stop: 'x: y' }]);
  });

  test('rendering twice gives the same objects (pure)', () => {
    const o = { runId: RUN, namespace: NS, nodeName: 'k8s-ctr' };
    expect(renderManifest(manifest('curl-pod.yaml'), o)).toEqual(renderManifest(manifest('curl-pod.yaml'), o));
  });

  test.each([
    ['a missing placeholder value', pool, { poolStart: '1.1.1.1' }, /no value for placeholder\(s\) \$\{poolStop\}, \$\{disabled\}/],
    ['a placeholder inside a longer value', 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-${runId}\n', {}, /placeholder inside a longer value/],
    ['a document without kind', 'apiVersion: v1\nmetadata:\n  name: x\n', {}, /document 1 is not a Kubernetes object/],
    ['a scalar document', 'just text', {}, /document 1 is not a Kubernetes object/],
    ['no object at all', '---\n# nothing\n', {}, /contains no object/],
    ['empty text', '', {}, /contains no object/],
    ['broken YAML', 'apiVersion: v1\nkind: [ConfigMap\n', {}, /document 1: /],
  ])('%s is an error naming the manifest', (_n, text, vars, message) => {
    expect(() => renderManifest(text, { runId: RUN, namespace: NS, vars, source: 'suites/manifests/x.yaml' })).toThrow(ManifestError);
    expect(() => renderManifest(text, { runId: RUN, namespace: NS, vars, source: 'suites/manifests/x.yaml' })).toThrow(/manifest suites\/manifests\/x\.yaml: /);
    expect(() => renderManifest(text, { runId: RUN, namespace: NS, vars })).toThrow(message);
  });

  test('pinning a Pod without a spec is an error', () => {
    expect(() => renderManifest('apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n', { runId: RUN, namespace: NS, nodeName: 'k8s-ctr' })).toThrow(/has no spec to pin/);
  });
});

describe('selectors', () => {
  test('stale objects: harness-managed and of another run', () => {
    expect(staleSelector(RUN)).toBe(`app.kubernetes.io/managed-by=cilium-lab-harness,cilium-lab-harness/run!=${RUN}`);
  });
});

describe('judging object state', () => {
  const deploy = (status: object, generation = 2): V1Deployment => ({ metadata: { generation }, spec: { replicas: 3 } as any, status });

  test('a Deployment is available when the new generation is observed and all replicas are updated and available', () => {
    const ok = deploy({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3, conditions: [{ type: 'Available', status: 'True' }] });
    expect(deploymentAvailable(ok).done).toBe(true);
    expect(deploymentAvailable(deploy({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 2, conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }] }))).toEqual({
      done: false,
      seen: '2/3 available, 3 updated, 3 total, Available=False (MinimumReplicasUnavailable)',
    });
    expect(deploymentAvailable(deploy({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3, conditions: [{ type: 'Available', status: 'True' }] }))).toMatchObject({ done: false, seen: expect.stringMatching(/not observed yet/) });
    // old pods of a rollout still around
    expect(deploymentAvailable(deploy({ observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3, conditions: [{ type: 'Available', status: 'True' }] })).done).toBe(false);
  });

  test('a DaemonSet rollout is done when every scheduled pod is updated and available', () => {
    const ds = (status: object): V1DaemonSet => ({ metadata: { generation: 5 }, status: status as any });
    expect(daemonSetRolledOut(ds({ observedGeneration: 5, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3, currentNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3 })).done).toBe(true);
    expect(daemonSetRolledOut(ds({ observedGeneration: 5, desiredNumberScheduled: 3, updatedNumberScheduled: 2, numberAvailable: 3, currentNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3 }))).toEqual({ done: false, seen: '2/3 updated, 3/3 available' });
    expect(daemonSetRolledOut(ds({ observedGeneration: 4, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3, currentNumberScheduled: 3, numberMisscheduled: 0, numberReady: 3 })).done).toBe(false);
    expect(daemonSetRolledOut(ds({ observedGeneration: 5, desiredNumberScheduled: 0, updatedNumberScheduled: 0, numberAvailable: 0, currentNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 })).done).toBe(false);
  });

  const pod = (name: string, node: string, ready: boolean, extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
    metadata: { name, ...extra },
    spec: { nodeName: node, containers: [] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });

  test('pods ready on the expected nodes', () => {
    const pods = [pod('webpod-a', 'k8s-ctr', true), pod('webpod-b', 'k8s-w1', true), pod('webpod-c', 'k8s-w0', false)];
    expect(podsReady(pods, { nodes: ['k8s-ctr', 'k8s-w1', 'k8s-w0'] })).toEqual({
      done: false,
      seen: 'webpod-a@k8s-ctr:Ready, webpod-b@k8s-w1:Ready, webpod-c@k8s-w0:Running; no ready pod on k8s-w0',
    });
    pods[2] = pod('webpod-c', 'k8s-w0', true);
    const r = podsReady(pods, { nodes: ['k8s-ctr', 'k8s-w1', 'k8s-w0'], count: 3 });
    expect(r.done && r.value.map((p) => p.metadata?.name)).toEqual(['webpod-a', 'webpod-b', 'webpod-c']);
  });

  test('terminating pods do not count; no pods is not ready', () => {
    expect(podsReady([pod('old', 'k8s-w1', true, { deletionTimestamp: new Date() })])).toEqual({ done: false, seen: 'old@k8s-w1:Terminating' });
    expect(podsReady([])).toEqual({ done: false, seen: 'no pods match' });
    expect(podsReady([pod('a', 'n1', true), pod('b', 'n2', true)], { count: 1 }).done).toBe(false);
  });

  test('a Service LoadBalancer IP, or what LB-IPAM said instead', () => {
    const svc = (status: object): V1Service => ({ spec: { type: 'LoadBalancer' }, status: status });
    expect(serviceLbIp(svc({ loadBalancer: { ingress: [{ ip: '192.168.10.211' }] } }))).toEqual({ done: true, value: '192.168.10.211' });
    expect(serviceLbIp(svc({ loadBalancer: {}, conditions: [{ type: 'cilium.io/IPAMRequestSatisfied', status: 'False', reason: 'no_pool' }] }))).toEqual({
      done: false,
      seen: 'no LoadBalancer ingress IP (type LoadBalancer; cilium.io/IPAMRequestSatisfied=False (no_pool))',
    });
  });

  test('a condition with type, status and reason', () => {
    const poolObj = { status: { conditions: [{ type: 'cilium.io/PoolConflict', status: 'True', reason: 'cidr_overlap', message: "Pool conflicts since range 'a' overlaps range 'b'" }] } };
    expect(conditionMatches(poolObj, { type: 'cilium.io/PoolConflict', status: 'True', reason: 'cidr_overlap' }).done).toBe(true);
    expect(conditionMatches(poolObj, { type: 'cilium.io/PoolConflict', status: 'False' })).toEqual({ done: false, seen: "cilium.io/PoolConflict=True (cidr_overlap): Pool conflicts since range 'a' overlaps range 'b'" });
    expect(conditionMatches(poolObj, { type: 'cilium.io/PoolConflict', status: 'True', reason: 'resolved' }).done).toBe(false);
    expect(conditionMatches({}, { type: 'X', status: 'True' })).toEqual({ done: false, seen: 'no X condition (no conditions)' });
  });

  test('node Ready / NotReady (Unknown counts as NotReady)', () => {
    const node = (status: string, reason?: string): V1Node => ({ status: { conditions: [{ type: 'Ready', status, ...(reason ? { reason } : {}) }] } });
    expect(nodeReadiness(node('True'), true).done).toBe(true);
    expect(nodeReadiness(node('Unknown', 'NodeStatusUnknown'), false).done).toBe(true);
    expect(nodeReadiness(node('True'), false)).toEqual({ done: false, seen: 'Ready=True' });
    expect(nodeReadiness({}, true)).toEqual({ done: false, seen: 'Ready=missing' });
  });
});

describe('exitCodeFromStatus', () => {
  test('Success is 0; NonZeroExitCode carries the code', () => {
    expect(exitCodeFromStatus({ status: 'Success', metadata: {} })).toBe(0);
    expect(exitCodeFromStatus({ status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3', details: { causes: [{ reason: 'ExitCode', message: '3' }] } })).toBe(3);
  });

  test('a failure that is not an exit code is thrown, never turned into a number', () => {
    expect(() => exitCodeFromStatus({ status: 'Failure', reason: 'InternalError', message: 'OCI runtime exec failed: exec: "cilium-dbg": executable file not found in $PATH' })).toThrow(/executable file not found/);
    expect(() => exitCodeFromStatus({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [] } })).toThrow(/without a readable exit code/);
  });
});

describe('toKubeError', () => {
  test('an API Status body: code, reason, message and causes', () => {
    const body = JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Conflict', code: 409, message: 'Apply failed with 1 conflict', details: { causes: [{ reason: 'FieldManagerConflict', field: '.spec.replicas', message: 'conflict with "kubectl"' }] } });
    const e = toKubeError(new ApiException(409, 'Unknown API Status Code!', body, {}), 'apply Deployment clh-x/webpod');
    expect(e).toBeInstanceOf(KubeApiError);
    expect(e.code).toBe(409);
    expect(e.message).toBe('apply Deployment clh-x/webpod: HTTP 409 Conflict: Apply failed with 1 conflict; .spec.replicas: conflict with "kubectl" (conflict with the object on the server)');
  });

  test('401 without a body says what to check', () => {
    expect(toKubeError(new ApiException(401, 'Unauthorized', undefined, {}), 'read Node k8s-ctr').message).toMatch(/^read Node k8s-ctr: HTTP 401: Unauthorized \(the API server did not accept the credentials/);
  });

  test('watch and websocket failures carry their HTTP code; timeouts and refusals have none', () => {
    expect(toKubeError(Object.assign(new Error('Gone'), { statusCode: 410 }), 'watch').code).toBe(410);
    expect(toKubeError(new Error('Unexpected server response: 404'), 'exec').code).toBe(404);
    const abort = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
    expect(toKubeError(abort, 'list pods').message).toBe('list pods: no answer: request timed out (aborted by the request deadline)');
  });

  test('what is retried: transport errors, timeouts, 429 and 5xx; never 401/404/409', () => {
    expect(isRetriableKubeError(toKubeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' }), 'x'))).toBe(true);
    expect(isRetriableKubeError(toKubeError(Object.assign(new Error('aborted'), { name: 'AbortError' }), 'x'))).toBe(true);
    for (const code of [429, 500, 503]) expect(isRetriableKubeError(new KubeApiError('x', code, null, ''))).toBe(true);
    for (const code of [401, 403, 404, 409, 422]) expect(isRetriableKubeError(new KubeApiError('x', code, null, ''))).toBe(false);
  });
});
