import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { agentMismatches } from '../../../helpers/cilium/cilium.ts';
import { parseCiliumDbgStatus } from '../../../helpers/parse/cilium-status.ts';
import { parseHubbleFlows } from '../../../helpers/parse/hubble.ts';
import { parseL2AnnounceTable } from '../../../helpers/parse/l2announce.ts';
import { judgeOverlayFlow } from '../../../helpers/judge/hubble.ts';
import {
  answerAgentExec,
  renderHubbleCompact,
  renderHubbleJson,
  renderL2AnnounceTable,
  tabwrite,
  type AgentModel,
  type HubbleFlowModel,
} from './agent-outputs.ts';
import { agentRouting } from './helm.ts';
import { twinVersion } from './versions.ts';

const fixture = (p: string): string => readFileSync(new URL(`../../fixtures/${p}`, import.meta.url), 'utf8');

// seed 002 line 226, in the model's terms
const seedFlow: HubbleFlowModel = {
  timeMs: Date.parse('2025-08-09T14:06:08.749Z'),
  verdict: 'FORWARDED',
  srcIp: '172.20.0.204',
  dstIp: '172.20.2.6',
  protocol: 'TCP',
  srcPort: 40372,
  dstPort: 80,
  tcpFlags: ['ACK', 'FIN'],
  source: { namespace: 'default', pod: 'curl-pod', identity: 14553, labels: ['k8s:app=curl', 'k8s:io.kubernetes.pod.namespace=default'] },
  destination: {
    namespace: 'default',
    pod: 'webpod-697b545f57-lq7nw',
    identity: 8246,
    labels: ['k8s:app=webpod', 'k8s:io.kubernetes.pod.namespace=default'],
    workload: { name: 'webpod', kind: 'Deployment' },
  },
  node: 'k8s-ctr',
  observationPoint: 'to-overlay',
  isReply: false,
  trafficDirection: 'EGRESS',
};

function agent(config: Record<string, string>, o: Partial<AgentModel> = {}): AgentModel {
  return {
    version: twinVersion('1.18.14'),
    node: 'k8s-w1',
    kubernetesVersion: '1.33.13',
    routing: agentRouting(config),
    devices: [
      { name: 'lo', index: 1, mac: '', mtu: 65536, ips: ['127.0.0.1'], selected: false },
      { name: 'eth1', index: 3, mac: '08:00:27:85:32:ca', mtu: 1500, ips: ['192.168.10.101'], selected: true },
    ],
    directRoutingDevice: 'eth1',
    podCidr: '172.20.1.0/24',
    ciliumHostIp: '172.20.1.61',
    allocatedIPs: 6,
    hubble: true,
    state: 'Ok',
    clusterHealth: { reachable: 3, total: 3 },
    now: '2026-12-04T12:00:00.000Z',
    l2Rows: [],
    flows: [],
    ...o,
  };
}

const tunnel = { 'routing-mode': 'tunnel', 'tunnel-protocol': 'vxlan', 'kube-proxy-replacement': 'true', 'enable-bpf-masquerade': 'false' };
const native = { 'routing-mode': 'native', 'tunnel-protocol': 'vxlan', 'kube-proxy-replacement': 'true', 'enable-bpf-masquerade': 'true' };

