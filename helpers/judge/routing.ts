/**
 * Judgements for the routing scenarios (suites 10-native-routing and 20-vxlan): pure functions from
 * parsed observations (tcpdump lines, `ip route` entries, ping summaries, CiliumNode objects) to a
 * verdict with the sentence a person reads to see why. Nothing here runs a command.
 *
 * The beliefs about Cilium they encode, and where each comes from:
 * - Native routing with autoDirectNodeRoutes installs `podCIDR via nodeIP` only for peers on the same
 *   L2 segment; a peer behind a gateway gets no route (cilium-behaviour.md section 4, node.go
 *   createDirectRouteSpec). Pods on the other subnet are then reached through the nodes' static
 *   172.20.0.0/16 route to the router, which has no pod routes and forwards out its default route
 *   (lab-reference.md "Router facts"; seed 002 lines 92-113: `eth1 In` then `eth0 Out`).
 * - VXLAN uses UDP 8472 between node addresses and costs 50 bytes per packet (cilium-behaviour.md
 *   section 4); other nodes' pod CIDRs route via cilium_host with MTU 1450 and the overlay device is
 *   cilium_vxlan (seed 002 lines 205-215 and 242-247).
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import {
  addressOf,
  cidrContains,
  cidrsOverlap,
  interfaceOn,
  kubeNodes,
  node,
  primaryAddress,
  router,
  subnetOf,
  type Topology,
} from '../parse/topology.ts';
import { parseWhoami, type IpLink } from '../parse/index.ts';
import type { HttpAnswer, IpRoute, Packet, PingResult, RoutingStatus, Verdict } from './types.ts';

/** VXLAN's UDP port in Cilium (cilium-behaviour.md section 4; `tunnel-port` would override it). */
export const VXLAN_PORT = 8472;
/** Bytes VXLAN adds to every packet (cilium-behaviour.md section 4). */
export const VXLAN_OVERHEAD = 50;
/** The MTU on routes to other nodes' pod CIDRs in tunnel mode: the lab links' 1500 minus the VXLAN
 * overhead, as seen in seed 002 (`172.20.1.0/24 via 172.20.0.136 dev cilium_host ... mtu 1450`).
 * VERIFY: assumes the lab's node links keep the VirtualBox default MTU 1500. */
export const TUNNEL_ROUTE_MTU = 1500 - VXLAN_OVERHEAD;
export const CILIUM_HOST_DEVICE = 'cilium_host';
export const VXLAN_DEVICE = 'cilium_vxlan';

// ---------------------------------------------------------------------------------------------
// Addresses and routes
// ---------------------------------------------------------------------------------------------

/** "a.b.c.d/len" for a route destination ("default" -> 0.0.0.0/0, a bare address -> /32), or null. */
export function routeNetwork(dst: string): string | null {
  if (dst === 'default') return '0.0.0.0/0';
  const [ip, len, ...rest] = dst.split('/');
  if (rest.length > 0 || ip === undefined || !ipaddr.IPv4.isValidFourPartDecimal(ip)) return null;
  if (len === undefined) return `${ip}/32`;
  if (!/^\d{1,2}$/.test(len) || Number(len) > 32) return null;
  // Normalise the host bits away (ip route prints networks, but a hand-written fixture may not).
  return `${ipaddr.IPv4.networkAddressFromCIDR(`${ip}/${len}`).toString()}/${len}`;
}

function isIpv4(ip: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(ip);
}

/** True when `ip` is an IPv4 address inside `network`; false for anything unparseable. */
export function inNetwork(network: string, ip: string): boolean {
  return isIpv4(ip) && routeNetwork(network) !== null && cidrContains(routeNetwork(network) as string, ip);
}

function sameNetwork(a: string, b: string): boolean {
  const na = routeNetwork(a);
  return na !== null && na === routeNetwork(b);
}

function prefixLength(network: string): number {
  return Number(network.split('/')[1]);
}

