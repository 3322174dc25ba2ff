/**
 * Steps shared by the routing suites (10-native-routing, 20-vxlan): find the workloads, probe from
 * curl-pod, read CiliumNode objects, read a host's routes. Each step gathers facts and attaches them;
 * none decides pass or fail (the judges in helpers/judge/routing.ts do).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Lab } from '../../helpers/lab/lab.ts';
import { controlPlane, router } from '../../helpers/lab/topology.ts';
import { peersOf } from '../../helpers/judge/routing.ts';
import { parsePing, type PingResult, type TcpdumpPacket } from '../../helpers/parse/index.ts';
import type { ExecResult } from '../../helpers/transport/ssh.ts';
import type { HttpAnswer } from '../../helpers/judge/types.ts';
import { runningCilium } from '../../helpers/cilium/cilium.ts';
import { curlFromPod, PodProbeError, withCapture } from '../../helpers/transport/probes.ts';
import { attach, step } from '../../helpers/report/report.ts';
import { diagnoseOnFailure } from '../../helpers/lab/suite-scope.ts';
import { DEADLINE } from '../../helpers/wait/deadlines.ts';

export interface PodRef {
  namespace: string;
  name: string;
  node: string;
  ip: string;
}

function ref(p: V1Pod): PodRef {
  const name = p.metadata?.name;
  const namespace = p.metadata?.namespace;
  const node = p.spec?.nodeName;
  const ip = p.status?.podIP;
  if (!name || !namespace || !node || !ip) throw new Error(`pod ${namespace ?? '?'}/${name ?? '?'} has no node or no IP yet`);
  return { namespace, name, node, ip };
}

/** curl-pod (on `clientNode`) and one webpod on each of the given nodes, all Ready (the workloads prepareSuite deployed). */
export async function routingWorkloads(
  lab: Lab,
  o: { clientNode: string; webpodNodes: string[] },
): Promise<{ curl: PodRef; webpods: Map<string, PodRef> }> {
  return step(`find curl-pod and the webpods on ${o.webpodNodes.join(', ')}`, async () => {
    const [curlPod] = await lab.kube.waitPodsReady(lab.namespace, 'app=curl', { count: 1, timeoutMs: DEADLINE.podsReadyMs });
    if (!curlPod) throw new Error(`no Ready curl-pod in ${lab.namespace}`);
    const pods = await lab.kube.waitPodsReady(lab.namespace, 'app=webpod', { nodes: o.webpodNodes, timeoutMs: DEADLINE.podsReadyMs });
    const webpods = new Map<string, PodRef>();
    const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
    for (const p of live.map(ref)) if (!webpods.has(p.node)) webpods.set(p.node, p);
    const curl = ref(curlPod);
    if (curl.node !== o.clientNode) throw new Error(`curl-pod runs on ${curl.node}, not on ${o.clientNode} where the scenario expects it`);
    await attach('workloads', { curl, webpods: Object.fromEntries(webpods) }, 'json');
    return { curl, webpods };
  });
}

/**
 * curl-pod on the control plane and a webpod on a node of the other subnet, so their traffic crosses the router, and
 * the router's name (20-vxlan and 80-wireguard watch that traffic on the router).
 */
export async function crossRouterWorkloads(lab: Lab): Promise<{ curl: PodRef; far: PodRef; routerName: string }> {
  const client = controlPlane(lab.topology).name;
  const other = peersOf(lab.topology, client).otherSubnet;
  if (!other) throw new Error(`topology ${lab.topology.name} has no node on another subnet than ${client}`);
  const w = await routingWorkloads(lab, { clientNode: client, webpodNodes: [other] });
  const far = w.webpods.get(other);
  const routerName = router(lab.topology)?.name ?? '';
  if (!far || !routerName) throw new Error('a webpod on the other subnet and a router are needed');
  return { curl: w.curl, far, routerName };
}

