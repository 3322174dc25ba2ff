import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { CiliumStatusParseError, parseCiliumDbgStatus } from '../../../helpers/parse/index.ts';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/kube/cilium-status/${name}`, import.meta.url), 'utf8');

describe('parseCiliumDbgStatus: text output', () => {
  test('reads the tunnel example of cilium-behaviour.md 4.1 amid the other status lines', () => {
    expect(parseCiliumDbgStatus(fixture('text-tunnel.txt'))).toEqual({
      kubeProxyReplacement: true,
      routing: { network: 'Tunnel', tunnelProtocol: 'vxlan', host: 'Legacy' },
      state: null,
    });
  });

  test('reads native routing with BPF host routing; no tunnel protocol is reported for Native', () => {
    expect(parseCiliumDbgStatus(fixture('text-native-bpf.txt'))).toEqual({
      kubeProxyReplacement: true,
      routing: { network: 'Native', tunnelProtocol: null, host: 'BPF' },
      state: null,
    });
  });

  test('KubeProxyReplacement False and geneve', () => {
    const text = 'KubeProxyReplacement:    False\nRouting:                 Network: Tunnel [geneve]   Host: Legacy\n';
    expect(parseCiliumDbgStatus(text)).toMatchObject({
      kubeProxyReplacement: false,
      routing: { network: 'Tunnel', tunnelProtocol: 'geneve', host: 'Legacy' },
    });
  });

  test('ANSI colour codes are ignored', () => {
    const text =
      '\u001b[32mKubeProxyReplacement:\u001b[0m    True   [eth1 (Direct Routing)]\nRouting:   Network: \u001b[1mNative\u001b[0m   Host: BPF';
    expect(parseCiliumDbgStatus(text).routing.network).toBe('Native');
  });

  test("the seed's abbreviated summary (Routing without Network:/Host:) is refused, not guessed", () => {
    expect(() => parseCiliumDbgStatus(fixture('seed-004-summary.txt'))).toThrow(/unrecognised Routing line.*Tunnel \[vxlan\]/);
  });

  test('an old KPR mode (Strict) is not mapped to a boolean', () => {
    expect(() => parseCiliumDbgStatus('KubeProxyReplacement:   Strict   [eth0]\nRouting: Network: Native   Host: BPF')).toThrow(
      /expected True or False/,
    );
  });

  test('Tunnel without a protocol is an error', () => {
    expect(() => parseCiliumDbgStatus('KubeProxyReplacement: True\nRouting: Network: Tunnel   Host: BPF')).toThrow(/names no protocol/);
  });

  test.each([
    ['empty', '', /empty output/],
    ['whitespace', '  \n\n', /empty output/],
    ['garbage', 'Error: cannot connect to agent socket /var/run/cilium/cilium.sock', /no "KubeProxyReplacement:" line/],
    ['missing Routing', 'KubeProxyReplacement:    True   [eth0]\n', /no "Routing:" line/],
  ])('bad input (%s) is a clear error', (_name, text, message) => {
    expect(() => parseCiliumDbgStatus(text)).toThrow(CiliumStatusParseError);
    expect(() => parseCiliumDbgStatus(text)).toThrow(message);
  });
});

describe('parseCiliumDbgStatus: -o json', () => {
  test('reads routing, KPR mode and the agent state from a StatusResponse', () => {
    expect(parseCiliumDbgStatus(fixture('status-native.json'))).toEqual({
      kubeProxyReplacement: true,
      routing: { network: 'Native', tunnelProtocol: null, host: 'BPF' },
      state: 'Ok',
    });
  });

  test('tunnel mode carries the tunnel protocol', () => {
    const doc = JSON.parse(fixture('status-native.json'));
    doc.routing['inter-host-routing-mode'] = 'Tunnel';
    doc.routing['intra-host-routing-mode'] = 'Legacy';
    doc['kube-proxy-replacement'].mode = 'False';
    doc.cilium.state = 'Warning';
    expect(parseCiliumDbgStatus(JSON.stringify(doc))).toEqual({
      kubeProxyReplacement: false,
      routing: { network: 'Tunnel', tunnelProtocol: 'vxlan', host: 'Legacy' },
      state: 'Warning',
    });
  });

  test('truncated JSON is an error, not a partial result', () => {
    const text = fixture('status-native.json');
    expect(() => parseCiliumDbgStatus(text.slice(0, Math.floor(text.length / 2)))).toThrow(/does not parse \(truncated\?\)/);
  });

  test.each([
    ['no routing', (d: any) => delete d.routing, /no "routing" object/],
    ['unknown inter-host mode', (d: any) => (d.routing['inter-host-routing-mode'] = 'Overlay'), /"Overlay", expected "Tunnel" or "Native"/],
    ['no intra-host mode', (d: any) => delete d.routing['intra-host-routing-mode'], /intra-host-routing-mode/],
    [
      'tunnel without protocol',
      (d: any) => {
        d.routing['inter-host-routing-mode'] = 'Tunnel';
        delete d.routing['tunnel-protocol'];
      },
      /tunnel-protocol" is missing/,
    ],
    ['no KPR object', (d: any) => delete d['kube-proxy-replacement'], /no "kube-proxy-replacement" object/],
    ['KPR mode Disabled', (d: any) => (d['kube-proxy-replacement'].mode = 'Disabled'), /expected "True" or "False"/],
    ['unknown agent state', (d: any) => (d.cilium.state = 'Fine'), /cilium.state is "Fine"/],
  ])('bad JSON (%s) is a clear error', (_name, mutate, message) => {
    const doc = JSON.parse(fixture('status-native.json'));
    mutate(doc);
    expect(() => parseCiliumDbgStatus(JSON.stringify(doc))).toThrow(message);
  });

  test('a JSON array is not a status', () => {
    expect(() => parseCiliumDbgStatus('[]')).toThrow(/no "KubeProxyReplacement:" line/);
    expect(() => parseCiliumDbgStatus('{"a":1} trailing')).toThrow(/does not parse/);
  });
});
