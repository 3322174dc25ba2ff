import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  checkSettings,
  conflicts,
  convergeTarget,
  diffSettings,
  foldLater,
  normalizeSetting,
  planRun,
  PlanError,
  runningLookup,
  settingsLookup,
  type PlannedSuite,
} from '../../../helpers/cilium/needs.ts';

function baseConfig(): Record<string, string> {
  const doc = JSON.parse(readFileSync(new URL('../../fixtures/kube/cilium-config-base.json', import.meta.url), 'utf8')) as Record<
    string,
    string
  >;
  delete doc._comment;
  return doc;
}

describe('normalizeSetting', () => {
  test('bool settings compare "true", "True" and true alike', () => {
    expect(normalizeSetting('autoDirectNodeRoutes', 'true')).toBe(true);
    expect(normalizeSetting('autoDirectNodeRoutes', 'True')).toBe(true);
    expect(normalizeSetting('autoDirectNodeRoutes', false)).toBe(false);
    expect(normalizeSetting('kubeProxyReplacement', ' false ')).toBe(false);
  });

  test('string settings are trimmed strings; numbers become strings', () => {
    expect(normalizeSetting('routingMode', ' tunnel ')).toBe('tunnel');
    expect(normalizeSetting('k8sClientRateLimit.qps', 50)).toBe('50');
    expect(normalizeSetting('routingMode', undefined)).toBeUndefined();
  });
});

describe('runningLookup over cilium-config (cilium-behaviour.md 4, 4.2)', () => {
  const running = runningLookup({
    config: baseConfig(),
    helmValues: { loadBalancer: { l7: { backend: 'envoy' } }, hubble: { relay: { enabled: true } } },
  });

  test('reads mapped keys from the ConfigMap', () => {
    expect(running('routingMode')).toEqual({ value: 'native', via: 'cilium-config routing-mode' });
    expect(running('autoDirectNodeRoutes').value).toBe(true);
    expect(running('ipv4NativeRoutingCIDR').value).toBe('172.20.0.0/16');
  });

  test('tunnel-protocol is present in native mode and read as it is; it does not make the mode tunnel', () => {
    expect(running('tunnelProtocol').value).toBe('vxlan');
    expect(running('routingMode').value).toBe('native');
  });

  test('enable-l2-announcements absent means disabled; absent lease timings mean the agent defaults', () => {
    expect(running('l2announcements.enabled')).toEqual({ value: false, via: 'cilium-config enable-l2-announcements (absent)' });
    expect(running('l2announcements.leaseDuration').value).toBe('15s');
    expect(running('l2announcements.leaseRenewDeadline').value).toBe('5s');
    expect(running('l2announcements.leaseRetryPeriod').value).toBe('2s');
  });

  test('an absent key without a documented meaning is unknown', () => {
    expect(running('ingressController.loadbalancerMode').value).toBeUndefined();
  });

  test('unmapped settings are read from the user-supplied helm values', () => {
    expect(running('loadBalancer.l7.backend')).toEqual({ value: 'envoy', via: 'helm user-supplied values' });
    expect(running('hubble.relay.enabled').value).toBe(true);
    expect(running('hubble.ui.enabled').value).toBeUndefined();
    expect(runningLookup({ config: {}, helmValues: null })('loadBalancer.l7.backend')).toEqual({
      value: undefined,
      via: 'helm values (not read)',
    });
  });
});

describe('diffSettings', () => {
  const base = runningLookup({ config: baseConfig(), helmValues: {} });

  test('nothing to change when the running config already has the wanted values', () => {
    expect(
      diffSettings(
        { routingMode: 'native', autoDirectNodeRoutes: true, ipv4NativeRoutingCIDR: '172.20.0.0/16', tunnelProtocol: 'vxlan' },
        base,
      ),
    ).toEqual([]);
  });

  test('the VXLAN switch of seed 002 on the base lab', () => {
    expect(diffSettings({ routingMode: 'tunnel', tunnelProtocol: 'vxlan', autoDirectNodeRoutes: false }, base)).toEqual([
      { key: 'routingMode', from: 'native', to: 'tunnel', via: 'cilium-config routing-mode' },
      { key: 'autoDirectNodeRoutes', from: true, to: false, via: 'cilium-config auto-direct-node-routes' },
    ]);
  });

  test('enabling L2 announcements: the key is absent, so it is read as false', () => {
    expect(diffSettings({ 'l2announcements.enabled': true }, base)).toEqual([
      { key: 'l2announcements.enabled', from: false, to: true, via: 'cilium-config enable-l2-announcements (absent)' },
    ]);
  });

  test('after the seed 002 upgrade (`cilium config view`: enable-l2-announcements true) nothing is left to do', () => {
    const after = runningLookup({
      config: { ...baseConfig(), 'enable-l2-announcements': 'true', 'enable-l2-neigh-discovery': 'true' },
      helmValues: {},
    });
    expect(diffSettings({ 'l2announcements.enabled': true, kubeProxyReplacement: true }, after)).toEqual([]);
  });

  test('an unknown running value always differs (the upgrade sets it explicitly)', () => {
    expect(diffSettings({ 'ingressController.loadbalancerMode': 'shared' }, base)).toEqual([
      { key: 'ingressController.loadbalancerMode', from: null, to: 'shared', via: 'cilium-config ingress-default-lb-mode (absent)' },
    ]);
  });
});

