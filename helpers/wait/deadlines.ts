/**
 * Named deadlines, by kind of operation, in one place; and the vitest timeouts derived from them, so that a wait of
 * the harness (with its "last seen" and its diagnostics) always fires before vitest's generic timeout.
 *
 *   await lab.kube.waitServiceLbIp(ns, name, DEADLINE.lbIpMs);
 *   test('…', { timeout: testTimeout(DEADLINE.lbipamMs, DEADLINE.firstAnswerMs) }, async () => …);
 *
 * One scale factor from the environment stretches every deadline and every timeout alike on slow hosts:
 * LAB_TIME_SCALE=2 doubles them (default 1; a value that is not a positive number is refused).
 *
 * Pure: no I/O (reads only the environment it is given).
 */

export const TIME_SCALE_ENV = 'LAB_TIME_SCALE';

export function timeScale(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[TIME_SCALE_ENV];
  if (raw === undefined || raw.trim() === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${TIME_SCALE_ENV}=${raw}: expected a positive number (e.g. 2 for a host twice as slow)`);
  return n;
}

/** The deadlines at scale 1 (milliseconds), named for what they wait for. */
export const BASE_DEADLINES = {
  /** One command on a lab host over SSH that answers at once (hostname, uname, ip link, the reboot command). */
  hostCommandMs: 20_000,
  /** A quick read on a lab host (its clock, its boot id). */
  hostReadMs: 15_000,
  /** A glance at a host that may well be down (boot id right after a reboot). */
  hostGlanceMs: 5_000,
  /** One command in a pod through the API's exec (ping, cilium-dbg). */
  execMs: 30_000,
  /** One HTTP request (curl). */
  requestMs: 5_000,
  /** A server-side apply answered. */
  applyMs: 60_000,
  /** A Deployment rolled out and available (image pulls on a fresh lab). */
  rolloutMs: 240_000,
  /** Pods of the run's workloads Ready (webpod, curl-pod). */
  podsReadyMs: 180_000,
  /** A workload deployed once per run (webpod, curl-pod), then its pods Ready. */
  workloadMs: 300_000,
  /** LB-IPAM writes pool and service status within a second or two; counts may lag on 1.18.0-1.18.2. */
  lbipamMs: 60_000,
  /** A LoadBalancer service given an IP. */
  lbIpMs: 120_000,
  /** First HTTP answer on a new LB IP from the router: lease election, then ARP (cilium-behaviour.md 2.4: 10-20 s worst case). */
  firstAnswerMs: 90_000,
  /** A burst of requests to one LB IP. */
  burstMs: 60_000,
  /** The Ingress programmed into Envoy and answered. */
  ingressMs: 180_000,
  /** A CiliumNetworkPolicy enforced: the agents import it and Envoy gets the L7 rules (seconds on a lab; a minute of slack). */
  policyMs: 60_000,
  /** A node holding an L2 announcement lease (the first holder is elected within seconds; retryPeriod 2 s). */
  leaseMs: 60_000,
  /** tcpdump listening. */
  captureMs: 15_000,
  /** A suite's objects deleted and gone (finalizers, pods terminating). */
  removalMs: 120_000,
  /** Every object of the run deleted at its end (namespace last). */
  runRemovalMs: 180_000,
  /** What an agent observes settled (a flow exported to its Hubble). */
  agentViewMs: 30_000,
  /** Steady HTTP answers seen from the router before a reboot. */
  steadyMs: 20_000,
  /** Slack after a failover bound, for the observation to catch up (lease watch, probe loop). */
  observeSlackMs: 30_000,
  /** A rebooted node back whole: SSH with a new boot id, node Ready, its agent healthy. */
  rebootMs: 540_000,
  /** One helm call over SSH (upgrade with --wait off, get values, list). */
  helmMs: 300_000,
  /** A helm read (list, get values). */
  helmReadMs: 60_000,
  /** Cilium rolled out after a change (operator, agents, each agent's status). */
  ciliumRolloutMs: 600_000,
  /** One read of a Lease while recording a failover (a slow answer is recorded as a gap). */
  leaseReadMs: 3_000,
  /** A background recorder nobody stopped ends by itself: a reboot wait (rebootMs) with the failover around it. */
  recorderMs: 20 * 60_000,
  /** The lease recorder's longest wait between two tries to resume its watch, so it is back within ~2 s of the API. */
  recorderReconnectMs: 2_000,
  /** Diagnostics collected for a failed test. */
  diagnosticsMs: 30_000,
} as const;

export type DeadlineName = keyof typeof BASE_DEADLINES;

export function scaledDeadlines(scale: number): Record<DeadlineName, number> {
  const out = {} as Record<DeadlineName, number>;
  for (const [k, v] of Object.entries(BASE_DEADLINES)) out[k as DeadlineName] = Math.round(v * scale);
  return out;
}

export const TIME_SCALE = timeScale();

/** The deadlines of this run (BASE_DEADLINES × LAB_TIME_SCALE). */
export const DEADLINE: Readonly<Record<DeadlineName, number>> = scaledDeadlines(TIME_SCALE);

/** Room vitest leaves around the harness's waits for the steps between them (reads, attachments, judging). */
export const MARGIN_MS = Math.round(60_000 * TIME_SCALE);

/** A vitest timeout for a test or hook whose waits, one after the other, are `waits`: their sum plus the margin. */
export function testTimeout(...waits: number[]): number {
  return waits.reduce((a, b) => a + b, 0) + MARGIN_MS;
}

/**
 * Worst case of preparing a suite (helpers/lab/lab.ts prepareSuite): the running settings read (two helm reads), a
 * Cilium change (helm, then operator, agents and their status, each within ciliumRolloutMs), the workloads deployed
 * (webpod: available, then its pods; curl-pod: its pod).
 */
export const PREPARE_MS =
  2 * DEADLINE.helmReadMs + DEADLINE.helmMs + 3 * DEADLINE.ciliumRolloutMs + 3 * DEADLINE.workloadMs + DEADLINE.runRemovalMs;

/** Worst case of a suite's own arrangement after prepareSuite (objects applied, rolled out, an LB IP and a lease). */
export const ARRANGE_MS = 2 * DEADLINE.rolloutMs + DEADLINE.lbIpMs + DEADLINE.leaseMs + 2 * DEADLINE.podsReadyMs;

/** Scenarios whose waits add up to more than VITEST_TIMEOUT.testMs set their own timeout, derived here. */
export const SCENARIO_TIMEOUT = {
  /** 40-lb-sharing, first scenario: two services each wait for the shared IP, then each port's first answer and one request. */
  lbSharingMs: testTimeout(2 * DEADLINE.lbipamMs, 2 * (DEADLINE.firstAnswerMs + DEADLINE.requestMs)),
  /** 90-l2-failover, the rebooted node back: the reboot deadline, one check that may overrun it (an exec). */
  nodeBackMs: testTimeout(DEADLINE.rebootMs, DEADLINE.execMs),
} as const;

/** The vitest timeouts of the lab project (vitest.config.ts), derived from the deadlines they wrap. */
export const VITEST_TIMEOUT = {
  /** A scenario: its waits are each at most one of the deadlines above; longer ones set their own (testTimeout). */
  testMs: Math.round(300_000 * TIME_SCALE),
  /** beforeAll (prepare + arrange) and afterAll (the suite's cleanup stack). */
  hookMs: testTimeout(PREPARE_MS, ARRANGE_MS),
  /** vitest's teardownTimeout: room for the run's objects to be deleted at the end. */
  teardownMs: testTimeout(DEADLINE.runRemovalMs),
} as const;
