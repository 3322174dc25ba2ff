import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  agentMismatches,
  ciliumVersionFromImage,
  helmSetArgs,
  helmUpgradeCommand,
  parseHelmList,
  parseHelmValues,
  shellQuote,
} from '../../../helpers/cilium/cilium.ts';
import { runningLookup } from '../../../helpers/cilium/needs.ts';
import { parseCiliumDbgStatus } from '../../../helpers/parse/index.ts';

const fixture = (p: string): string => readFileSync(new URL(`../../fixtures/kube/${p}`, import.meta.url), 'utf8');

/** What a POSIX shell makes of a command line: the argv, one per line, via printf. */
function argvOf(commandLine: string): string[] {
  const out = execFileSync('sh', ['-c', `printf '%s\\n' ${commandLine.replace(/^helm /, '')}`], { encoding: 'utf8' });
  return out.split('\n').slice(0, -1);
}

describe('helmUpgradeCommand', () => {
  test("the VXLAN switch of seed 002, with the running chart version and the control plane's admin kubeconfig", () => {
    const cmd = helmUpgradeCommand({
      version: '1.18.0',
      set: { routingMode: 'tunnel', tunnelProtocol: 'vxlan', autoDirectNodeRoutes: false },
    });
    expect(cmd).toBe(
      'helm upgrade cilium cilium/cilium --namespace kube-system --kubeconfig /etc/kubernetes/admin.conf --version 1.18.0 --reuse-values --set-string routingMode=tunnel --set-string tunnelProtocol=vxlan --set autoDirectNodeRoutes=false',
    );
  });

  test('values are quoted for the shell and escaped for helm --set, so they arrive as one literal value', () => {
    const set = {
      'hubble.metrics.enabled': '{dns,drop}',
      'extraConfig.note': "it's a $HOME `x` \\ test",
      ipv4NativeRoutingCIDR: '172.20.0.0/16',
    };
    const argv = argvOf(helmUpgradeCommand({ version: '1.17.6', set }));
    expect(argv.slice(-6)).toEqual([
      '--set-string',
      'hubble.metrics.enabled=\\{dns\\,drop}',
      '--set-string',
      "extraConfig.note=it's a $HOME `x` \\\\ test",
      '--set-string',
      'ipv4NativeRoutingCIDR=172.20.0.0/16',
    ]);
  });

  test('booleans (also "true"/"false" strings) and numbers are typed --set; other strings are --set-string', () => {
    expect(helmSetArgs('l2announcements.enabled', true)).toEqual(['--set', 'l2announcements.enabled=true']);
    expect(helmSetArgs('kubeProxyReplacement', 'true')).toEqual(['--set', 'kubeProxyReplacement=true']);
    expect(helmSetArgs('k8sClientRateLimit.qps', 50)).toEqual(['--set', 'k8sClientRateLimit.qps=50']);
    expect(helmSetArgs('l2announcements.leaseDuration', '3s')).toEqual(['--set-string', 'l2announcements.leaseDuration=3s']);
  });

  test('refuses what it cannot pass safely', () => {
    expect(() => helmSetArgs('a[0].b', 'x')).toThrow(/not a helm value path/);
    expect(() => helmSetArgs('a=b', 'x')).toThrow(/not a helm value path/);
    expect(() => helmSetArgs('x', Number.NaN)).toThrow(/not a finite number/);
    expect(() => helmUpgradeCommand({ version: 'latest', set: { a: 1 } })).toThrow(/not a chart version/);
    expect(() => helmUpgradeCommand({ version: '1.18.1', set: {} })).toThrow(/nothing to set/);
  });

  test('shellQuote leaves plain words alone and single-quotes the rest', () => {
    expect(shellQuote('cilium/cilium')).toBe('cilium/cilium');
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("x'y")).toBe("'x'\\''y'");
  });
});

describe('helm outputs', () => {
  test('helm list -o json: the chart version of the release', () => {
    expect(parseHelmList(fixture('helm/list.json'))).toEqual({
      name: 'cilium',
      chartVersion: '1.18.0',
      appVersion: '1.18.0',
      status: 'deployed',
    });
    expect(parseHelmList('[{"name":"cilium","chart":"cilium-1.19.0-pre.1","status":"deployed"}]').chartVersion).toBe('1.19.0-pre.1');
  });

  test.each([
    ['empty', '', /not JSON/],
    ['garbage', 'Error: Kubernetes cluster unreachable', /not JSON/],
    ['an object', '{}', /not a JSON array/],
    ['no release', '[]', /no release "cilium"/],
    ['a chart without version', '[{"name":"cilium","chart":"cilium"}]', /cannot read a chart version from "cilium"/],
    ['truncated', fixture('helm/list.json').slice(0, 40), /not JSON/],
  ])('helm list: %s is an error', (_n, text, message) => {
    expect(() => parseHelmList(text)).toThrow(message);
  });

  test('helm get values -o json: the seed 001 values, and null for none', () => {
    const values = parseHelmValues(fixture('helm/get-values-seed-001.json'));
    expect(values.routingMode).toBe('native');
    expect(runningLookup({ config: {}, helmValues: values })('endpointRoutes.enabled').value).toBe(true);
    expect(parseHelmValues('null\n')).toEqual({});
    expect(() => parseHelmValues('[1]')).toThrow(/not a JSON object/);
    expect(() => parseHelmValues('USER-SUPPLIED VALUES:\nfoo: 1')).toThrow(/not JSON/);
  });
});

describe('ciliumVersionFromImage', () => {
  test.each([
    ['quay.io/cilium/cilium:v1.18.1@sha256:5e9d4f1c', '1.18.1'],
    ['quay.io/cilium/cilium:v1.17.6', '1.17.6'],
    ['localhost:5000/cilium/cilium:v1.18.0-rc.1', '1.18.0-rc.1'],
    ['quay.io/cilium/cilium@sha256:5e9d4f1c', null],
    ['quay.io/cilium/cilium:latest', null],
    ['localhost:5000/cilium/cilium', null],
  ])('%s -> %s', (image, version) => {
    expect(ciliumVersionFromImage(image)).toBe(version);
  });
});

describe('agentMismatches', () => {
  const tunnel = parseCiliumDbgStatus(
    'KubeProxyReplacement:    True   [eth1 (Direct Routing)]\nRouting:   Network: Tunnel [vxlan]   Host: BPF',
  );
  test('agrees with the settings it is asked about', () => {
    expect(
      agentMismatches(
        { routingMode: 'tunnel', tunnelProtocol: 'vxlan', kubeProxyReplacement: true, 'l2announcements.enabled': true },
        tunnel,
      ),
    ).toEqual([]);
    expect(agentMismatches({}, tunnel)).toEqual([]);
  });
  test('names each contradiction', () => {
    expect(agentMismatches({ routingMode: 'native', kubeProxyReplacement: false }, tunnel)).toEqual([
      'routing Tunnel, wanted Native',
      'KubeProxyReplacement True, wanted False',
    ]);
    expect(agentMismatches({ routingMode: 'tunnel', tunnelProtocol: 'geneve' }, tunnel)).toEqual(['tunnel protocol vxlan, wanted geneve']);
  });
  test('a tunnel protocol is not checked in native mode (the agent prints none there)', () => {
    const native = parseCiliumDbgStatus('KubeProxyReplacement: True\nRouting: Network: Native   Host: BPF');
    expect(agentMismatches({ routingMode: 'native', tunnelProtocol: 'vxlan' }, native)).toEqual([]);
  });
});
