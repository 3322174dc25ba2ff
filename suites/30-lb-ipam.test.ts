/**
 * LB-IPAM (seed 002, "Service LoadBalancer와 LB-IPAM"): Cilium hands out LoadBalancer IPs from a
 * CiliumLoadBalancerIPPool, honours a requested IP, refuses an IP no pool holds, and runs out when the pool is full.
 *
 * Lab: tunnel/vxlan (k8s-w0's webpod is reachable) with L2 announcements, so the router reaches LB IPs by ARP.
 * The pool is the topology's block, named per run, selecting only this run's services.
 * Beliefs: cilium-behaviour.md 1.2-1.5 (condition type cilium.io/IPAMRequestSatisfied, reasons no_pool/out_of_ips,
 * pool conditions and counts, allocation order not assumed), 1.3 (counts may be blank on 1.18.0-1.18.2).
 */
import { describe, expect } from 'vitest';
import { judgeSpread, judgeAnsweredBy } from '../helpers/judge/backends.ts';
import { lbService, loadManifest } from './steps/lb-objects.ts';
import {
  LB_CONFIG,
  REASON,
  judgeServiceAssigned,
  judgeServiceRefused,
  l2AnnouncePlan,
  pickAddressOutsidePools,
  pickRequestableAddress,
  readServiceIpam,
  servicesToFill,
} from '../helpers/judge/lbipam.ts';
import { compare, type HttpAnswer } from '../helpers/judge/types.ts';
import { labTest } from './support/lab.ts';
import { describeScenario, recordMeasurement, step, attach } from '../helpers/report/report.ts';
import { LbSuite, httpUrl } from './steps/lb.ts';
import { DEADLINE } from '../helpers/wait/deadlines.ts';
import { expectVerdict } from '../helpers/report/verdict.ts';

const s = new LbSuite('lbipam');
/** The LoadBalancer Service manifest, rendered for the run (after setUp). */
const svcTemplate = () => loadManifest('lbipam-service.yaml', s.lab);
/** The LoadBalancer Service in front of webpod (seed: `kubectl patch svc webpod -p '{"spec":{"type":"LoadBalancer"}}'`). */
const WEB = 'lb-webpod';
/** Burst: bounded in count and time. */
const BURST = { requests: 20, deadlineMs: DEADLINE.burstMs } as const;

/** What earlier scenarios established, for the later ones. */
const state: { webIp?: string } = {};

function webIp(): string {
  if (!state.webIp) throw new Error(`precondition: ${WEB} has no LB IP (the scenario that assigns it failed)`);
  return state.webIp;
}

const scenario = (story: string, severity: 'critical' | 'normal' = 'critical') =>
  describeScenario({ epic: 'Load balancing', feature: 'LB-IPAM', story, severity });

