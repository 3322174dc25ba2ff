import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { l2Candidates } from '../../../helpers/judge/l2.ts';
import { renderManifest } from '../../../helpers/kube/index.ts';
import { withBackendsAvoiding, withPolicyNodes } from '../../../suites/steps/l2-objects.ts';
import { loadTopology, REPO_ROOT } from '../../../helpers/lab/topology.ts';

/** A manifest rendered for a run exactly as the suites do it (helpers/kube/client.ts renderManifest). */
function rendered(file: string, vars: Record<string, string>): Record<string, any>[] {
  const text = readFileSync(path.join(REPO_ROOT, 'suites', 'manifests', file), 'utf8');
  return renderManifest(text, { runId: 'r20261122-0349-ab12', namespace: 'clh-r20261122-0349-ab12', vars, source: file }) as Record<
    string,
    any
  >[];
}

describe('the L2 manifests, rendered for a run', () => {
  const t = loadTopology();
  const run = { 'app.kubernetes.io/managed-by': 'cilium-lab-harness', 'cilium-lab-harness/run': 'r20261122-0349-ab12' };

  test("the pool: the topology's block, a per-run name, selecting only the suite's own service", () => {
    const [pool] = rendered('l2-pool.yaml', { name: 'l2', start: t.lbPool.start, stop: t.lbPool.stop, service: 'webpod-l2' });
    expect(pool!.apiVersion).toBe('cilium.io/v2alpha1');
    expect(pool!.metadata).toEqual({ name: 'clh-r20261122-0349-ab12-l2', labels: run });
    expect(pool!.spec.blocks).toEqual([{ start: '192.168.10.211', stop: '192.168.10.215' }]);
    expect(pool!.spec.serviceSelector.matchLabels).toEqual({
      'cilium-lab-harness/run': 'r20261122-0349-ab12',
      'io.kubernetes.service.namespace': 'clh-r20261122-0349-ab12',
      'io.kubernetes.service.name': 'webpod-l2',
    });
  });

  test('the service: LoadBalancer in the run namespace, no loadBalancerClass, selecting the backend', () => {
    const [svc] = rendered('l2-service.yaml', { name: 'webpod-l2', backend: 'webpod' });
    expect(svc!.metadata).toMatchObject({ name: 'webpod-l2', namespace: 'clh-r20261122-0349-ab12', labels: run });
    expect(svc!.spec).toMatchObject({ type: 'LoadBalancer', selector: { app: 'webpod' } });
    expect(svc!.spec.loadBalancerClass).toBeUndefined();
  });

  test('a missing var is an error, not an empty value', () => {
    expect(() => rendered('l2-pool.yaml', { name: 'l2', start: t.lbPool.start, stop: t.lbPool.stop })).toThrow(/service/);
  });
});

describe('withPolicyNodes', () => {
  const [policy] = rendered('l2-policy.yaml', { name: 'l2', service: 'webpod-l2' });

  test("reference lab: selects k8s-ctr and k8s-w1 on ^eth1$ (as seed 002's policy, anchored), LB IPs only, for the suite's service", () => {
    expect(policy!.metadata.name).toBe('clh-r20261122-0349-ab12-l2');
    expect(policy!.spec.serviceSelector.matchLabels).toEqual({
      'io.kubernetes.service.namespace': 'clh-r20261122-0349-ab12',
      'io.kubernetes.service.name': 'webpod-l2',
    });
    const c = l2Candidates(loadTopology());
    const p = withPolicyNodes(policy!, { nodes: c.map((x) => x.node), interfaces: c.map((x) => x.iface) });
    expect(p.spec.nodeSelector.matchExpressions).toEqual([
      { key: 'kubernetes.io/hostname', operator: 'In', values: ['k8s-ctr', 'k8s-w1'] },
    ]);
    expect(p.spec.interfaces).toEqual(['^eth1$']);
    expect(p.spec.loadBalancerIPs).toBe(true);
    expect(p.spec.externalIPs).toBe(false);
    expect(policy!.spec.interfaces).toEqual([]); // input untouched
  });

  test('the failover arrangement selects the workers only', () => {
    const p = withPolicyNodes(policy!, { nodes: ['k8s-w1'], interfaces: ['eth1'] });
    expect(p.spec.nodeSelector.matchExpressions[0].values).toEqual(['k8s-w1']);
  });

  test('refuses an empty node or interface list (an empty interface list would announce on every device)', () => {
    expect(() => withPolicyNodes(policy!, { nodes: [], interfaces: ['eth1'] })).toThrow(/at least one node/);
    expect(() => withPolicyNodes(policy!, { nodes: ['k8s-w1'], interfaces: [] })).toThrow(/every device/);
  });

  test('refuses another kind or a manifest without the hostname expression', () => {
    expect(() => withPolicyNodes({ kind: 'Service', metadata: { name: 'x' } }, { nodes: ['a'], interfaces: ['eth1'] })).toThrow(
      /not a CiliumL2AnnouncementPolicy/,
    );
    const broken = structuredClone(policy!);
    broken.spec.nodeSelector = { matchLabels: { a: 'b' } };
    expect(() => withPolicyNodes(broken, { nodes: ['a'], interfaces: ['eth1'] })).toThrow(/kubernetes.io\/hostname/);
  });
});

describe('withBackendsAvoiding', () => {
  const [deployment] = rendered('l2-failover-backend.yaml', {});
  test('keeps the failover backends off the node to be rebooted', () => {
    const d = withBackendsAvoiding(deployment!, 'k8s-w1');
    expect(d.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms).toEqual([
      { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['k8s-w1'] }] },
    ]);
    expect(d.spec.template.metadata.labels.app).toBe(d.spec.selector.matchLabels.app);
  });
  test('refuses a Deployment without the affinity term', () => {
    const bare = structuredClone(deployment!);
    delete bare.spec.template.spec.affinity;
    expect(() => withBackendsAvoiding(bare, 'k8s-w1')).toThrow(/nodeSelectorTerm/);
  });
});