/** `ping -c N` from inside a pod; the raw output is attached, the summary parsed. */
export async function pingFromPod(lab: Lab, pod: PodRef, target: string, count = 3): Promise<{ raw: ExecResult; result: PingResult }> {
  return step(`ping ${target} from ${pod.name} (${count} echo requests)`, async () => {
    // -W 1: one second per reply, so a lost ping ends in about `count` seconds.
    const raw = await lab.kube.execInPod(pod.namespace, pod.name, ['ping', '-c', String(count), '-W', '1', target], {
      timeoutMs: DEADLINE.execMs,
    });
    await attach(
      `ping ${target} from ${pod.name}`,
      `${raw.stdout}${raw.stderr ? `\n--- stderr ---\n${raw.stderr}` : ''}\n(exit ${raw.code})`,
    );
    return { raw, result: parsePing(raw.stdout) };
  });
}

/** Captures ICMP to `target` on a host (`tcpdump -i any`) while `pod` pings it once; both outputs are attached. */
export async function pingWhileCapturing(
  lab: Lab,
  o: { on: string; pod: PodRef; target: string },
): Promise<{ ping: { raw: ExecResult; result: PingResult }; text: string; packets: TcpdumpPacket[] }> {
  const cap = await step(`capture ICMP to ${o.target} on ${o.on} while ${o.pod.name} pings it`, () =>
    withCapture(lab.ssh, { on: o.on, iface: 'any', filter: `icmp and host ${o.target}` }, () => pingFromPod(lab, o.pod, o.target)),
  );
  await attach(`tcpdump on ${o.on}`, cap.text);
  return { ping: cap.value, text: cap.text, packets: cap.packets };
}

/**
 * One HTTP GET from inside a pod with curl (curlFromPod); never retried (an expected failure must stay a failure).
 * Output that is not curl's (curl missing or killed) is a failed answer naming why, as any other failure here.
 */
export async function httpFromPod(lab: Lab, pod: PodRef, url: string): Promise<HttpAnswer & { raw: ExecResult }> {
  return step(`HTTP GET ${url} from ${pod.name}`, async () => {
    const answer = await curlFromPod(lab, { namespace: pod.namespace, pod: pod.name, url, timeoutMs: DEADLINE.requestMs }).catch(
      (err: unknown) => {
        if (!(err instanceof PodProbeError)) throw err;
        return { ok: false, status: null, headers: {}, body: '', error: err.message, raw: err.raw };
      },
    );
    const raw = answer.raw;
    await attach(`curl ${url} from ${pod.name}`, `${raw.stdout}${raw.stderr ? `\n--- stderr ---\n${raw.stderr}` : ''}\n(exit ${raw.code})`);
    return answer;
  });
}

/** The CiliumNode objects (cilium.io/v2): each node's spec.ipam.podCIDRs and addresses. */
export async function ciliumNodes(lab: Lab): Promise<unknown[]> {
  return step('read the CiliumNode objects (pod CIDRs per node)', async () => {
    const items = await lab.kube.list('cilium.io/v2', 'CiliumNode');
    await attach('CiliumNode objects', items, 'yaml');
    return items;
  });
}

/** Declares, once per routing suite, what a person looks at next when one of its scenarios fails: the pods, the CiliumNodes, the agents' status. */
export function diagnoseRoutingOnFailure(lab: Lab): void {
  diagnoseOnFailure(
    'pods of this run (curl-pod, webpods)',
    async () => (await lab.kube.core.listNamespacedPod({ namespace: lab.namespace })).items,
    { type: 'yaml' },
  );
  diagnoseOnFailure('CiliumNode objects', () => lab.kube.list('cilium.io/v2', 'CiliumNode'), { type: 'yaml' });
  diagnoseOnFailure(
    'cilium-dbg status of every agent',
    async () => (await runningCilium(lab)).agents.map((a) => ({ node: a.node, pod: a.pod, status: a.raw })),
    { type: 'json' },
  );
}