/** The route the kernel would pick for `ip` from a main-table dump: longest prefix, then lowest metric. */
export function routeFor(routes: IpRoute[], ip: string): IpRoute | null {
  if (!isIpv4(ip)) return null;
  let best: { route: IpRoute; len: number; metric: number } | null = null;
  for (const route of routes) {
    const net = routeNetwork(route.dst);
    if (net === null || !cidrContains(net, ip)) continue;
    const len = prefixLength(net);
    const metric = route.metric ?? 0;
    if (!best || len > best.len || (len === best.len && metric < best.metric)) best = { route, len, metric };
  }
  return best?.route ?? null;
}

/** The device of the default route (the router's eth0 to the VirtualBox NAT in the reference lab). */
export function defaultRouteDevice(routes: IpRoute[]): string | null {
  const defaults = routes.filter((r) => routeNetwork(r.dst) === '0.0.0.0/0');
  defaults.sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0));
  return defaults[0]?.dev ?? null;
}

export function describeRoute(r: IpRoute): string {
  return [r.type, r.dst, r.via && `via ${r.via}`, r.dev && `dev ${r.dev}`, r.mtu !== null && `mtu ${r.mtu}`].filter(Boolean).join(' ');
}

/**
 * "The router's route table has no entry for the pod CIDR": no route other than the default one
 * overlaps `podCidr`. When `probe` (a pod address) is given, the explanation names the route the
 * kernel would use for it instead.
 */
export function judgeNoPodRoute(routes: IpRoute[], podCidr: string, probe?: string): Verdict {
  const entries = routes.filter((r) => {
    const net = routeNetwork(r.dst);
    return net !== null && net !== '0.0.0.0/0' && cidrsOverlap(net, podCidr);
  });
  const used = probe ? routeFor(routes, probe) : null;
  const fate = probe ? `; ${probe} would follow ${used ? describeRoute(used) : 'no route at all'}` : '';
  if (routes.length === 0) return { ok: false, explanation: 'the route table is empty: nothing to judge (was it read?)' };
  if (entries.length > 0) {
    return {
      ok: false,
      explanation: `the table has route(s) for pod addresses in ${podCidr}: ${entries.map(describeRoute).join('; ')}${fate}`,
    };
  }
  return { ok: true, explanation: `no route overlaps the pod CIDR ${podCidr} (${routes.length} routes)${fate}` };
}

/** The route used for `ip` has the expected next hop (and device, when given). */
export function judgeNextHop(routes: IpRoute[], ip: string, expected: { via: string; dev?: string }): Verdict {
  const route = routeFor(routes, ip);
  if (!route) return { ok: false, explanation: `no route matches ${ip} (${routes.length} routes)` };
  const viaOk = route.via === expected.via;
  const devOk = expected.dev === undefined || route.dev === expected.dev;
  const want = `via ${expected.via}${expected.dev ? ` dev ${expected.dev}` : ''}`;
  return {
    ok: viaOk && devOk,
    explanation: `${ip} follows "${describeRoute(route)}"; expected ${want}`,
  };
}

/** Every wanted `{dst, via}` is in the table. */
export function judgeRoutesPresent(routes: IpRoute[], wanted: { dst: string; via: string }[]): Verdict {
  if (wanted.length === 0) return { ok: false, explanation: 'no routes were asked for: nothing to check' };
  const missing = wanted.filter((w) => !routes.some((r) => sameNetwork(r.dst, w.dst) && r.via === w.via));
  return missing.length === 0
    ? { ok: true, explanation: `all ${wanted.length} routes are present: ${wanted.map((w) => `${w.dst} via ${w.via}`).join('; ')}` }
    : { ok: false, explanation: `missing: ${missing.map((w) => `${w.dst} via ${w.via}`).join('; ')}` };
}

/** None of `dsts` has a route (a node without a route to a peer, or the undo of a workaround that really removed it). */
export function judgeRoutesAbsent(routes: IpRoute[], dsts: string[]): Verdict {
  const left = routes.filter((r) => dsts.some((d) => sameNetwork(r.dst, d)));
  return left.length === 0
    ? { ok: true, explanation: `none of ${dsts.join(', ') || '(nothing)'} is in the table (${routes.length} routes)` }
    : { ok: false, explanation: `still present: ${left.map(describeRoute).join('; ')}` };
}

