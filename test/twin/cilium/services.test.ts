import { describe, expect, it } from 'vitest';
import { judgeServiceListed } from '../../../helpers/judge/kpr.ts';
import { parseServiceListJson, parseServiceListText } from '../../../helpers/parse/index.ts';
import { frontendsOn, renderServiceList, serviceFrontends, type PodInput, type SvcInput } from './services.ts';

const nodes = [
  { name: 'k8s-ctr', address: '198.18.10.100' },
  { name: 'k8s-w1', address: '198.18.10.101' },
  { name: 'k8s-w0', address: '198.18.20.100' },
];
const pods: PodInput[] = [
  { namespace: 'r', labels: { app: 'webpod' }, ip: '198.19.0.2', node: 'k8s-ctr', ready: true },
  { namespace: 'r', labels: { app: 'webpod' }, ip: '198.19.1.2', node: 'k8s-w1', ready: true },
  { namespace: 'r', labels: { app: 'webpod' }, ip: '198.19.2.2', node: 'k8s-w0', ready: false },
  { namespace: 'r', labels: { app: 'local' }, ip: '198.19.2.3', node: 'k8s-w0', ready: true },
];
const svc = (name: string, sel: string, o: Partial<SvcInput> = {}): SvcInput => ({
  namespace: 'r',
  name,
  type: 'ClusterIP',
  clusterIP: '198.19.128.20',
  externalTrafficPolicy: 'Cluster',
  selector: { app: sel },
  ports: [{ port: 80, targetPort: 80, nodePort: null, protocol: 'TCP' }],
  ...o,
});

describe('kube-proxy replacement frontends', () => {
  const all = serviceFrontends({
    services: [
      svc('webpod', 'webpod'),
      svc('np', 'webpod', {
        type: 'NodePort',
        clusterIP: '198.19.128.21',
        ports: [{ port: 80, targetPort: 80, nodePort: 31000, protocol: 'TCP' }],
      }),
      svc('local', 'local', {
        type: 'NodePort',
        clusterIP: '198.19.128.22',
        externalTrafficPolicy: 'Local',
        ports: [{ port: 80, targetPort: 80, nodePort: 31001, protocol: 'TCP' }],
      }),
    ],
    pods,
    nodes,
  });
  it('ClusterIP on every node with the ready backends only', () => {
    const f = frontendsOn(all, 'k8s-w1').find((x) => x.ip === '198.19.128.20')!;
    expect(f.backends.map((b) => b.ip)).toEqual(['198.19.0.2', '198.19.1.2']);
  });
  it('NodePort on each node address; externalTrafficPolicy Local keeps only local backends (none: empty)', () => {
    const np = frontendsOn(all, 'k8s-w0').filter((x) => x.type === 'NodePort');
    expect(np.map((x) => `${x.ip}:${x.port}`)).toEqual(['198.18.20.100:31001', '198.18.20.100:31000']);
    expect(np.find((x) => x.port === 31001)?.backends.map((b) => b.ip)).toEqual(['198.19.2.3']);
    expect(frontendsOn(all, 'k8s-ctr').find((x) => x.port === 31001)?.backends).toEqual([]);
  });
  it('round trip: the printed table and JSON read back by the harness parsers and judged', () => {
    const mine = frontendsOn(all, 'k8s-ctr');
    const want = { ip: '198.19.128.20', port: 80, backendIps: ['198.19.0.2', '198.19.1.2'], backendPort: 80, type: 'ClusterIP' };
    expect(judgeServiceListed(parseServiceListJson(renderServiceList(mine, 'json')), want).ok).toBe(true);
    const text = renderServiceList(mine, 'table');
    expect(text.split('\n')[0]).toMatch(/^ID {3}Frontend {2,}Service Type {3}Backend$/);
    expect(judgeServiceListed(parseServiceListText(text), want).ok).toBe(true);
  });
});
