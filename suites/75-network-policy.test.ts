/**
 * Network policy, seed 004's petclinic case (WEB → WAS → DB): before any policy every tier reaches every other;
 * seed 004's default-deny-all (ingress and egress, DNS allowed as a user would) drops every pair, so each attempt
 * times out; allowing was→db:3306 and web→was:8080 lets exactly those two through; Hubble shows the denied attempts
 * as DROPPED / POLICY_DENIED on the node that enforced them (the source's for an egress drop; with web's egress
 * opened to db, db's ingress drops web→db on db's node, across the router); removing the policies restores every pair.
 *
 * Lab: the pods are pinned so db runs across the router from web and was (tunnel routing: cross-subnet pod traffic
 * works at all). Beliefs:
 * - P1 Kubernetes NetworkPolicy semantics (a pod selected for a direction is isolated in it; allows are unioned).
 * - P2 a policy drop is never answered: curl times out (exit 28), unlike a closed port (exit 7) (helpers/judge/policy.ts).
 * - P3 Hubble: `verdict: DROPPED`, `drop_reason_desc: POLICY_DENIED` (api/v1/flow; cilium-behaviour.md 6); egress
 *      policy is enforced at the source endpoint, so those drops are on the source pod's node.
 */
import { describe } from 'vitest';
import { runningCilium } from '../helpers/cilium/cilium.ts';
import { hubbleState } from '../helpers/judge/hubble.ts';
import { judgeConnectivity, judgePolicyDrops, pairName, type Attempt } from '../helpers/judge/policy.ts';
import { peersOf } from '../helpers/judge/routing.ts';
import { controlPlane } from '../helpers/lab/topology.ts';
import { SuiteObjects } from '../helpers/lab/suite-objects.ts';
import { diagnoseOnFailure } from '../helpers/lab/suite-scope.ts';
import { attach, describeScenario, step } from '../helpers/report/report.ts';
import { expectVerdict } from '../helpers/report/verdict.ts';
import { DEADLINE } from '../helpers/wait/deadlines.ts';
import { labTest as test, prepareThisSuite } from './support/lab.ts';
import { droppedFlowsOn, tierPods, tryEveryPair, tryEveryPairUntil, type TierPod } from './steps/policy.ts';
import type { KubernetesObject } from '@kubernetes/client-node';

const FEATURE = { epic: 'Security', feature: 'Network policy' } as const;
/** The two pairs the allow policies open (suites/manifests/petclinic-allow.yaml). */
const ALLOWED = ['was→db:3306', 'web→was:8080'];

