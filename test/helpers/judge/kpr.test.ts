import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  judgeKprOn,
  judgeNoKubeProxyChains,
  judgeNoKubeProxyDaemonSet,
  judgeNodePortAnswers,
  judgeServiceListed,
} from '../../../helpers/judge/kpr.ts';
import { parseIptablesSave, parseServiceListJson, parseServiceListText } from '../../../helpers/parse/index.ts';

const fx = (f: string): string => readFileSync(new URL(`../../fixtures/kpr/${f}`, import.meta.url), 'utf8');

describe('iptables-save and kube-proxy chains', () => {
  it('parses tables, chains and rules (twin capture of fault kube-proxy-left)', () => {
    const t = parseIptablesSave(fx('iptables-save-kube-proxy-left-twin.txt'));
    expect(t.map((x) => x.name)).toEqual(['nat']);
    expect(t[0]?.chains.map((c) => c.name)).toContain('KUBE-SERVICES');
    expect(t[0]?.rules[0]).toMatch(/^-A PREROUTING .* -j KUBE-SERVICES$/);
  });
  it('names every kube-proxy chain per node', () => {
    const v = judgeNoKubeProxyChains([{ node: 'k8s-w1', tables: parseIptablesSave(fx('iptables-save-kube-proxy-left-twin.txt')) }]);
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('k8s-w1: nat/KUBE-SERVICES');
    expect(v.explanation).toContain('k8s-w1: nat/KUBE-SVC-NPX46M4PTMTKRN6Y');
  });
  it("the kubelet's KUBE-FIREWALL / KUBE-KUBELET-CANARY and Cilium's chains are not kube-proxy's", () => {
    const tables = parseIptablesSave(fx('iptables-save-kubelet-cilium.txt'));
    expect(tables.map((x) => x.name)).toEqual(['mangle', 'filter', 'nat']);
    expect(judgeNoKubeProxyChains([{ node: 'k8s-ctr', tables }]).ok).toBe(true);
  });
  it('an empty iptables-save (a twin node, no iptables tables) has no chains; no node read is a failure', () => {
    expect(judgeNoKubeProxyChains([{ node: 'k8s-ctr', tables: parseIptablesSave('') }]).ok).toBe(true);
    expect(judgeNoKubeProxyChains([]).ok).toBe(false);
  });
  it('refuses a line outside a table', () => {
    expect(() => parseIptablesSave(':KUBE-SERVICES - [0:0]')).toThrow(/outside a table/);
  });
});

describe('kube-proxy DaemonSet and KPR status', () => {
  it('finds kube-proxy by name or by label (seed 004: kube-system/kube-proxy)', () => {
    expect(judgeNoKubeProxyDaemonSet([{ metadata: { name: 'cilium', namespace: 'kube-system' } }]).ok).toBe(true);
    const v = judgeNoKubeProxyDaemonSet([{ metadata: { name: 'kube-proxy', namespace: 'kube-system' } }]);
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('kube-system/kube-proxy');
    expect(judgeNoKubeProxyDaemonSet([{ metadata: { name: 'kp', namespace: 'x', labels: { 'k8s-app': 'kube-proxy' } } }]).ok).toBe(false);
  });
  it('every agent must report KubeProxyReplacement True (seed 004 shows False before the change)', () => {
    expect(judgeKprOn([{ node: 'a', status: { kubeProxyReplacement: true } }]).ok).toBe(true);
    const v = judgeKprOn([
      { node: 'a', status: { kubeProxyReplacement: true } },
      { node: 'b', status: { kubeProxyReplacement: false } },
    ]);
    expect(v.explanation).toMatch(/not True on b/);
    expect(judgeKprOn([]).ok).toBe(false);
  });
});

