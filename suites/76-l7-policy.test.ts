/**
 * L7 HTTP policy enforced by Envoy (issue 17 suite 3; seed 004 "L7 Network Policy 예시"): a CiliumNetworkPolicy lets
 * only `GET /public` from curl-pod reach the webpods. `GET /public` gets 200 from the backend; `GET /private` and
 * `POST /public` get Envoy's 403 `Access denied`; Hubble's L7 flows show each request with method, path and verdict.
 *
 * Lab: no Cilium setting of its own (Envoy and Hubble are on by the chart's defaults). The webpod is the one on the
 * node next to curl-pod's (same subnet), reachable in every routing mode.
 * Beliefs: helpers/judge/l7.ts L1-L3 (pkg/option/config.go HTTP403Message; pkg/hubble/parser/seven).
 */
import { describe } from 'vitest';
import { AGENT_CONTAINER, CILIUM_NAMESPACE, runningCilium } from '../helpers/cilium/cilium.ts';
import { hubbleState } from '../helpers/judge/hubble.ts';
import { judgeL7Allowed, judgeL7Denied, judgeL7Flows, type L7Request } from '../helpers/judge/l7.ts';
import { peersOf } from '../helpers/judge/routing.ts';
import type { HttpAnswer, Verdict } from '../helpers/judge/types.ts';
import { SuiteObjects, refText } from '../helpers/lab/suite-objects.ts';
import { controlPlane } from '../helpers/lab/topology.ts';
import { parseHubbleFlows } from '../helpers/parse/index.ts';
import { attach, describeScenario, step } from '../helpers/report/report.ts';
import { expectVerdict } from '../helpers/report/verdict.ts';
import { curlFromPod, PodProbeError, waitHttpReady } from '../helpers/transport/probes.ts';
import { DEADLINE } from '../helpers/wait/deadlines.ts';
import { pollSettled } from '../helpers/wait/retry.ts';
import { diagnoseOnFailure } from '../helpers/lab/suite-scope.ts';
import type { Lab } from '../helpers/lab/lab.ts';
import { labTest as test, prepareThisSuite } from './support/lab.ts';
import { diagnoseRoutingOnFailure, routingWorkloads, type PodRef } from './steps/routing.ts';

const FEATURE = { epic: 'Network policy', feature: 'L7 HTTP policy (Envoy)' } as const;
const POLICY_FILE = 'l7-policy.yaml';

const ALLOWED: L7Request = { method: 'GET', path: '/public' };
const DENIED: L7Request[] = [
  { method: 'GET', path: '/private' },
  { method: 'POST', path: '/public' },
];