describe('LB-IPAM: LoadBalancer IPs from a CiliumLoadBalancerIPPool', () => {
  labTest.beforeAll(async ({ lab }) => {
    await s.setUp(lab, { suiteFile: import.meta.url, config: LB_CONFIG, selects: () => ({ runId: lab.runId }) });
  });

  labTest('the pool offers every address of the topology block and reports no conflict', async () => {
    await scenario('a new pool reports its size and no conflict');
    const held = await s.heldBlockIps();
    const v = await step(
      `read pool ${s.poolName}: CONFLICTING False, IPS AVAILABLE ${s.block.length - held.length} of ${s.block.length}`,
      () => s.waitPool({ total: s.block.length, available: s.block.length - held.length }),
    );
    await expectVerdict(`pool ${s.poolName}`, v);
  });

  labTest('webpod as type LoadBalancer gets an IP from the block, IPAMRequestSatisfied True', async ({ lab }) => {
    await scenario('a LoadBalancer service gets an IP from the pool');
    await step(`create ${WEB}: type LoadBalancer in front of webpod, port 80`, () =>
      s.create(lbService(svcTemplate(), { runId: lab.runId, namespace: s.namespace, name: WEB, port: 80 })),
    );
    // Allocation order is not assumed (cilium-behaviour.md 1.2): any address of the block will do.
    const v = await step(`wait for ${WEB} to get an IP of ${s.block[0]}-${s.block.at(-1)} with IPAMRequestSatisfied True/satisfied`, () =>
      s.waitService(WEB, 'to get an IP from the pool', (o) => judgeServiceAssigned(o, { block: s.block })),
    );
    await expectVerdict(`${WEB} gets an IP from the pool`, v);
    const svc = await lab.kube.read({ apiVersion: 'v1', kind: 'Service', namespace: s.namespace, name: WEB });
    state.webIp = readServiceIpam(svc).ips[0];
  });

  labTest('from the router, HTTP to the LB IP answers from webpod, and a burst reaches more than one backend', async ({ skip }) => {
    await scenario('the router reaches the LB IP and load is spread over backends');
    if (!s.routerName) skip('the topology has no router node to send HTTP from');
    const ip = webIp();
    const url = httpUrl(ip);
    const pods = await step('list the webpod pods (whoami answers with its pod name)', () => s.webpodNames());
    expect(pods.length, `webpod pods in ${s.namespace}: ${pods.join(', ') || 'none'}`).toBeGreaterThanOrEqual(2);
    const ready = await step(`curl ${url} from ${s.routerName} until it answers (L2 announcement: lease, then ARP)`, () =>
      s.waitHttpReady(
        `an HTTP answer from ${url} on ${s.routerName}`,
        () => s.curlFromRouter(url),
        (a) => a.ok,
        DEADLINE.firstAnswerMs,
      ),
    );
    await expectVerdict(`first HTTP answer from ${url}`, ready);
    await recordMeasurement('first HTTP answer on the LB IP after assignment', ready.ms, 'ms');
    const first = await step(`curl ${url} from ${s.routerName}`, () => s.curlFromRouter(url));
    await expectVerdict(`webpod answers ${url}`, judgeAnsweredBy(first, { label: 'webpod', hostnames: pods }), {
      evidence: [{ name: `answer from ${url}`, content: first }],
    });

    const answers = await step(
      `send ${BURST.requests} requests to ${url} from ${s.routerName} (at most ${BURST.deadlineMs / 1000} s)`,
      async () => {
        const until = Date.now() + BURST.deadlineMs;
        const out: HttpAnswer[] = [];
        while (out.length < BURST.requests && Date.now() < until) out.push(await s.curlFromRouter(url));
        return out;
      },
    );
    expect(
      answers.length,
      `the burst was cut short at the ${BURST.deadlineMs / 1000} s bound after ${answers.length} of ${BURST.requests} requests`,
    ).toBe(BURST.requests);
    const spread = judgeSpread(answers, { label: 'webpod', hostnames: pods, minDistinct: 2 });
    await attach('answers per webpod pod', spread.counts);
    await recordMeasurement('webpod pods reached by the burst', Object.keys(spread.counts).length, 'pods');
    await expectVerdict('the burst is spread over the webpod pods', spread, {
      evidence: [
        {
          name: 'the burst answers',
          content: answers.map((a) => ({ status: a.status, error: a.error, body: a.body.split('\n').slice(0, 2).join(' | ') })),
        },
      ],
    });
  });

  labTest('requesting a specific IP of the block by annotation moves the service to it', async ({ lab }) => {
    await scenario('a service requests a specific IP (lbipam.cilium.io/ips)');
    const current = webIp();
    const target = pickRequestableAddress(s.block, await s.heldBlockIps());
    await step(`annotate ${WEB} with lbipam.cilium.io/ips=${target} (it holds ${current})`, () =>
      s.update(lbService(svcTemplate(), { runId: lab.runId, namespace: s.namespace, name: WEB, port: 80, requestIps: [target] })),
    );
    const v = await step(`wait for ${WEB} to hold ${target} only, IPAMRequestSatisfied True/satisfied`, () =>
      s.waitService(WEB, `to move to ${target}`, (o) => judgeServiceAssigned(o, { block: s.block, wantIp: target })),
    );
    await expectVerdict(`${WEB} moves to ${target}`, v);
    state.webIp = target;
    if (s.routerName) {
      const url = httpUrl(target);
      const ready = await step(`curl ${url} from ${s.routerName} until it answers`, () =>
        s.waitHttpReady(
          `an HTTP answer from ${url} on ${s.routerName}`,
          () => s.curlFromRouter(url),
          (a) => a.ok,
          DEADLINE.firstAnswerMs,
        ),
      );
      await expectVerdict(`first HTTP answer from ${url}`, ready);
      const pods = await s.webpodNames();
      const a = await step(`curl ${url} from ${s.routerName}`, () => s.curlFromRouter(url));
      await expectVerdict(`webpod answers ${url}`, judgeAnsweredBy(a, { label: 'webpod', hostnames: pods }), {
        evidence: [{ name: `answer from ${url}`, content: a }],
      });
    }
  });

  labTest('requesting an IP outside every pool leaves the service without an IP: IPAMRequestSatisfied False/no_pool', async ({ lab }) => {
    await scenario('a requested IP that no pool holds is refused (no_pool)', 'normal');
    const plan = l2AnnouncePlan(lab.topology);
    const avoid = lab.topology.nodes.flatMap((n) => n.interfaces.map((i) => i.address));
    const outside = pickAddressOutsidePools({ subnet: plan.subnet, pools: await s.allPoolBlocks(), avoid });
    const name = 'lb-outside';
    await step(`create ${name} requesting ${outside}, an address of ${plan.subnet} in no pool`, () =>
      s.create(lbService(svcTemplate(), { runId: lab.runId, namespace: s.namespace, name, port: 80, requestIps: [outside] })),
    );
    // Reason no_pool, message "No pool exists with a CIDR containing '<ip>'" (cilium-behaviour.md 1.5); only the reason is asserted.
    const v = await step(`wait for ${name}: no IP, IPAMRequestSatisfied False/no_pool`, () =>
      s.waitService(name, 'to be refused with no_pool', (o) => judgeServiceRefused(o, { reason: REASON.noPool })),
    );
    await expectVerdict(`${name} is refused with no_pool`, v);
  });

  labTest('when the pool is exhausted the next service reports out_of_ips; the extra services are removed afterwards', async ({ lab }) => {
    await scenario('an exhausted pool refuses the next service (out_of_ips)');
    const held = await s.heldBlockIps();
    const n = servicesToFill(s.block, held);
    const fillers = Array.from({ length: n }, (_, i) =>
      lbService(svcTemplate(), { runId: lab.runId, namespace: s.namespace, name: `lb-fill-${i + 1}`, port: 80 }),
    );
    const extra = lbService(svcTemplate(), { runId: lab.runId, namespace: s.namespace, name: 'lb-one-too-many', port: 80 });
    try {
      await step(`fill the pool: ${n} more services for the ${n} free addresses (held: ${held.join(', ') || 'none'})`, async () => {
        for (const f of fillers) await s.create(f);
        const verdicts = await Promise.all(
          fillers.map((f) =>
            s.waitService(f.metadata?.name ?? '?', 'to get an IP from the pool', (o) => judgeServiceAssigned(o, { block: s.block })),
          ),
        );
        for (const [i, v] of verdicts.entries()) await expectVerdict(`${fillers[i]?.metadata?.name ?? '?'} gets an IP from the pool`, v);
      });
      await step('create lb-one-too-many', () => s.create(extra));
      const v = await step('wait for lb-one-too-many: no IP, IPAMRequestSatisfied False/out_of_ips', () =>
        s.waitService('lb-one-too-many', 'to be refused with out_of_ips', (o) => judgeServiceRefused(o, { reason: REASON.outOfIps })),
      );
      await expectVerdict('lb-one-too-many is refused with out_of_ips', v);
    } finally {
      const removed = await step(`remove the ${n + 1} extra services and check they are gone`, () => s.remove([...fillers, extra]));
      await attach('removed', removed.join('\n'), 'text');
    }
    const left = await s.heldBlockIps();
    await expectVerdict(
      'addresses held after removing the extra services',
      compare('addresses of the block held', [...left].sort(), [...held].sort()),
    );
  });
});
