/**
 * Packet lines of `tcpdump -nn -l` (one packet per line), with or without the interface and direction
 * columns that `-i any` adds:
 *
 *   22:20:27.654000 eth1  In  IP 172.20.0.124 > 172.20.2.178: ICMP echo request, id 31, seq 1, length 64
 *   03:54:46.446207 IP 198.18.10.1.43198 > 198.18.20.1.80: Flags [S], seq 1358817800, ...
 *   03:54:45.411533 ARP, Request who-has 198.18.10.200 tell 198.18.10.1, length 44
 *
 * Encapsulated traffic prints its inner packet on the next line (no timestamp). With `-T vxlan` the outer
 * line says `VXLAN, flags [I] (0x08), vni 42`; without it tcpdump 4.99 decodes UDP 8472 as `OTV`. Either
 * way the packet keeps the OUTER addresses and ports, and the inner one is attached as `inner`.
 *
 * Lines that are not packets (tcpdump's "listening on …" banner, the "N packets captured" footer, blank or
 * cut-off lines) are skipped, so empty or garbage text gives an empty list, never an invented packet. A last
 * line without a final newline counts only when it ends like a packet line does (`length N`).
 */
export type Direction = 'In' | 'Out' | 'P' | 'M' | 'B';

export interface InnerPacket {
  srcIp: string;
  srcPort: number | null;
  dstIp: string;
  dstPort: number | null;
  protocol: string;
}

export interface TcpdumpPacket extends InnerPacket {
  /** Interface name (only with `-i any`). */
  iface: string | null;
  /** Direction column of `-i any`: In, Out, P (to another host, seen promiscuously), M (multicast), B (broadcast). */
  direction: Direction | null;
  /** The timestamp as printed. */
  time: string;
  /** The packet carried inside VXLAN/OTV/Geneve, when tcpdump decoded it. */
  inner?: InnerPacket;
  /** For ARP: the operation; `dstIp` of a reply is '' because tcpdump does not print it. */
  arp?: { op: 'request' | 'reply'; mac: string | null };
  /** The rest of the line after the addresses, as printed. */
  info: string;
}

const TIME = String.raw`(?:\d{4}-\d{2}-\d{2}\s+)?\d{2}:\d{2}:\d{2}\.\d+`;
const OUTER = new RegExp(String.raw`^(${TIME})\s+(?:(\S+)\s+(In|Out|P|M|B)\s+)?((?:IP6?|ARP,).*)$`);
const ENCAPSULATING = new Set(['VXLAN', 'OTV', 'GENEVE']);

export function parseTcpdump(text: string): TcpdumpPacket[] {
  const packets: TcpdumpPacket[] = [];
  let previous: TcpdumpPacket | null = null;
  const all = text.split(/\r?\n/);
  // Text cut off mid-line (no final newline): keep the last line only if it visibly ends a packet.
  if (all.length > 0 && !/\blength \d+$/.test(all[all.length - 1]!.trimEnd())) all.pop();
  for (const raw of all) {
    const line = raw.trimEnd();
    const outer = line.match(OUTER);
    if (outer) {
      const body = parseBody(outer[4]!);
      previous = null;
      if (!body) continue;
      const packet: TcpdumpPacket = {
        iface: outer[2] ?? null,
        direction: (outer[3] as Direction | undefined) ?? null,
        time: outer[1]!,
        ...body,
      };
      packets.push(packet);
      if (ENCAPSULATING.has(packet.protocol) || /:\s+OTV,/.test(outer[4]!)) previous = packet;
      continue;
    }
    // A line without a timestamp right after an encapsulating packet is the packet inside it.
    if (previous && /^(?:IP6?\s|ARP,)/.test(line.trim())) {
      const inner = parseBody(line.trim());
      if (inner) {
        const { srcIp, srcPort, dstIp, dstPort, protocol } = inner;
        previous.inner = { srcIp, srcPort, dstIp, dstPort, protocol };
      }
    }
    previous = null;
  }
  return packets;
}

type Body = Omit<TcpdumpPacket, 'iface' | 'direction' | 'time'>;

function parseBody(body: string): Body | null {
  if (body.startsWith('ARP,')) return parseArp(body);
  // The destination ends at ": " (IPv6 addresses contain colons themselves).
  const m = body.match(/^(IP6?)\s+(\S+)\s+>\s+(\S+):(?:\s+(.*))?$/);
  if (!m) return null;
  const v6 = m[1] === 'IP6';
  const src = splitEndpoint(m[2]!, v6);
  const dst = splitEndpoint(m[3]!, v6);
  if (!src || !dst) return null;
  const info = m[4] ?? '';
  return { srcIp: src.ip, srcPort: src.port, dstIp: dst.ip, dstPort: dst.port, protocol: protocolOf(info, src.port !== null, v6), info };
}

/** "198.18.10.1.43198" → address + port; "198.18.10.1" → address only. IPv6: a trailing ".N" is the port. */
function splitEndpoint(s: string, v6: boolean): { ip: string; port: number | null } | null {
  if (!v6) {
    const parts = s.split('.');
    if (!parts.every((p) => /^\d{1,5}$/.test(p))) return null;
    if (parts.length === 4) return { ip: s, port: null };
    if (parts.length === 5) return { ip: parts.slice(0, 4).join('.'), port: Number(parts[4]) };
    return null;
  }
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return null;
  const dot = s.lastIndexOf('.');
  if (dot > s.lastIndexOf(':') && /^\d{1,5}$/.test(s.slice(dot + 1)) && !/\.\d+\.\d+\.\d+$/.test(s)) {
    return { ip: s.slice(0, dot), port: Number(s.slice(dot + 1)) };
  }
  return { ip: s, port: null };
}

function protocolOf(info: string, hasPorts: boolean, v6: boolean): string {
  if (/^VXLAN\b/.test(info)) return 'VXLAN';
  if (/^Geneve\b/i.test(info)) return 'GENEVE';
  // tcpdump 4.99 decodes UDP 8472 (Linux's VXLAN port) as OTV unless told `-T vxlan`: on the wire it is UDP.
  if (/^OTV,/.test(info)) return 'UDP';
  if (/^Flags\s+\[/.test(info)) return 'TCP';
  if (/\bICMP6\b/.test(info)) return 'ICMP6';
  if (/^ICMP\b/.test(info)) return 'ICMP';
  if (/^UDP\b/.test(info)) return 'UDP';
  if (/^SCTP\b/.test(info)) return 'SCTP';
  // Ports without TCP flags: a UDP payload tcpdump decoded by port (DNS, NTP, …).
  if (hasPorts) return 'UDP';
  const word = info.match(/^([A-Za-z][\w-]*)/)?.[1];
  return word ? word.toUpperCase() : v6 ? 'IP6' : 'IP';
}

function parseArp(body: string): Body | null {
  const req = body.match(/^ARP,\s+Request\s+who-has\s+(\S+)(?:\s+\([^)]*\))?\s+tell\s+([^\s,]+)/);
  if (req)
    return { srcIp: req[2]!, srcPort: null, dstIp: req[1]!, dstPort: null, protocol: 'ARP', arp: { op: 'request', mac: null }, info: body };
  const rep = body.match(/^ARP,\s+Reply\s+(\S+)\s+is-at\s+([0-9a-fA-F:]+)/);
  if (rep)
    return {
      srcIp: rep[1]!,
      srcPort: null,
      dstIp: '',
      dstPort: null,
      protocol: 'ARP',
      arp: { op: 'reply', mac: rep[2]!.toLowerCase() },
      info: body,
    };
  return null;
}
