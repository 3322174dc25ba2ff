/**
 * Pure judgements for L2 announcements (issue 7): which node answers ARP for a LoadBalancer IP,
 * who holds the announcement lease, what the router's neighbour table and the agents' l2-announce
 * tables say. Data in, verdict + explanation out; nothing here runs a command.
 *
 * Cilium beliefs used here, all from /work/shared/docs/cilium-behaviour.md:
 * - the lease is `cilium-l2announce-<service-namespace>-<service-name>` in Cilium's namespace
 *   (normally kube-system) and `spec.holderIdentity` is the node name (section 2.3);
 * - only nodes matched by a policy's nodeSelector take part in the election (2.3);
 * - policy interface regexes are unanchored Go regexps, so `eth1` would also match `veth1xyz`:
 *   use `^eth1$` (2.2);
 * - only the lease holder has rows for the service in its l2-announce table (2.5), and only the
 *   holder answers ARP for the IP, with the MAC of the announcing interface (2.4/2.6: one node per IP).
 */
import { cidrContains, interfaceOn, kubeNodes, router, type Role, type Topology } from '../parse/topology.ts';
import { normalizeMac as parseMac } from '../parse/common.ts';
import type { ArpingResult, L2AnnounceEntry } from '../parse/index.ts';
import type { HttpAnswer, Verdict } from './types.ts';

/** neighbourOf(ssh, on, ip) in helpers/transport/probes.ts: the router's entry for one address (null: none at all). */
export interface NeighbourEntry {
  ip: string;
  mac: string | null;
  /** NUD state (REACHABLE, STALE…); null when the source has none (`arp -a`). */
  state: string | null;
}

// ---------------------------------------------------------------------------------------------
// Names and plans derived from the topology
// ---------------------------------------------------------------------------------------------

/** Cilium's namespace, where the L2 leases live (cilium-behaviour.md 2.3). */
export const L2_LEASE_NAMESPACE = 'kube-system';

/** `cilium-l2announce-<ns>-<svc>` (cilium-behaviour.md 2.3: newLeaseLock in l2announcer.go). */
export function l2LeaseName(serviceNamespace: string, serviceName: string): string {
  return `cilium-l2announce-${serviceNamespace}-${serviceName}`;
}

/**
 * A Go regexp that matches exactly one interface name. Policy interface regexes are unanchored
 * (cilium-behaviour.md 2.2), so a bare `eth1` would also select `veth1abc`.
 */
export function exactInterfaceRegex(iface: string): string {
  return `^${iface.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')}$`;
}

export interface L2Candidate {
  /** Kubernetes node name (= lab node name). */
  node: string;
  role: Role;
  /** The node's interface on the LB pool's subnet: where it would answer ARP. */
  iface: string;
}

/**
 * The Kubernetes nodes that can announce the LB pool: those with an interface on the lab subnet
 * that holds the pool (an ARP answer only reaches the router on the same segment). In the
 * reference lab: k8s-ctr and k8s-w1 on eth1 (k8s-w0 sits on the other subnet).
 */
export function l2Candidates(t: Topology): L2Candidate[] {
  const subnet = lbSubnet(t);
  const out: L2Candidate[] = [];
  for (const n of kubeNodes(t)) {
    const iface = n.interfaces.find((i) => i.subnet === subnet.name);
    if (iface) out.push({ node: n.name, role: n.role, iface: iface.name });
  }
  return out;
}

/** The lab subnet that holds the LB pool (the topology schema guarantees there is one). */
export function lbSubnet(t: Topology): Topology['subnets'][number] {
  const subnet = t.subnets.find((s) => cidrContains(s.cidr, t.lbPool.start) && cidrContains(s.cidr, t.lbPool.stop));
  if (!subnet) throw new Error(`LB pool ${t.lbPool.start}-${t.lbPool.stop} lies in no lab subnet of topology ${t.name}`);
  return subnet;
}

/** The router and its interface on the LB pool's subnet: where the L2 suites arping and curl from. */
export function routerOnLbSubnet(t: Topology): { router: string; iface: string } {
  const r = router(t);
  const subnet = lbSubnet(t);
  const iface = r && interfaceOn(r, subnet.name);
  if (!r || !iface)
    throw new Error(
      `topology ${t.name} has no router on ${subnet.name} (${subnet.cidr}), the LB pool's subnet: nothing outside the cluster can test the announcements`,
    );
  return { router: r.name, iface: iface.name };
}

// ---------------------------------------------------------------------------------------------
// MAC addresses
// ---------------------------------------------------------------------------------------------

/**
 * `08:00:27:85:32:ca`, `08-00-27-85-32-CA` and `8:0:27:85:32:ca` all become `08:00:27:85:32:ca`;
 * anything that is not six hex octets (or nothing) gives null. (The parsers' rule, helpers/parse/common.ts.)
 */