describe('agent outputs', () => {
  test('cilium-dbg status (text and -o json) parse back into the rendered routing, KPR and state', () => {
    for (const [config, network, proto, host] of [
      [tunnel, 'Tunnel', 'vxlan', 'Legacy'],
      [native, 'Native', null, 'BPF'],
    ] as const) {
      const a = agent(config);
      const text = answerAgentExec(['cilium-dbg', 'status'], a);
      expect(text.code).toBe(0);
      expect(parseCiliumDbgStatus(text.stdout)).toEqual({
        kubeProxyReplacement: true,
        routing: { network, tunnelProtocol: proto, host },
        state: null,
      });
      const json = answerAgentExec(['cilium-dbg', 'status', '-o', 'json'], a);
      expect(parseCiliumDbgStatus(json.stdout)).toEqual({
        kubeProxyReplacement: true,
        routing: { network, tunnelProtocol: proto, host },
        state: 'Ok',
      });
      expect(
        agentMismatches({ routingMode: network.toLowerCase(), kubeProxyReplacement: true }, parseCiliumDbgStatus(json.stdout)),
      ).toEqual([]);
    }
    expect(
      parseCiliumDbgStatus(answerAgentExec(['cilium', 'status', '--output=json'], agent(tunnel, { state: 'Warning' })).stdout).state,
    ).toBe('Warning');
    expect(
      parseCiliumDbgStatus(answerAgentExec(['cilium-dbg', 'status'], agent({ ...tunnel, 'kube-proxy-replacement': 'false' })).stdout)
        .kubeProxyReplacement,
    ).toBe(false);
  });

  test("status text has the fixtures' shape: the same labels in the same column, the 4.1 lines verbatim in form", () => {
    const text = answerAgentExec(['cilium-dbg', 'status'], agent(tunnel)).stdout;
    const labels = (t: string): string[] =>
      t
        .split('\n')
        .filter((l) => /^[A-Za-z][A-Za-z0-9 ]*:\s/.test(l))
        .map((l) => l.slice(0, 25));
    const seen = labels(text);
    for (const l of labels(fixture('kube/cilium-status/text-tunnel.txt'))) expect(seen).toContain(l);
    expect(text).toContain('KubeProxyReplacement:    True   [eth1   192.168.10.101 (Direct Routing)]\n');
    expect(text).toContain('Routing:                 Network: Tunnel [vxlan]   Host: Legacy\n');
    expect(text).toContain('Cilium:                  Ok   1.18.14 (v1.18.14-');
    const json = JSON.parse(answerAgentExec(['cilium-dbg', 'status', '-o', 'json'], agent(native)).stdout) as Record<string, unknown>;
    const shape = JSON.parse(fixture('kube/cilium-status/status-native.json')) as Record<string, unknown>;
    for (const k of Object.keys(shape)) expect(Object.keys(json)).toContain(k);
  });

  test("db/show l2-announce: seed 002's table byte for byte, the JSON object stream, and an empty table on a non-holder", () => {
    const rows = [{ ip: '192.168.10.241', iface: 'eth1', origins: ['default/webpod'] }];
    expect(renderL2AnnounceTable(rows, 'table')).toBe(fixture('seeds/002-l2/l2-announce-ctr.txt'));
    const holder = agent(tunnel, { l2Rows: rows });
    const json = answerAgentExec(['cilium-dbg', 'shell', '--', 'db/show', '--format=json', 'l2-announce'], holder);
    expect(parseL2AnnounceTable(json.stdout)).toEqual([{ ip: '192.168.10.241', iface: 'eth1' }]);
    expect(JSON.parse(json.stdout)).toEqual({
      IP: '192.168.10.241',
      NetworkInterface: 'eth1',
      Origins: [{ Name: 'webpod', Namespace: 'default' }],
    });
    const two = [...rows, { ip: '192.168.10.242', iface: 'eth1', origins: ['kube-system/cilium-ingress'] }];
    expect(parseL2AnnounceTable(renderL2AnnounceTable(two, 'json'))).toEqual([
      { ip: '192.168.10.241', iface: 'eth1' },
      { ip: '192.168.10.242', iface: 'eth1' },
    ]);
    expect(parseL2AnnounceTable(renderL2AnnounceTable(two, 'table'))).toHaveLength(2);
    const none = answerAgentExec(['cilium-dbg', 'shell', '--', 'db/show', '--format=json', 'l2-announce'], agent(tunnel));
    expect(none).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(parseL2AnnounceTable(none.stdout)).toEqual([]);
    expect(parseL2AnnounceTable(answerAgentExec(['cilium-dbg', 'shell', '--', 'db/show', 'l2-announce'], agent(tunnel)).stdout)).toEqual(
      [],
    );
  });

  test('db/show devices lists every device with Selected', () => {
    const out = answerAgentExec(['cilium-dbg', 'shell', '--', 'db/show', 'devices'], agent(tunnel)).stdout.split('\n');
    expect(out[0]).toMatch(/^Name\s+Index\s+Selected\s+Type\s+MTU\s+HWAddr\s+Flags\s+Addresses$/);
    expect(out[2]).toMatch(/^eth1\s+3\s+true\s+device\s+1500\s+08:00:27:85:32:ca\s+up\|broadcast\|multicast\|running\s+192\.168\.10\.101$/);
  });

  test("hubble observe -o json: the seed flow round-trips through parseHubbleFlows and satisfies the harness's overlay judge", () => {
    const line = renderHubbleJson(seedFlow);
    expect(JSON.parse(line)).toEqual(JSON.parse(fixture('seeds/002/hubble-flow-to-overlay.jsonl').split('\n')[0]!));
    const reply: HubbleFlowModel = {
      ...seedFlow,
      timeMs: seedFlow.timeMs + 1,
      srcIp: seedFlow.dstIp,
      dstIp: seedFlow.srcIp,
      srcPort: 80,
      dstPort: 40372,
      source: seedFlow.destination,
      destination: seedFlow.source,
      observationPoint: 'to-endpoint',
      isReply: true,
      trafficDirection: 'INGRESS',
    };
    const a = agent(tunnel, { flows: [reply, seedFlow] });
    const argv = ['hubble', 'observe', '--last', '1000', '--output', 'json', '--from-pod', 'default/curl-pod', '--to-ip', '172.20.2.6'];
    const out = answerAgentExec(argv, a);
    const parsed = parseHubbleFlows(out.stdout);
    expect(parsed.unparsed).toEqual([]);
    expect(parsed.flows).toHaveLength(1);
    expect(parsed.flows[0]).toMatchObject({
      verdict: 'FORWARDED',
      observationPoint: 'to-overlay',
      sourceIp: '172.20.0.204',
      destinationIp: '172.20.2.6',
      nodeName: 'k8s-ctr',
      isReply: false,
    });
    expect(judgeOverlayFlow(parsed.flows, { namespace: 'default', pod: 'curl-pod', targetIp: '172.20.2.6' }).ok).toBe(true);
    expect(parseHubbleFlows(renderHubbleJson(reply)).flows[0]!.observationPoint).toBe('to-endpoint');
    // --last keeps the newest
    expect(answerAgentExec(['hubble', 'observe', '--last', '1', '-o', 'json'], a).stdout.split('\n').filter(Boolean)).toHaveLength(1);
  });

  test('hubble observe (compact) prints seed 002 line 226', () => {
    expect(renderHubbleCompact(seedFlow)).toBe(fixture('seeds/002/hubble-observe-compact-to-overlay.txt').trim());
    expect(
      answerAgentExec(
        ['hubble', 'observe', '--protocol', 'tcp', '--pod', 'default/curl-pod'],
        agent(tunnel, { flows: [seedFlow] }),
      ).stdout.trim(),
    ).toBe(renderHubbleCompact(seedFlow));
  });

  test('what the twin does not model fails loudly: unknown flags, tables, programs; Hubble off', () => {
    expect(answerAgentExec(['hubble', 'observe', '--bogus'], agent(tunnel)).code).toBe(1);
    expect(answerAgentExec(['hubble', 'observe', '--last', '5'], agent(tunnel, { hubble: false })).code).toBe(1);
    expect(answerAgentExec(['cilium-dbg', 'shell', '--', 'db/show', 'routes'], agent(tunnel)).code).toBe(1);
    expect(answerAgentExec(['bpftool', 'map'], agent(tunnel)).code).toBe(127);
  });

  test('tabwrite pads every column but the last to width + 3 (minimum 5)', () => {
    expect(
      tabwrite([
        ['IP', 'NetworkInterface'],
        ['1.0.0.56', 'vlan.1881'],
      ]),
    ).toBe('IP         NetworkInterface\n1.0.0.56   vlan.1881\n');
  });
});
