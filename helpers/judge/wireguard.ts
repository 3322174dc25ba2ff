/**
 * WireGuard judgements (80-wireguard): do the agents report WireGuard with the interface and peers they should, and
 * does the wire between nodes carry only WireGuard? Pure: parsed outputs in, verdicts out.
 *
 * Beliefs (cilium/cilium, read through the code index in December 2026; issue 17 lists them too):
 * - W1 the interface is `cilium_wg0` and listens on UDP 51871 (pkg/wireguard/types).
 * - W2 `cilium-dbg status` reports mode `Wireguard` (api/v1/models/encryption_status.go enum `Disabled|IPsec|Wireguard`)
 *   and per interface `listen-port`, `peer-count`, `public-key` (wireguard_interface.go); text
 *   `cilium_wg0 (Pubkey: …, Port: 51871, Peers: N)` (pkg/client/client.go).
 * - W3 every other node is a peer: N = nodes - 1 (the agent adds one peer per remote node; pkg/wireguard/agent).
 * - W4 with WireGuard, pod-to-pod traffic between nodes leaves encrypted in UDP 51871 between node addresses, so the
 *   router sees neither a pod address nor HTTP nor bare VXLAN (issue 17; cilium docs "WireGuard Transparent Encryption").
 */
import { inNetwork, VXLAN_PORT } from './routing.ts';
import { no, yes, type Packet, type Verdict } from './types.ts';
import type { EncryptionStatus, TcpdumpPacket } from '../parse/index.ts';

export const WIREGUARD_DEVICE = 'cilium_wg0';
export const WIREGUARD_PORT = 51871;
export const WIREGUARD_MODE = 'Wireguard';

/** Every agent reports WireGuard with cilium_wg0 on port 51871 and one peer per other node (W1-W3). */
export function judgeWireguardAgents(agents: { node: string; encryption: EncryptionStatus }[], o: { nodes: readonly string[] }): Verdict {
  const problems: string[] = [];
  const seen: string[] = [];
  const wantPeers = o.nodes.length - 1;
  for (const n of o.nodes) {
    const a = agents.find((x) => x.node === n);
    if (!a) {
      problems.push(`no agent status from ${n}`);
      continue;
    }
    const e = a.encryption;
    const wg = e.interfaces.find((i) => i.name === WIREGUARD_DEVICE);
    seen.push(`${n}: ${e.mode}${wg ? ` ${wg.name} port ${wg.listenPort ?? '?'} peers ${wg.peerCount}` : ''}${e.msg ? ` (${e.msg})` : ''}`);
    if (e.mode !== WIREGUARD_MODE) {
      problems.push(`${n} reports encryption ${e.mode}, not ${WIREGUARD_MODE}${e.msg ? ` (${e.msg})` : ''}`);
      continue;
    }
    if (!wg) {
      problems.push(`${n} names no ${WIREGUARD_DEVICE} (interfaces: ${e.interfaces.map((i) => i.name).join(', ') || 'none'})`);
      continue;
    }
    if (wg.listenPort !== WIREGUARD_PORT)
      problems.push(`${n}'s ${WIREGUARD_DEVICE} listens on ${wg.listenPort ?? '?'}, not ${WIREGUARD_PORT}`);
    if (wg.peerCount !== wantPeers)
      problems.push(`${n}'s ${WIREGUARD_DEVICE} has ${wg.peerCount} peer(s), not ${wantPeers} (the other nodes)`);
  }
  return problems.length === 0
    ? yes(
        `every agent reports ${WIREGUARD_MODE}, ${WIREGUARD_DEVICE} on port ${WIREGUARD_PORT} with ${wantPeers} peers: ${seen.join('; ')}`,
      )
    : no(`${problems.join('; ')} (seen: ${seen.join('; ') || 'nothing'})`);
}

function pair(p: Packet): string {
  return `${p.srcIp}${p.srcPort === null ? '' : `.${p.srcPort}`} > ${p.dstIp}${p.dstPort === null ? '' : `.${p.dstPort}`}`;
}

