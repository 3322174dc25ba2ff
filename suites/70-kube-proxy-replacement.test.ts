/**
 * kube-proxy replacement (seed 004, "kube-proxy Replacement"): Cilium serves every Service in eBPF, so no
 * kube-proxy runs and no node carries kube-proxy's iptables chains; a ClusterIP Service answers from curl-pod by
 * name and by IP and the client node's agent lists its frontend with the backends; a NodePort Service answers from
 * the router on every node's address, and with externalTrafficPolicy Local only the nodes with a backend answer.
 *
 * Beliefs (each assertion says which it relies on):
 * - K1 seed 004; cilium-behaviour.md 4.1/5.2: `KubeProxyReplacement:` in `cilium-dbg status` (`-o json`: `."kube-proxy-replacement".mode`).
 * - K2 seed 004 (`kubectl delete ds kube-proxy -n kube-system`); lab-reference.md (kubeadm without the kube-proxy addon).
 * - K3 kube-proxy's chain names (kubernetes pkg/proxy/iptables/proxier.go): KUBE-SERVICES, KUBE-NODEPORTS, KUBE-SVC-*, KUBE-SEP-*…;
 *      the kubelet's own KUBE-FIREWALL / KUBE-KUBELET-CANARY are not kube-proxy's.
 * - K4 cilium-dbg/cmd/service_list.go and api/v1/models (Service, FrontendAddress, BackendAddress): `service list -o json`.
 * - K5 Kubernetes Service semantics: NodePort on every node; externalTrafficPolicy Local only on nodes with a local
 *      backend (Cilium docs kubeproxy-free.rst: nodes without a local backend drop the request).
 */
import { describe } from 'vitest';
import type { V1Service } from '@kubernetes/client-node';
import type { Lab } from '../helpers/lab/lab.ts';
import { AGENT_CONTAINER, CILIUM_NAMESPACE, agentPodOn, runningCilium } from '../helpers/cilium/cilium.ts';
import {
  judgeKprOn,
  judgeNoKubeProxyChains,
  judgeNoKubeProxyDaemonSet,
  judgeNodePortAnswers,
  judgeServiceListed,
} from '../helpers/judge/kpr.ts';
import { judgeWhoamiFrom } from '../helpers/judge/routing.ts';
import { parseIptablesSave, parseServiceListJson } from '../helpers/parse/index.ts';
import { labTest as test, prepareThisSuite } from './support/lab.ts';
import { attach, describeScenario, step } from '../helpers/report/report.ts';
import { expectVerdict } from '../helpers/report/verdict.ts';
import { DEADLINE } from '../helpers/wait/deadlines.ts';
import { pollSettled } from '../helpers/wait/retry.ts';
import { kubeNodes, primaryAddress, router, controlPlane } from '../helpers/lab/topology.ts';
import { SuiteObjects } from '../helpers/lab/suite-objects.ts';
import { diagnoseOnFailure } from '../helpers/lab/suite-scope.ts';
import { curlFrom, waitHttpReady } from '../helpers/transport/probes.ts';
import type { HttpAnswer, Verdict } from '../helpers/judge/types.ts';
import { diagnoseRoutingOnFailure, httpFromPod, routingWorkloads, type PodRef } from './steps/routing.ts';

const FEATURE = { epic: 'Load balancing', feature: 'kube-proxy replacement' } as const;

