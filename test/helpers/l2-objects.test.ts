import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { l2Candidates } from '../../helpers/judge/l2.ts';
import { withBackendsAvoiding, withPolicyNodes } from '../../helpers/l2-objects.ts';
import { loadTopology, REPO_ROOT } from '../../helpers/topology.ts';

/** The suites' own manifest files, as YAML (placeholders still in). */
function manifest(file: string): Record<string, any>[] {
  const text = readFileSync(path.join(REPO_ROOT, 'suites', 'manifests', file), 'utf8');
  return parseAllDocuments(text).map((d) => d.toJS() as Record<string, any>);
}

describe('the L2 manifests', () => {
  test('every placeholder is a whole value (what renderManifest accepts) and names a var the suites pass', () => {
    const known = new Set(['name', 'namespace', 'runId', 'start', 'stop', 'service', 'backend']);
    for (const file of ['l2-pool.yaml', 'l2-service.yaml', 'l2-policy.yaml', 'l2-failover-backend.yaml']) {
      const text = readFileSync(path.join(REPO_ROOT, 'suites', 'manifests', file), 'utf8');
      const body = text.split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
      for (const m of body.matchAll(/\$\{([^}]*)\}/g)) {
        expect(known, `${file}: \${${m[1]}}`).toContain(m[1]);
        const line = body.split('\n').find((l) => l.includes(m[0]))!;
        expect(line.trim(), `${file}: placeholder inside a longer value`).toMatch(/^(- )?[\w./-]+: \$\{\w+\}$/);
      }
    }
  });

  test('the pool selects only the suite\'s own service', () => {
    const [pool] = manifest('l2-pool.yaml');
    expect(pool!.apiVersion).toBe('cilium.io/v2alpha1');
    expect(pool!.spec.serviceSelector.matchLabels).toEqual({
      'cilium-lab-harness/run': '${runId}',
      'io.kubernetes.service.namespace': '${namespace}',
      'io.kubernetes.service.name': '${service}',
    });
  });
});

describe('withPolicyNodes', () => {
  const [policy] = manifest('l2-policy.yaml');

  test('reference lab: selects k8s-ctr and k8s-w1 on ^eth1$ (as seed 002\'s policy, anchored), LB IPs only', () => {
    const c = l2Candidates(loadTopology());
    const p = withPolicyNodes(policy!, { nodes: c.map((x) => x.node), interfaces: c.map((x) => x.iface) });
    expect(p.spec.nodeSelector.matchExpressions).toEqual([{ key: 'kubernetes.io/hostname', operator: 'In', values: ['k8s-ctr', 'k8s-w1'] }]);
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
    expect(() => withPolicyNodes({ kind: 'Service', metadata: { name: 'x' } }, { nodes: ['a'], interfaces: ['eth1'] })).toThrow(/not a CiliumL2AnnouncementPolicy/);
    const broken = structuredClone(policy!);
    broken.spec.nodeSelector = { matchLabels: { a: 'b' } };
    expect(() => withPolicyNodes(broken, { nodes: ['a'], interfaces: ['eth1'] })).toThrow(/kubernetes.io\/hostname/);
  });
});

describe('withBackendsAvoiding', () => {
  const [deployment] = manifest('l2-failover-backend.yaml');
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
