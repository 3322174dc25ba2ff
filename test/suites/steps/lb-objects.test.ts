import { describe, expect, test } from 'vitest';
import type { KubernetesObject } from '@kubernetes/client-node';
import {
  ingressHosts,
  l2Policy,
  lbPool,
  lbService,
  loadManifest,
  pathIngress,
  perRunName,
  serviceSelector,
  whoamiBackend,
} from '../../../suites/steps/lb-objects.ts';
import { MANAGED_BY_LABEL, RUN_LABEL } from '../../../helpers/kube/index.ts';
import { l2AnnouncePlan, readServiceIpam, topologyBlock } from '../../../helpers/judge/lbipam.ts';
import { DEFAULT_TOPOLOGY_FILE, loadTopology } from '../../../helpers/lab/topology.ts';

const runId = 'r20261122-0349-ab12';
const ns = `clh-${runId}`;
const t = loadTopology(DEFAULT_TOPOLOGY_FILE);

const poolTpl = loadManifest('lbipam-pool.yaml', { runId, namespace: ns });
const l2Tpl = loadManifest('lbipam-l2-policy.yaml', { runId, namespace: ns });
const svcTpl = loadManifest('lbipam-service.yaml', { runId, namespace: ns });
const backendTpl = loadManifest('ingress-backend.yaml', { runId, namespace: ns });
const ingressTpl = loadManifest('ingress-paths.yaml', { runId, namespace: ns });

function expectRunLabels(o: KubernetesObject): void {
  expect(o.metadata?.labels).toMatchObject({ [MANAGED_BY_LABEL]: 'cilium-lab-harness', [RUN_LABEL]: runId });
}

describe('per-run names', () => {
  test('clh-<runId>-<what>, a DNS label', () => {
    expect(perRunName(runId, 'lbipam')).toBe('clh-r20261122-0349-ab12-lbipam');
  });

  test.each([
    ['a'.repeat(60), 'lbipam'],
    [runId, 'Upper'],
    [runId, 'dots.in'],
    [runId, ''],
  ])('refuses %s + %s', (id, what) => {
    expect(() => perRunName(id, what)).toThrow(/not a valid per-run name/);
  });
});

describe('the pool', () => {
  test('v2alpha1, named per run, run labels, the topology block, selecting only the run services', () => {
    const p = lbPool(poolTpl, { runId, name: perRunName(runId, 'lbipam'), block: topologyBlock(t), selects: { runId } });
    expect(p.apiVersion).toBe('cilium.io/v2alpha1');
    expect(p.kind).toBe('CiliumLoadBalancerIPPool');
    expect(p.metadata?.name).toBe('clh-r20261122-0349-ab12-lbipam');
    expect(p.metadata?.namespace).toBeUndefined();
    expectRunLabels(p);
    expect(p.spec.blocks).toEqual([{ start: '192.168.10.211', stop: '192.168.10.215' }]);
    expect(p.spec.serviceSelector).toEqual({ matchLabels: { [RUN_LABEL]: runId } });
  });

  test('the ingress pool selects exactly kube-system/cilium-ingress by the synthetic labels', () => {
    const p = lbPool(poolTpl, {
      runId,
      name: perRunName(runId, 'ingress'),
      block: topologyBlock(t),
      selects: { service: { namespace: 'kube-system', name: 'cilium-ingress' } },
    });
    expect(p.spec.serviceSelector).toEqual({
      matchLabels: { 'io.kubernetes.service.namespace': 'kube-system', 'io.kubernetes.service.name': 'cilium-ingress' },
    });
    expectRunLabels(p);
  });

  test('building does not change the template', () => {
    const before = JSON.stringify(poolTpl);
    lbPool(poolTpl, { runId, name: 'x', block: topologyBlock(t), selects: { runId } });
    expect(JSON.stringify(poolTpl)).toBe(before);
  });

  test('a template of another kind is refused', () => {
    expect(() => lbPool(svcTpl, { runId, name: 'x', block: topologyBlock(t), selects: { runId } })).toThrow(
      /no cilium\.io\/v2alpha1 CiliumLoadBalancerIPPool/,
    );
  });
});

describe('the L2 announcement policy', () => {
  test('the nodes and anchored interfaces of the plan, LB IPs only, the same services as the pool', () => {
    const plan = l2AnnouncePlan(t);
    const p = l2Policy(l2Tpl, {
      runId,
      name: perRunName(runId, 'lbipam'),
      selects: { runId },
      nodes: plan.nodes,
      interfaces: plan.interfaces,
    });
    expect(p.apiVersion).toBe('cilium.io/v2alpha1');
    expectRunLabels(p);
    expect(p.spec).toEqual({
      serviceSelector: serviceSelector({ runId }),
      nodeSelector: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['k8s-ctr', 'k8s-w1'] }] },
      interfaces: ['^eth1$'],
      loadBalancerIPs: true,
      externalIPs: false,
    });
  });

  test('no nodes is refused (an empty In list selects no node)', () => {
    expect(() => l2Policy(l2Tpl, { runId, name: 'x', selects: { runId }, nodes: [], interfaces: [] })).toThrow(/at least one node/);
  });
});

