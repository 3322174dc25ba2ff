/**
 * LB-IPAM judgements: reading CiliumLoadBalancerIPPool and Service objects, judging what LB-IPAM did,
 * and the small plans the LB suites need (which IP to request, which nodes announce the block).
 *
 * Pure: objects in, verdicts out. Every belief about Cilium here comes from
 * /work/shared/docs/cilium-behaviour.md section 1 (cited as "cb §1.x") and is asserted on condition
 * type / status / reason, never on message wording, except where the issue asks for the message to
 * name the cause ("same port", "different sharing key"), and there loosely.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { addressOf, cidrContains, ipToNumber, numberToIp, type Topology } from '../parse/topology.ts';
import { exactInterfaceRegex, l2Candidates, lbSubnet } from './l2.ts';
import { no, yes, type Verdict } from './types.ts';

// ---------------------------------------------------------------------------------------------
// Names Cilium uses (cb §1.3, §1.4, §1.5)
// ---------------------------------------------------------------------------------------------

/** The one service condition LB-IPAM writes (cb §1.5; the old `io.cilium/lb-ipam-request-satisfied` is 1.13/1.14). */
export const SVC_IPAM_CONDITION = 'cilium.io/IPAMRequestSatisfied';

/** Pool condition types (cb §1.3). The counts are decimal strings in `message`. */
export const POOL_CONDITION = {
  total: 'cilium.io/IPsTotal',
  available: 'cilium.io/IPsAvailable',
  used: 'cilium.io/IPsUsed',
  conflict: 'cilium.io/PoolConflict',
} as const;

/** Service condition reasons (cb §1.5). */
export const REASON = {
  satisfied: 'satisfied',
  noPool: 'no_pool',
  outOfIps: 'out_of_ips',
  poolSelectorMismatch: 'pool_selector_mismatch',
  alreadyAllocated: 'already_allocated',
  incompatibleService: 'already_allocated_incompatible_service',
  /** Before 1.17 (PR #33808): every incompatible-sharing refusal carried this reason. */
  differentSharingKeyLegacy: 'already_allocated_different_sharing_key',
} as const;

/** Service annotations, preferred key first, then the legacy alias still honoured (cb §1.4). */
export const ANNOTATION = {
  ips: ['lbipam.cilium.io/ips', 'io.cilium/lb-ipam-ips'],
  sharingKey: ['lbipam.cilium.io/sharing-key', 'io.cilium/lb-ipam-sharing-key'],
} as const;

/** Synthetic labels a pool's serviceSelector can match (cb §1.2, lbipam.go consts). */
export const SERVICE_NAME_LABEL = 'io.kubernetes.service.name';
export const SERVICE_NAMESPACE_LABEL = 'io.kubernetes.service.namespace';

/** The pool API version both 1.17 and 1.18 serve (cb §1.1). */
export const POOL_API_VERSION = 'cilium.io/v2alpha1';
export const POOL_KIND = 'CiliumLoadBalancerIPPool';

// ---------------------------------------------------------------------------------------------
// Reading objects (input is whatever the API returned: validate, never trust)
// ---------------------------------------------------------------------------------------------

