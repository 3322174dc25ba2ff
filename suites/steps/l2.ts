/**
 * Steps shared by the L2 suites (50-l2-announcements, 90-l2-failover): give the suite's service a LoadBalancer
 * IP from the run's pool, wait for one of the given nodes to hold its lease, and declare what a person looks at
 * when a scenario fails (what the suite created is removed by its cleanup stack). The pure judges in helpers/judge/l2.ts decide; the lab
 * access is suites/steps/l2-lab.ts.
 */
import { judgeLeaseHolder } from '../../helpers/judge/l2.ts';
import { readLease } from './l2-lab.ts';
import type { Lab } from '../../helpers/lab/lab.ts';
import { attach, step } from '../../helpers/report/report.ts';
import { expectVerdict } from '../../helpers/report/verdict.ts';
import { pollVerdict } from '../../helpers/wait/retry.ts';
import { DEADLINE } from '../../helpers/wait/deadlines.ts';
import { diagnoseOnFailure } from '../../helpers/lab/suite-scope.ts';
import type { SuiteObjects } from '../../helpers/lab/suite-objects.ts';
import { lbPoolAddresses } from '../../helpers/lab/topology.ts';

/**
 * Applies the run's L2 pool (the topology's block, selecting only `service`) and the LoadBalancer `service` in
 * front of the pods labelled app=`backend`, waits for its IP and checks the IP comes from the pool.
 */
export async function lbIpFromPool(
  lab: Lab,
  objects: SuiteObjects,
  o: { stepName: string; pool: string; service: string; backend: string },
): Promise<string> {
  const t = lab.topology;
  const ip = await step(o.stepName, async () => {
    await objects.createFromManifest('l2-pool.yaml', { name: o.pool, start: t.lbPool.start, stop: t.lbPool.stop, service: o.service });
    await objects.createFromManifest('l2-service.yaml', { name: o.service, backend: o.backend });
    return lab.kube.waitServiceLbIp(lab.namespace, o.service, DEADLINE.lbIpMs);
  });
  const pool = lbPoolAddresses(t);
  const inPool = pool.includes(ip);
  await expectVerdict(`the LB IP ${ip} comes from the topology's pool`, {
    ok: inPool,
    explanation: `${ip} is ${inPool ? '' : 'not '}an address of the pool ${pool[0] ?? '?'}-${pool.at(-1) ?? '?'}`,
    expected: pool,
    actual: ip,
  });
  return ip;
}

/**
 * Waits (DEADLINE.leaseMs) until one of `candidates` holds the lease and returns that verdict (with the holder). No holder in
 * time is Cilium's failure, not the lab's: it fails the suite with what was seen last, the suite's objects attached.
 * `who` names the candidates in the messages ("selected node", "worker").
 */
// VERIFY: the first holder is elected within seconds (retryPeriod 2 s by default); DEADLINE.leaseMs (60 s) is generous.
export async function waitLeaseHolder(
  lab: Lab,
  objects: SuiteObjects,
  o: { leaseName: string; candidates: string[]; who: string; objectsName: string },
): Promise<ReturnType<typeof judgeLeaseHolder>> {
  const v = await pollVerdict(
    `a ${o.who} (${o.candidates.join(', ')}) to hold Lease kube-system/${o.leaseName}`,
    async () => {
      const { state } = await readLease(lab, o.leaseName);
      return judgeLeaseHolder({ leaseName: o.leaseName, lease: state, candidates: o.candidates });
    },
    { timeoutMs: DEADLINE.leaseMs, intervalMs: 1_000, onTimeout: async () => attach(o.objectsName, await objects.dump(), 'yaml') },
  );
  await expectVerdict(`a ${o.who} holds Lease kube-system/${o.leaseName}`, v);
  return v as ReturnType<typeof judgeLeaseHolder>;
}

/** Declares, once for the suite: when one of its tests fails, attach the suite's objects and the lease as YAML. */
export function diagnoseL2OnFailure(lab: Lab, objects: SuiteObjects, o: { objectsName: string; leaseName: string }): void {
  diagnoseOnFailure(o.objectsName, () => objects.dump(), { type: 'yaml' });
  diagnoseOnFailure(`Lease ${o.leaseName}`, async () => (await readLease(lab, o.leaseName)).yaml, { type: 'yaml' });
}