describe('LoadBalancer services', () => {
  test('plain: run labels, namespace, webpod selector, the port, no LB-IPAM annotation', () => {
    const s = lbService(svcTpl, { runId, namespace: ns, name: 'lb-webpod', port: 80 });
    expectRunLabels(s);
    expect(s.metadata).toMatchObject({ name: 'lb-webpod', namespace: ns });
    expect(s.metadata?.annotations).toBeUndefined();
    expect(s.spec).toMatchObject({
      type: 'LoadBalancer',
      selector: { app: 'webpod' },
      ports: [{ name: 'http', port: 80, targetPort: 80, protocol: 'TCP' }],
    });
  });

  test('requested IP and sharing key are written where the reader (and Cilium) reads them', () => {
    const s = lbService(svcTpl, {
      runId,
      namespace: ns,
      name: 'share-b',
      port: 8080,
      requestIps: ['192.168.10.215'],
      sharingKey: `clh-${runId}`,
    });
    expect(s.metadata?.annotations).toEqual({ 'lbipam.cilium.io/ips': '192.168.10.215', 'lbipam.cilium.io/sharing-key': `clh-${runId}` });
    expect(s.spec?.ports).toEqual([{ name: 'http', port: 8080, targetPort: 80, protocol: 'TCP' }]);
    expect(readServiceIpam(s)).toMatchObject({
      requestedIps: ['192.168.10.215'],
      sharingKey: `clh-${runId}`,
      ports: [8080],
      ips: [],
      condition: null,
    });
  });

  test('several requested IPs are comma-separated; another selector replaces webpod', () => {
    const s = lbService(svcTpl, {
      runId,
      namespace: ns,
      name: 'x',
      port: 80,
      requestIps: ['192.168.10.211', '192.168.10.212'],
      selector: { app: 'other' },
    });
    expect(s.metadata?.annotations?.['lbipam.cilium.io/ips']).toBe('192.168.10.211,192.168.10.212');
    expect(s.spec?.selector).toEqual({ app: 'other' });
  });
});

describe('ingress backends and the Ingress', () => {
  test('a whoami backend names itself: app label, WHOAMI_NAME, the image of webpod, run labels on the pods too', () => {
    const { deployment, service } = whoamiBackend(backendTpl, { runId, namespace: ns, name: 'details' });
    expectRunLabels(deployment);
    expectRunLabels(service);
    expect(deployment.metadata).toMatchObject({ name: 'details', namespace: ns });
    expect(deployment.spec?.selector).toEqual({ matchLabels: { app: 'details' } });
    expect(deployment.spec?.template.metadata?.labels).toEqual({
      app: 'details',
      [MANAGED_BY_LABEL]: 'cilium-lab-harness',
      [RUN_LABEL]: runId,
    });
    const c = deployment.spec?.template.spec?.containers[0];
    const webpod = loadManifest('webpod.yaml', { runId, namespace: ns }).find((d: any) => d.kind === 'Deployment') as any;
    expect(c?.image).toBe(webpod.spec.template.spec.containers[0].image);
    expect(c?.env).toEqual([{ name: 'WHOAMI_NAME', value: 'details' }]);
    expect(service.spec).toMatchObject({ type: 'ClusterIP', selector: { app: 'details' }, ports: [{ port: 80, targetPort: 80 }] });
  });

  test('the Ingress: class cilium; the site rule routes Prefix /details -> details and / -> productpage; the second host only /details', () => {
    const h = ingressHosts(runId);
    const ing = pathIngress(ingressTpl, {
      runId,
      namespace: ns,
      name: 'paths',
      hosts: [h.site, h.detailsOnly],
      backends: { '/details': 'details', '/': 'productpage' },
    });
    expectRunLabels(ing);
    expect(ing.metadata?.namespace).toBe(ns);
    expect(ing.spec?.ingressClassName).toBe('cilium');
    const table = ing.spec?.rules?.map((r) => [
      r.host,
      r.http?.paths.map((p) => [p.path, p.pathType, p.backend.service?.name, p.backend.service?.port?.number]),
    ]);
    expect(table).toEqual([
      [
        'r20261122-0349-ab12.clh.test',
        [
          ['/details', 'Prefix', 'details', 80],
          ['/', 'Prefix', 'productpage', 80],
        ],
      ],
      ['details-only.r20261122-0349-ab12.clh.test', [['/details', 'Prefix', 'details', 80]]],
    ]);
  });

  test('a missing or unknown path, or a host count that is not the rule count, is refused', () => {
    const base = { runId, namespace: ns, name: 'paths', hosts: ['a', 'b'] };
    expect(() => pathIngress(ingressTpl, { ...base, backends: { '/': 'productpage' } })).toThrow(
      /no backend given for the template's path \/details/,
    );
    expect(() => pathIngress(ingressTpl, { ...base, backends: { '/': 'a', '/details': 'b', '/ratings': 'c' } })).toThrow(
      /has no path \/ratings/,
    );
    expect(() => pathIngress(ingressTpl, { ...base, hosts: ['a'], backends: { '/': 'a', '/details': 'b' } })).toThrow(/2 rules, 1 hosts/);
  });

  test('the two hosts differ and are reserved .test names', () => {
    const h = ingressHosts(runId);
    expect(h.site).not.toBe(h.detailsOnly);
    expect([h.site, h.detailsOnly].every((x) => x.endsWith('.test'))).toBe(true);
  });
});