export function normalizeMac(mac: string | null | undefined): string | null {
  return mac ? parseMac(mac.trim()) : null;
}

/** Which known node owns a MAC (nodeMacs: node name → MAC of its announcing interface). */
function nodeOfMac(mac: string | null, nodeMacs: Record<string, string>): string | null {
  if (mac === null) return null;
  for (const [node, m] of Object.entries(nodeMacs)) if (normalizeMac(m) === mac) return node;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Lease
// ---------------------------------------------------------------------------------------------

/** The parts of a coordination.k8s.io Lease the judges read (same fields as the lease watcher's events). */
export interface LeaseState {
  holder: string | null;
  renewTime: string | null;
  transitions: number | null;
}

/** The lease exists and is held by one of the nodes the policy selects. */
export function judgeLeaseHolder(o: {
  leaseName: string;
  lease: LeaseState | null;
  candidates: string[];
}): Verdict & { holder: string | null } {
  const where = `Lease ${L2_LEASE_NAMESPACE}/${o.leaseName}`;
  if (o.lease === null) {
    return {
      ok: false,
      holder: null,
      explanation: `${where} does not exist: no selected node (${o.candidates.join(', ')}) took part in the election for the service.`,
    };
  }
  const holder = o.lease.holder === '' ? null : o.lease.holder;
  const seen = `renewTime ${o.lease.renewTime ?? 'unset'}, ${o.lease.transitions ?? '?'} transitions`;
  if (holder === null) {
    return { ok: false, holder: null, explanation: `${where} has no holder (${seen}); expected one of ${o.candidates.join(', ')}.` };
  }
  if (!o.candidates.includes(holder)) {
    return {
      ok: false,
      holder,
      explanation: `${where} is held by ${holder}, which the policy does not select (selected: ${o.candidates.join(', ')}; ${seen}).`,
    };
  }
  return {
    ok: true,
    holder,
    explanation: `${where} is held by ${holder}, one of the selected nodes ${o.candidates.join(', ')} (${seen}).`,
  };
}

// ---------------------------------------------------------------------------------------------
// ARP from the router
// ---------------------------------------------------------------------------------------------

export interface ArpAnswerer {
  mac: string;
  /** The node whose announcing interface has this MAC, or null for a MAC no candidate owns. */
  node: string | null;
  replies: number;
}

/** Groups arping replies by MAC and names the node behind each MAC. Replies for another IP are left out. */
export function whoAnswersArp(arping: ArpingResult, ip: string, nodeMacs: Record<string, string>): ArpAnswerer[] {
  const byMac = new Map<string, ArpAnswerer>();
  for (const r of arping.replies) {
    if (r.ip !== ip) continue;
    const mac = normalizeMac(r.mac) ?? r.mac;
    const a = byMac.get(mac) ?? { mac, node: nodeOfMac(normalizeMac(r.mac), nodeMacs), replies: 0 };
    a.replies++;
    byMac.set(mac, a);
  }
  return [...byMac.values()];
}

/**
 * arping the LB IP from the router: at least one reply, and every reply carries the MAC of the
 * holder's announcing interface; no other MAC answers (one node per IP).
 */
export function judgeArpAnswer(o: {
  ip: string;
  arping: ArpingResult;
  holder: string;
  /** node name → MAC of its announcing interface (read from each node). Must contain the holder. */
  nodeMacs: Record<string, string>;
}): Verdict & { answerers: ArpAnswerer[] } {
  const holderMac = normalizeMac(o.nodeMacs[o.holder]);
  const answerers = whoAnswersArp(o.arping, o.ip, o.nodeMacs);
  const name = (a: ArpAnswerer): string => `${a.mac} (${a.node ?? 'no candidate node'}) ×${a.replies}`;
  const seen = answerers.length ? answerers.map(name).join(', ') : 'no reply';
  const stats = `${o.arping.sent} sent, ${o.arping.received} received`;
  const problems: string[] = [];
  if (holderMac === null) problems.push(`the holder ${o.holder}'s MAC is unknown (${o.nodeMacs[o.holder] ?? 'not read'})`);
  if (o.arping.target !== o.ip) problems.push(`arping targeted ${o.arping.target}, not ${o.ip}`);
  const otherIps = o.arping.replies.filter((r) => r.ip !== o.ip).map((r) => r.ip);
  if (otherIps.length) problems.push(`replies for other addresses: ${[...new Set(otherIps)].join(', ')}`);
  if (answerers.length === 0) problems.push(`nobody answered ARP for ${o.ip}`);
  const strangers = answerers.filter((a) => a.mac !== holderMac);
  if (strangers.length) problems.push(`answered by ${strangers.map(name).join(', ')}, not only by the holder`);
  if (problems.length) {
    return {
      ok: false,
      answerers,
      explanation: `ARP for ${o.ip} should be answered only by the lease holder ${o.holder} (${holderMac ?? '?'}): ${problems.join('; ')}. Seen: ${seen} (${stats}).`,
    };
  }
  return { ok: true, answerers, explanation: `ARP for ${o.ip} is answered only by the lease holder ${o.holder}: ${seen} (${stats}).` };
}

// ---------------------------------------------------------------------------------------------
// The router's neighbour table
// ---------------------------------------------------------------------------------------------

/** States in which the kernel has no usable MAC for the address (ip-neighbour(8)). */
const UNUSABLE_NEIGHBOUR_STATES = new Set(['FAILED', 'INCOMPLETE', 'NONE', 'NOARP']);

/** The router maps the LB IP to the holder's MAC, in a usable state. */
export function judgeNeighbour(o: { ip: string; entry: NeighbourEntry | null; holder: string; holderMac: string }): Verdict {
  const want = normalizeMac(o.holderMac);
  if (o.entry === null)
    return { ok: false, explanation: `The router has no neighbour entry for ${o.ip}; expected ${want ?? o.holderMac} (${o.holder}).` };
  const mac = normalizeMac(o.entry.mac);
  const state = o.entry.state?.toUpperCase() ?? 'state unknown';
  const seen = `${o.ip} → ${mac ?? 'no MAC'} ${state}`;
  if (mac === null || UNUSABLE_NEIGHBOUR_STATES.has(state)) {
    return { ok: false, explanation: `The router's neighbour entry is unusable (${seen}); expected ${want} (${o.holder}).` };
  }
  if (mac !== want) {
    return { ok: false, explanation: `The router maps ${o.ip} to ${mac}, not to the holder ${o.holder}'s ${want} (${seen}).` };
  }
  return { ok: true, explanation: `The router maps ${o.ip} to the holder ${o.holder}'s MAC (${seen}).` };
}

// ---------------------------------------------------------------------------------------------
// Agents' l2-announce tables
// ---------------------------------------------------------------------------------------------

/**
 * The holder's agent lists the IP on the announcing interface, and on no other interface;
 * no other agent lists the IP at all (only the lease holder has rows, cilium-behaviour.md 2.5).
 */
export function judgeAnnounceTables(o: {
  ip: string;
  iface: string;
  holder: string;
  tables: { node: string; entries: L2AnnounceEntry[] }[];
}): Verdict {
  const problems: string[] = [];
  const lines: string[] = [];
  const holderTable = o.tables.find((t) => t.node === o.holder);
  if (!holderTable) problems.push(`the holder ${o.holder}'s table was not read`);
  for (const t of o.tables) {
    const rows = t.entries.filter((e) => e.ip === o.ip);
    lines.push(`${t.node}: ${rows.length ? rows.map((e) => `${e.ip} ${e.iface}`).join(', ') : `no row for ${o.ip}`}`);
    if (t.node === o.holder) {
      if (!rows.some((e) => e.iface === o.iface))
        problems.push(
          `the holder ${o.holder} does not list ${o.ip} on ${o.iface} (is ${o.iface} among its agent's selected devices? cilium-dbg shell -- db/show devices)`,
        );
      const elsewhere = rows.filter((e) => e.iface !== o.iface).map((e) => e.iface);
      if (elsewhere.length) problems.push(`the holder also announces ${o.ip} on ${elsewhere.join(', ')} (interface regex too wide?)`);
    } else if (rows.length) {
      problems.push(`${t.node} is not the holder but lists ${o.ip}`);
    }
  }
  const seen = lines.join('; ');
  if (problems.length) return { ok: false, explanation: `l2-announce tables: ${problems.join('; ')}. Seen: ${seen}.` };
  return { ok: true, explanation: `Only the holder ${o.holder} lists ${o.ip} on ${o.iface}. Seen: ${seen}.` };
}

// ---------------------------------------------------------------------------------------------
// HTTP from the router
// ---------------------------------------------------------------------------------------------

/** HTTP to the LB IP answers 200 (the webpod backends, traefik/whoami in the study, answer `/` with 200). */
export function judgeHttpAnswer(o: { url: string; answer: HttpAnswer }): Verdict {
  const a = o.answer;
  if (!a.ok) return { ok: false, explanation: `HTTP ${o.url} got no answer after ${a.timeMs ?? '?'} ms: ${a.error ?? 'no error text'}.` };
  if (a.status !== 200) return { ok: false, explanation: `HTTP ${o.url} answered ${a.status ?? 'no status'}, expected 200.` };
  return { ok: true, explanation: `HTTP ${o.url} answered 200 in ${a.timeMs ?? '?'} ms.` };
}
