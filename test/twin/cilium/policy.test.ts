import { describe, expect, it } from 'vitest';
import { decide, podPolicies, renderPodFirewall, type NetworkPolicyInput, type PolicyPod } from './policy.ts';

const ns = 'petclinic';
const pods: PolicyPod[] = [
  { namespace: ns, name: 'web', labels: { app: 'web' }, ip: '198.19.0.4' },
  { namespace: ns, name: 'was', labels: { app: 'was' }, ip: '198.19.1.3' },
  { namespace: ns, name: 'db', labels: { app: 'db' }, ip: '198.19.2.3' },
  { namespace: 'other', name: 'x', labels: { app: 'web' }, ip: '198.19.0.9' },
];
const ip = (n: string): string => pods.find((p) => p.name === n)!.ip;
const PORT: Record<string, number> = { web: 80, was: 8080, db: 3306 };

// seed 004 (default-deny-all, allow-was-to-db, allow-web-to-was) plus DNS and the egress halves (suites/manifests/petclinic-*.yaml).
const denyAll: NetworkPolicyInput = {
  metadata: { namespace: ns, name: 'default-deny-all' },
  spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
};
const dns: NetworkPolicyInput = {
  metadata: { namespace: ns, name: 'allow-dns' },
  spec: {
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [
      {
        ports: [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
      },
    ],
  },
};
const ingressFrom = (name: string, to: string, from: string, port: number): NetworkPolicyInput => ({
  metadata: { namespace: ns, name },
  spec: {
    podSelector: { matchLabels: { app: to } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: from } } }], ports: [{ protocol: 'TCP', port }] }],
  },
});
const egressTo = (name: string, from: string, to: string, port: number): NetworkPolicyInput => ({
  metadata: { namespace: ns, name },
  spec: {
    podSelector: { matchLabels: { app: from } },
    policyTypes: ['Egress'],
    egress: [{ to: [{ podSelector: { matchLabels: { app: to } } }], ports: [{ protocol: 'TCP', port }] }],
  },
});
const allows = [
  ingressFrom('allow-was-to-db', 'db', 'was', 3306),
  egressTo('allow-was-egress-to-db', 'was', 'db', 3306),
  ingressFrom('allow-web-to-was', 'was', 'web', 8080),
  egressTo('allow-web-egress-to-was', 'web', 'was', 8080),
];

function matrix(policies: NetworkPolicyInput[]): Record<string, string> {
  const pp = podPolicies(policies, pods);
  const out: Record<string, string> = {};
  for (const a of ['web', 'was', 'db'])
    for (const b of ['web', 'was', 'db']) {
      if (a === b) continue;
      const d = decide(pp, pods, { srcIp: ip(a), dstIp: ip(b), port: PORT[b]!, protocol: 'TCP' });
      out[`${a}→${b}`] = d.allowed ? 'allowed' : `denied at ${d.enforcedAt ?? '?'}`;
    }
  return out;
}

describe('NetworkPolicy model (seed 004 petclinic)', () => {
  it('no policy: every pair allowed', () => {
    expect(Object.values(matrix([])).every((v) => v === 'allowed')).toBe(true);
  });
  it('default-deny-all (ingress + egress): every pair denied, at the source (egress)', () => {
    expect(Object.values(matrix([denyAll, dns])).every((v) => v === 'denied at egress')).toBe(true);
  });
  it('with the allows, exactly was→db and web→was connect', () => {
    expect(matrix([denyAll, dns, ...allows])).toEqual({
      'web→was': 'allowed',
      'web→db': 'denied at egress',
      'was→web': 'denied at egress',
      'was→db': 'allowed',
      'db→web': 'denied at egress',
      'db→was': 'denied at egress',
    });
  });
  it("seed 004's ingress-only allows under a deny-all that includes egress still leave was→db denied (at egress)", () => {
    expect(matrix([denyAll, allows[0]!, allows[2]!])['was→db']).toBe('denied at egress');
  });
  it('ingress-only isolation is enforced at the destination; the wrong port is denied', () => {
    const pp = podPolicies([ingressFrom('allow-was-to-db', 'db', 'was', 3306)], pods);
    expect(decide(pp, pods, { srcIp: ip('web'), dstIp: ip('db'), port: 3306, protocol: 'TCP' })).toEqual({
      allowed: false,
      enforcedAt: 'ingress',
    });
    expect(decide(pp, pods, { srcIp: ip('was'), dstIp: ip('db'), port: 3307, protocol: 'TCP' }).allowed).toBe(false);
    expect(decide(pp, pods, { srcIp: ip('was'), dstIp: ip('db'), port: 3306, protocol: 'TCP' }).allowed).toBe(true);
  });
  it('a podSelector peer stays in the policy namespace; policyTypes default to Ingress', () => {
    const pp = podPolicies(
      [
        {
          metadata: { namespace: ns, name: 'p' },
          spec: { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] },
        },
      ],
      pods,
    );
    expect(pp.get(`${ns}/db`)?.ingress?.[0]?.peers).toEqual([ip('web')]);
    expect(pp.get(`${ns}/db`)?.egress).toBeNull();
  });
  it('renders a dropping nftables table for an isolated pod, and only the delete for a free one', () => {
    const pp = podPolicies([denyAll, dns, ...allows], pods);
    const text = renderPodFirewall(pp.get(`${ns}/was`));
    expect(text).toContain('chain ingress {');
    expect(text).toContain(`ip saddr { ${ip('web')} } tcp dport 8080 accept`);
    expect(text).toContain(`ip daddr { ${ip('db')} } tcp dport 3306 accept`);
    expect(text).toContain('udp dport 53 accept');
    expect(text.match(/ {4}drop/g)).toHaveLength(2);
    expect(renderPodFirewall(undefined)).toBe('table inet twin_policy\ndelete table inet twin_policy\n');
  });
});
