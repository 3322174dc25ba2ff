/**
 * 50 — L2 announcements (issue 7; seed 002, "L2 Announcements 구현").
 *
 * On a bare-metal lab nobody answers ARP for a LoadBalancer IP unless Cilium does: a Kubernetes Lease picks one
 * node per service and that node answers ARP for the IP on the interfaces the policy names. As in the study, the
 * suite gives webpod a LoadBalancer IP from the topology's pool, selects the nodes on the pool's subnet (k8s-ctr
 * and k8s-w1 on eth1 in the reference lab) with a CiliumL2AnnouncementPolicy, and checks from the router.
 *
 * Cilium beliefs (cilium-behaviour.md): lease kube-system/cilium-l2announce-<ns>-<svc>, holderIdentity = node
 * name, only selected nodes compete (2.3); interface regexes unanchored, hence ^eth1$ (2.2); only the holder has
 * l2-announce rows (2.5); one node answers per IP (2.6); needs kubeProxyReplacement (2.1, suites/support/plan.ts).
 */
import { describe } from 'vitest';
import {
  judgeAnnounceTables,
  judgeArpAnswer,
  judgeHttpAnswer,
  judgeLeaseHolder,
  judgeNeighbour,
  l2Candidates,
  l2LeaseName,
  routerOnLbSubnet,
  type L2Candidate,
} from '../helpers/judge/l2.ts';
import { l2AnnounceTable } from '../helpers/cilium/cilium.ts';
import { agentDevices, readLease, routerName } from './steps/l2-lab.ts';
import { withPolicyNodes } from './steps/l2-objects.ts';
import type { Lab } from '../helpers/lab/lab.ts';
import { labTest as test, prepareThisSuite } from './support/lab.ts';
import { arpingFrom, curlFrom, macOf, neighbourOf } from '../helpers/transport/probes.ts';
import { attach, describeScenario, step } from '../helpers/report/report.ts';
import { diagnoseOnFailure } from '../helpers/lab/suite-scope.ts';
import { DEADLINE } from '../helpers/wait/deadlines.ts';
import { SuiteObjects } from '../helpers/lab/suite-objects.ts';
import { kubeNodes } from '../helpers/lab/topology.ts';
import { diagnoseL2OnFailure, lbIpFromPool, waitLeaseHolder } from './steps/l2.ts';
import { expectVerdict } from '../helpers/report/verdict.ts';

const SERVICE = 'webpod-l2';
const scenario = (story: string, severity: 'critical' | 'normal' = 'critical') =>
  describeScenario({ epic: 'Load balancing', feature: 'L2 announcements', story, severity });

interface Arranged {
  ip: string;
  leaseName: string;
  candidates: L2Candidate[];
  /** The router's interface on the LB pool's subnet (where it arpings from). */
  routerIface: string;
}

/** The lease as it is now; fails the scenario (with the lease YAML attached) unless a selected node holds it. */
async function currentHolder(lab: Lab, a: Arranged): Promise<string> {
  const { state } = await step(`read Lease kube-system/${a.leaseName}`, () => readLease(lab, a.leaseName));
  const v = judgeLeaseHolder({ leaseName: a.leaseName, lease: state, candidates: a.candidates.map((c) => c.node) });
  await expectVerdict(`Lease ${a.leaseName} held by a selected node`, v);
  return v.holder!;
}

