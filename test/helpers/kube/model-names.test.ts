import { V1NetworkPolicyIngressRule } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { withClientModelNames } from '../../../helpers/kube/client.ts';

describe('withClientModelNames (plain objects through client-node models)', () => {
  it("client-node's model names NetworkPolicy's `from` `_from` (the pitfall this guards against)", () => {
    const attr = V1NetworkPolicyIngressRule.getAttributeTypeMap().find((a) => a.baseName === 'from');
    expect(attr?.name).toBe('_from');
  });
  it('renames ingress `from` and leaves the rest (ports, egress `to`, other kinds) alone', () => {
    const np = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'allow-was-to-db' },
      spec: {
        podSelector: { matchLabels: { app: 'db' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'was' } } }], ports: [{ protocol: 'TCP', port: 3306 }] }, { ports: [] }],
        egress: [{ to: [{ podSelector: {} }] }],
      },
    };
    const out = withClientModelNames(np) as unknown as typeof np & { spec: { ingress: Record<string, unknown>[] } };
    expect(out.spec.ingress[0]).toEqual({
      _from: [{ podSelector: { matchLabels: { app: 'was' } } }],
      ports: [{ protocol: 'TCP', port: 3306 }],
    });
    expect(out.spec.ingress[1]).toEqual({ ports: [] });
    expect(out.spec.egress).toEqual(np.spec.egress);
    expect(np.spec.ingress[0]).toHaveProperty('from');
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' } };
    expect(withClientModelNames(svc)).toBe(svc);
  });
});
