/**
 * Parse shapes the judges consume, declared exactly as the team contract fixes them
 * (/tmp/notes/contract.md, "helpers/parse/index.ts — pure, shapes fixed by the issues").
 *
 * TEMPORARY: once helpers/parse/index.ts is on main, these declarations are replaced by
 * `export type { ... } from '../parse/index.ts'` so there is one definition of each shape.
 */

/** parseArping(text) — iputils or Thomas Habets' arping. */
export interface ArpingResult {
  flavour: 'iputils' | 'habets';
  target: string;
  sent: number;
  received: number;
  replies: { ip: string; mac: string; timeMs: number }[];
}

/** parseL2AnnounceTable(text) — rows of `cilium-dbg shell -- db/show l2-announce`. */
export interface L2AnnounceEntry {
  ip: string;
  iface: string;
}

/** neighbourOf(ssh, on, ip) — one row of `ip neigh` (null when there is no entry at all); `arp -a` has no state. */
export interface NeighbourEntry {
  ip: string;
  mac: string | null;
  state: string | null;
}
