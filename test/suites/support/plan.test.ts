import { describe, expect, test } from 'vitest';
import { checkSettings, planRun, settingsLookup } from '../../../helpers/cilium/needs.ts';
import { loadTopology } from '../../../helpers/lab/topology.ts';
import { baseCilium, needsOf, selectSuites, suiteFileName, SUITES } from '../../../suites/support/plan.ts';

describe('suites/support/plan.ts', () => {
  test('the suite files of the contract and of issue 17 (70, 75, 76, 80), in run (file name) order', () => {
    const files = SUITES.map((s) => s.file);
    expect(files).toEqual([
      '00-lab-health.test.ts',
      '10-native-routing.test.ts',
      '20-vxlan.test.ts',
      '30-lb-ipam.test.ts',
      '40-lb-sharing.test.ts',
      '50-l2-announcements.test.ts',
      '60-ingress.test.ts',
      '70-kube-proxy-replacement.test.ts',
      '75-network-policy.test.ts',
      '76-l7-policy.test.ts',
      '80-wireguard.test.ts',
      '90-l2-failover.test.ts',
    ]);
    expect([...files].sort()).toEqual(files);
  });

  test('the needs the contract lists', () => {
    expect(needsOf('00-lab-health.test.ts').cilium).toBeUndefined();
    expect(needsOf('20-vxlan.test.ts').cilium).toEqual({
      routingMode: 'tunnel',
      tunnelProtocol: 'vxlan',
      autoDirectNodeRoutes: false,
      'encryption.enabled': false,
    });
    expect(needsOf('10-native-routing.test.ts').cilium).toMatchObject({ 'encryption.enabled': false });
    expect(needsOf('80-wireguard.test.ts').cilium).toMatchObject({ 'encryption.enabled': true, 'encryption.type': 'wireguard' });
    for (const f of ['30-lb-ipam.test.ts', '40-lb-sharing.test.ts', '50-l2-announcements.test.ts', '90-l2-failover.test.ts']) {
      expect(needsOf(f).cilium).toMatchObject({ routingMode: 'tunnel', tunnelProtocol: 'vxlan', 'l2announcements.enabled': true });
    }
    expect(needsOf('60-ingress.test.ts').cilium).toMatchObject({
      'ingressController.enabled': true,
      'ingressController.loadbalancerMode': 'shared',
      'loadBalancer.l7.backend': 'envoy',
    });
    expect(SUITES.filter((s) => s.needs.destructive).map((s) => s.file)).toEqual(['90-l2-failover.test.ts']);
  });

  test("native routing's CIDR is the topology's pod CIDR: set by the base state, never by a suite's fixed value", () => {
    const t = loadTopology();
    expect(needsOf('10-native-routing.test.ts').cilium?.ipv4NativeRoutingCIDR).toBeUndefined();
    expect(baseCilium(t).ipv4NativeRoutingCIDR).toBe(t.podCidr);
    expect(baseCilium({ podCidr: '198.19.0.0/17' }).ipv4NativeRoutingCIDR).toBe('198.19.0.0/17');
  });

  test('every suite can be converged to from the base state on its own', () => {
    const base = settingsLookup(baseCilium(loadTopology()));
    for (const s of SUITES) expect(checkSettings(s.needs.cilium ?? {}, base).problems, s.file).toEqual([]);
  });

  test('a full run from the base state makes two helm upgrades: before 20-vxlan, and WireGuard before 80-wireguard', () => {
    const plan = planRun(SUITES, baseCilium(loadTopology()));
    expect(plan.helmUpgrades).toBe(2);
    expect(plan.steps.filter((s) => s.upgrade).map((s) => s.file)).toEqual(['20-vxlan.test.ts', '80-wireguard.test.ts']);
    // WireGuard is never on while the suites that read the clear wire run.
    const first = plan.steps.find((s) => s.file === '20-vxlan.test.ts')?.upgrade;
    expect(first?.changes.find((c) => c.key === 'encryption.enabled')).toBeUndefined();
    expect(plan.steps.find((s) => s.file === '80-wireguard.test.ts')?.upgrade?.changes.map((c) => c.key)).toEqual(['encryption.enabled']);
  });

  test('a run that starts in tunnel mode needs two (native, then back to tunnel)', () => {
    const plan = planRun(SUITES, { ...baseCilium(loadTopology()), routingMode: 'tunnel', autoDirectNodeRoutes: false });
    expect(plan.steps.filter((s) => s.upgrade).map((s) => s.file)).toEqual([
      '10-native-routing.test.ts',
      '20-vxlan.test.ts',
      '80-wireguard.test.ts',
    ]);
  });

  test('suite names from paths and file: URLs; selection keeps plan order; unknown files are errors for needsOf', () => {
    expect(suiteFileName('file:///work/repo/suites/30-lb-ipam.test.ts')).toBe('30-lb-ipam.test.ts');
    expect(suiteFileName('/work/repo/suites/30-lb-ipam.test.ts')).toBe('30-lb-ipam.test.ts');
    expect(
      selectSuites(['/x/suites/60-ingress.test.ts', '/x/suites/30-lb-ipam.test.ts', '/x/suites/other.test.ts']).map((s) => s.file),
    ).toEqual(['30-lb-ipam.test.ts', '60-ingress.test.ts']);
    expect(() => needsOf('99-nope.test.ts')).toThrow(/not in suites\/support\/plan\.ts SUITES/);
  });
});
