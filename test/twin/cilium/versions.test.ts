import { describe, expect, test } from 'vitest';
import { ciliumVersionFromImage } from '../../../helpers/cilium/cilium.ts';
import { loadVersions } from '../../../helpers/lab/versions.ts';
import { serves, twinVersion } from './versions.ts';

describe('twin Cilium versions', () => {
  test("every version of the lab's nightly matrix can be answered as, with the image shape the chart sets", () => {
    for (const version of loadVersions().ciliumMatrix) {
      const v = twinVersion(version);
      expect(v.agentImage).toMatch(new RegExp(`^quay\\.io/cilium/cilium:v${version.replace(/\./g, '\\.')}@sha256:[0-9a-f]{64}$`));
      expect(ciliumVersionFromImage(v.agentImage)).toBe(version);
      expect(v.chartVersion).toBe(version);
    }
  });

  test('pool API versions: 1.17 serves only v2alpha1; 1.18 stores v2 and still serves v2alpha1; the L2 policy is v2alpha1 in both', () => {
    const v17 = twinVersion('1.17.18');
    const v18 = twinVersion('1.18.14');
    expect(serves(v17, 'CiliumLoadBalancerIPPool', 'cilium.io/v2')).toBe(false);
    expect(serves(v17, 'CiliumLoadBalancerIPPool', 'cilium.io/v2alpha1')).toBe(true);
    expect(v18.crdVersions.CiliumLoadBalancerIPPool).toEqual({ served: ['v2', 'v2alpha1'], storage: 'v2' });
    expect(serves(v18, 'CiliumL2AnnouncementPolicy', 'cilium.io/v2')).toBe(false);
    expect(serves(v17, 'CiliumL2AnnouncementPolicy', 'cilium.io/v2alpha1')).toBe(true);
  });

  test('the recorded differences: helm render check on 1.18 only; pool-count lag on 1.18.0/1.18.1 only; other versions refused', () => {
    expect(twinVersion('1.17.18').helm.refusesNativeWithoutCidr).toBe(false);
    expect(twinVersion('1.18.0').helm.refusesNativeWithoutCidr).toBe(true);
    expect(twinVersion('1.18.1').lbipam.poolConditionsLag).toBe(true);
    expect(twinVersion('1.18.2').lbipam.poolConditionsLag).toBe(false);
    expect(twinVersion('1.17.4').lbipam.poolConditionsLag).toBe(false);
    expect(() => twinVersion('1.19.0')).toThrow(/1\.17\.x or 1\.18\.x/);
    expect(twinVersion('1.18.14').agentImage).not.toBe(twinVersion('1.17.18').agentImage);
  });
});