describe('L2 announcements: the router reaches a LoadBalancer IP through the lease holder', () => {
  const arranged: { value?: Arranged } = {};

  test.beforeAll(async ({ lab }) => {
    await prepareThisSuite(lab, import.meta.url);
    const t = lab.topology;
    const candidates = l2Candidates(t);
    const { iface: routerIface } = routerOnLbSubnet(t);
    const o = new SuiteObjects(lab, { label: 'l2-announcements' });
    const ip = await lbIpFromPool(lab, o, {
      stepName: "give webpod a LoadBalancer IP from the run's L2 pool",
      pool: 'l2',
      service: SERVICE,
      backend: 'webpod',
    });
    await step(
      `announce it from ${candidates.map((c) => c.node).join(' and ')} on ${[...new Set(candidates.map((c) => c.iface))].join(', ')}`,
      () =>
        o.createFromManifest('l2-policy.yaml', { name: 'l2', service: SERVICE }, (p) =>
          withPolicyNodes(p, { nodes: candidates.map((c) => c.node), interfaces: candidates.map((c) => c.iface) }),
        ),
    );
    const leaseName = l2LeaseName(lab.namespace, SERVICE);
    diagnoseL2OnFailure(lab, o, { objectsName: 'L2 pool, service and policy', leaseName });
    for (const c of candidates) diagnoseOnFailure(`${c.node}'s agent devices (db/show devices)`, () => agentDevices(lab, c.node));
    const elected = await waitLeaseHolder(lab, o, {
      leaseName,
      candidates: candidates.map((c) => c.node),
      who: 'selected node',
      objectsName: 'L2 objects',
    });
    await attach('lease holder', elected.explanation);
    arranged.value = { ip, leaseName, candidates, routerIface };
  });

  /** The arranged service (a failing test gets the suite's objects and the lease as YAML, declared in beforeAll). */
  const need = (_lab: Lab): Arranged => {
    if (!arranged.value) throw new Error('the L2 service was not set up (see beforeAll)');
    return arranged.value;
  };

  test('the lease cilium-l2announce-<namespace>-<service> is held by one of the selected nodes', async ({ lab }) => {
    await scenario('Leader election by Lease');
    const a = need(lab);
    const holder = await currentHolder(lab, a);
    await attach('lease holder', `${a.leaseName}: ${holder}`);
  });

  test("arping the LB IP from the router: every reply carries the holder's eth1 MAC, no other MAC answers", async ({ lab }) => {
    await scenario('ARP for the LB IP is answered by the holder only');
    const a = need(lab);
    const holder = await currentHolder(lab, a);
    const nodeMacs = await step("read each selected node's announcing interface MAC over SSH", async () => {
      const out: Record<string, string> = {};
      for (const c of a.candidates) out[c.node] = await macOf(lab.ssh, c.node, c.iface);
      return out;
    });
    const arp = await step(`arping ${a.ip} from the router on ${a.routerIface}`, () =>
      arpingFrom(lab.ssh, { from: routerName(lab), iface: a.routerIface, target: a.ip, count: 3 }),
    );
    const v = judgeArpAnswer({ ip: a.ip, arping: arp.result, holder, nodeMacs });
    await expectVerdict(`ARP for ${a.ip} answered by the holder ${holder} only`, v, {
      evidence: [
        { name: 'arping output (router)', content: `${arp.raw.stdout}\n${arp.raw.stderr}` },
        { name: 'node MACs', content: nodeMacs, type: 'json' },
      ],
    });
  });

  test("HTTP to the LB IP from the router answers, and the router's neighbour table maps the IP to the holder's MAC", async ({ lab }) => {
    await scenario('The router reaches the LB IP');
    const a = need(lab);
    const holder = await currentHolder(lab, a);
    const holderIface = a.candidates.find((c) => c.node === holder)!.iface;
    const url = `http://${a.ip}/`;
    // curl first: arping uses a raw socket, the kernel's neighbour entry comes from this connection.
    const answer = await step(`curl ${url} from the router`, () =>
      curlFrom(lab.ssh, { from: routerName(lab), url, timeoutMs: DEADLINE.requestMs }),
    );
    const http = judgeHttpAnswer({ url, answer });
    const holderMac = await step(`read ${holder}'s ${holderIface} MAC`, () => macOf(lab.ssh, holder, holderIface));
    const entry = await step(`read the router's neighbour entry for ${a.ip}`, () => neighbourOf(lab.ssh, routerName(lab), a.ip));
    const neigh = judgeNeighbour({ ip: a.ip, entry, holder, holderMac });
    if (!http.ok || !neigh.ok) {
      await attach('curl output (router)', `${answer.raw.stdout}\n${answer.raw.stderr}`);
      await attach('neighbour entry (router)', entry ?? 'none', 'json');
    }
    await expectVerdict(`HTTP ${url} from the router`, http);
    await expectVerdict(`the router's neighbour entry for ${a.ip}`, neigh);
  });

  test("the holder's agent lists the LB IP on eth1 in its l2-announce table; the other agents do not", async ({ lab }) => {
    await scenario('Only the holder programs the announcement', 'normal');
    const a = need(lab);
    const holder = await currentHolder(lab, a);
    const iface = a.candidates.find((c) => c.node === holder)!.iface;
    const tables = await step('read the l2-announce table of every agent (cilium-dbg shell -- db/show l2-announce)', async () => {
      const out: { node: string; entries: Awaited<ReturnType<typeof l2AnnounceTable>> }[] = [];
      for (const n of kubeNodes(lab.topology)) out.push({ node: n.name, entries: await l2AnnounceTable(lab, n.name) });
      return out;
    });
    // VERIFY: seed 002 printed the row on k8s-ctr while the lease named k8s-w1 (see test/fixtures/seeds/002-l2/README.md);
    // Cilium's code removes the rows on every non-leader, which is what this asserts.
    const v = judgeAnnounceTables({ ip: a.ip, iface, holder, tables });
    await expectVerdict(`only ${holder} lists ${a.ip} in its l2-announce table`, v, {
      evidence: [{ name: 'l2-announce tables', content: tables, type: 'json' }],
    });
  });
});