const conditionSchema = z.looseObject({
  type: z.string(),
  status: z.string(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

const metadataSchema = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const serviceSchema = z.looseObject({
  kind: z.literal('Service').optional(),
  metadata: metadataSchema,
  spec: z
    .looseObject({
      type: z.string().optional(),
      ports: z.array(z.looseObject({ port: z.number().int() })).optional(),
      loadBalancerIP: z.string().optional(),
    })
    .optional(),
  status: z
    .looseObject({
      loadBalancer: z
        .looseObject({ ingress: z.array(z.looseObject({ ip: z.string().optional(), hostname: z.string().optional() })).optional() })
        .optional(),
      conditions: z.array(conditionSchema).optional(),
    })
    .optional(),
});

const blockSchema = z.looseObject({ cidr: z.string().optional(), start: z.string().optional(), stop: z.string().optional() });

const poolSchema = z.looseObject({
  kind: z.literal(POOL_KIND).optional(),
  metadata: metadataSchema,
  spec: z.looseObject({
    blocks: z.array(blockSchema).default([]),
    disabled: z.boolean().optional(),
    serviceSelector: z.unknown().optional(),
  }),
  status: z.looseObject({ conditions: z.array(conditionSchema).optional() }).optional(),
});

/** Raised by the readers when an object is not what its kind promises; judges turn it into a "no". */
export class UnreadableObjectError extends Error {
  constructor(what: string, detail: string) {
    super(`cannot read ${what}: ${detail}`);
    this.name = 'UnreadableObjectError';
  }
}

function parseOrThrow<T>(schema: z.ZodType<T>, obj: unknown, what: string): T {
  const r = schema.safeParse(obj);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first ? first.path.join('.') || '(top level)' : '(top level)';
    throw new UnreadableObjectError(what, `${where}: ${first?.message ?? 'invalid'}`);
  }
  return r.data;
}

function toCondition(c: z.infer<typeof conditionSchema>): Condition {
  return { type: c.type, status: c.status, reason: c.reason ?? '', message: c.message ?? '' };
}

function annotation(annotations: Record<string, string> | undefined, keys: readonly string[]): string | null {
  for (const k of keys) {
    const v = annotations?.[k];
    if (v !== undefined && v !== '') return v;
  }
  return null;
}

/** What LB-IPAM did to one Service, and what the Service asked for. */
export interface ServiceIpam {
  name: string;
  namespace: string | null;
  /** `.status.loadBalancer.ingress[].ip` (EXTERNAL-IP; empty means `<pending>`). */
  ips: string[];
  /** The `cilium.io/IPAMRequestSatisfied` condition, or null when LB-IPAM has not written one. */
  condition: Condition | null;
  /** Requested IPs: annotation `lbipam.cilium.io/ips` (or alias), plus deprecated `.spec.loadBalancerIP` (cb §1.4). */
  requestedIps: string[];
  sharingKey: string | null;
  ports: number[];
}

export function readServiceIpam(obj: unknown): ServiceIpam {
  const svc = parseOrThrow(serviceSchema, obj, 'Service');
  const ann = svc.metadata.annotations;
  const fromAnnotation = (annotation(ann, ANNOTATION.ips) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const legacy = svc.spec?.loadBalancerIP ? [svc.spec.loadBalancerIP] : [];
  const cond = svc.status?.conditions?.find((c) => c.type === SVC_IPAM_CONDITION);
  return {
    name: svc.metadata.name,
    namespace: svc.metadata.namespace ?? null,
    ips: (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip),
    condition: cond ? toCondition(cond) : null,
    requestedIps: [...new Set([...legacy, ...fromAnnotation])],
    sharingKey: annotation(ann, ANNOTATION.sharingKey),
    ports: (svc.spec?.ports ?? []).map((p) => p.port),
  };
}

export type PoolBlock = { cidr: string } | { start: string; stop: string };

export interface PoolState {
  name: string;
  disabled: boolean;
  blocks: PoolBlock[];
  /** `cilium.io/PoolConflict` (the CONFLICTING column), null when absent. */
  conflict: Condition | null;
  /** Counts from the condition messages; null when the condition is missing or its message is blank/not a number. */
  total: number | null;
  available: number | null;
  used: number | null;
}

function countOf(c: Condition | null): number | null {
  if (!c) return null;
  const m = c.message.trim();
  return /^\d+$/.test(m) ? Number(m) : null;
}

export function readPool(obj: unknown): PoolState {
  const pool = parseOrThrow(poolSchema, obj, POOL_KIND);
  const conds = (pool.status?.conditions ?? []).map(toCondition);
  const find = (type: string): Condition | null => conds.find((c) => c.type === type) ?? null;
  const blocks: PoolBlock[] = pool.spec.blocks.map((b, i) => {
    if (b.cidr) return { cidr: b.cidr };
    // `start` without `stop` is one address (cb §1.2).
    if (b.start) return { start: b.start, stop: b.stop ?? b.start };
    throw new UnreadableObjectError(POOL_KIND, `spec.blocks.${i}: neither cidr nor start`);
  });
  return {
    name: pool.metadata.name,
    disabled: pool.spec.disabled ?? false,
    blocks,
    conflict: find(POOL_CONDITION.conflict),
    total: countOf(find(POOL_CONDITION.total)),
    available: countOf(find(POOL_CONDITION.available)),
    used: countOf(find(POOL_CONDITION.used)),
  };
}

/** A pool as `kubectl get ippools` prints it (the v2 CRD's printer columns, cb §1.3): for reports. */
export function poolRow(p: PoolState): { name: string; disabled: string; conflicting: string; ipsAvailable: string } {
  return {
    name: p.name,
    disabled: String(p.disabled),
    conflicting: p.conflict?.status ?? '',
    ipsAvailable: p.available === null ? '' : String(p.available),
  };
}

/** The EXTERNAL-IP column of `kubectl get svc`. */
export function externalIpColumn(s: ServiceIpam): string {
  return s.ips.length > 0 ? s.ips.join(',') : '<pending>';
}

function describeService(s: ServiceIpam): string {
  const ns = s.namespace ? `${s.namespace}/` : '';
  const c = s.condition;
  const cond = c ? `${c.status}/${c.reason || '(no reason)'}${c.message ? ` "${c.message}"` : ''}` : 'not written yet';
  return `service ${ns}${s.name}: EXTERNAL-IP ${externalIpColumn(s)}, ${SVC_IPAM_CONDITION} ${cond}`;
}

function readOr<T>(read: (o: unknown) => T, obj: unknown): T | Verdict {
  try {
    return read(obj);
  } catch (err) {
    return no((err as Error).message);
  }
}

function isVerdict(x: unknown): x is Verdict {
  return typeof x === 'object' && x !== null && 'ok' in x && 'explanation' in x;
}

// ---------------------------------------------------------------------------------------------
// Judging services
// ---------------------------------------------------------------------------------------------

/**
 * The service holds a LoadBalancer IP from `block` (and exactly `wantIp` when given), and LB-IPAM says so:
 * condition True, reason `satisfied` (cb §1.5).
 */
export function judgeServiceAssigned(obj: unknown, o: { block: readonly string[]; wantIp?: string }): Verdict {
  const s = readOr(readServiceIpam, obj);
  if (isVerdict(s)) return s;
  const seen = describeService(s);
  if (s.ips.length === 0) return no(`expected an IP from the pool; ${seen}`);
  const outside = s.ips.filter((ip) => !o.block.includes(ip));
  if (outside.length > 0) return no(`expected IPs only from the block ${o.block[0]}-${o.block.at(-1)}, got ${outside.join(', ')}; ${seen}`);
  if (o.wantIp !== undefined && !s.ips.includes(o.wantIp)) return no(`expected the requested IP ${o.wantIp}; ${seen}`);
  if (o.wantIp !== undefined && s.ips.length > 1) return no(`expected only the requested IP ${o.wantIp}; ${seen}`);
  const c = s.condition;
  if (!c || c.status !== 'True' || c.reason !== REASON.satisfied) {
    return no(`expected ${SVC_IPAM_CONDITION} True/${REASON.satisfied}; ${seen}`);
  }
  return yes(seen);
}

/**
 * The service has no LoadBalancer IP and LB-IPAM says why: condition False with `reason`, and (when given)
 * a message matching `message` (a loose pattern, e.g. /same port/).
 */
export function judgeServiceRefused(obj: unknown, o: { reason: string; message?: RegExp }): Verdict {
  const s = readOr(readServiceIpam, obj);
  if (isVerdict(s)) return s;
  const seen = describeService(s);
  const want = `no IP and ${SVC_IPAM_CONDITION} False/${o.reason}${o.message ? ` with a message matching ${String(o.message)}` : ''}`;
  if (s.ips.length > 0) return no(`expected ${want}; ${seen}`);
  const c = s.condition;
  if (!c || c.status !== 'False' || c.reason !== o.reason) return no(`expected ${want}; ${seen}`);
  if (o.message && !o.message.test(c.message)) return no(`expected ${want}; ${seen}`);
  return yes(seen);
}

// ---------------------------------------------------------------------------------------------
// Judging pools
// ---------------------------------------------------------------------------------------------

export interface PoolExpectation {
  total?: number;
  available?: number;
  used?: number;
  /**
   * 1.18.x before the fix of PR #41322 updated one pool condition per pass: counts may be blank or lag
   * (cb §1.3, issues #41321/#41536). When true, a blank count is tolerated (and noted); a number must still match.
   */
  countsMayLag: boolean;
}

/** The pool is enabled, reports no conflict (PoolConflict False), and reports the expected counts. */
export function judgePool(obj: unknown, want: PoolExpectation): Verdict {
  const p = readOr(readPool, obj);
  if (isVerdict(p)) return p;
  const row = poolRow(p);
  const seen = `pool ${p.name}: DISABLED ${row.disabled}, CONFLICTING ${row.conflicting || '(blank)'}, IPS AVAILABLE ${row.ipsAvailable || '(blank)'}, total ${p.total ?? '(blank)'}, used ${p.used ?? '(blank)'}`;
  if (p.disabled) return no(`expected an enabled pool; ${seen}`);
  const c = p.conflict;
  if (!c) return no(`expected ${POOL_CONDITION.conflict} False (set on every new pool); ${seen}`);
  if (c.status !== 'False') return no(`expected no conflict; ${POOL_CONDITION.conflict} ${c.status}/${c.reason} "${c.message}"; ${seen}`);
  const notes: string[] = [];
  for (const key of ['total', 'available', 'used'] as const) {
    const expected = want[key];
    if (expected === undefined) continue;
    const got = p[key];
    const type = POOL_CONDITION[key];
    if (got === null) {
      if (!want.countsMayLag) return no(`expected ${type} ${expected}, the count is blank; ${seen}`);
      notes.push(`${type} is blank: tolerated, a known 1.18 pool-status bug (cilium/cilium#41536, fixed by #41322)`);
      continue;
    }
    if (got !== expected) return no(`expected ${type} ${expected}, got ${got}; ${seen}`);
  }
  return yes(seen, notes);
}

// ---------------------------------------------------------------------------------------------
// The lab's Cilium config
// ---------------------------------------------------------------------------------------------

/**
 * cilium-config keys the LB suites rely on (values are strings, cb §4.2): tunnel mode so k8s-w0's backends are
 * reachable (team contract), KPR (the documented prerequisite of L2 announcements, cb §2.1) and L2 announcements
 * (the key is absent when they are off).
 */
export const LB_CONFIG = {
  'routing-mode': 'tunnel',
  'kube-proxy-replacement': 'true',
  'enable-l2-announcements': 'true',
} as const;

/** The config holds every wanted key with the wanted value; names the ones that differ or are missing. */
export function judgeConfig(config: Record<string, string>, want: Record<string, string>): Verdict {
  const wrong = Object.entries(want)
    .filter(([k, v]) => config[k] !== v)
    .map(([k, v]) => `${k}=${config[k] === undefined ? '(absent)' : JSON.stringify(config[k])} (want ${JSON.stringify(v)})`);
  if (wrong.length > 0) return no(`cilium-config differs from what the suite needs: ${wrong.join(', ')}`);
  return yes(`cilium-config has ${Object.keys(want).join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// Version rules
// ---------------------------------------------------------------------------------------------

export interface CiliumVersion {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release tag such as "pre.0" or "rc.1", or null. */
  pre: string | null;
}

/** Reads "1.18.1", "v1.18.1", "quay.io/cilium/cilium:v1.17.6@sha256:..." or "1.19.0-pre.0". */
export function parseCiliumVersion(text: string): CiliumVersion | null {
  const m = /(?:^|[^\d.])v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.]+))?/.exec(text);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), pre: m[4] ?? null };
}

function atLeast(v: CiliumVersion, major: number, minor: number, patch = 0): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.patch >= patch;
}

/**
 * May pool counts be blank or lag? The bug is in 1.18 (issues #41321/#41536 say ">= 1.18.1"; the lead's brief
 * and the seed's 1.18.0 lab say 1.18.0 too). The fix is PR #41322; which 1.18 patch carries it is open
 * (cb "Open items" 4), so 1.18.0-1.18.2 are treated as affected.
 */
// VERIFY: the first 1.18.x patch with PR #41322 (cb open item 4); 1.18.3 assumed here.
export function poolCountsMayLag(v: CiliumVersion | null): boolean {
  if (!v) return true; // unknown version: tolerate, the note says so
  return v.major === 1 && v.minor === 18 && v.patch <= 2;
}

/**
 * What a service sharing-key refusal looks like on this version (cb §1.5-1.6). 1.17 and later: reason
 * `already_allocated_incompatible_service` and a message ending "Reason: <why>". Before 1.17 (PR #33808):
 * reason `already_allocated_different_sharing_key` for every incompatibility, with no detail in the message.
 */
export function incompatibleSharing(
  v: CiliumVersion | null,
  why: 'same port' | 'different sharing key',
): { reason: string; message?: RegExp } {
  if (v && !atLeast(v, 1, 17)) return { reason: REASON.differentSharingKeyLegacy };
  // Loose on purpose: newer code says "same port and protocol" (cb §1.5 lists "same port").
  // VERIFY: the exact message tail on the lab's version; the reason is what the suite relies on.
  return { reason: REASON.incompatibleService, message: why === 'same port' ? /same port/i : /different sharing key/i };
}

// ---------------------------------------------------------------------------------------------
// Plans: which addresses to use
// ---------------------------------------------------------------------------------------------

/** True when `ip` lies inside a pool block (ranges are inclusive, cb §1.2). */
export function blockContains(block: PoolBlock, ip: string): boolean {
  if ('cidr' in block) return cidrContains(block.cidr, ip);
  const n = ipToNumber(ip);
  return n >= ipToNumber(block.start) && n <= ipToNumber(block.stop);
}

/** Addresses of `block` (in order) that no service holds. */
export function freeAddresses(block: readonly string[], held: readonly string[]): string[] {
  const taken = new Set(held);
  return block.filter((ip) => !taken.has(ip));
}

/**
 * An address of the block to request by annotation: the last free one (as the study requested .245).
 * Allocation order is not assumed (cb §1.2): whatever the service holds now is excluded.
 */
export function pickRequestableAddress(block: readonly string[], held: readonly string[]): string {
  const free = freeAddresses(block, held);
  const pick = free.at(-1);
  if (!pick) throw new Error(`no free address left in ${block[0]}-${block.at(-1)} (held: ${held.join(', ') || 'none'})`);
  return pick;
}

/**
 * An address to request that lies in no pool at all: the highest host address of `subnet` that is inside no
 * pool block and not in `avoid` (node addresses). A requested IP in no pool gives `no_pool` (cb §1.5), while one
 * in a pool that does not select the service gives `pool_selector_mismatch`, so every pool in the cluster counts.
 */
export function pickAddressOutsidePools(o: { subnet: string; pools: readonly PoolBlock[]; avoid: readonly string[] }): string {
  const [net, len] = ipaddr.IPv4.parseCIDR(o.subnet);
  const first = ipToNumber(ipaddr.IPv4.networkAddressFromCIDR(o.subnet).toString());
  const size = 2 ** (32 - len);
  const avoid = new Set(o.avoid.map(addressOf));
  // Skip the network and broadcast addresses of subnets that have them.
  const lo = len <= 30 ? first + 1 : first;
  const hi = len <= 30 ? first + size - 2 : first + size - 1;
  for (let n = hi; n >= lo; n--) {
    const ip = numberToIp(n);
    if (avoid.has(ip)) continue;
    if (o.pools.some((b) => blockContains(b, ip))) continue;
    return ip;
  }
  throw new Error(`every address of ${net.toString()}/${len} is in a pool or in use`);
}

/** How many more services fill the pool: the free addresses of the block (IPs are counted once when shared). */
export function servicesToFill(block: readonly string[], held: readonly string[]): number {
  return freeAddresses(block, held).length;
}

/** The topology's block as pool `spec.blocks` (inclusive start/stop, cb §1.2). */
export function topologyBlock(t: Topology): { start: string; stop: string } {
  return { start: t.lbPool.start, stop: t.lbPool.stop };
}

/**
 * Who can announce the block by ARP: the Kubernetes nodes with an interface on the block's subnet, and those
 * interfaces as anchored regexes (the policy's regexes are unanchored, cb §2.2). A node elsewhere (k8s-w0 on
 * lan2) would answer ARP on a segment the router does not use for the block. Built on the L2 suites' judge
 * (helpers/judge/l2.ts l2Candidates, exactInterfaceRegex).
 */
export function l2AnnouncePlan(t: Topology): { subnet: string; nodes: string[]; interfaces: string[] } {
  const subnet = lbSubnet(t);
  const candidates = l2Candidates(t);
  if (candidates.length === 0)
    throw new Error(`no Kubernetes node has an interface on ${subnet.name} (${subnet.cidr}), where the LB block is`);
  return {
    subnet: subnet.cidr,
    nodes: candidates.map((c) => c.node),
    interfaces: [...new Set(candidates.map((c) => exactInterfaceRegex(c.iface)))],
  };
}
