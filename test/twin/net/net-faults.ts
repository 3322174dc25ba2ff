/**
 * The network side's product faults (issue 16; test/twin/README.md "Faults"): what each changes in the routes the
 * twin programs. Pure: the network side (twin-network.ts) asks these while programming a node or the router and
 * re-programs every node and the router when the faults change (so turning a fault off undoes it).
 *
 * - router-pod-routes: the router has `<node pod CIDR> via <node>` for every node, as a lab whose router was given
 *   static pod routes permanently (lab-reference.md: the 4w route-add1.sh workaround left in place) would; the
 *   native-routing suite's "cannot reach the other subnet" scenario must then see the pod answer.
 * - no-direct-routes: native routing with autoDirectNodeRoutes installs no peer route at all, as an agent whose
 *   `auto-direct-node-routes` did not take effect (cilium-behaviour.md 4: only then are same-subnet peers behind
 *   the router too).
 * - tunnel-mtu-1500: tunnel routes carry MTU 1500, no room for VXLAN's 50 bytes (cilium-behaviour.md 4; seed 002
 *   shows `mtu 1450`): a regression in the agent's route MTU.
 * - tunnel-plaintext: in tunnel mode, traffic to pods on a node of the other subnet leaves unencapsulated via the
 *   router (which is given pod routes so it arrives), as if the datapath bypassed cilium_vxlan for remote nodes
 *   (e.g. a native-routing CIDR wrongly covering the pod CIDR).
 */
import type { RoutingSettings } from '../contract.ts';
import type { FaultSet } from '../faults.ts';

export interface FaultNode {
  name: string;
  address: string;
  subnet: string;
  podCidr: string;
  hostIp: string;
  /** The router's address on the node's subnet (its route to the pod CIDR goes there). */
  gateway: string;
}

const has = (f: FaultSet | undefined, n: Parameters<FaultSet['has']>[0]): boolean => f?.has(n) ?? false;

/** The MTU of the tunnel routes the main table shows (`ip route`). */
export function tunnelRouteMtu(faults: FaultSet | undefined, normal: number): number {
  return has(faults, 'tunnel-mtu-1500') ? 1500 : normal;
}

/** Whether autoDirectNodeRoutes installs its same-subnet routes. */
export function directRoutesInstalled(faults: FaultSet | undefined): boolean {
  return !has(faults, 'no-direct-routes');
}

/** In tunnel mode, the plain route (table `table`) a node uses for a peer on another subnet instead of the tunnel, or null. */
export function plaintextTunnelRoute(faults: FaultSet | undefined, n: FaultNode, peer: FaultNode, table: number): string | null {
  if (!has(faults, 'tunnel-plaintext') || peer.subnet === n.subnet) return null;
  return `route replace ${peer.podCidr} via ${n.gateway} dev eth1 table ${table}`;
}

/** The pod routes the router has because of a fault (none normally). */
export function routerFaultRoutes(
  faults: FaultSet | undefined,
  routing: RoutingSettings,
  nodes: readonly FaultNode[],
): { dst: string; via: string }[] {
  const on = has(faults, 'router-pod-routes') || (has(faults, 'tunnel-plaintext') && routing.mode === 'tunnel');
  return on ? nodes.map((n) => ({ dst: n.podCidr, via: n.address })) : [];
}

/** `ip -batch` lines that make the router's fault routes exactly `want` (removing any it had, `proto static`). */
export function routerFaultCommands(
  want: readonly { dst: string; via: string }[],
  nodes: readonly FaultNode[],
): { del: string[]; add: string[] } {
  return {
    del: nodes.map((n) => `route del ${n.podCidr} via ${n.address} proto static`),
    add: want.map((r) => `route replace ${r.dst} via ${r.via} proto static`),
  };
}

/**
 * l2-every-node-answers: besides the holder, every other node up on the LB IP's subnet holds the IP too, so each
 * answers ARP for it with its own MAC — what a broken L2 announcer (every agent announcing, no lease respected)
 * would do (cilium-behaviour.md 2.3–2.5: only the lease holder answers). The nodes that answer wrongly for `ip`.
 */
export function extraAnnouncers(
  faults: FaultSet | undefined,
  ip: string,
  holder: string | null,
  nodes: readonly FaultNode[],
  onSubnet: (node: FaultNode, ip: string) => boolean,
): string[] {
  if (!has(faults, 'l2-every-node-answers') || holder === null) return [];
  return nodes.filter((n) => n.name !== holder && onSubnet(n, ip)).map((n) => n.name);
}

/**
 * ingress-unmatched-200: the Envoy stand-in (envoy.mjs) sends a request no rule matches to the first route's backend
 * while this flag file exists next to its routes file — as a stray catch-all route or a default backend rendered into
 * the shared listener would (cilium-behaviour.md 3: Envoy answers 404 when no route matches).
 */
export function unmatchedFlagFile(routesFile: string): string {
  return `${routesFile}.unmatched-200`;
}

export function ingressAnswersUnmatched(faults: FaultSet | undefined): boolean {
  return has(faults, 'ingress-unmatched-200');
}