describe('cilium-dbg service list', () => {
  const json = parseServiceListJson(fx('service-list-twin.json'));
  it('reads the JSON model (realized state): frontends, types, backends', () => {
    const cip = json.find((e) => e.type === 'ClusterIP' && e.backends.length === 3);
    expect(cip?.frontend.protocol).toBe('TCP');
    expect(json.some((e) => e.type === 'NodePort')).toBe(true);
  });
  it('judges a frontend with exactly its backends, and names missing and extra ones', () => {
    const e = json.find((x) => x.type === 'ClusterIP' && x.backends.length === 3)!;
    const ips = e.backends.map((b) => b.ip);
    expect(judgeServiceListed(json, { ip: e.frontend.ip, port: 80, backendIps: ips, backendPort: 80, type: 'ClusterIP' }).ok).toBe(true);
    const missing = judgeServiceListed(json, { ip: e.frontend.ip, port: 80, backendIps: [...ips.slice(1), '198.19.9.9'], backendPort: 80 });
    expect(missing.explanation).toMatch(/missing backends 198\.19\.9\.9:80; unexpected backends/);
    expect(judgeServiceListed(json, { ip: '198.19.200.1', port: 80, backendIps: [], backendPort: 80 }).explanation).toMatch(
      /lists no frontend/,
    );
    expect(judgeServiceListed(json, { ip: e.frontend.ip, port: 80, backendIps: ips, backendPort: 80, type: 'NodePort' }).ok).toBe(false);
  });
  it('reads the text table with the ID column (1.17/1.18) and without it (main), continuation rows included', () => {
    const a = parseServiceListText(fx('service-list-1.18.txt'));
    expect(a.map((e) => e.id)).toEqual([1, 2, 3, 4]);
    expect(a[2]?.backends.map((b) => `${b.ip}:${b.port}`)).toEqual(['172.20.0.204:80', '172.20.1.6:80', '172.20.2.6:80']);
    expect(a[3]).toMatchObject({ type: 'NodePort', backends: [] });
    const b = parseServiceListText(fx('service-list-main.txt'));
    expect(b[1]).toMatchObject({ id: null, frontend: { ip: '10.96.33.91', port: 80, protocol: 'TCP' } });
    const v = judgeServiceListed(b, { ip: '10.96.33.91', port: 80, backendIps: ['172.20.0.204', '172.20.1.6'], backendPort: 80 });
    expect(v.explanation).toMatch(/not active: 172\.20\.1\.6:80 \(terminating\)/);
  });
  it('refuses what is not a service table', () => {
    expect(() => parseServiceListText('Error: cannot get services list')).toThrow(/unexpected header/);
    expect(() => parseServiceListJson('{}')).toThrow(/not an array/);
  });
});

describe('NodePort answers', () => {
  const whoami = (host: string) => ({ ok: true, status: 200, headers: {}, body: `Hostname: ${host}\nIP: 127.0.0.1\n`, error: null });
  const timeout = { ok: false, status: null, headers: {}, body: '', error: 'curl: (28) Connection timed out after 5000 milliseconds' };
  it('every node answers from a backend', () => {
    const v = judgeNodePortAnswers(
      [
        { node: 'a', address: '1', answer: whoami('webpod-1') },
        { node: 'b', address: '2', answer: whoami('webpod-2') },
      ],
      { answering: ['a', 'b'], backends: ['webpod-1', 'webpod-2'] },
    );
    expect(v.ok).toBe(true);
  });
  it('externalTrafficPolicy Local: a node without a backend that answers fails, naming it', () => {
    const v = judgeNodePortAnswers(
      [
        { node: 'a', address: '1', answer: whoami('local-1') },
        { node: 'b', address: '2', answer: whoami('local-1') },
      ],
      { answering: ['a'], backends: ['local-1'] },
    );
    expect(v.explanation).toMatch(/^b \(2\) answered 200 from local-1 but has no backend/);
    expect(
      judgeNodePortAnswers(
        [
          { node: 'a', address: '1', answer: whoami('local-1') },
          { node: 'b', address: '2', answer: timeout },
        ],
        { answering: ['a'], backends: ['local-1'] },
      ).ok,
    ).toBe(true);
  });
  it('a node that should answer and times out, or answers from something else, fails', () => {
    const v = judgeNodePortAnswers(
      [
        { node: 'a', address: '1', answer: timeout },
        { node: 'b', address: '2', answer: whoami('kpr-local-x') },
      ],
      { answering: ['a', 'b'], backends: ['webpod-1'] },
    );
    expect(v.explanation).toMatch(/a \(1\) did not answer: curl: \(28\).*b \(2\) answered 200 from kpr-local-x, not from a backend/);
  });
});
