/**
 * Routes from `ip route` / `ip -4 route` text, or from `ip -j route` JSON.
 *
 *   default via 10.0.2.2 dev eth0 proto dhcp src 10.0.2.15 metric 100
 *   172.20.1.0/24 via 172.20.0.136 dev cilium_host proto kernel src 172.20.0.136 mtu 1450
 *   blackhole 198.19.9.0/24
 *   198.19.5.0/24 proto static
 *   	nexthop via 198.18.10.100 dev eth1 weight 1
 *
 * Empty text is an empty table. A line that is not a route (garbage, or cut short after a keyword) is
 * a ParseError naming the line, never a guessed route.
 */
import { jsonList, ParseError } from './common.ts';

export interface IpRoute {
  /** `default`, an address, or address/prefix as printed. */
  dst: string;
  via: string | null;
  dev: string | null;
  src: string | null;
  proto: string | null;
  mtu: number | null;
  metric: number | null;
  /** Route type when not plain unicast: blackhole, unreachable, prohibit, local, broadcast… */
  type?: string;
  scope?: string;
  table?: string;
  /** Multipath routes: every next hop (`via`/`dev` of the route itself are then null). */
  nexthops?: { via: string | null; dev: string | null; weight: number | null }[];
}

const TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'throw', 'unreachable', 'prohibit', 'blackhole', 'nat', 'anycast']);
/** Keywords printed without a value. */
const FLAGS = new Set([
  'onlink',
  'pervasive',
  'linkdown',
  'dead',
  'notify',
  'offload',
  'trap',
  'rt_offload',
  'rt_trap',
  'rt_offload_failed',
  'cloned',
]);
const FAMILIES = new Set(['inet', 'inet6']);
const DST = /^(?:default|[0-9a-fA-F.:]+(?:\/\d{1,3})?)$/;

export function parseIpRoute(text: string): IpRoute[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  if (trimmed.startsWith('[')) return fromJson(trimmed, text);
  const routes: IpRoute[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '') continue;
    if (/^\s/.test(raw)) {
      const last = routes[routes.length - 1];
      const hop = raw.trim().match(/^nexthop\s+(.*)$/);
      if (!last || !hop) throw new ParseError('parseIpRoute', `unexpected continuation line "${raw.trim()}"`, text);
      const kv = keyValues(hop[1]!, raw, text);
      (last.nexthops ??= []).push({ via: kv.get('via') ?? null, dev: kv.get('dev') ?? null, weight: num(kv.get('weight'), raw, text) });
      continue;
    }
    routes.push(fromLine(raw.trim(), text));
  }
  return routes;
}

function fromLine(line: string, text: string): IpRoute {
  const words = line.split(/\s+/);
  let type: string | undefined;
  if (TYPES.has(words[0]!)) type = words.shift();
  const dst = words.shift();
  if (dst === undefined || !DST.test(dst)) throw new ParseError('parseIpRoute', `"${line}" does not start with a destination`, text);
  const kv = keyValues(words.join(' '), line, text);
  const route: IpRoute = {
    dst,
    via: kv.get('via') ?? null,
    dev: kv.get('dev') ?? null,
    src: kv.get('src') ?? null,
    proto: kv.get('proto') ?? null,
    mtu: num(kv.get('mtu'), line, text),
    metric: num(kv.get('metric'), line, text),
  };
  if (type !== undefined && type !== 'unicast') route.type = type;
  if (kv.has('scope')) route.scope = kv.get('scope')!;
  if (kv.has('table')) route.table = kv.get('table')!;
  return route;
}

function keyValues(rest: string, line: string, text: string): Map<string, string> {
  const words = rest.split(/\s+/).filter((w) => w !== '');
  const kv = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    const key = words[i]!;
    if (FLAGS.has(key)) continue;
    let value = words[++i];
    if (key === 'via' && value !== undefined && FAMILIES.has(value)) value = words[++i];
    if ((key === 'mtu' || key === 'advmss' || key === 'window') && value === 'lock') value = words[++i];
    if (value === undefined) throw new ParseError('parseIpRoute', `"${line}" ends after "${key}" with no value (cut short?)`, text);
    if (!/^[a-z_][a-z0-9_]*$/.test(key)) throw new ParseError('parseIpRoute', `"${line}" has "${key}" where a keyword was expected`, text);
    kv.set(key, value);
  }
  return kv;
}

function num(v: string | undefined, line: string, text: string): number | null {
  if (v === undefined) return null;
  if (!/^\d+$/.test(v)) throw new ParseError('parseIpRoute', `"${line}": "${v}" is not a number`, text);
  return Number(v);
}

interface JsonRoute {
  type?: string;
  dst?: string;
  gateway?: string;
  via?: { family?: string; host?: string };
  dev?: string;
  prefsrc?: string;
  protocol?: string | number;
  metric?: number;
  scope?: string;
  table?: string;
  metrics?: { mtu?: number }[] | { mtu?: number };
  nexthops?: { gateway?: string; dev?: string; weight?: number }[];
}

function fromJson(json: string, text: string): IpRoute[] {
  return jsonList('parseIpRoute', json, text, 'routes').map((entry: unknown, i) => {
    if (entry === null || typeof entry !== 'object' || typeof (entry as JsonRoute).dst !== 'string') {
      throw new ParseError('parseIpRoute', `JSON route [${i}] has no "dst"`, text);
    }
    const r = entry as JsonRoute;
    const metrics = Array.isArray(r.metrics) ? r.metrics : r.metrics ? [r.metrics] : [];
    const route: IpRoute = {
      dst: r.dst!,
      via: r.gateway ?? r.via?.host ?? null,
      dev: r.dev ?? null,
      src: r.prefsrc ?? null,
      proto: r.protocol === undefined ? null : String(r.protocol),
      mtu: metrics.find((m) => typeof m.mtu === 'number')?.mtu ?? null,
      metric: typeof r.metric === 'number' ? r.metric : null,
    };
    if (r.type !== undefined && r.type !== 'unicast') route.type = r.type;
    if (r.scope !== undefined) route.scope = r.scope;
    if (r.table !== undefined) route.table = r.table;
    if (r.nexthops) route.nexthops = r.nexthops.map((h) => ({ via: h.gateway ?? null, dev: h.dev ?? null, weight: h.weight ?? null }));
    return route;
  });
}
