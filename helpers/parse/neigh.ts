/**
 * The neighbour (ARP) table: `ip neigh` text, `ip -j neigh` JSON, or net-tools `arp -a`.
 *
 *   198.18.10.2 dev eth1 lladdr 06:eb:8b:f2:94:6b REACHABLE
 *   198.18.10.99 dev eth1 INCOMPLETE
 *   ? (192.168.10.241) at 08:00:27:85:32:ca [ether] on eth1
 *   ? (198.18.10.99) at <incomplete> on eth1
 *
 * Lines that are none of these are skipped (empty or garbage text gives an empty list).
 */
import { jsonList, normalizeMac } from './common.ts';

export interface Neighbour {
  ip: string;
  /** Lower case; null while unresolved (INCOMPLETE, FAILED). */
  mac: string | null;
  /** Null when the command was already limited to one device (`ip neigh show dev eth1`). */
  iface: string | null;
  /** NUD state as `ip neigh` prints it (REACHABLE, STALE, …); `arp -a` shows none, so null there. */
  state: string | null;
}

/** `dev X` is left out by `ip neigh show dev X`. */
const IP_NEIGH =
  /^([0-9a-fA-F.:]+)(?:\s+dev\s+(\S+))?(?:\s+lladdr\s+([0-9a-fA-F:]+))?(?:\s+(?:router|proxy|extern_learn))*\s+([A-Z_]+(?:,[A-Z_]+)*)$/;
const ARP_A = /^\S+\s+\(([^)]+)\)\s+at\s+(\S+)(?:\s+\[\w+\])?(?:\s+\w+)*\s+on\s+(\S+)/;

export function parseNeighbours(text: string): Neighbour[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return fromJson(trimmed, text);
  const out: Neighbour[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    let m = line.match(IP_NEIGH);
    if (m) {
      out.push({ ip: m[1]!, iface: m[2] ?? null, mac: m[3] ? normalizeMac(m[3]) : null, state: m[4]! });
      continue;
    }
    m = line.match(ARP_A);
    if (m) out.push({ ip: m[1]!, iface: m[3]!, mac: normalizeMac(m[2]!), state: null });
  }
  return out;
}

function fromJson(json: string, text: string): Neighbour[] {
  return jsonList('parseNeighbours', json, text, 'neighbours').flatMap((e: unknown) => {
    const n = e as { dst?: unknown; dev?: unknown; lladdr?: unknown; state?: unknown };
    if (typeof n?.dst !== 'string') return [];
    return [
      {
        ip: n.dst,
        iface: typeof n.dev === 'string' ? n.dev : null,
        mac: typeof n.lladdr === 'string' ? normalizeMac(n.lladdr) : null,
        state: Array.isArray(n.state) ? n.state.join(',') : typeof n.state === 'string' ? n.state : null,
      },
    ];
  });
}