describe('Network policy: WEB → WAS → DB', () => {
  let made: SuiteObjects;
  let pods: TierPod[] = [];
  let deny: KubernetesObject[] = [];
  let allow: KubernetesObject[] = [];
  let webToDb: KubernetesObject[] = [];
  const state: { denied?: Attempt[] } = {};

  test.beforeAll(async ({ lab }) => {
    await prepareThisSuite(lab, import.meta.url);
    const cp = controlPlane(lab.topology).name;
    const peers = peersOf(lab.topology, cp);
    const far = peers.otherSubnet;
    const near = peers.sameSubnet ?? cp;
    if (!far) throw new Error(`topology ${lab.topology.name} has no node across the router from ${cp}`);
    made = new SuiteObjects(lab, { label: 'network policy', removalTimeoutMs: DEADLINE.removalMs });
    diagnoseOnFailure(
      'network policies of the run (YAML)',
      () => lab.kube.list('networking.k8s.io/v1', 'NetworkPolicy', { namespace: lab.namespace }),
      {
        type: 'yaml',
      },
    );
    diagnoseOnFailure('pods of the run (YAML)', async () => (await lab.kube.core.listNamespacedPod({ namespace: lab.namespace })).items, {
      type: 'yaml',
    });
    await step(`create web on ${cp}, was on ${near}, db on ${far} (across the router)`, () =>
      made.createFromManifest('petclinic.yaml', { webNode: cp, wasNode: near, dbNode: far }),
    );
    const ready = await step('wait for web, was and db to be Ready', () =>
      lab.kube.waitPodsReady(lab.namespace, 'app in (web,was,db)', { count: 3, timeoutMs: DEADLINE.podsReadyMs }),
    );
    pods = tierPods(ready);
    await attach('petclinic pods', pods, 'json');
  });

  test('before any policy, every tier connects to every other', async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'no policy: everything connects', severity: 'critical' });
    const attempts = await tryEveryPair(lab, pods, 'no policy');
    await expectVerdict('every pair connects', judgeConnectivity(attempts, '*'));
  });

  test('with default-deny (DNS allowed) every pair is dropped: each attempt times out', async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'default deny drops every pair', severity: 'critical' });
    deny = await step('apply default-deny-all (ingress and egress) and allow-dns (egress UDP/TCP 53)', () =>
      made.createFromManifest('petclinic-deny.yaml', {}),
    );
    // P1 + P2
    const r = await tryEveryPairUntil(lab, pods, 'default deny', (a) => judgeConnectivity(a, []), DEADLINE.agentViewMs);
    await expectVerdict('every pair times out', r.verdict);
  });

  test('allowing was→db:3306 and web→was:8080 lets exactly those two connect', async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'allow policies open exactly their pairs', severity: 'critical' });
    allow = await step(`apply allow-was-to-db and allow-web-to-was (ingress on the destination, egress on the source)`, () =>
      made.createFromManifest('petclinic-allow.yaml', {}),
    );
    // P1 + P2
    const r = await tryEveryPairUntil(lab, pods, 'allow policies', (a) => judgeConnectivity(a, ALLOWED), DEADLINE.agentViewMs);
    state.denied = r.attempts.filter((a) => !ALLOWED.includes(pairName(a)));
    await expectVerdict(`only ${ALLOWED.join(' and ')} connect`, r.verdict);
  });

  test("Hubble shows the denied attempts as DROPPED / POLICY_DENIED on the enforcing node, an ingress drop on the destination's node", async ({
    lab,
    skip,
  }) => {
    await describeScenario({ ...FEATURE, story: 'Hubble sees the policy drops', severity: 'normal' });
    const cilium = await step('read the running Cilium (is Hubble on?)', () => runningCilium(lab));
    const hubble = hubbleState(cilium.config);
    if (!hubble.on) skip(hubble.reason);
    const denied = state.denied;
    if (!denied || denied.length === 0) throw new Error('precondition: the allow scenario recorded no denied attempt');
    const byTier = new Map(pods.map((p) => [p.tier as string, p]));
    // P3: every denied pair here is dropped leaving its source (the source has no egress allow for it).
    const wanted = denied.map((a) => {
      const from = byTier.get(a.from) as TierPod;
      const to = byTier.get(a.to) as TierPod;
      return { name: pairName(a), srcIp: from.ip, dstIp: to.ip, node: from.node };
    });
    const flows = [];
    for (const node of [...new Set(wanted.map((w) => w.node))]) flows.push(...(await droppedFlowsOn(lab, node)));
    await expectVerdict("egress policy drops in Hubble, on the source pod's node", judgePolicyDrops(flows, wanted), { soft: true });

    // P3, ingress side: open web's egress to db; db's ingress (only was) must now drop web→db on db's node.
    const web = byTier.get('web') as TierPod;
    const db = byTier.get('db') as TierPod;
    webToDb = await step(`apply allow-web-egress-to-db: web may leave towards db:3306, db's ingress still admits only was`, () =>
      made.createFromManifest('petclinic-web-egress-db.yaml', {}),
    );
    const r = await tryEveryPairUntil(
      lab,
      pods.filter((p) => p.tier === 'web' || p.tier === 'db'),
      "web's egress opened to db",
      (a) => judgeConnectivity(a, []),
      DEADLINE.agentViewMs,
    );
    await expectVerdict('web→db and db→web still time out', r.verdict, { soft: true });
    const atDb = await droppedFlowsOn(lab, db.node);
    await expectVerdict(
      `ingress policy drop of web→db in Hubble on db's node ${db.node}`,
      judgePolicyDrops(atDb, [{ name: 'web→db:3306', srcIp: web.ip, dstIp: db.ip, node: db.node }]),
    );
  });

  test('removing the policies restores every pair', async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'no policy again: everything connects', severity: 'normal' });
    await step('delete the allow and default-deny policies', () => made.remove({ objects: [...webToDb, ...allow, ...deny] }));
    const r = await tryEveryPairUntil(lab, pods, 'policies removed', (a) => judgeConnectivity(a, '*'), DEADLINE.agentViewMs);
    await expectVerdict('every pair connects again', r.verdict);
  });
});
