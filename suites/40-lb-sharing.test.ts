/**
 * LB IP sharing (seed 002, "IP 공유 (Sharing Keys)"): services with the same lbipam.cilium.io/sharing-key, the same
 * requested IP and different ports share that IP; a clashing port, another key, or no key is refused.
 *
 * Lab: as 30-lb-ipam (tunnel/vxlan, L2 announcements). The pool is the topology's block, named per run, selecting
 * only this run's services.
 * Beliefs: cilium-behaviour.md 1.5-1.6 (reasons already_allocated_incompatible_service with "Reason: same port" /
 * "Reason: different sharing key" since 1.17, already_allocated_different_sharing_key before; already_allocated
 * without a key; ports clash by number, protocol ignored).
 */
import { describe } from 'vitest';
import { judgeAnsweredBy } from '../helpers/judge/backends.ts';
import { lbService, loadManifest, type LbServiceOptions } from './steps/lb-objects.ts';
import {
  LB_CONFIG,
  REASON,
  incompatibleSharing,
  judgeServiceAssigned,
  judgeServiceRefused,
  pickRequestableAddress,
} from '../helpers/judge/lbipam.ts';
import { labTest } from './support/lab.ts';
import { describeScenario, step } from '../helpers/report/report.ts';
import { LbSuite, httpUrl } from './steps/lb.ts';
import { DEADLINE, SCENARIO_TIMEOUT } from '../helpers/wait/deadlines.ts';
import { expectVerdict } from '../helpers/report/verdict.ts';

const s = new LbSuite('sharing');
/** The LoadBalancer Service manifest, rendered for the run (after setUp). */
const svcTemplate = () => loadManifest('lbipam-service.yaml', s.lab);
/** The two services that share the IP, on their own ports (seed: webpod 80 and webpod-alt 8080, key shared-1). */
const SHARERS = [
  { name: 'share-http', port: 80 },
  { name: 'share-alt', port: 8080 },
] as const;

const state: { ip?: string; key?: string } = {};

function shared(): { ip: string; key: string } {
  if (!state.ip || !state.key) throw new Error('precondition: no shared IP (the scenario that sets up sharing failed)');
  return { ip: state.ip, key: state.key };
}

function service(o: Omit<LbServiceOptions, 'runId' | 'namespace'>) {
  return lbService(svcTemplate(), { runId: s.lab.runId, namespace: s.namespace, ...o });
}

const scenario = (story: string, severity: 'critical' | 'normal' = 'normal') =>
  describeScenario({ epic: 'Load balancing', feature: 'LB IP sharing', story, severity });

/** The sharers still hold the shared IP (a refused service must not disturb them). */
async function expectSharersUndisturbed(ip: string): Promise<void> {
  for (const sh of SHARERS) {
    const v = await s.waitService(sh.name, `to still hold ${ip}`, (o) => judgeServiceAssigned(o, { block: s.block, wantIp: ip }));
    await expectVerdict(`${sh.name} still holds ${ip}`, v);
  }
}

/**
 * Asks for the shared IP with `name` on `port` (with `sharingKey`, or none), expects it refused as `want` says,
 * and the sharers undisturbed.
 */
async function expectRefused(o: {
  name: string;
  port: number;
  sharingKey?: string;
  want: { reason: string; message?: RegExp };
  cause: string;
}): Promise<void> {
  const { ip } = shared();
  const keyText = o.sharingKey ? `sharing key ${o.sharingKey}` : 'no sharing key';
  await step(`create ${o.name}: port ${o.port}, lbipam.cilium.io/ips=${ip}, ${keyText}`, () =>
    s.create(service({ name: o.name, port: o.port, requestIps: [ip], ...(o.sharingKey ? { sharingKey: o.sharingKey } : {}) })),
  );
  const v = await step(
    `wait for ${o.name}: no IP, IPAMRequestSatisfied False/${o.want.reason}${o.want.message ? `, message naming ${o.cause}` : ''}`,
    () => s.waitService(o.name, `to be refused with ${o.want.reason}`, (obj) => judgeServiceRefused(obj, o.want)),
  );
  await expectVerdict(`${o.name} is refused with ${o.want.reason}`, v);
  await step('check the sharers still hold the IP', () => expectSharersUndisturbed(ip));
}

