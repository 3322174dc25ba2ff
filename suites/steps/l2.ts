/**
 * Steps shared by the L2 suites (50-l2-announcements, 90-l2-failover): give the suite's service a LoadBalancer
 * IP from the run's pool, wait for one of the given nodes to hold its lease, attach what a person looks at when a
 * scenario fails, and remove what the suite created. The pure judges in helpers/judge/l2.ts decide; the lab
 * access is suites/steps/l2-lab.ts.
 */
import { expect } from 'vitest';
import { judgeLeaseHolder } from '../../helpers/judge/l2.ts';
import { readLease } from './l2-lab.ts';
import type { Lab } from '../../helpers/lab/lab.ts';
import { attach, attachOnFailure, step } from '../../helpers/report/report.ts';
import { pollUntil, WaitTimeoutError } from '../../helpers/wait/retry.ts';
import type { SuiteObjects } from '../../helpers/lab/suite-objects.ts';
import { lbPoolAddresses } from '../../helpers/lab/topology.ts';

/**
 * Applies the run's L2 pool (the topology's block, selecting only `service`) and the LoadBalancer `service` in
 * front of the pods labelled app=`backend`, waits for its IP and checks the IP comes from the pool.
 */
export async function lbIpFromPool(lab: Lab, objects: SuiteObjects, o: { stepName: string; pool: string; service: string; backend: string }): Promise<string> {
  const t = lab.topology;
  const ip = await step(o.stepName, async () => {
    await objects.createFromManifest('l2-pool.yaml', { name: o.pool, start: t.lbPool.start, stop: t.lbPool.stop, service: o.service });
    await objects.createFromManifest('l2-service.yaml', { name: o.service, backend: o.backend });
    return lab.kube.waitServiceLbIp(lab.namespace, o.service, 120_000);
  });
  expect(lbPoolAddresses(t), `the LB IP ${ip} comes from the topology's pool`).toContain(ip);
  return ip;
}

/**
 * Waits (60 s) until one of `candidates` holds the lease and returns that verdict (with the holder). No holder in
 * time is Cilium's failure, not the lab's: it fails the suite with what was seen last, the suite's objects attached.
 * `who` names the candidates in the messages ("selected node", "worker").
 */
// VERIFY: the first holder is elected within seconds (retryPeriod 2 s by default); 60 s is generous.
export async function waitLeaseHolder(
  lab: Lab,
  objects: SuiteObjects,
  o: { leaseName: string; candidates: string[]; who: string; objectsName: string },
): Promise<ReturnType<typeof judgeLeaseHolder>> {
  return pollUntil(
    `a ${o.who} (${o.candidates.join(', ')}) to hold Lease kube-system/${o.leaseName}`,
    async () => {
      const { state } = await readLease(lab, o.leaseName);
      const v = judgeLeaseHolder({ leaseName: o.leaseName, lease: state, candidates: o.candidates });
      return v.ok ? { done: true, value: v } : { done: false, seen: v.explanation };
    },
    { timeoutMs: 60_000, intervalMs: 1_000 },
  ).catch(async (err: unknown) => {
    if (!(err instanceof WaitTimeoutError)) throw err;
    await attach(o.objectsName, await objects.dump(), 'yaml');
    return expect.fail(`no ${o.who} took Lease kube-system/${o.leaseName} within 60 s: ${err.lastSeen}`);
  });
}

/** For the running test: on failure, attach the suite's objects and the lease as YAML. */
export function attachL2StateOnFailure(lab: Lab, objects: SuiteObjects | undefined, o: { objectsName: string; leaseName: string }): void {
  attachOnFailure(o.objectsName, () => objects?.dump() ?? 'none', { type: 'yaml' });
  attachOnFailure(`Lease ${o.leaseName}`, async () => (await readLease(lab, o.leaseName)).yaml, { type: 'yaml' });
}

/** Removes everything the suite created (newest first) and checks it is gone; `what` names it for the report. */
export async function removeSuiteObjects(objects: SuiteObjects | undefined, what: string): Promise<void> {
  if (!objects) return;
  await step(`remove the run's ${what}`, async () => {
    const deleted = await objects.remove();
    await attach('deleted objects', deleted.join('\n') || '(nothing left to delete)');
  });
}
