import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  helmGetValuesCommand,
  helmListCommand,
  helmUpgradeCommand,
  parseHelmList,
  parseHelmValues,
} from '../../../helpers/cilium/cilium.ts';
import { diffSettings, runningLookup, type CiliumSettings } from '../../../helpers/cilium/needs.ts';
import {
  agentRouting,
  agentStartError,
  chartIngressObjects,
  ciliumConfigFromValues,
  installRelease,
  parseSetArg,
  routingSettings,
  runHelm,
  type HelmReleaseState,
  type Values,
} from './helm.ts';
import { twinVersion } from './versions.ts';

/** POSIX shell word splitting for what helpers/cilium/cilium.ts shellQuote produces (bare words and '...' with '\''). */
function shellWords(cmd: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i]!;
    if (c === "'") {
      const end = cmd.indexOf("'", i + 1);
      cur += cmd.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '\\') {
      cur += cmd[++i];
      inWord = true;
    } else if (c === ' ') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

const v118 = twinVersion('1.18.14');
const v117 = twinVersion('1.17.18');
const t0 = Date.parse('2026-12-04T12:00:00Z');
// provision/values/cilium-base.yaml plus what the topology values file adds
const base: Values = {
  kubeProxyReplacement: true,
  routingMode: 'native',
  autoDirectNodeRoutes: true,
  ipam: { mode: 'cluster-pool', operator: { clusterPoolIPv4PodCIDRList: ['172.20.0.0/16'] } },
  bpf: { masquerade: true },
  hubble: { enabled: true, relay: { enabled: true } },
  operator: { replicas: 1 },
  ipv4NativeRoutingCIDR: '172.20.0.0/16',
  k8sServiceHost: '192.168.10.100',
  k8sServicePort: 6443,
};

function upgrade(release: HelmReleaseState, set: CiliumSettings, version = v118): ReturnType<typeof runHelm> {
  const argv = shellWords(helmUpgradeCommand({ version: version.chartVersion, set }));
  return runHelm({ argv, release, version, nowMs: t0 + 60_000 });
}