describe('kube-proxy replacement: Services without kube-proxy', () => {
  let curl: PodRef;
  let webpods: PodRef[] = [];
  let routerName = '';
  let made: SuiteObjects;
  let localNode = '';

  test.beforeAll(async ({ lab }) => {
    await prepareThisSuite(lab, import.meta.url);
    const nodes = kubeNodes(lab.topology).map((n) => n.name);
    const w = await routingWorkloads(lab, { clientNode: controlPlane(lab.topology).name, webpodNodes: nodes });
    curl = w.curl;
    webpods = [...w.webpods.values()];
    routerName = router(lab.topology)?.name ?? '';
    localNode = nodes.at(-1) ?? '';
    made = new SuiteObjects(lab, { label: 'kube-proxy replacement', removalTimeoutMs: DEADLINE.removalMs });
    diagnoseRoutingOnFailure(lab);
    diagnoseOnFailure("the run's services (YAML)", () => lab.kube.list('v1', 'Service', { namespace: lab.namespace }), { type: 'yaml' });
    await step(
      `create NodePort services kpr-nodeport (webpod) and kpr-local (externalTrafficPolicy Local, one backend on ${localNode})`,
      () => made.createFromManifest('kpr-services.yaml', { localNode }),
    );
  });

  test('every agent reports kube-proxy replacement on', async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'agents replace kube-proxy', severity: 'critical' });
    const cilium = await step('read cilium-dbg status of every agent', () => runningCilium(lab));
    await attach(
      'KubeProxyReplacement per agent',
      cilium.agents.map((a) => ({ node: a.node, kubeProxyReplacement: a.status.kubeProxyReplacement })),
      'json',
    );
    // K1
    await expectVerdict('kube-proxy replacement', judgeKprOn(cilium.agents));
  });

  test('no kube-proxy DaemonSet runs and no node has KUBE-SERVICES / KUBE-SVC chains', async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'kube-proxy is gone', severity: 'critical' });
    const ds = await step('list the DaemonSets of every namespace', () => lab.kube.list('apps/v1', 'DaemonSet'));
    await attach('DaemonSets', ds.map((d) => `${d.metadata?.namespace ?? ''}/${d.metadata?.name ?? ''}`).join('\n'), 'text');
    // K2
    await expectVerdict('kube-proxy DaemonSet', judgeNoKubeProxyDaemonSet(ds), { soft: true });
    const perNode = [];
    for (const n of kubeNodes(lab.topology)) {
      const out = await step(`read ${n.name}'s iptables (sudo iptables-save)`, () =>
        lab.ssh.host(n.name).exec('sudo iptables-save', { timeoutMs: DEADLINE.hostCommandMs }),
      );
      await attach(`iptables-save on ${n.name}`, `${out.stdout}${out.stderr ? `\n--- stderr ---\n${out.stderr}` : ''}\n(exit ${out.code})`);
      if (out.code !== 0) throw new Error(`iptables-save on ${n.name} failed (exit ${out.code}): ${out.stderr.trim()}`);
      perNode.push({ node: n.name, tables: parseIptablesSave(out.stdout) });
    }
    // K3
    await expectVerdict('kube-proxy chains on the nodes', judgeNoKubeProxyChains(perNode));
  });

  test("a ClusterIP Service answers from curl-pod by name and by IP, and the client node's agent lists its backends", async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'ClusterIP served by Cilium', severity: 'critical' });
    const svc = await lab.kube.read<V1Service>({ apiVersion: 'v1', kind: 'Service', namespace: lab.namespace, name: 'webpod' });
    const ip = svc?.spec?.clusterIP;
    if (!ip) throw new Error(`service ${lab.namespace}/webpod has no ClusterIP`);
    const names = webpods.map((p) => p.name);
    const byName = await httpFromPod(lab, curl, 'http://webpod/');
    await expectVerdict('webpod by name', judgeAnswerFromAny(byName, names), { soft: true });
    const byIp = await httpFromPod(lab, curl, `http://${ip}/`);
    await expectVerdict(`webpod by ClusterIP ${ip}`, judgeAnswerFromAny(byIp, names), { soft: true });

    const agent = await agentPodOn(lab, curl.node);
    const pod = agent.metadata?.name ?? '';
    let text = '';
    // K4: the agent programs the frontend once the endpoints are known; waiting is for that, not a retry of traffic.
    const seen = await step(`read the service table of ${pod} on ${curl.node} (cilium-dbg service list -o json)`, () =>
      pollSettled(
        `frontend ${ip}:80 with the webpod backends in ${pod}'s service list`,
        async () => {
          const out = await lab.kube.execInPod(CILIUM_NAMESPACE, pod, ['cilium-dbg', 'service', 'list', '-o', 'json'], {
            container: AGENT_CONTAINER,
            timeoutMs: DEADLINE.execMs,
          });
          text = out.stdout || out.stderr;
          const v = judgeServiceListed(parseServiceListJson(out.stdout), {
            ip,
            port: 80,
            backendIps: webpods.map((p) => p.ip),
            backendPort: 80,
            type: 'ClusterIP',
          });
          return v.ok ? { done: true, value: v } : { done: false, seen: v.explanation };
        },
        { timeoutMs: DEADLINE.agentViewMs, intervalMs: 2_000 },
      ),
    );
    await attach(`cilium-dbg service list -o json on ${curl.node}`, text, 'json');
    const listed: Verdict = seen.done ? seen.value : { ok: false, explanation: seen.timeout.lastSeen };
    await expectVerdict(`the agent on ${curl.node} lists webpod's frontend`, listed);
  });

  test("a NodePort Service answers from the router on every node's address", async ({ lab, skip }) => {
    await describeScenario({ ...FEATURE, story: 'NodePort on every node', severity: 'critical' });
    if (!routerName) skip('the topology has no router to send requests from');
    const port = await nodePortOf(lab, 'kpr-nodeport');
    await waitProgrammed(lab, curl.node, port);
    const answers = await askEveryNode(lab, port);
    // K5
    await expectVerdict(
      `NodePort ${port} on every node`,
      judgeNodePortAnswers(answers, { answering: kubeNodes(lab.topology).map((n) => n.name), backends: webpods.map((p) => p.name) }),
    );
  });

  test('with externalTrafficPolicy Local only the node with a backend answers from the router', async ({ lab, skip }) => {
    await describeScenario({ ...FEATURE, story: 'NodePort with externalTrafficPolicy Local', severity: 'normal' });
    if (!routerName) skip('the topology has no router to send requests from');
    const [backend] = await step('wait for the kpr-local pod to be Ready', () =>
      lab.kube.waitPodsReady(lab.namespace, 'app=kpr-local', { count: 1, timeoutMs: DEADLINE.podsReadyMs }),
    );
    const name = backend?.metadata?.name ?? '';
    const node = backend?.spec?.nodeName ?? '';
    const port = await nodePortOf(lab, 'kpr-local');
    await waitProgrammed(lab, node, port);
    const answers = await askEveryNode(lab, port);
    // K5
    await expectVerdict(
      `NodePort ${port} (Local) answers only on ${node}`,
      judgeNodePortAnswers(answers, { answering: [node], backends: [name] }),
    );
  });

  async function nodePortOf(lab: Lab, name: string): Promise<number> {
    const svc = await lab.kube.read<V1Service>({ apiVersion: 'v1', kind: 'Service', namespace: lab.namespace, name });
    const port = svc?.spec?.ports?.[0]?.nodePort;
    if (!port) throw new Error(`service ${lab.namespace}/${name} has no nodePort`);
    return port;
  }

  /** Waits (first-answer deadline) until `node` answers on the NodePort: the agents program a new Service within moments. */
  async function waitProgrammed(lab: Lab, node: string, port: number): Promise<void> {
    const n = kubeNodes(lab.topology).find((x) => x.name === node);
    if (!n) throw new Error(`no node ${node} in the topology`);
    const url = `http://${primaryAddress(n)}:${port}/`;
    const ready = await step(`curl ${url} from ${routerName} until it answers (the agents programmed the NodePort)`, () =>
      waitHttpReady(
        `an HTTP answer from ${url} on ${routerName}`,
        () => curlFrom(lab.ssh, { from: routerName, url, timeoutMs: DEADLINE.requestMs }),
        (a) => a.ok,
        DEADLINE.firstAnswerMs,
      ),
    );
    await expectVerdict(`NodePort ${port} programmed on ${node}`, ready);
  }

  async function askEveryNode(lab: Lab, port: number): Promise<{ node: string; address: string; answer: HttpAnswer }[]> {
    const out: { node: string; address: string; answer: HttpAnswer }[] = [];
    for (const n of kubeNodes(lab.topology)) {
      const address = primaryAddress(n);
      const url = `http://${address}:${port}/`;
      const answer = await step(`curl ${url} from ${routerName} (${n.name})`, () =>
        curlFrom(lab.ssh, { from: routerName, url, timeoutMs: DEADLINE.requestMs }),
      );
      await attach(
        `curl ${url} from ${routerName}`,
        `${answer.raw.stdout}${answer.raw.stderr ? `\n--- stderr ---\n${answer.raw.stderr}` : ''}\n(exit ${answer.raw.code})`,
      );
      out.push({ node: n.name, address, answer });
    }
    return out;
  }
});

/** whoami answered from one of the pods (judgeWhoamiFrom per pod: any of them). */
function judgeAnswerFromAny(a: HttpAnswer, pods: readonly string[]): Verdict {
  const verdicts = pods.map((p) => judgeWhoamiFrom(a, p));
  return (
    verdicts.find((v) => v.ok) ?? { ok: false, explanation: `no webpod answered: ${verdicts[0]?.explanation ?? a.error ?? 'no answer'}` }
  );
}