// ---------------------------------------------------------------------------------------------
// The workaround: one route per node pod CIDR, read from the cluster
// ---------------------------------------------------------------------------------------------

const ciliumNodeSchema = z.object({
  metadata: z.object({ name: z.string().min(1) }),
  spec: z.object({
    addresses: z.array(z.object({ type: z.string(), ip: z.string() })).optional(),
    ipam: z.object({ podCIDRs: z.array(z.string()).optional() }).optional(),
  }),
});

export interface PodRoute {
  node: string;
  dst: string;
  via: string;
}

/**
 * The static routes of seed 002's workaround (`ip route add 172.20.2.0/24 via 192.168.20.100`), derived
 * from CiliumNode objects: each node's IPv4 `spec.ipam.podCIDRs` via its InternalIP. The router must
 * reach every next hop directly, so each InternalIP must sit on one of `routerSubnets`.
 */
export function planRouterPodRoutes(ciliumNodes: unknown[], routerSubnets: string[]): { routes: PodRoute[]; problems: string[] } {
  const routes: PodRoute[] = [];
  const problems: string[] = [];
  if (ciliumNodes.length === 0) problems.push('the cluster has no CiliumNode objects');
  ciliumNodes.forEach((obj, i) => {
    const parsed = ciliumNodeSchema.safeParse(obj);
    if (!parsed.success) {
      problems.push(
        `CiliumNode #${i} is not shaped like a CiliumNode: ${parsed.error.issues.map((x) => `${x.path.join('.')} ${x.message}`).join(', ')}`,
      );
      return;
    }
    const { metadata, spec } = parsed.data;
    const internal = (spec.addresses ?? []).find((a) => a.type === 'InternalIP' && isIpv4(a.ip));
    const cidrs = (spec.ipam?.podCIDRs ?? []).filter((c) => routeNetwork(c) !== null && c.includes('/'));
    if (!internal) {
      problems.push(`CiliumNode ${metadata.name} has no IPv4 InternalIP in spec.addresses`);
      return;
    }
    if (cidrs.length === 0) {
      problems.push(`CiliumNode ${metadata.name} has no IPv4 pod CIDR in spec.ipam.podCIDRs`);
      return;
    }
    if (!routerSubnets.some((s) => inNetwork(s, internal.ip))) {
      problems.push(
        `CiliumNode ${metadata.name}'s InternalIP ${internal.ip} is on none of the router's subnets (${routerSubnets.join(', ')})`,
      );
      return;
    }
    for (const dst of cidrs) routes.push({ node: metadata.name, dst: routeNetwork(dst) as string, via: internal.ip });
  });
  return { routes, problems };
}