function examples(ps: Packet[]): string {
  return ps
    .slice(0, 3)
    .map((p) => pair(p))
    .join(', ');
}

/**
 * A capture on the router while pod traffic crossed it (W4): at least one UDP 51871 packet from the client's node to
 * the target's node and one back, and nothing else: every packet UDP 51871 between node addresses; no pod address
 * (outer, or inner in a decoded tunnel), no TCP 80 (plaintext HTTP), no UDP 8472 (bare VXLAN).
 */
export function judgeEncryptedWire(
  packets: TcpdumpPacket[],
  o: { fromNode: string; toNode: string; nodeAddresses: readonly string[]; podCidr: string; port?: number; httpPort?: number },
): Verdict {
  const port = o.port ?? WIREGUARD_PORT;
  const httpPort = o.httpPort ?? 80;
  const nodes = new Set(o.nodeAddresses);
  const isWg = (p: Packet): boolean => p.srcPort === port && p.dstPort === port && nodes.has(p.srcIp) && nodes.has(p.dstIp);
  const wg = packets.filter(isWg);
  const forth = wg.filter((p) => p.srcIp === o.fromNode && p.dstIp === o.toNode).length;
  const back = wg.filter((p) => p.srcIp === o.toNode && p.dstIp === o.fromNode).length;
  const pod = (ip: string | undefined): boolean => ip !== undefined && ip !== '' && inNetwork(o.podCidr, ip);
  const podOuter = packets.filter((p) => pod(p.srcIp) || pod(p.dstIp));
  const podInner = packets.filter((p) => p.inner && (pod(p.inner.srcIp) || pod(p.inner.dstIp)));
  const vxlan = packets.filter((p) => p.srcPort === VXLAN_PORT || p.dstPort === VXLAN_PORT);
  const http = packets.filter(
    (p) => p.srcPort === httpPort || p.dstPort === httpPort || p.inner?.dstPort === httpPort || p.inner?.srcPort === httpPort,
  );
  const other = packets.filter((p) => !isWg(p));
  const problems: string[] = [];
  if (podOuter.length > 0)
    problems.push(`plaintext: ${podOuter.length} packet(s) with a pod address (${o.podCidr}) on the wire, e.g. ${examples(podOuter)}`);
  if (podInner.length > 0)
    problems.push(
      `plaintext: ${podInner.length} tunnelled packet(s) carrying pod addresses readable on the wire, e.g. ${podInner
        .slice(0, 3)
        .map((p) => `${pair(p)} carrying ${p.inner ? `${p.inner.srcIp} > ${p.inner.dstIp}` : '?'}`)
        .join(', ')}`,
    );
  if (vxlan.length > 0) problems.push(`bare VXLAN: ${vxlan.length} UDP ${VXLAN_PORT} packet(s), e.g. ${examples(vxlan)}`);
  if (http.length > 0) problems.push(`plaintext HTTP: ${http.length} packet(s) to or from port ${httpPort}, e.g. ${examples(http)}`);
  const unexplained = other.filter((p) => !podOuter.includes(p) && !vxlan.includes(p) && !http.includes(p));
  if (unexplained.length > 0)
    problems.push(`${unexplained.length} other packet(s) that are not UDP ${port} between nodes, e.g. ${examples(unexplained)}`);
  if (forth === 0) problems.push(`no UDP ${port} packet from ${o.fromNode} to ${o.toNode}`);
  if (back === 0) problems.push(`no UDP ${port} packet from ${o.toNode} back to ${o.fromNode}`);
  return problems.length === 0
    ? yes(
        `only WireGuard on the wire: ${forth} UDP ${port} packet(s) ${o.fromNode} → ${o.toNode}, ${back} back, nothing else in ${packets.length} packets`,
      )
    : no(`not only WireGuard on the wire: ${problems.join('; ')} (${packets.length} packets captured)`);
}
