import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ManifestError, manifestPath, renderManifest, runLabels, runNamespace, staleSelector } from '../../../helpers/kube/manifests.ts';
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
    expect(deploy.spec.template.metadata.labels).toEqual({
      app: 'webpod',
      'app.kubernetes.io/managed-by': 'cilium-lab-harness',
      'cilium-lab-harness/run': RUN,
    });
    expect(deploy.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]).toEqual({
      labelSelector: { matchLabels: { app: 'webpod' } },
      topologyKey: 'kubernetes.io/hostname',
    });
    expect(deploy.spec.template.spec.containers[0].image).toBe('traefik/whoami');
    expect(svc).toMatchObject({
      kind: 'Service',
      metadata: { name: 'webpod', namespace: NS },
      spec: { type: 'ClusterIP', selector: { app: 'webpod' }, ports: [{ port: 80, targetPort: 80 }] },
    });
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
    const [p] = renderManifest(pool, {
      runId: RUN,
      namespace: NS,
      vars: { poolStart: '192.168.10.211', poolStop: '192.168.10.215', disabled: false },
    }) as any[];
    expect(p.metadata).toEqual({ name: `clh-${RUN}-lb-pool`, labels: runLabels(RUN) });
    expect(p.spec).toEqual({
      blocks: [{ start: '192.168.10.211', stop: '192.168.10.215' }],
      serviceSelector: { matchLabels: { 'cilium-lab-harness/run': RUN } },
      disabled: false,
    });
  });

  test('a value is set on the parsed object, never spliced into YAML text', () => {
    const [p] = renderManifest(pool, {
      runId: RUN,
      namespace: NS,
      vars: { poolStart: '1.2.3.4\n    - cidr: 0.0.0.0/0', poolStop: 'x: y', disabled: true },
    }) as any[];
    expect(p.spec.blocks).toEqual([{ start: '1.2.3.4\n    - cidr: 0.0.0.0/0', stop: 'x: y' }]);
  });

  test('rendering twice gives the same objects (pure)', () => {
    const o = { runId: RUN, namespace: NS, nodeName: 'k8s-ctr' };
    expect(renderManifest(manifest('curl-pod.yaml'), o)).toEqual(renderManifest(manifest('curl-pod.yaml'), o));
  });

  test.each([
    ['a missing placeholder value', pool, { poolStart: '1.1.1.1' }, /no value for placeholder\(s\) \$\{poolStop\}, \$\{disabled\}/],
    [
      'a placeholder inside a longer value',
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-${runId}\n',
      {},
      /placeholder inside a longer value/,
    ],
    ['a document without kind', 'apiVersion: v1\nmetadata:\n  name: x\n', {}, /document 1 is not a Kubernetes object/],
    ['a scalar document', 'just text', {}, /document 1 is not a Kubernetes object/],
    ['no object at all', '---\n# nothing\n', {}, /contains no object/],
    ['empty text', '', {}, /contains no object/],
    ['broken YAML', 'apiVersion: v1\nkind: [ConfigMap\n', {}, /document 1: /],
  ])('%s is an error naming the manifest', (_n, text, vars, message) => {
    expect(() => renderManifest(text, { runId: RUN, namespace: NS, vars, source: 'suites/manifests/x.yaml' })).toThrow(ManifestError);
    expect(() => renderManifest(text, { runId: RUN, namespace: NS, vars, source: 'suites/manifests/x.yaml' })).toThrow(
      /manifest suites\/manifests\/x\.yaml: /,
    );
    expect(() => renderManifest(text, { runId: RUN, namespace: NS, vars })).toThrow(message);
  });

  test('pinning a Pod without a spec is an error', () => {
    expect(() =>
      renderManifest('apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n', { runId: RUN, namespace: NS, nodeName: 'k8s-ctr' }),
    ).toThrow(/has no spec to pin/);
  });
});

describe('selectors', () => {
  test('stale objects: harness-managed and of another run', () => {
    expect(staleSelector(RUN)).toBe(`app.kubernetes.io/managed-by=cilium-lab-harness,cilium-lab-harness/run!=${RUN}`);
  });
});