describe('checkSettings', () => {
  const base = runningLookup({ config: baseConfig(), helmValues: {} });

  test("the suites' settings on the base lab are consistent", () => {
    expect(
      checkSettings(
        { routingMode: 'tunnel', autoDirectNodeRoutes: false, 'l2announcements.enabled': true, 'ingressController.enabled': true },
        base,
      ),
    ).toEqual({ implied: [], problems: [] });
  });

  test('native routing without ipv4NativeRoutingCIDR is refused before helm fails to render', () => {
    const none = settingsLookup({ routingMode: 'tunnel' });
    expect(checkSettings({ routingMode: 'native' }, none).problems).toEqual([expect.stringMatching(/needs ipv4NativeRoutingCIDR/)]);
  });

  test('L2 announcements and the ingress controller without kube-proxy replacement are refused', () => {
    const r = checkSettings({ kubeProxyReplacement: false, 'l2announcements.enabled': true, 'ingressController.enabled': true }, base);
    expect(r.problems).toHaveLength(2);
    expect(
      checkSettings({ kubeProxyReplacement: false, 'ingressController.enabled': true, 'nodePort.enabled': true }, base).problems,
    ).toEqual([]);
  });

  test('turning auto-direct-node-routes off also turns direct-routing-skip-unreachable off when it is on', () => {
    const withSkip = runningLookup({ config: { ...baseConfig(), 'direct-routing-skip-unreachable': 'true' }, helmValues: {} });
    expect(checkSettings({ autoDirectNodeRoutes: false }, withSkip).implied).toEqual([
      { key: 'directRoutingSkipUnreachable', value: false, reason: expect.stringMatching(/autoDirectNodeRoutes=false/) },
    ]);
    expect(checkSettings({ autoDirectNodeRoutes: false }, base).implied).toEqual([]);
  });
});

describe('foldLater', () => {
  test('folds keys later suites need, first value wins, conflicting keys are blocked for good', () => {
    const r = foldLater({ x: 1 }, [
      { file: 'b', cilium: { x: 2, y: 'a' } },
      { file: 'c', cilium: { y: 'a', z: true } },
      { file: 'd', cilium: { y: 'b', x: 1 } },
    ]);
    expect(r.merged).toEqual({ x: 1, y: 'a', z: true });
    expect(r.folded).toEqual([
      { key: 'y', value: 'a', for: ['b', 'c'] },
      { key: 'z', value: true, for: ['c'] },
    ]);
  });

  test('a key a suite in between needs is kept at its value, so a later different value is not folded', () => {
    const r = foldLater({ a: 1 }, [
      { file: 'mid', cilium: { mode: 'native' } },
      { file: 'late', cilium: { mode: 'tunnel' } },
    ]);
    expect(r.merged).toEqual({ a: 1, mode: 'native' });
  });
});

describe('planRun', () => {
  const s = (file: string, cilium?: Record<string, string | boolean>): PlannedSuite => ({
    file,
    title: file,
    needs: cilium ? { cilium } : {},
  });

  test('no needs, no upgrade', () => {
    expect(planRun([s('a'), s('b')], {}).helmUpgrades).toBe(0);
  });

  test('a suite run alone converges only to its own needs', () => {
    const plan = planRun([s('60', { routingMode: 'tunnel', 'ingressController.enabled': true })], {
      routingMode: 'native',
      ipv4NativeRoutingCIDR: '172.20.0.0/16',
      kubeProxyReplacement: true,
    });
    expect(plan.helmUpgrades).toBe(1);
    expect(plan.steps[0]?.upgrade?.changes.map((c) => c.key)).toEqual(['routingMode', 'ingressController.enabled']);
    expect(plan.steps[0]?.upgrade?.folded).toEqual([]);
  });

  test('conflicting needs cost one upgrade each; compatible later needs ride along', () => {
    const plan = planRun([s('A', { x: '1' }), s('B', { x: '2' }), s('C', { y: '1' })], { x: '0', y: '0' });
    expect(plan.helmUpgrades).toBe(2);
    expect(plan.steps.map((st) => st.upgrade?.number ?? null)).toEqual([1, 2, null]);
    expect(plan.steps[0]?.upgrade?.changes).toEqual([
      { key: 'x', from: '0', to: '1', via: 'planned state' },
      { key: 'y', from: '0', to: '1', via: 'planned state' },
    ]);
    expect(plan.steps[0]?.upgrade?.folded).toEqual([{ key: 'y', value: '1', for: ['C'] }]);
  });

  test('a needs-met suite triggers nothing even when later suites need changes', () => {
    const plan = planRun([s('A', { x: '0' }), s('B', { y: '1' })], { x: '0', y: '0' });
    expect(plan.steps.map((st) => st.upgrade?.number ?? null)).toEqual([null, 1]);
  });

  test('a plan that cannot render is an error naming the suite', () => {
    expect(() => planRun([s('10-native', { routingMode: 'native' })], { routingMode: 'tunnel' })).toThrow(PlanError);
    expect(() => planRun([s('10-native', { routingMode: 'native' })], { routingMode: 'tunnel' })).toThrow(
      /10-native: routingMode=native needs ipv4NativeRoutingCIDR/,
    );
  });
});

