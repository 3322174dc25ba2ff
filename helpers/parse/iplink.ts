/**
 * `ip link show [dev]` → links. Pure.
 *
 * Header lines look like `5: cilium_vxlan: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue
 * state UNKNOWN mode DEFAULT group default qlen 1000` (the index may be missing when a person copied
 * the line, as in seed 002 line 207; veth names carry `@ifN`). Continuation lines (`link/ether …`) and
 * anything else are skipped.
 */
export interface IpLink {
  name: string;
  flags: string[];
  mtu: number | null;
  state: string | null;
}

const HEADER = /^(?:\d+:\s+)?([^\s:@]+)(?:@[^\s:]+)?:\s+<([^>]*)>(.*)$/;

export function parseIpLink(text: string): IpLink[] {
  const links: IpLink[] = [];
  for (const line of text.split('\n')) {
    const m = HEADER.exec(line.trim());
    if (!m) continue;
    const [, name = '', flags = '', rest = ''] = m;
    const mtu = /\bmtu (\d+)/.exec(rest)?.[1];
    const state = /\bstate (\S+)/.exec(rest)?.[1];
    links.push({
      name,
      flags: flags.split(',').filter((f) => f.length > 0),
      mtu: mtu === undefined ? null : Number(mtu),
      state: state ?? null,
    });
  }
  return links;
}