describe('twin helm', () => {
  test('helm list -o json as the harness runs it parses into the running chart version', () => {
    const release = installRelease({ version: v118, userValues: base, nowMs: t0 });
    const r = runHelm({ argv: shellWords(helmListCommand()), release, version: v118, nowMs: t0 });
    expect(r.code).toBe(0);
    expect(parseHelmList(r.stdout)).toEqual({ name: 'cilium', chartVersion: '1.18.14', appVersion: '1.18.14', status: 'deployed' });
    // same keys as the fixture in the shape of `helm list -o json`
    const fixture = JSON.parse(readFileSync(new URL('../../fixtures/kube/helm/list.json', import.meta.url), 'utf8')) as Record<
      string,
      unknown
    >[];
    expect(Object.keys(JSON.parse(r.stdout)[0])).toEqual(Object.keys(fixture[0]!));
    expect(JSON.parse(r.stdout)[0].updated).toBe('2026-12-04 12:00:00.000000000 +0000 UTC');
    expect(runHelm({ argv: ['helm', 'list', '-n', 'default', '-o', 'json'], release, version: v118, nowMs: t0 }).stdout).toBe('[]\n');
  });

  test("helm get values -o json round-trips through parseHelmValues; the table form is seed 001's USER-SUPPLIED VALUES", () => {
    const seed = JSON.parse(readFileSync(new URL('../../fixtures/kube/helm/get-values-seed-001.json', import.meta.url), 'utf8')) as Values;
    const release = installRelease({ version: v117, userValues: seed, nowMs: t0 });
    const r = runHelm({ argv: shellWords(helmGetValuesCommand()), release, version: v117, nowMs: t0 });
    expect(parseHelmValues(r.stdout)).toEqual(seed);
    const text = runHelm({ argv: ['helm', 'get', 'values', 'cilium', '-n', 'kube-system'], release, version: v117, nowMs: t0 }).stdout;
    expect(text.split('\n').slice(0, 4)).toEqual(['USER-SUPPLIED VALUES:', 'autoDirectNodeRoutes: true', 'bpf:', '  masquerade: true']);
    const empty = installRelease({ version: v117, userValues: {}, nowMs: t0 });
    expect(runHelm({ argv: shellWords(helmGetValuesCommand()), release: empty, version: v117, nowMs: t0 }).stdout).toBe('null\n');
  });

  test("the harness's upgrade to tunnel mode: --reuse-values keeps the rest, a new revision, and the running settings then match", () => {
    const release = installRelease({ version: v118, userValues: base, nowMs: t0 });
    const want: CiliumSettings = { routingMode: 'tunnel', tunnelProtocol: 'vxlan', autoDirectNodeRoutes: false };
    const r = upgrade(release, want);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Release "cilium" has been upgraded\. Happy Helming!\nNAME: cilium\n/);
    expect(r.release!.revision).toBe(2);
    expect(r.release!.userValues).toMatchObject({
      routingMode: 'tunnel',
      autoDirectNodeRoutes: false,
      kubeProxyReplacement: true,
      ipv4NativeRoutingCIDR: '172.20.0.0/16',
    });
    const config = ciliumConfigFromValues(r.release!.userValues);
    expect(diffSettings(want, runningLookup({ config, helmValues: r.release!.userValues }))).toEqual([]);
    expect(routingSettings(config)).toEqual({ mode: 'tunnel', autoDirectNodeRoutes: false });
    expect(agentRouting(config)).toMatchObject({ network: 'Tunnel', tunnelProtocol: 'vxlan', host: 'BPF', kubeProxyReplacement: true });
  });

  test('L2 announcements with lease timings and the ingress controller: keys appear only when enabled / set', () => {
    const release = installRelease({ version: v118, userValues: base, nowMs: t0 });
    const before = ciliumConfigFromValues(base);
    expect(before['enable-l2-announcements']).toBeUndefined();
    expect(before['l2-announcements-lease-duration']).toBeUndefined();
    expect(before['enable-ingress-controller']).toBeUndefined();
    const want: CiliumSettings = {
      'l2announcements.enabled': true,
      'l2announcements.leaseDuration': '3s',
      'l2announcements.leaseRenewDeadline': '1s',
      'l2announcements.leaseRetryPeriod': '200ms',
      'ingressController.enabled': true,
      'ingressController.loadbalancerMode': 'shared',
    };
    const r = upgrade(release, want);
    expect(r.code).toBe(0);
    const config = ciliumConfigFromValues(r.release!.userValues);
    expect(config).toMatchObject({
      'enable-l2-announcements': 'true',
      'l2-announcements-lease-duration': '3s',
      'l2-announcements-renew-deadline': '1s',
      'l2-announcements-retry-period': '200ms',
      'enable-ingress-controller': 'true',
      'ingress-default-lb-mode': 'shared',
      'ingress-shared-lb-service-name': 'cilium-ingress',
    });
    expect(diffSettings(want, runningLookup({ config, helmValues: r.release!.userValues }))).toEqual([]);
  });

  test("the base values render the base lab's cilium-config (test/fixtures/kube/cilium-config-base.json)", () => {
    const fixture = JSON.parse(readFileSync(new URL('../../fixtures/kube/cilium-config-base.json', import.meta.url), 'utf8')) as Record<
      string,
      string
    >;
    delete fixture._comment;
    expect(ciliumConfigFromValues(base)).toMatchObject(fixture);
    expect(ciliumConfigFromValues(base)['tunnel-protocol']).toBe('vxlan');
  });

  test('1.18 refuses native routing without ipv4NativeRoutingCIDR at render time; 1.17 renders and the agent refuses', () => {
    const noCidr = { ...base };
    delete noCidr.ipv4NativeRoutingCIDR;
    const tunnel = { ...noCidr, routingMode: 'tunnel' };
    const r18 = runHelm({
      argv: ['helm', 'upgrade', 'cilium', 'cilium/cilium', '-n', 'kube-system', '--reuse-values', '--set', 'routingMode=native'],
      release: installRelease({ version: v118, userValues: tunnel, nowMs: t0 }),
      version: v118,
      nowMs: t0,
    });
    expect(r18.code).toBe(1);
    expect(r18.stderr).toMatch(/^Error: UPGRADE FAILED: .*ipv4NativeRoutingCIDR must be set when routingMode is native/);
    expect(r18.release!.revision).toBe(1);
    const r17 = runHelm({
      argv: ['helm', 'upgrade', 'cilium', 'cilium/cilium', '-n', 'kube-system', '--reuse-values', '--set', 'routingMode=native'],
      release: installRelease({ version: v117, userValues: tunnel, nowMs: t0 }),
      version: v117,
      nowMs: t0,
    });
    expect(r17.code).toBe(0);
    expect(agentStartError(ciliumConfigFromValues(r17.release!.userValues), v117)).toMatch(/native routing cidr must be configured/);
    expect(agentStartError(ciliumConfigFromValues(base), v117)).toBeNull();
  });

  test('--set parsing: typed values, --set-string, lists, escaped commas, null deletes; other chart versions are refused', () => {
    expect(parseSetArg('a.b=true,c=5,d=05,e=x\\,y,f={1,2}', false)).toEqual([
      { path: 'a.b', value: true },
      { path: 'c', value: 5 },
      { path: 'd', value: '05' },
      { path: 'e', value: 'x,y' },
      { path: 'f', value: [1, 2] },
    ]);
    expect(parseSetArg('n=10', true)).toEqual([{ path: 'n', value: '10' }]);
    const release = installRelease({ version: v118, userValues: base, nowMs: t0 });
    const r = runHelm({
      argv: ['helm', 'upgrade', 'cilium', 'cilium/cilium', '-n', 'kube-system', '--reuse-values', '--set', 'operator=null'],
      release,
      version: v118,
      nowMs: t0,
    });
    expect(r.release!.userValues.operator).toBeUndefined();
    expect(
      runHelm({
        argv: ['helm', 'upgrade', 'cilium', 'cilium/cilium', '-n', 'kube-system', '--version', '1.18.13', '--reuse-values', '--set', 'a=1'],
        release,
        version: v118,
        nowMs: t0,
      }).code,
    ).toBe(1);
    expect(
      runHelm({
        argv: ['helm', 'upgrade', 'nope', 'cilium/cilium', '-n', 'kube-system', '--set', 'a=1'],
        release,
        version: v118,
        nowMs: t0,
      }).stderr,
    ).toBe('Error: UPGRADE FAILED: "nope" has no deployed releases\n');
  });

  test('without --reuse-values new values replace the old; with no values at all the old ones are reused; -f files merge in order', () => {
    const release = installRelease({ version: v118, userValues: base, nowMs: t0 });
    const replaced = runHelm({
      argv: ['helm', 'upgrade', 'cilium', 'cilium/cilium', '-n', 'kube-system', '--set', 'routingMode=tunnel'],
      release,
      version: v118,
      nowMs: t0,
    });
    expect(replaced.release!.userValues).toEqual({ routingMode: 'tunnel' });
    const reused = runHelm({
      argv: ['helm', 'upgrade', 'cilium', 'cilium/cilium', '-n', 'kube-system'],
      release,
      version: v118,
      nowMs: t0,
    });
    expect(reused.release!.userValues).toEqual(base);
    const files: Record<string, string> = {
      '/a.yaml': 'routingMode: tunnel\nl2announcements:\n  enabled: true\n',
      '/b.yaml': 'l2announcements:\n  leaseDuration: 3s\n',
    };
    const f = runHelm({
      argv: ['helm', 'upgrade', 'cilium', 'cilium/cilium', '-n', 'kube-system', '--reuse-values', '-f', '/a.yaml', '--values=/b.yaml'],
      release,
      version: v118,
      nowMs: t0,
      readFile: (p) => files[p] ?? null,
    });
    expect(f.release!.userValues).toMatchObject({
      routingMode: 'tunnel',
      l2announcements: { enabled: true, leaseDuration: '3s' },
      kubeProxyReplacement: true,
    });
  });

  test('host routing is Legacy without BPF masquerade or without kube-proxy replacement (cilium-behaviour.md 4.1)', () => {
    expect(agentRouting({ 'kube-proxy-replacement': 'true', 'enable-bpf-masquerade': 'false', 'routing-mode': 'native' })).toMatchObject({
      host: 'Legacy',
      network: 'Native',
      masquerade: 'IPTables',
    });
    expect(agentRouting({ 'kube-proxy-replacement': 'false', 'enable-bpf-masquerade': 'true' })).toMatchObject({
      host: 'Legacy',
      network: 'Tunnel',
    });
  });
});

describe('chart objects', () => {
  test('the ingress controller brings IngressClass cilium and the shared LoadBalancer Service kube-system/cilium-ingress (80, 443)', () => {
    expect(chartIngressObjects(base)).toEqual([]);
    const objs = chartIngressObjects({ ...base, ingressController: { enabled: true, loadbalancerMode: 'dedicated' } });
    expect(objs.map((o) => `${String(o.kind)}/${String((o.metadata as { name: string }).name)}`)).toEqual([
      'IngressClass/cilium',
      'Service/cilium-ingress',
    ]);
    expect(objs[1]).toMatchObject({
      metadata: { namespace: 'kube-system', labels: { 'cilium.io/ingress': 'true' } },
      spec: { type: 'LoadBalancer', ports: [{ port: 80 }, { port: 443 }] },
    });
  });
});