describe('L7 policy: Envoy lets only GET /public through to the backend', () => {
  let curl: PodRef;
  let backend: PodRef;
  let objects: SuiteObjects;

  /** One request from curl-pod to the backend; never retried (an expected failure must stay a failure). */
  async function send(r: L7Request): Promise<HttpAnswer> {
    const url = `http://${backend.ip}${r.path}`;
    return step(`send ${r.method} ${r.path} from ${curl.name} to ${backend.name}`, async () => {
      const answer = await curlFromPod(lab(), { pod: curl.name, url, method: r.method, timeoutMs: DEADLINE.requestMs }).catch(
        (err: unknown) => {
          if (!(err instanceof PodProbeError)) throw err;
          return { ok: false, status: null, headers: {}, body: '', error: err.message, raw: err.raw };
        },
      );
      const raw = answer.raw;
      await attach(`curl -X ${r.method} ${url}`, `${raw.stdout}${raw.stderr ? `\n--- stderr ---\n${raw.stderr}` : ''}\n(exit ${raw.code})`);
      return answer;
    });
  }

  let labRef: Lab | undefined;
  const lab = (): Lab => {
    if (!labRef) throw new Error('precondition: the suite set-up did not run');
    return labRef;
  };

  test.beforeAll(async ({ lab: l }) => {
    labRef = l;
    await prepareThisSuite(l, import.meta.url);
    const client = controlPlane(l.topology).name;
    const target = peersOf(l.topology, client).sameSubnet ?? client;
    const w = await routingWorkloads(l, { clientNode: client, webpodNodes: [target] });
    curl = w.curl;
    const b = w.webpods.get(target);
    if (!b) throw new Error(`no webpod on ${target}`);
    backend = b;
    diagnoseRoutingOnFailure(l);
    // Removed (and checked gone) by the suite's cleanup stack when the suite ends, failed or not (SuiteObjects).
    objects = new SuiteObjects(l, { label: 'L7 policy' });
    const created = await step(`apply the CiliumNetworkPolicy of ${POLICY_FILE} (only GET /public from curl-pod to the webpods)`, () =>
      objects.createFromManifest(POLICY_FILE, {}),
    );
    await attach('CiliumNetworkPolicy', created, 'yaml');
    diagnoseOnFailure(
      'the L7 policy objects',
      async () => Promise.all(objects.refs.map(async (r) => ({ ref: refText(r), object: await l.kube.read(r) }))),
      {
        type: 'yaml',
      },
    );
    // Readiness, not the finding: the policy is programmed once Envoy denies what it must deny.
    const ready = await step('wait for the policy to be enforced (GET /private answered 403)', () =>
      waitHttpReady(
        'GET /private denied by the L7 policy',
        () => send(DENIED[0]!),
        (a) => a.status === 403,
        DEADLINE.policyMs,
      ),
    );
    await attach('policy enforced after', `${ready.ms} ms: ${ready.explanation}`);
  });

  test(`${ALLOWED.method} ${ALLOWED.path} reaches the backend (200 from the webpod)`, async () => {
    await describeScenario({ ...FEATURE, story: 'an allowed request reaches the backend', severity: 'critical' });
    const a = await send(ALLOWED);
    await expectVerdict(`${ALLOWED.method} ${ALLOWED.path}`, judgeL7Allowed(a, { ...ALLOWED, backends: [backend.name] }));
  });

  for (const r of DENIED) {
    test(`${r.method} ${r.path} is denied by Envoy: 403 "Access denied"`, async () => {
      await describeScenario({ ...FEATURE, story: 'a request the policy does not allow is denied by Envoy', severity: 'critical' });
      const a = await send(r);
      await expectVerdict(`${r.method} ${r.path}`, judgeL7Denied(a, r));
    });
  }

  test("Hubble's L7 flows show method, path and verdict of each request", async ({ lab: l, skip }) => {
    await describeScenario({ ...FEATURE, story: 'Hubble sees the L7 verdicts', severity: 'normal' });
    const cilium = await step('read the running Cilium (is Hubble on?)', () => runningCilium(l));
    const hubble = hubbleState(cilium.config);
    if (!hubble.on) {
      await attach('why this is skipped', hubble.reason);
      skip(hubble.reason);
    }
    // The proxy enforcing ingress policy runs for the backend's node: that agent records the L7 flows.
    const agent = cilium.agents.find((a) => a.node === backend.node);
    if (!agent) throw new Error(`no Cilium agent on ${backend.node}`);
    for (const r of [ALLOWED, ...DENIED]) await send(r);
    const expected = [{ ...ALLOWED, verdict: 'FORWARDED' as const }, ...DENIED.map((r) => ({ ...r, verdict: 'DROPPED' as const }))];
    const argv = ['hubble', 'observe', '--last', '1000', '--output', 'json', '--to-ip', backend.ip];
    let last: { text: string; verdict: Verdict } = { text: '', verdict: { ok: false, explanation: 'not observed yet' } };
    try {
      // Waiting for the flows to be exported, not a retry of the traffic.
      const seen = await step(`hubble observe in ${agent.pod}: ${argv.slice(1).join(' ')}`, () =>
        pollSettled(
          `L7 flows for ${expected.map((e) => `${e.method} ${e.path}`).join(', ')} in Hubble`,
          async () => {
            const out = await l.kube.execInPod(CILIUM_NAMESPACE, agent.pod, argv, {
              container: AGENT_CONTAINER,
              timeoutMs: DEADLINE.execMs,
            });
            const verdict = judgeL7Flows(parseHubbleFlows(out.stdout).flows, { destinationIp: backend.ip, expected });
            last = { text: `${out.stdout}${out.stderr ? `\n--- stderr ---\n${out.stderr}` : ''}`, verdict };
            return verdict.ok ? { done: true, value: verdict } : { done: false, seen: verdict.explanation };
          },
          { timeoutMs: DEADLINE.agentViewMs, intervalMs: 2_000 },
        ),
      );
      if (!seen.done) {
        last = {
          ...last,
          verdict: {
            ...last.verdict,
            ok: false,
            explanation: `${last.verdict.explanation}; after ${seen.timeout.attempts} looks in ${seen.timeout.timeoutMs / 1000} s`,
          },
        };
      }
    } finally {
      await attach('hubble observe -o json', last.text);
    }
    await expectVerdict('Hubble L7 flows', last.verdict);
  });
});