describe('convergeTarget', () => {
  test('reports the unmet needs and folds from the later suites of the selection', () => {
    const suites: PlannedSuite[] = [
      { file: '20', title: '', needs: { cilium: { routingMode: 'tunnel', autoDirectNodeRoutes: false } } },
      { file: '30', title: '', needs: { cilium: { routingMode: 'tunnel', 'l2announcements.enabled': true } } },
    ];
    const t = convergeTarget(suites, 0, runningLookup({ config: baseConfig(), helmValues: {} }));
    expect(t.unmet.map((c) => c.key)).toEqual(['routingMode', 'autoDirectNodeRoutes']);
    expect(t.wanted).toEqual({ routingMode: 'tunnel', autoDirectNodeRoutes: false, 'l2announcements.enabled': true });
    expect(convergeTarget(suites, 1, settingsLookup({ routingMode: 'tunnel', 'l2announcements.enabled': true })).wanted).toBeNull();
    expect(() => convergeTarget(suites, 2, settingsLookup({}))).toThrow(/no suite at position 2/);
  });

  test('conflicts lists keys set to different values in both', () => {
    expect(conflicts({ a: true, b: 'x', c: 1 }, { a: 'true', b: 'y', d: 2 })).toEqual(['b']);
  });
});

describe('needs off (issue 17): a suite that declares encryption off keeps WireGuard out of every upgrade before it', () => {
  const s = (file: string, cilium?: Record<string, string | boolean>): PlannedSuite => ({
    file,
    title: file,
    needs: cilium ? { cilium } : {},
  });
  const base = { routingMode: 'native', ipv4NativeRoutingCIDR: '198.19.0.0/17', kubeProxyReplacement: true, 'encryption.enabled': false };
  const tunnel = { routingMode: 'tunnel', autoDirectNodeRoutes: false };
  const wireguard = { ...tunnel, 'encryption.enabled': true, 'encryption.type': 'wireguard' };

  test('counter-example: when 20-vxlan does not say encryption must be off, the upgrade before it turns WireGuard on', () => {
    // The shape of the plan before this rule: 20-vxlan declared only tunnel, 80-wireguard came later.
    const plan = planRun([s('10-native', { routingMode: 'native' }), s('20-vxlan', tunnel), s('80-wireguard', wireguard)], base);
    const first = plan.steps.find((st) => st.upgrade?.number === 1);
    expect(first?.file).toBe('20-vxlan');
    expect(first?.upgrade?.changes).toContainEqual({ key: 'encryption.enabled', from: false, to: true, via: 'planned state' });
    expect(first?.upgrade?.folded.map((f) => f.key)).toContain('encryption.enabled');
    expect(plan.helmUpgrades).toBe(1); // cheap, and wrong: 20-vxlan would then see UDP 51871 instead of bare 8472
  });

  test('with encryption.enabled=false declared by 10 and 20, WireGuard waits for its own upgrade before 80', () => {
    const plan = planRun(
      [
        s('10-native', { routingMode: 'native', 'encryption.enabled': false }),
        s('20-vxlan', { ...tunnel, 'encryption.enabled': false }),
        s('30-lb', { ...tunnel, x: 'on' }),
        s('80-wireguard', wireguard),
        s('90-failover', { ...tunnel, x: 'on' }),
      ],
      base,
    );
    expect(plan.steps.map((st) => st.upgrade?.number ?? null)).toEqual([null, 1, null, 2, null]);
    const first = plan.steps[1]?.upgrade;
    expect(first?.changes.find((c) => c.key === 'encryption.enabled')).toBeUndefined();
    expect(plan.steps[3]?.upgrade?.changes).toEqual([{ key: 'encryption.enabled', from: false, to: true, via: 'planned state' }]);
  });

  test('an "off" need the running lab meets by the chart default costs nothing (helm values do not name it)', () => {
    const lookup = runningLookup({ config: {}, helmValues: { kubeProxyReplacement: true } });
    expect(lookup('encryption.enabled')).toEqual({ value: false, via: 'chart default (not in the helm user-supplied values)' });
    expect(diffSettings({ 'encryption.enabled': false }, lookup)).toEqual([]);
    expect(diffSettings({ 'encryption.enabled': true }, lookup)).toEqual([
      { key: 'encryption.enabled', from: false, to: true, via: 'chart default (not in the helm user-supplied values)' },
    ]);
    // Named by the user: the user's value, not the default.
    expect(runningLookup({ config: {}, helmValues: { encryption: { enabled: true } } })('encryption.enabled').value).toBe(true);
    // Not read at all: unknown, never met.
    expect(runningLookup({ config: {}, helmValues: null })('encryption.enabled').value).toBeUndefined();
  });
});