describe('LB IP sharing: services with one sharing key share one IP on different ports', () => {
  labTest.beforeAll(async ({ lab }) => {
    await s.setUp(lab, { suiteFile: import.meta.url, config: LB_CONFIG, selects: () => ({ runId: lab.runId }) });
  });

  labTest(
    'two services with the same key, the same requested IP and different ports both get it and both answer on their own port',
    { timeout: SCENARIO_TIMEOUT.lbSharingMs },
    async ({ skip }) => {
      await scenario('two services share one IP by sharing key', 'critical');
      const ip = pickRequestableAddress(s.block, await s.heldBlockIps());
      const key = `clh-${s.lab.runId}`;
      for (const sh of SHARERS) {
        await step(`create ${sh.name}: port ${sh.port}, lbipam.cilium.io/ips=${ip}, lbipam.cilium.io/sharing-key=${key}`, () =>
          s.create(service({ name: sh.name, port: sh.port, requestIps: [ip], sharingKey: key })),
        );
        const v = await step(`wait for ${sh.name} to hold ${ip}, IPAMRequestSatisfied True/satisfied`, () =>
          s.waitService(sh.name, `to hold ${ip}`, (o) => judgeServiceAssigned(o, { block: s.block, wantIp: ip })),
        );
        await expectVerdict(`${sh.name} holds ${ip}`, v);
      }
      state.ip = ip;
      state.key = key;

      if (!s.routerName) skip('the topology has no router node to send HTTP from');
      const pods = await s.webpodNames();
      for (const sh of SHARERS) {
        const url = httpUrl(ip, '/', sh.port);
        const ready = await step(`curl ${url} from ${s.routerName} until it answers`, () =>
          s.waitHttpReady(
            `an HTTP answer from ${url} on ${s.routerName}`,
            () => s.curlFromRouter(url),
            (a) => a.ok,
            DEADLINE.firstAnswerMs,
          ),
        );
        await expectVerdict(`first HTTP answer from ${url}`, ready);
        const a = await step(`curl ${url} from ${s.routerName}: ${sh.name} answers on its own port`, () => s.curlFromRouter(url));
        await expectVerdict(
          `${sh.name} answers on port ${sh.port}`,
          judgeAnsweredBy(a, { label: `webpod behind ${sh.name}`, hostnames: pods }),
          { evidence: [{ name: `answer from ${url}`, content: a }] },
        );
      }
    },
  );

  labTest(
    'a third service with the same key and a clashing port stays without an IP: already_allocated_incompatible_service, same port',
    async () => {
      await scenario('a clashing port cannot share the IP');
      const { key } = shared();
      // VERIFY: the message tail ("Reason: same port"; newer code says "same port and protocol"), matched loosely (cilium-behaviour.md 1.5).
      await expectRefused({
        name: 'share-clash',
        port: SHARERS[0].port,
        sharingKey: key,
        want: incompatibleSharing(s.version, 'same port'),
        cause: 'the same port',
      });
    },
  );

  labTest(
    'a service with a different key asking for the taken IP: already_allocated_incompatible_service, different sharing key',
    async () => {
      await scenario('another sharing key cannot take the IP');
      const { key } = shared();
      // VERIFY: the message tail "Reason: different sharing key", matched loosely (cilium-behaviour.md 1.5).
      await expectRefused({
        name: 'share-other-key',
        port: 9090,
        sharingKey: `${key}-other`,
        want: incompatibleSharing(s.version, 'different sharing key'),
        cause: 'the different sharing key',
      });
    },
  );

  labTest('a service with no key asking for the taken IP: already_allocated', async () => {
    await scenario('a service without a sharing key cannot take the IP');
    await expectRefused({ name: 'share-no-key', port: 9091, want: { reason: REASON.alreadyAllocated }, cause: '' });
  });
});
