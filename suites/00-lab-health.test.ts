/**
 * Lab health: before any scenario, is the lab whole? Every host answers over SSH as itself, every
 * Kubernetes node is Ready, one healthy Cilium agent runs per node. Records the versions actually
 * running (Cilium image, Kubernetes server, kernel per node, routing mode, kube-proxy replacement).
 * Declares no needs (suites/support/plan.ts): nothing is upgraded or deployed before it looks; its preparation
 * only removes objects that earlier harness runs left behind.
 */
import { VersionApi } from '@kubernetes/client-node';
import { describe } from 'vitest';
import { runningCilium } from '../helpers/cilium/cilium.ts';
import { judgeAgentsPerNode, judgeHostsAnswer, judgeNodesReady, labEnvironment } from '../helpers/judge/health.ts';
import { labTest as test, prepareThisSuite } from './support/lab.ts';
import { attach, describeScenario, recordLabEnvironment, step } from '../helpers/report/report.ts';
import { kubeNodes } from '../helpers/lab/topology.ts';
import { expectVerdict } from '../helpers/report/verdict.ts';
import { DEADLINE } from '../helpers/wait/deadlines.ts';
import { stopTheRunWhenThisFails } from './support/run-gate.ts';

describe('Lab health', () => {
  test.beforeAll(async ({ lab }) => {
    await prepareThisSuite(lab, import.meta.url);
  });

  // A failed health check stops the run before the suites that need a healthy lab (suites/support/run-gate.ts).
  stopTheRunWhenThisFails(test);

  test('every host answers over SSH as itself', async ({ lab }) => {
    await describeScenario({ epic: 'Lab', feature: 'Lab health', story: 'every host answers over SSH', severity: 'blocker' });
    const answers = await step('ask every host its name over SSH', () =>
      Promise.all(
        lab.topology.nodes.map(async (n) => {
          try {
            return {
              node: n.name,
              hostname: (await lab.ssh.host(n.name).run('hostname', { timeoutMs: DEADLINE.hostCommandMs, idempotent: true })).trim(),
              error: null,
            };
          } catch (err) {
            return { node: n.name, hostname: null, error: (err as Error).message };
          }
        }),
      ),
    );
    await attach('SSH answers', answers, 'json');
    await expectVerdict(
      'hosts over SSH',
      judgeHostsAnswer(
        lab.topology.nodes.map((n) => n.name),
        answers,
      ),
    );
  });

  test('every Kubernetes node is Ready', async ({ lab }) => {
    await describeScenario({ epic: 'Lab', feature: 'Lab health', story: 'every Kubernetes node is Ready', severity: 'blocker' });
    const nodes = await step('read the Kubernetes nodes', async () => (await lab.kube.core.listNode()).items);
    const v = judgeNodesReady(
      kubeNodes(lab.topology).map((n) => n.name),
      nodes,
    );
    await expectVerdict('nodes Ready', v, { evidence: [{ name: 'nodes', content: nodes, type: 'yaml' }] });
  });

  test('one healthy Cilium agent runs on each node, and the versions running are recorded', async ({ lab }) => {
    await describeScenario({ epic: 'Lab', feature: 'Lab health', story: 'one healthy Cilium agent per node', severity: 'blocker' });
    const cilium = await step('read the running Cilium (agents, image, config)', () => runningCilium(lab));
    const expected = kubeNodes(lab.topology).map((n) => n.name);
    const agents = cilium.agents.map((a) => ({ node: a.node, pod: a.pod, healthy: a.healthy, state: a.state }));
    const v = judgeAgentsPerNode(expected, agents);
    // Attached now, not as evidence below: the reads that follow may fail before the verdict is asserted.
    if (!v.ok)
      await attach(
        'agents (cilium-dbg status)',
        cilium.agents.map((a) => ({ node: a.node, pod: a.pod, healthy: a.healthy, status: a.raw })),
        'json',
      );

    const kubernetes = await step(
      'read the Kubernetes server version',
      async () => (await lab.kube.kc.makeApiClient(VersionApi).getCode()).gitVersion,
    );
    const kernels = await step('read the kernel release of every node (uname -r)', () =>
      Promise.all(
        kubeNodes(lab.topology).map(async (n) => ({
          node: n.name,
          release: await lab.ssh.host(n.name).run('uname -r', { timeoutMs: DEADLINE.hostCommandMs, idempotent: true }),
        })),
      ),
    );
    const env = labEnvironment({
      // Every distinct agent image (more than one only mid-rollout).
      ciliumImage: cilium.images.join(', '),
      ciliumVersion: cilium.version,
      kubernetesVersion: kubernetes,
      kernels,
      agents: cilium.agents.map((a) => ({ node: a.node, status: a.status })),
      config: cilium.config,
    });
    await step('record the versions running for the report', async () => {
      recordLabEnvironment({ ...env, runId: lab.runId });
      await attach('lab environment', env, 'json');
    });
    await expectVerdict('Cilium agents', v);
  });
});
