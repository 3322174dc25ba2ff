import { describe, expect, test } from 'vitest';
import { judgeAgentsPerNode, judgeHostsAnswer, judgeNodesReady, labEnvironment, type NodeLike } from '../../../helpers/judge/health.ts';
import type { RoutingStatus } from '../../../helpers/judge/types.ts';

const NODES = ['k8s-ctr', 'k8s-w1', 'k8s-w0'];

describe('judgeHostsAnswer', () => {
  test('every host answers with its own name', () => {
    const answers = [...NODES, 'router'].map((node) => ({ node, hostname: `${node}\n`, error: null }));
    expect(judgeHostsAnswer([...NODES, 'router'], answers).ok).toBe(true);
  });
  test('a host that fails, is not asked, or answers as another VM', () => {
    const v = judgeHostsAnswer(
      ['router', 'k8s-ctr', 'k8s-w0'],
      [
        { node: 'router', hostname: null, error: 'SSH to 192.168.10.200:22: ECONNREFUSED' },
        { node: 'k8s-ctr', hostname: 'k8s-w1', error: null },
      ],
    );
    expect(v.ok).toBe(false);
    expect(v.explanation).toBe('router: SSH to 192.168.10.200:22: ECONNREFUSED; k8s-ctr: answered as "k8s-w1"; k8s-w0: not asked');
    expect(judgeHostsAnswer([], []).ok).toBe(false);
  });
});

describe('judgeNodesReady', () => {
  const node = (name: string, status: string, reason?: string): NodeLike => ({
    metadata: { name },
    status: {
      conditions: [
        { type: 'MemoryPressure', status: 'False' },
        { type: 'Ready', status, ...(reason ? { reason, message: 'container runtime network not ready' } : {}) },
      ],
    },
  });
  test('all Ready', () => {
    expect(
      judgeNodesReady(
        NODES,
        NODES.map((n) => node(n, 'True')),
      ).ok,
    ).toBe(true);
  });
  test('NotReady, missing, no condition, or a node the topology does not know', () => {
    const v = judgeNodesReady(NODES, [
      node('k8s-ctr', 'False', 'KubeletNotReady'),
      { metadata: { name: 'k8s-w1' }, status: {} },
      node('k8s-w9', 'True'),
    ]);
    expect(v.ok).toBe(false);
    expect(v.explanation).toBe(
      'k8s-ctr: Ready=False (KubeletNotReady: container runtime network not ready); k8s-w1: no Ready condition; k8s-w0: not in the cluster; not in the topology: k8s-w9',
    );
    expect(judgeNodesReady(NODES, []).ok).toBe(false);
  });
});

describe('judgeAgentsPerNode', () => {
  const agent = (node: string, healthy = true, pod = `cilium-${node}`) => ({ node, pod, healthy });
  test('one healthy agent per node', () => {
    expect(
      judgeAgentsPerNode(
        NODES,
        NODES.map((n) => agent(n)),
      ).ok,
    ).toBe(true);
  });
  test('an unhealthy agent is named with the state it reports (issue 16: agent-not-ready)', () => {
    const v = judgeAgentsPerNode(NODES, [agent('k8s-ctr'), { ...agent('k8s-w1', false), state: 'Failure' }, agent('k8s-w0')]);
    expect(v.ok).toBe(false);
    expect(v.explanation).toBe('k8s-w1: agent cilium-k8s-w1 is not healthy (state Failure)');
  });
  test('missing, doubled, unhealthy and stray agents', () => {
    const v = judgeAgentsPerNode(NODES, [agent('k8s-ctr', false), agent('k8s-w1'), agent('k8s-w1', true, 'cilium-old'), agent('router')]);
    expect(v.ok).toBe(false);
    expect(v.explanation).toBe(
      'k8s-ctr: agent cilium-k8s-ctr is not healthy (state unknown); k8s-w1: 2 agents (cilium-k8s-w1, cilium-old); k8s-w0: no Cilium agent; agents on nodes not in the topology: cilium-router@router',
    );
  });
});

describe('labEnvironment', () => {
  const native: RoutingStatus = { kubeProxyReplacement: true, routing: { network: 'Native', tunnelProtocol: null, host: 'BPF' } };
  const facts = {
    ciliumImage: 'quay.io/cilium/cilium:v1.18.0@sha256:abc',
    ciliumVersion: '1.18.0',
    kubernetesVersion: 'v1.33.2',
    kernels: [
      { node: 'k8s-w0', release: '6.8.0-53-generic\n' },
      { node: 'k8s-ctr', release: '6.8.0-53-generic' },
    ],
    agents: NODES.map((node) => ({ node, status: native })),
    // tunnel-protocol stays in cilium-config in native mode (cilium-behaviour.md section 4).
    config: {
      'routing-mode': 'native',
      'tunnel-protocol': 'vxlan',
      'kube-proxy-replacement': 'true',
      'auto-direct-node-routes': 'true',
      debug: 'true',
    },
  };
  test('records what runs, from the agents, and the asked-for config apart', () => {
    expect(labEnvironment(facts)).toEqual({
      ciliumVersion: '1.18.0',
      ciliumImage: 'quay.io/cilium/cilium:v1.18.0@sha256:abc',
      kubernetesVersion: 'v1.33.2',
      kernel: '6.8.0-53-generic',
      routingMode: 'Native',
      hostRouting: 'BPF',
      kubeProxyReplacement: 'True',
      ciliumConfig: 'routing-mode=native, tunnel-protocol=vxlan, auto-direct-node-routes=true, kube-proxy-replacement=true',
    });
  });
  test('nodes that disagree are shown one by one; no agent is said so', () => {
    const tunnel: RoutingStatus = { kubeProxyReplacement: false, routing: { network: 'Tunnel', tunnelProtocol: 'vxlan', host: 'Legacy' } };
    const env = labEnvironment({
      ...facts,
      kernels: [
        { node: 'k8s-w0', release: '6.8.0-60-generic' },
        { node: 'k8s-ctr', release: '6.8.0-53-generic' },
      ],
      agents: [
        { node: 'k8s-w0', status: tunnel },
        { node: 'k8s-ctr', status: native },
      ],
    });
    expect(env.kernel).toBe('k8s-ctr: 6.8.0-53-generic, k8s-w0: 6.8.0-60-generic');
    expect(env.routingMode).toBe('k8s-ctr: Native, k8s-w0: Tunnel [vxlan]');
    expect(env.kubeProxyReplacement).toBe('k8s-ctr: True, k8s-w0: False');
    expect(labEnvironment({ ...facts, agents: [] }).routingMode).toBe('(none)');
  });
});