/** The pod CIDRs of one node and of all the others, from CiliumNode objects (tunnel-route judge input). */
export function podCidrsByNode(ciliumNodes: unknown[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const obj of ciliumNodes) {
    const parsed = ciliumNodeSchema.safeParse(obj);
    if (!parsed.success) continue;
    const cidrs = (parsed.data.spec.ipam?.podCIDRs ?? []).map(routeNetwork).filter((c): c is string => c !== null);
    out.set(parsed.data.metadata.name, cidrs);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What the router did with the packets (capture `tcpdump -i any -nn` on the router)
// ---------------------------------------------------------------------------------------------

export interface RouterPath {
  /** The pod that sends (curl-pod's address). */
  client: string;
  /** The pod it tries to reach (the k8s-w0 webpod's address). */
  target: string;
  /** Router interface on the client node's subnet (eth1). */
  arrivalIface: string;
  /** Router interface on the target node's subnet (eth2). */
  towardIface: string;
}

/** The router's view of a client node and a target node, from the topology (never hard-coded names). */
export interface LabRouterPath {
  /** Router interface on the client node's subnet (eth1 in the reference lab). */
  arrivalIface: string;
  /** Router interface on the target node's subnet (eth2). */
  towardIface: string;
  /** The router's address on the client node's subnet: the client node's next hop for pod CIDRs. */
  clientGateway: string;
  /** The target node's subnet (192.168.20.0/24). */
  towardSubnet: string;
}

export function routerPathFor(t: Topology, clientNode: string, targetNode: string): LabRouterPath {
  const r = router(t);
  if (!r) throw new Error(`topology ${t.name} has no router: the routing scenarios need one between the subnets`);
  const from = subnetOf(t, node(t, clientNode));
  const to = subnetOf(t, node(t, targetNode));
  if (from.name === to.name) throw new Error(`${clientNode} and ${targetNode} share subnet ${from.name}: no router between them`);
  const arrival = interfaceOn(r, from.name);
  const toward = interfaceOn(r, to.name);
  if (!arrival || !toward) throw new Error(`router ${r.name} has no interface on ${arrival ? to.name : from.name}`);
  return { arrivalIface: arrival.name, towardIface: toward.name, clientGateway: addressOf(arrival.address), towardSubnet: to.cidr };
}

/** The subnets the router sits on: where a static route's next hop must be. */
export function routerSubnets(t: Topology): string[] {
  const r = router(t);
  const names = new Set((r?.interfaces ?? []).map((i) => i.subnet).filter((s): s is string => s !== undefined));
  return t.subnets.filter((s) => names.has(s.name)).map((s) => s.cidr);
}

/** The Kubernetes nodes' addresses: the only legitimate outer addresses of VXLAN packets. */
export function kubeNodeAddresses(t: Topology): string[] {
  return kubeNodes(t).map(primaryAddress);
}

/** The first Kubernetes node on another subnet than `clientNode` (k8s-w0 for k8s-ctr), and one on the same subnet. */
export function peersOf(t: Topology, clientNode: string): { sameSubnet: string | null; otherSubnet: string | null } {
  const home = subnetOf(t, node(t, clientNode)).name;
  const others = kubeNodes(t).filter((n) => n.name !== clientNode);
  return {
    sameSubnet: others.find((n) => subnetOf(t, n).name === home)?.name ?? null,
    otherSubnet: others.find((n) => subnetOf(t, n).name !== home)?.name ?? null,
  };
}

function between(packets: Packet[], src: string, dst: string): Packet[] {
  return packets.filter((p) => p.srcIp === src && p.dstIp === dst);
}

function count(packets: Packet[], iface: string, direction: Packet['direction']): number {
  return packets.filter((p) => p.iface === iface && p.direction === direction).length;
}

/** "eth1 In ×2, eth0 Out ×2": where a set of packets was seen, for explanations. */
export function describeSightings(packets: Packet[]): string {
  const seen = new Map<string, number>();
  for (const p of packets) {
    const key = `${p.iface ?? '?'} ${p.direction ?? '?'}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return seen.size === 0 ? 'nowhere' : [...seen].map(([k, n]) => `${k} ×${n}`).join(', ');
}

function sightings(packets: Packet[], path: { client: string; target: string }): string {
  const req = between(packets, path.client, path.target);
  const rep = between(packets, path.target, path.client);
  return `${path.client} → ${path.target} seen ${describeSightings(req)}; ${path.target} → ${path.client} seen ${describeSightings(rep)}`;
}

/**
 * Did the router misroute? Packets from the client pod to the target pod arrived on the client's
 * subnet, left on the default-route interface, never left toward the target's subnet, and nothing
 * came back (seed 002: `eth1 In` then `eth0 Out` for every echo request, no reply).
 */
export function judgeMisrouted(packets: Packet[], path: RouterPath & { defaultIface: string | null }): Verdict {
  if (path.defaultIface === null) return { ok: false, explanation: 'the router has no default route: nothing to misroute to' };
  if (path.defaultIface === path.towardIface) {
    return {
      ok: false,
      explanation: `the default route leaves on ${path.towardIface}, the target subnet's interface: misrouting cannot be told from routing`,
    };
  }
  const req = between(packets, path.client, path.target);
  const rep = between(packets, path.target, path.client);
  const arrived = count(req, path.arrivalIface, 'In');
  const leftDefault = count(req, path.defaultIface, 'Out');
  const leftToward = count(req, path.towardIface, 'Out');
  const problems: string[] = [];
  if (arrived === 0) problems.push(`no packet ${path.client} → ${path.target} arrived on ${path.arrivalIface}`);
  if (leftDefault === 0) problems.push(`none left on the default-route interface ${path.defaultIface}`);
  if (leftToward > 0) problems.push(`${leftToward} left on ${path.towardIface}, toward the target's subnet`);
  if (rep.length > 0) problems.push(`${rep.length} packet(s) came back from ${path.target}`);
  const seen = sightings(packets, path);
  return problems.length === 0
    ? {
        ok: true,
        explanation: `misrouted: ${arrived} arrived on ${path.arrivalIface}, ${leftDefault} left on ${path.defaultIface} (default route), none toward ${path.towardIface}, no reply (${seen})`,
      }
    : { ok: false, explanation: `not the misrouting pattern: ${problems.join('; ')} (${seen})` };
}

/**
 * Did the router route across? Requests arrived on the client's subnet and left toward the target's
 * subnet only; replies came back the other way (seed 002 after the static routes: `eth1 In`,
 * `eth2 Out`, then `eth2 In`, `eth1 Out` for the reply).
 */
export function judgeRoutedAcross(packets: Packet[], path: RouterPath): Verdict {
  const req = between(packets, path.client, path.target);
  const rep = between(packets, path.target, path.client);
  const reqIn = count(req, path.arrivalIface, 'In');
  const reqOut = count(req, path.towardIface, 'Out');
  const strayOut = req.filter((p) => p.direction === 'Out' && p.iface !== path.towardIface);
  const repIn = count(rep, path.towardIface, 'In');
  const repOut = count(rep, path.arrivalIface, 'Out');
  const problems: string[] = [];
  if (reqIn === 0) problems.push(`no request arrived on ${path.arrivalIface}`);
  if (reqOut === 0) problems.push(`no request left on ${path.towardIface}`);
  if (strayOut.length > 0) problems.push(`${strayOut.length} request(s) left elsewhere (${describeSightings(strayOut)})`);
  if (repIn === 0) problems.push(`no reply came in on ${path.towardIface}`);
  if (repOut === 0) problems.push(`no reply went back out on ${path.arrivalIface}`);
  const seen = sightings(packets, path);
  return problems.length === 0
    ? {
        ok: true,
        explanation: `routed across: requests ${path.arrivalIface} In → ${path.towardIface} Out (${reqOut}), replies ${path.towardIface} In → ${path.arrivalIface} Out (${repOut}) (${seen})`,
      }
    : { ok: false, explanation: `not routed across: ${problems.join('; ')} (${seen})` };
}

// ---------------------------------------------------------------------------------------------
// VXLAN
// ---------------------------------------------------------------------------------------------

/**
 * Did the capture on the router show encapsulation? At least one UDP `port` packet from the client's
 * node to the target's node and one back, every such packet between node addresses, and no packet
 * with a pod address as its (outer) source or destination.
 */
export function judgeEncapsulated(
  packets: Packet[],
  o: { fromNode: string; toNode: string; nodeAddresses: string[]; podCidr: string; port?: number },
): Verdict {
  const port = o.port ?? VXLAN_PORT;
  const tunnel = packets.filter((p) => p.dstPort === port || p.srcPort === port);
  const forth = between(tunnel, o.fromNode, o.toNode).length;
  const back = between(tunnel, o.toNode, o.fromNode).length;
  const nodes = new Set(o.nodeAddresses);
  const stray = tunnel.filter((p) => !nodes.has(p.srcIp) || !nodes.has(p.dstIp));
  const bare = packets.filter((p) => inNetwork(o.podCidr, p.srcIp) || inNetwork(o.podCidr, p.dstIp));
  const problems: string[] = [];
  if (forth === 0) problems.push(`no UDP ${port} packet from ${o.fromNode} to ${o.toNode}`);
  if (back === 0) problems.push(`no UDP ${port} packet from ${o.toNode} back to ${o.fromNode}`);
  if (stray.length > 0)
    problems.push(
      `UDP ${port} involving non-node addresses: ${stray
        .slice(0, 3)
        .map((p) => `${p.srcIp} > ${p.dstIp}`)
        .join(', ')}`,
    );
  if (bare.length > 0)
    problems.push(
      `${bare.length} packet(s) with a pod address (${o.podCidr}) outside a tunnel, e.g. ${bare[0]?.srcIp} > ${bare[0]?.dstIp}`,
    );
  return problems.length === 0
    ? {
        ok: true,
        explanation: `encapsulated: ${forth} UDP ${port} packets ${o.fromNode} → ${o.toNode}, ${back} back, no bare pod address in ${packets.length} packets`,
      }
    : { ok: false, explanation: `not encapsulated as expected: ${problems.join('; ')} (${packets.length} packets)` };
}

/**
 * In a capture on the target's node (`tcpdump -i any`), the client's packets reach the target and
 * the replies leave through the overlay device (seed 002: `cilium_vxlan P IP 172.20.0.204 > 172.20.2.6`
 * and `cilium_vxlan Out IP 172.20.2.6 > 172.20.0.204`).
 */
export function judgeOverlayOnNode(packets: Packet[], o: { client: string; target: string; device?: string }): Verdict {
  const device = o.device ?? VXLAN_DEVICE;
  const req = between(packets, o.client, o.target);
  const rep = between(packets, o.target, o.client);
  const reqOnDevice = req.filter((p) => p.iface === device).length;
  const repOnDevice = rep.filter((p) => p.iface === device).length;
  const seen = sightings(packets, o);
  return reqOnDevice > 0 && repOnDevice > 0
    ? { ok: true, explanation: `through ${device}: ${reqOnDevice} request(s) in, ${repOnDevice} reply(ies) out (${seen})` }
    : { ok: false, explanation: `${device} carried ${reqOnDevice} request(s) and ${repOnDevice} reply(ies) (${seen})` };
}

/** The node has the link and it is administratively up (seed 002: `cilium_vxlan: <BROADCAST,MULTICAST,UP,LOWER_UP>`). */
export function judgeLinkUp(links: IpLink[], name: string): Verdict {
  const link = links.find((l) => l.name === name);
  if (!link) return { ok: false, explanation: `no link ${name} (links seen: ${links.map((l) => l.name).join(', ') || 'none'})` };
  return link.flags.includes('UP')
    ? { ok: true, explanation: `${name} is up <${link.flags.join(',')}>${link.mtu !== null ? ` mtu ${link.mtu}` : ''}` }
    : { ok: false, explanation: `${name} exists but is not up <${link.flags.join(',')}>` };
}

/**
 * In tunnel mode every other node's pod CIDR routes via this node's cilium_host address, on device
 * cilium_host, with the tunnel MTU (seed 002: `172.20.2.0/24 via 172.20.0.136 dev cilium_host proto
 * kernel src 172.20.0.136 mtu 1450`, where 172.20.0.136 lies in the node's own pod CIDR).
 */
export function judgeTunnelRoutes(routes: IpRoute[], o: { ownPodCidrs: string[]; otherPodCidrs: string[]; mtu?: number }): Verdict {
  const mtu = o.mtu ?? TUNNEL_ROUTE_MTU;
  if (o.otherPodCidrs.length === 0) return { ok: false, explanation: 'no other node pod CIDRs given: nothing to check' };
  const problems: string[] = [];
  const good: string[] = [];
  for (const cidr of o.otherPodCidrs) {
    const route = routes.find((r) => sameNetwork(r.dst, cidr));
    if (!route) {
      problems.push(`no route for ${cidr}`);
      continue;
    }
    const bad: string[] = [];
    if (route.dev !== CILIUM_HOST_DEVICE) bad.push(`dev ${route.dev ?? '(none)'} instead of ${CILIUM_HOST_DEVICE}`);
    if (route.mtu !== mtu) bad.push(`mtu ${route.mtu ?? '(none)'} instead of ${mtu}`);
    if (route.via === null || !o.ownPodCidrs.some((own) => inNetwork(own, route.via as string))) {
      bad.push(`via ${route.via ?? '(none)'} is not this node's cilium_host address (in ${o.ownPodCidrs.join(', ') || 'no own pod CIDR'})`);
    }
    if (bad.length > 0) problems.push(`"${describeRoute(route)}": ${bad.join(', ')}`);
    else good.push(describeRoute(route));
  }
  return problems.length === 0
    ? { ok: true, explanation: `every other node's pod CIDR routes via ${CILIUM_HOST_DEVICE} with mtu ${mtu}: ${good.join('; ')}` }
    : { ok: false, explanation: problems.join('; ') };
}

// ---------------------------------------------------------------------------------------------
// Reachability and the agents' routing mode
// ---------------------------------------------------------------------------------------------

/** Every echo request was answered. A ping that sent nothing proves nothing. */
export function judgePingAnswered(r: PingResult): Verdict {
  if (r.transmitted === 0) return { ok: false, explanation: 'ping sent no packet (did it run?)' };
  return r.received === r.transmitted
    ? { ok: true, explanation: `${r.received}/${r.transmitted} answered${r.rttAvgMs !== null ? `, avg ${r.rttAvgMs} ms` : ''}` }
    : {
        ok: false,
        explanation: `${r.received}/${r.transmitted} answered (${r.lossPercent}% loss)${r.unreachable ? ', unreachable reported' : ''}`,
      };
}

/** Every echo request was lost: the expected failure, with at least one packet actually sent. */
export function judgePingLost(r: PingResult): Verdict {
  if (r.transmitted === 0) return { ok: false, explanation: 'ping sent no packet, so its loss proves nothing (did it run?)' };
  return r.received === 0
    ? { ok: true, explanation: `all ${r.transmitted} echo requests lost${r.unreachable ? ' (unreachable reported)' : ''}` }
    : { ok: false, explanation: `${r.received}/${r.transmitted} answered: the target was reachable` };
}

/**
 * Every agent runs the wanted routing mode, read from `cilium-dbg status` (`Routing: Network: Tunnel
 * [vxlan]`), never inferred from the presence of the tunnel-protocol config key, which stays present in
 * native mode (cilium-behaviour.md section 4 and 4.1).
 */
export function judgeRoutingMode(
  agents: { node: string; status: RoutingStatus }[],
  wanted: { network: 'Native' | 'Tunnel'; tunnelProtocol?: string },
): Verdict {
  if (agents.length === 0) return { ok: false, explanation: 'no agent status to judge' };
  const describe = (s: RoutingStatus): string => `${s.routing.network}${s.routing.tunnelProtocol ? ` [${s.routing.tunnelProtocol}]` : ''}`;
  const wrong = agents.filter(
    (a) =>
      a.status.routing.network !== wanted.network ||
      (wanted.tunnelProtocol !== undefined && a.status.routing.tunnelProtocol !== wanted.tunnelProtocol),
  );
  const want = `${wanted.network}${wanted.tunnelProtocol ? ` [${wanted.tunnelProtocol}]` : ''}`;
  return wrong.length === 0
    ? { ok: true, explanation: `all ${agents.length} agents route ${want}` }
    : { ok: false, explanation: `expected ${want}; ${wrong.map((a) => `${a.node}: ${describe(a.status)}`).join(', ')}` };
}

/** An HTTP answer from the whoami webpod that names the expected pod (`Hostname: <pod>`). */
export function judgeWhoamiFrom(answer: HttpAnswer, expectedPod: string): Verdict {
  if (!answer.ok) return { ok: false, explanation: `no HTTP answer: ${answer.error ?? 'unknown error'}` };
  const hostname = parseWhoami(answer.body)?.hostname ?? null;
  if (answer.status !== 200) return { ok: false, explanation: `HTTP ${answer.status ?? '?'} (Hostname: ${hostname ?? 'none'})` };
  return hostname === expectedPod
    ? { ok: true, explanation: `HTTP 200 from ${hostname}` }
    : { ok: false, explanation: `HTTP 200 but the answer names ${hostname ?? 'no host'}, not ${expectedPod}` };
}
