/**
 * The fault catalogue (issue 16): for each fault of test/twin/faults.ts, what the twin does, which suites
 * `npm run test:faults` runs with it on, and what the run must show. The runner (test/twin/faults-run.ts) judges a
 * run against its case and prints `<fault>: caught|handled|missed|wrongly failed …`; docs/faults.md is generated from
 * the last run, the README's per-suite list from this file.
 *
 * Sections: issue 16's product faults, issue 16's lab faults, then one section per suite added later (each new suite
 * adds at least one product fault its scenarios catch).
 */
import type { Twin } from './twin.ts';
import type { FaultName } from './faults.ts';
import { LAB_FAULT_CASES } from './fault-cases-lab.ts';

/** One test of a fault run, from vitest's JSON report (CLH_VITEST_JSON). */
export interface TestOutcome {
  /** Suite file name, e.g. `10-native-routing.test.ts`. */
  file: string;
  /** describe + test title, as vitest's fullName. */
  fullName: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo';
  /** The failure messages (assertion text, the verdict's explanation). */
  failureMessages: string[];
  durationMs: number;
}

/** What one fault run produced, handed to the case's checks. */
export interface FaultRun {
  tests: TestOutcome[];
  /** `npm test`'s exit code (null if ended by a signal) and how long it ran. */
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  /** Everything the run printed (stdout + stderr), for lab faults whose proof is in what the run says. */
  output: string;
  /** What the run left in the twin (Twin.leftovers(), plus the router's routes compared with before the run). */
  leftovers: string[];
  /** The run's reports folder (Allure results of this run), e.g. to read a timeline attachment. */
  reportsDir: string;
  /** Set when the runner ended the run at its time bound (the whole process group killed): why. */
  timedOut?: string;
  /** Set when the case's act hook threw or did not end: its message. */
  actError?: string;
}

/** Something done to the twin while the run is on (cut SSH, restart the API, SIGINT), started with the run. */
export interface FaultActContext {
  twin: Twin;
  /** Resolves when the run's output so far matches `re` (or rejects after `timeoutMs`). */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<string>;
  /** Sends a signal to the whole `npm test` process group. */
  signalRun(sig: NodeJS.Signals): void;
  /** Aborted when the run has ended: stop acting. */
  signal: AbortSignal;
  log(line: string): void;
}

export interface ProductExpect {
  kind: 'product';
  /** The scenario that must fail: its suite file and a pattern of its fullName. */
  caughtBy: { suite: string; scenario: RegExp };
  /** Each must match the scenario's failure message (the explanation names the cause). */
  explains: RegExp[];
  /** A suite the fault must not affect: every test in it passes. */
  unaffected: string;
}

export interface LabExpect {
  kind: 'lab';
  /** What the run must do, as the issue's table says it (printed and in docs/faults.md). */
  must: string;
  /** The problems with the run (empty: handled as the table says). */
  check(run: FaultRun): string[];
}

export interface FaultCase {
  name: FaultName;
  /** What the twin does, as the issue's table says it (README and docs/faults.md). */
  does: string;
  /** Suite files run with the fault on, in run order (only what the fault needs). */
  suites: string[];
  expect: ProductExpect | LabExpect;
  /** Started alongside the run (lab faults that are events, not states). */
  act?(ctx: FaultActContext): Promise<void>;
  /** The fault cannot be undone by turning it off (a node that never returns): the runner uses a fresh twin after it. */
  spoilsTwin?: boolean;
  /** Where the fault's model comes from (what a real regression or lab problem looks like). */
  source: string;
  /** The run's time bound (default the runner's, FAULTS_TIMEOUT_S or 240 s); past it the run is killed and judged. */
  timeoutMs?: number;
}

const suite = (n: string): string => `suites/${n}.test.ts`;

