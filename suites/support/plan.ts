/**
 * The lab suites in run order, with what each needs. The harness converges the lab to these needs before a suite
 * runs (helpers/lab/lab.ts prepareSuite), and `npm run plan` prints the resulting helm upgrades without a lab.
 *
 * Suite engineers own their entry's needs; file names are fixed (run order = file order). A suite declares only the
 * settings its scenario depends on: anything it leaves out may be changed for a later suite (helpers/cilium/needs.ts, fold rule).
 */
import { selectPlanned, suiteFileName, type CiliumSettings, type PlannedSuite, type SuiteNeeds } from '../../helpers/cilium/needs.ts';
import type { Topology } from '../../helpers/lab/topology.ts';

/** The Cilium settings the lab has after `npm run lab:up` (the team contract's base state). */
export function baseCilium(t: Pick<Topology, 'podCidr'>): CiliumSettings {
  return {
    routingMode: 'native',
    // Rendered as tunnel-protocol: vxlan even in native mode (cilium-behaviour.md 4).
    tunnelProtocol: 'vxlan',
    autoDirectNodeRoutes: true,
    ipv4NativeRoutingCIDR: t.podCidr,
    kubeProxyReplacement: true,
    'bpf.masquerade': true,
    'l2announcements.enabled': false,
    'ingressController.enabled': false,
    // The chart's default (cilium values.yaml): declared so that "off" needs are met by the base lab.
    'encryption.enabled': false,
  };
}

const TUNNEL_VXLAN: CiliumSettings = { routingMode: 'tunnel', tunnelProtocol: 'vxlan', autoDirectNodeRoutes: false };

/**
 * Needs OFF (issue 17): suites whose assertions read the wire between nodes (pod addresses on the router, bare UDP 8472)
 * declare encryption off, so the fold rule never folds 80-wireguard's encryption into an upgrade made before them.
 */
const CLEAR_WIRE: CiliumSettings = { 'encryption.enabled': false };

/** WireGuard as seed 004 turns it on (`--set encryption.enabled=true --set encryption.type=wireguard`). */
const WIREGUARD: CiliumSettings = { 'encryption.enabled': true, 'encryption.type': 'wireguard' };

/**
 * LB-IPAM and L2 suites: tunnel/vxlan so that k8s-w0 (the other subnet) backends are reachable, plus L2 announcements
 * so the router reaches LB IPs. kubeProxyReplacement=true is the documented prerequisite of L2 announcements
 * (cilium-behaviour.md 2.1); the base lab already has it, so declaring it costs no upgrade.
 */
const LB_L2: CiliumSettings = { ...TUNNEL_VXLAN, kubeProxyReplacement: true, 'l2announcements.enabled': true };

const BOTH: SuiteNeeds['workloads'] = ['webpod', 'curl-pod'];

// In a full run the fold rule enables the ingress controller in the upgrade before 20-vxlan (npm run plan), so
// kube-system/cilium-ingress exists from then on. VERIFY (cilium-behaviour.md 3 and open item 2): the chart creates
// that LoadBalancer Service whenever ingressController.enabled=true; it takes no pool IP only because every harness
// pool selects services by the run label (team contract), and the ingress suite's pool selects it explicitly.

export const SUITES: PlannedSuite[] = [
  // Lab health only reads: it checks the lab is whole before anything is deployed or upgraded (issue 5).
  { file: '00-lab-health.test.ts', title: 'Lab health', needs: {} },
  {
    file: '10-native-routing.test.ts',
    title: 'Native routing',
    // No ipv4NativeRoutingCIDR here: it is the lab's pod CIDR, which provisioning sets from the topology (a fixed
    // value would be the reference lab's and would re-point native routing on a lab with another topology).
    // helpers/needs.ts checkSettings still refuses native routing when the running lab has none.
    needs: { cilium: { routingMode: 'native', autoDirectNodeRoutes: true, ...CLEAR_WIRE }, workloads: BOTH },
  },
  { file: '20-vxlan.test.ts', title: 'VXLAN overlay', needs: { cilium: { ...TUNNEL_VXLAN, ...CLEAR_WIRE }, workloads: BOTH } },
  { file: '30-lb-ipam.test.ts', title: 'LB-IPAM', needs: { cilium: LB_L2, workloads: BOTH } },
  { file: '40-lb-sharing.test.ts', title: 'LB IP sharing', needs: { cilium: LB_L2, workloads: BOTH } },
  { file: '50-l2-announcements.test.ts', title: 'L2 announcements', needs: { cilium: LB_L2, workloads: BOTH } },
  {
    file: '60-ingress.test.ts',
    title: 'Ingress (shared mode)',
    needs: {
      cilium: {
        ...LB_L2,
        'ingressController.enabled': true,
        'ingressController.loadbalancerMode': 'shared',
        'loadBalancer.l7.backend': 'envoy',
      },
      workloads: BOTH,
    },
  },
  // Issue 17: kube-proxy replacement and network policy. Tunnel/vxlan so k8s-w0 (across the router) is reachable;
  // both run under what the LB suites already set (no upgrade of their own). 70 declares KPR on (what it proves).
  {
    file: '70-kube-proxy-replacement.test.ts',
    title: 'kube-proxy replacement',
    needs: { cilium: { ...TUNNEL_VXLAN, kubeProxyReplacement: true }, workloads: BOTH },
  },
  { file: '75-network-policy.test.ts', title: 'Network policy (WEB → WAS → DB)', needs: { cilium: TUNNEL_VXLAN, workloads: BOTH } },
  // issue 17 (L7 policy, WireGuard): entries of the l7-wireguard branch.
  {
    // L7 policy on the webpod next to curl-pod's node (same subnet: reachable in every routing mode). Its judges read
    // HTTP answers and Hubble's L7 flows, never the wire, so it declares no Cilium setting (Envoy and Hubble are on
    // by chart default; the Hubble scenario skips with the reason when Hubble is off).
    file: '76-l7-policy.test.ts',
    title: 'L7 HTTP policy (Envoy)',
    needs: { workloads: BOTH },
  },
  {
    // Tunnel as 20-vxlan, so only encryption changes: one upgrade, made here (never folded earlier: 10 and 20 need it off).
    file: '80-wireguard.test.ts',
    title: 'WireGuard encryption between nodes',
    needs: { cilium: { ...TUNNEL_VXLAN, ...WIREGUARD }, workloads: BOTH },
  },
  // 90-l2-failover runs after 80 with WireGuard on, on purpose: it judges the router's answers from the LB IP and the
  // lease's move (router -> node traffic, which WireGuard does not touch; cilium-behaviour.md 2.3-2.4), never
  // pod-to-pod bytes on the wire, so it declares no encryption and costs no third upgrade.
  {
    file: '90-l2-failover.test.ts',
    title: 'L2 announcement failover (reboots the lease holder)',
    needs: { cilium: LB_L2, workloads: BOTH, destructive: true },
  },
];

export { suiteFileName };

export function suiteOf(fileOrUrl: string): PlannedSuite {
  const name = suiteFileName(fileOrUrl);
  const s = SUITES.find((x) => x.file === name);
  if (!s) throw new Error(`${name} is not in suites/support/plan.ts SUITES (known: ${SUITES.map((x) => x.file).join(', ')})`);
  return s;
}

export function needsOf(fileOrUrl: string): SuiteNeeds {
  return suiteOf(fileOrUrl).needs;
}

/** The planned suites among `files` (paths, URLs or names), in SUITES order; unknown files are ignored. */
export function selectSuites(files: readonly string[]): PlannedSuite[] {
  return selectPlanned(SUITES, files);
}