export const FAULT_CASES: FaultCase[] = [
  // ---- issue 16: product faults ----------------------------------------------------------------------------------
  {
    name: 'router-pod-routes',
    does: "the router has a route to every node's pod CIDR (`<pod CIDR> via <node> proto static`)",
    source:
      'a lab whose router keeps static pod routes (lab-reference.md: the 4w route-add1.sh workaround left in place); seed 002 shows the router without them',
    suites: [suite('10-native-routing'), suite('30-lb-ipam')],
    expect: {
      kind: 'product',
      caughtBy: {
        suite: '10-native-routing.test.ts',
        scenario: /curl-pod cannot reach the webpod on the other subnet: the router sends it out its default route/,
      },
      explains: [/\d+\/\d+ answered: the target was reachable/, /left on eth\d, toward the target's subnet/],
      unaffected: '30-lb-ipam.test.ts',
    },
  },
  {
    name: 'no-direct-routes',
    does: 'native routing with autoDirectNodeRoutes installs no direct route, not even to the same-subnet peer',
    source:
      "cilium-behaviour.md 4: autoDirectNodeRoutes' `podCIDR via nodeIP` for peers on the shared L2 segment missing (the setting not taking effect)",
    suites: [suite('10-native-routing'), suite('20-vxlan')],
    expect: {
      kind: 'product',
      caughtBy: {
        suite: '10-native-routing.test.ts',
        scenario: /curl-pod's node routes the same-subnet pod CIDR directly and the other-subnet one via the router/,
      },
      explains: [/direct route to k8s-w1's pods: missing: 198\.19\.1\.0\/24 via 198\.18\.10\.101/],
      unaffected: '20-vxlan.test.ts',
    },
  },
  {
    name: 'tunnel-mtu-1500',
    does: 'tunnel routes carry MTU 1500 (no room for the 50-byte VXLAN overhead)',
    source:
      'seed 002 (`... dev cilium_host proto kernel src ... mtu 1450`); cilium-behaviour.md 4 (VXLAN overhead): an agent route-MTU regression',
    suites: [suite('20-vxlan'), suite('10-native-routing')],
    expect: {
      kind: 'product',
      caughtBy: {
        suite: '20-vxlan.test.ts',
        scenario: /every node has cilium_vxlan and routes the other nodes' pod CIDRs via cilium_host with MTU 1450/,
      },
      explains: [/mtu 1500 instead of 1450/],
      unaffected: '10-native-routing.test.ts',
    },
  },
  {
    name: 'tunnel-plaintext',
    does: "in tunnel mode, pod traffic to the other subnet's node leaves unencapsulated via the router (which is given pod routes so it arrives)",
    source:
      'cilium-behaviour.md 4 (tunnel mode: only UDP 8472 between node addresses on the wire); a datapath that bypasses cilium_vxlan for remote nodes',
    suites: [suite('20-vxlan'), suite('10-native-routing')],
    expect: {
      kind: 'product',
      caughtBy: { suite: '20-vxlan.test.ts', scenario: /the router sees only UDP 8472 between node addresses/ },
      explains: [/with a pod address \(198\.19\.0\.0\/17\) outside a tunnel, e\.g\. 198\.19\.\d+\.\d+ > 198\.19\.\d+\.\d+/],
      unaffected: '10-native-routing.test.ts',
    },
  },
  {
    name: 'lbipam-outside-pool',
    does: "LB-IPAM assigns an IP just past every pool's blocks",
    source: "lbipam.go allocates only from a selecting pool's ranges (cilium-behaviour.md 1); an allocator range bug",
    suites: [suite('30-lb-ipam'), suite('00-lab-health')],
    expect: {
      kind: 'product',
      caughtBy: {
        suite: '30-lb-ipam.test.ts',
        scenario: /webpod as type LoadBalancer gets an IP from the block, IPAMRequestSatisfied True/,
      },
      explains: [/expected IPs only from the block 198\.18\.\d+\.\d+-198\.18\.\d+\.\d+, got 198\.18\.\d+\.\d+/],
      unaffected: '00-lab-health.test.ts',
    },
  },
  {
    name: 'lbipam-wrong-reason',
    does: 'an exhausted pool is reported `no_pool` instead of `out_of_ips`',
    source:
      'lbipam.go sets reason out_of_ips when a selecting pool is full (cilium-behaviour.md 1.3): a regression in the condition reason',
    suites: [suite('30-lb-ipam'), suite('00-lab-health')],
    expect: {
      kind: 'product',
      caughtBy: { suite: '30-lb-ipam.test.ts', scenario: /when the pool is exhausted the next service reports out_of_ips/ },
      explains: [/expected no IP and cilium\.io\/IPAMRequestSatisfied False\/out_of_ips/, /IPAMRequestSatisfied False\/no_pool/],
      unaffected: '00-lab-health.test.ts',
    },
  },
  {
    name: 'sharing-ignored',
    does: 'the sharing-key annotation is ignored: services with the same key get different IPs (or none)',
    source: 'service_store.go / lbipam.go sharing (cilium-behaviour.md 1.4): a regression that drops the sharing key',
    suites: [suite('40-lb-sharing'), suite('30-lb-ipam')],
    expect: {
      kind: 'product',
      caughtBy: {
        suite: '40-lb-sharing.test.ts',
        scenario: /two services with the same key, the same requested IP and different ports both get it/,
      },
      explains: [/share-alt holds 198\.18\.\d+\.\d+/, /share-alt: EXTERNAL-IP (<pending>|198\.18\.\d+\.\d+)/],
      unaffected: '30-lb-ipam.test.ts',
    },
  },
  {
    name: 'l2-every-node-answers',
    does: 'every node on the LB subnet holds the LB IP, so each answers ARP for it with its own MAC',
    source: 'cilium-behaviour.md 2.3-2.5 (only the lease holder answers ARP; l2announcer.go): an announcer that ignores the lease',
    suites: [suite('50-l2-announcements'), suite('30-lb-ipam')],
    expect: {
      kind: 'product',
      caughtBy: {
        suite: '50-l2-announcements.test.ts',
        scenario: /arping the LB IP from the router: every reply carries the holder's eth1 MAC, no other MAC answers/,
      },
      explains: [/answered by ([0-9a-f]{2}:){5}[0-9a-f]{2} \(k8s-[\w-]+\)/, /Seen: ([0-9a-f]{2}:){5}[0-9a-f]{2} \(k8s-[\w-]+\)/],
      unaffected: '30-lb-ipam.test.ts',
    },
  },
  {
    name: 'ingress-unmatched-200',
    does: "the shared ingress's Envoy answers a path no rule matches with 200, from the first rule's backend",
    source: 'cilium-behaviour.md 3 (Envoy answers 404, server: envoy, when no route matches): a stray catch-all route / default backend',
    suites: [suite('60-ingress'), suite('50-l2-announcements')],
    expect: {
      kind: 'product',
      caughtBy: {
        suite: '60-ingress.test.ts',
        scenario: /from the router: \/ answers 200 from the first backend, \/details\/1 from the second, an unrouted path 404 from Envoy/,
      },
      explains: [/a path no rule matches/, /HTTP 200 from \S+/],
      unaffected: '50-l2-announcements.test.ts',
    },
  },
  {
    name: 'lease-stuck',
    does: 'after the lease holder reboots no other node takes its lease (it keeps naming the rebooted node until it returns)',
    source:
      'cilium-behaviour.md 2.4 and seed 002 (failover: another node takes the lease once it expires, ~15 s): lease acquisition that hangs',
    suites: [suite('90-l2-failover'), suite('50-l2-announcements')],
    expect: {
      kind: 'product',
      caughtBy: {
        suite: '90-l2-failover.test.ts',
        scenario: /reboot the lease holder: another selected node holds the lease within the bound/,
      },
      explains: [/did not fail over/, /still names k8s-[\w-]+/],
      unaffected: '50-l2-announcements.test.ts',
    },
  },
  // ---- issue 16: lab faults (test/twin/fault-cases-lab.ts) ---------------------------------------------------------
  ...LAB_FAULT_CASES,
  // -- issue 17: 76-l7-policy ---------------------------------------------------------------
  {
    name: 'l7-allows-all',
    does: "the L7 policy's Envoy forwards every request to the backend (200 where the policy must deny with 403)",
    source:
      'cilium pkg/option/config.go HTTP403Message (a denied request is answered 403 "Access denied"): an Envoy that lost its HTTP policy filter',
    suites: [suite('00-lab-health'), suite('76-l7-policy')],
    expect: {
      kind: 'product',
      caughtBy: { suite: '76-l7-policy.test.ts', scenario: /(GET \/private|POST \/public) is denied by Envoy: 403 "Access denied"/ },
      explains: [/(GET \/private|POST \/public) must be denied with 403 "Access denied"/, /200 from webpod-/],
      unaffected: '00-lab-health.test.ts',
    },
  },
  // -- issue 17: 80-wireguard ----------------------------------------------------------------
  {
    name: 'wireguard-plaintext',
    does: 'the agents report WireGuard (cilium_wg0, port 51871, peers) but pod traffic between nodes crosses the router in clear (VXLAN)',
    source:
      'issue 17 / cilium WireGuard docs (pod traffic between nodes leaves encrypted in UDP 51871): a datapath that stops routing pod traffic into cilium_wg0',
    suites: [suite('76-l7-policy'), suite('80-wireguard')],
    expect: {
      kind: 'product',
      caughtBy: { suite: '80-wireguard.test.ts', scenario: /across the router, which sees only UDP 51871 between node addresses/ },
      explains: [/plaintext/, /198\.19\.\d+\.\d+/],
      unaffected: '76-l7-policy.test.ts',
    },
  },
  // -- issue 17: 70-kube-proxy-replacement ------------------------------------------------------
  {
    name: 'kube-proxy-left',
    // The unaffected suite is lab health (it reads kube-system's agents next to the stray DaemonSet), not 75: 75's
    // policy rounds cost ~1.5 min, and CI runs the whole catalogue within its 40-minute budget.
    timeoutMs: 240_000,
    does: "a kube-proxy DaemonSet (kube-system/kube-proxy) is left running and kube-proxy's nat chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-SVC-…) are on every node",
    suites: [suite('00-lab-health'), suite('70-kube-proxy-replacement')],
    expect: {
      kind: 'product',
      caughtBy: { suite: '70-kube-proxy-replacement.test.ts', scenario: /no kube-proxy DaemonSet runs and no node has KUBE-SERVICES/ },
      explains: [
        /kube-proxy DaemonSet is running alongside .*kube-system\/kube-proxy/,
        /kube-proxy's iptables chains are on the nodes: .*nat\/KUBE-SERVICES/,
      ],
      unaffected: '00-lab-health.test.ts',
    },
    source:
      'seed 004 (kube-proxy still deployed next to kubeProxyReplacement until `kubectl delete ds kube-proxy -n kube-system`); lab-reference.md (weeks 1-5 had kube-proxy deployed); kubernetes pkg/proxy/iptables chain names',
  },
  // -- issue 17: 75-network-policy --------------------------------------------------------------
  {
    name: 'policy-not-enforced',
    // Runs 70 and 75 (75's policy rounds last up to 30 s each under the fault): ~133 s through test:faults on a quiet machine.
    timeoutMs: 360_000,
    does: 'NetworkPolicies are accepted by the API but never enforced: no pod drops anything and Hubble records every attempt FORWARDED',
    suites: [suite('70-kube-proxy-replacement'), suite('75-network-policy')],
    expect: {
      kind: 'product',
      caughtBy: { suite: '75-network-policy.test.ts', scenario: /with default-deny .*every pair is dropped/ },
      explains: [/web→db:3306 connected \(HTTP 200\) where a policy must drop it/],
      unaffected: '70-kube-proxy-replacement.test.ts',
    },
    source:
      'issue 17 ("a Cilium upgrade that silently stops enforcing a policy"); seed 004 (default-deny-all, allow-was-to-db, allow-web-to-was)',
  },
];
