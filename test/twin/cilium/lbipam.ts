/**
 * LB-IPAM as the Cilium operator does it (1.17/1.18), as one pure function of the objects:
 *
 *   const r = reconcileLbIpam({ pools, services, config: lbIpamConfigFrom(ciliumConfigData), now: new Date().toISOString() });
 *   r.services.get('default/webpod')  -> { status, changed, ingressIPs, condition }   (write status when changed)
 *   r.pools.get('cilium-lb-ippool')   -> { conditions, counts, conflicting, changed } (write status.conditions when changed)
 *
 * Call it after every change of a pool or a LoadBalancer service (and on a cilium-config change), passing the
 * objects as stored (with their current status): existing ingress IPs are imported first, so an assignment is
 * kept while it stays valid (stable assignment), as the operator does (`stripOrImportIngresses`).
 *
 * Modelled on cilium/cilium operator/pkg/lbipam/lbipam.go (handleNewPool, settleConflicts, stripOrImportIngresses,
 * satisfySpecificIPRequests, satisfyGenericIPv4Requests, allocateIPAddress, findRangeOfIP, updatePoolCounts,
 * setSVCSatisfiedCondition), service_store.go (isCompatible, isSatisfied, svcLabels), pkg/ipalloc (AllocAny: first
 * address of the smallest free block) and shared/docs/cilium-behaviour.md section 1. IPv4 only (the lab has no IPv6).
 * Where the twin differs from the operator, the README's "Cilium models" table says so.
 */
import type { LbIpamFaults } from './model-faults.ts';
import { isIpv4, ipv4ToNumber, matchesSelector, numberToIpv4, parseIpv4Cidr, type LabelSelector } from './selectors.ts';

// ---------------------------------------------------------------------------------------------
// Names (lbipam.go consts; pkg/annotation/k8s.go)
// ---------------------------------------------------------------------------------------------

export const SVC_CONDITION = 'cilium.io/IPAMRequestSatisfied';
export const POOL_CONDITIONS = {
  conflict: 'cilium.io/PoolConflict',
  total: 'cilium.io/IPsTotal',
  available: 'cilium.io/IPsAvailable',
  used: 'cilium.io/IPsUsed',
} as const;
export const ANNOTATIONS = {
  ips: ['lbipam.cilium.io/ips', 'io.cilium/lb-ipam-ips'],
  sharingKey: ['lbipam.cilium.io/sharing-key', 'io.cilium/lb-ipam-sharing-key'],
  sharingCrossNamespace: ['lbipam.cilium.io/sharing-cross-namespace', 'io.cilium/lb-ipam-sharing-cross-namespace'],
} as const;
export const SERVICE_NAME_LABEL = 'io.kubernetes.service.name';
export const SERVICE_NAMESPACE_LABEL = 'io.kubernetes.service.namespace';
export const LB_CLASS_L2 = 'io.cilium/l2-announcer';
export const LB_CLASS_BGP = 'io.cilium/bgp-control-plane';

export const MESSAGES = {
  noPool: 'There are no enabled CiliumLoadBalancerIPPools that match this service',
  outOfIps: 'All enabled CiliumLoadBalancerIPPools that match this service ran out of allocatable IPs',
  requestedNoPool: (ip: string) => `No pool exists with a CIDR containing '${ip}'`,
  selectorMismatch: (ip: string) => `The pool with the CIDR containing '${ip}', doesn't select this service`,
  alreadyAllocated: (ip: string) => `The IP '${ip}' is already allocated to another service`,
  incompatible: (ip: string, reason: string) => `The IP '${ip}' is already allocated to an incompatible service. Reason: ${reason}`,
  conflict: (range: string, other: string, pool: string) =>
    `Pool conflicts since range '${range}' overlaps range '${other}' from IP Pool '${pool}'`,
};

// ---------------------------------------------------------------------------------------------
// Inputs and outputs
// ---------------------------------------------------------------------------------------------

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface PoolBlock {
  cidr?: string;
  start?: string;
  stop?: string;
}

export interface Pool {
  metadata: { name: string; creationTimestamp?: string; generation?: number };
  spec: {
    blocks?: PoolBlock[];
    serviceSelector?: LabelSelector | null;
    disabled?: boolean;
    /** "Yes" | "No"; unset means Yes (since 1.16). */
    allowFirstLastIPs?: string;
  };
  status?: { conditions?: Condition[] } | null;
}

export interface ServicePort {
  port: number;
  protocol?: string;
  name?: string;
}

export interface Service {
  metadata: {
    namespace: string;
    name: string;
    creationTimestamp?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    type?: string;
    loadBalancerClass?: string | null;
    loadBalancerIP?: string;
    ports?: ServicePort[];
    externalTrafficPolicy?: string;
    selector?: Record<string, string> | null;
  };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] }; conditions?: Condition[] } | null;
}

export interface LbIpamConfig {
  /** Class-less LoadBalancer services are served (`default-lb-service-ipam: lbipam`, the default). */
  defaultIPAM: boolean;
  /** loadBalancerClass values LB-IPAM serves (operator/pkg/lbipam/cell.go). */
  lbClasses: string[];
}

/** From cilium-config data: default-lb-service-ipam (default lbipam), the L2 / BGP classes when those are enabled. */
export function lbIpamConfigFrom(config: Record<string, string | undefined>): LbIpamConfig {
  const lbClasses: string[] = [];
  if (config['enable-bgp-control-plane'] === 'true') lbClasses.push(LB_CLASS_BGP);
  if (config['enable-l2-announcements'] === 'true') lbClasses.push(LB_CLASS_L2);
  return { defaultIPAM: (config['default-lb-service-ipam'] ?? 'lbipam') === 'lbipam', lbClasses };
}

export interface ServiceResult {
  key: string;
  /** Whether LB-IPAM handles this service at all. */
  responsible: boolean;
  ingressIPs: string[];
  /** The cilium.io/IPAMRequestSatisfied condition after this pass (null: none). */
  condition: Condition | null;
  /** The whole new status (other conditions and hostname ingresses kept). */
  status: { loadBalancer: { ingress?: { ip?: string; hostname?: string }[] }; conditions?: Condition[] };
  /** Whether `status` differs from the service's current status (write it back only then). */
  changed: boolean;
}

export interface PoolCounts {
  total: number;
  available: number;
  used: number;
}

export interface PoolResult {
  name: string;
  conflicting: boolean;
  counts: PoolCounts;
  conditions: Condition[];
  changed: boolean;
}

export interface LbIpamResult {
  services: Map<string, ServiceResult>;
  pools: Map<string, PoolResult>;
  /** Why a pool or a service was skipped (unparsable block, bad selector...), for the twin's logs. */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Internal state
// ---------------------------------------------------------------------------------------------

interface View {
  key: string;
  namespace: string;
  generation: number;
  labels: Record<string, string>;
  requestedIPs: number[];
  sharingKey: string;
  crossNamespace: string[];
  ports: ServicePort[];
  etp: string;
  selector: Record<string, string>;
  ingress: { ip?: string; hostname?: string }[];
  conditions: Condition[];
  allocated: { ip: number; range: Range }[];
}

interface Range {
  pool: Pool;
  from: number;
  to: number;
  fromCidr: boolean;
  /** allocated address -> the services sharing it; [] for a reserved first/last address. */
  allocs: Map<number, View[]>;
  externallyDisabled: boolean;
  internallyDisabled: boolean;
}

const disabled = (r: Range): boolean => r.externallyDisabled || r.internallyDisabled;

function annotation(svc: Service, keys: readonly string[]): string {
  for (const k of keys) {
    const v = svc.metadata.annotations?.[k];
    if (v !== undefined && v !== '') return v;
  }
  return '';
}

function serviceKey(svc: Service): string {
  return `${svc.metadata.namespace}/${svc.metadata.name}`;
}

/** isResponsibleForSVC (lbipam.go). */
export function isResponsible(svc: Service, config: LbIpamConfig): boolean {
  if (svc.spec.type !== 'LoadBalancer') return false;
  const cls = svc.spec.loadBalancerClass;
  if (cls === undefined || cls === null) return config.defaultIPAM;
  return config.lbClasses.includes(cls);
}

/** getSVCRequestedIPs: spec.loadBalancerIP then the ips annotation (comma list); unparsable entries dropped; deduplicated. */
export function requestedIPs(svc: Service): string[] {
  const out: string[] = [];
  const lbip = svc.spec.loadBalancerIP?.trim();
  if (lbip && isIpv4(lbip)) out.push(lbip);
  const ann = annotation(svc, ANNOTATIONS.ips);
  if (ann) for (const s of ann.split(',').map((x) => x.trim())) if (isIpv4(s)) out.push(s);
  return out.filter((ip, i) => i === 0 || out[i - 1] !== ip);
}

function viewOf(svc: Service): View {
  const ns = svc.metadata.namespace;
  const cross = annotation(svc, ANNOTATIONS.sharingCrossNamespace);
  return {
    key: serviceKey(svc),
    namespace: ns,
    generation: svc.metadata.generation ?? 1,
    labels: { ...(svc.metadata.labels ?? {}), [SERVICE_NAME_LABEL]: svc.metadata.name, [SERVICE_NAMESPACE_LABEL]: ns },
    requestedIPs: requestedIPs(svc).map(ipv4ToNumber),
    sharingKey: annotation(svc, ANNOTATIONS.sharingKey),
    crossNamespace: cross ? cross.split(',') : [],
    ports: svc.spec.ports ?? [],
    etp: svc.spec.externalTrafficPolicy ?? 'Cluster',
    selector: { ...(svc.spec.selector ?? {}) },
    ingress: [...(svc.status?.loadBalancer?.ingress ?? [])],
    conditions: (svc.status?.conditions ?? []).map((c) => ({ ...c })),
    allocated: [],
  };
}

/**
 * isCompatible (service_store.go, 1.17/1.18 wording): same sharing key; same namespace or both allow each other
 * (or `*`); no common port number (protocol ignored, cilium/cilium#9207); same externalTrafficPolicy; for Local, equal
 * non-empty selectors. Returns the reason the condition message carries.
 */
export function isCompatible(
  a: Pick<View, 'sharingKey' | 'namespace' | 'crossNamespace' | 'ports' | 'etp' | 'selector'>,
  b: typeof a,
): { ok: boolean; reason: string } {
  if (a.sharingKey !== b.sharingKey) return { ok: false, reason: 'different sharing key' };
  if (a.namespace !== b.namespace) {
    const allows = (x: typeof a, ns: string): boolean => x.crossNamespace.includes(ns) || x.crossNamespace.includes('*');
    if (!allows(a, b.namespace) || !allows(b, a.namespace)) return { ok: false, reason: 'different and not permitted namespace' };
  }
  for (const p1 of a.ports) for (const p2 of b.ports) if (p1.port === p2.port) return { ok: false, reason: 'same port' };
  if (a.etp !== b.etp) return { ok: false, reason: 'different ExternalTrafficPolicy' };
  if (a.etp === 'Local') {
    const ka = Object.keys(a.selector);
    const same = ka.length === Object.keys(b.selector).length && ka.every((k) => a.selector[k] === b.selector[k]);
    if (ka.length === 0 || Object.keys(b.selector).length === 0 || !same) {
      return { ok: false, reason: 'compatible ExternalTrafficPolicy local but selecting different set of pods' };
    }
  }
  return { ok: true, reason: '' };
}

function poolSelects(pool: Pool, v: View): boolean {
  const sel = pool.spec.serviceSelector;
  return sel === undefined || sel === null || matchesSelector(sel, v.labels);
}

function time(t: string | undefined): number {
  const n = t ? Date.parse(t) : NaN;
  return Number.isNaN(n) ? 0 : n;
}

/** Blocks -> ranges (ipRangeFromBlock): cidr, or start..stop inclusive, or start alone = one IP. */
export function blockRange(b: PoolBlock): { from: number; to: number; fromCidr: boolean } {
  if (b.cidr) {
    const c = parseIpv4Cidr(b.cidr);
    return { from: c.from, to: c.to, fromCidr: true };
  }
  if (!b.start) throw new Error('block has neither cidr nor start');
  const from = ipv4ToNumber(b.start);
  const to = b.stop ? ipv4ToNumber(b.stop) : from;
  if (to < from) throw new Error(`block start ${b.start} is after stop ${b.stop ?? ''}`);
  return { from, to, fromCidr: false };
}

/** The free blocks of a range, lowest first. */
function freeBlocks(r: Range): { from: number; to: number }[] {
  const used = [...r.allocs.keys()].sort((a, b) => a - b);
  const out: { from: number; to: number }[] = [];
  let next = r.from;
  for (const u of used) {
    if (u > next) out.push({ from: next, to: u - 1 });
    next = Math.max(next, u + 1);
  }
  if (next <= r.to) out.push({ from: next, to: r.to });
  return out;
}

/**
 * ipalloc's AllocAny: the first address of the smallest free block. Among blocks of equal size the real min-heap's
 * order depends on its history; the twin takes the lowest address (a fresh range therefore gives its first address).
 */
export function allocAnyFrom(blocks: { from: number; to: number }[]): number | null {
  let best: { from: number; to: number } | null = null;
  for (const b of blocks) if (!best || b.to - b.from < best.to - best.from) best = b;
  return best ? best.from : null;
}

/** metav1.Time as the API serializes it (RFC 3339, whole seconds): pass `k8sTime(new Date())` as `now`. */
export function k8sTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function setCondition(list: Condition[], c: Omit<Condition, 'lastTransitionTime'>, now: string): boolean {
  const i = list.findIndex((x) => x.type === c.type);
  const old = list[i];
  if (
    old &&
    old.status === c.status &&
    old.reason === c.reason &&
    old.message === c.message &&
    old.observedGeneration === c.observedGeneration
  )
    return false;
  const next: Condition = { ...c, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now };
  if (old) list[i] = next;
  else list.push(next);
  return true;
}

// ---------------------------------------------------------------------------------------------
// The pass
// ---------------------------------------------------------------------------------------------

export function reconcileLbIpam(input: {
  pools: Pool[];
  services: Service[];
  config: LbIpamConfig;
  now: string;
  /** Issue 16's product faults (model-faults.ts); none by default. */
  faults?: LbIpamFaults;
}): LbIpamResult {
  const { config, now } = input;
  const faults = input.faults ?? {};
  const notes: string[] = [];
  const pools = [...input.pools].sort(
    (a, b) => time(a.metadata.creationTimestamp) - time(b.metadata.creationTimestamp) || a.metadata.name.localeCompare(b.metadata.name),
  );

  // Pools -> ranges (handleNewPool), first/last reserved for CIDR blocks of /30 and larger when allowFirstLastIPs=No.
  const ranges: Range[] = [];
  const rangesOf = new Map<string, Range[]>();
  for (const pool of pools) {
    const own: Range[] = [];
    for (const b of pool.spec.blocks ?? []) {
      let br: ReturnType<typeof blockRange>;
      try {
        br = blockRange(b);
      } catch (err) {
        notes.push(`pool ${pool.metadata.name}: error parsing ip block: ${(err as Error).message}`);
        continue;
      }
      const r: Range = { pool, ...br, allocs: new Map(), externallyDisabled: pool.spec.disabled === true, internallyDisabled: false };
      if (br.fromCidr && pool.spec.allowFirstLastIPs === 'No' && br.to - br.from >= 2) {
        r.allocs.set(br.from, []);
        r.allocs.set(br.to, []);
      }
      own.push(r);
      ranges.push(r);
    }
    rangesOf.set(pool.metadata.name, own);
  }

  // settleConflicts: a pool whose ranges overlap each other, or overlap an older pool's, is conflicting.
  const overlap = (a: Range, b: Range): boolean => a.from <= b.to && b.from <= a.to;
  const rangeStr = (r: Range): string => `${numberToIpv4(r.from)} - ${numberToIpv4(r.to)}`;
  const conflict = new Map<string, string>();
  for (const pool of pools) {
    const own = rangesOf.get(pool.metadata.name) ?? [];
    let msg: string | null = null;
    for (let i = 0; i < own.length && !msg; i++) {
      for (let j = 0; j < own.length && !msg; j++)
        if (i !== j && overlap(own[i]!, own[j]!)) msg = MESSAGES.conflict(rangeStr(own[i]!), rangeStr(own[j]!), pool.metadata.name);
    }
    for (const older of pools) {
      if (msg || older === pool) continue;
      const olderFirst =
        time(older.metadata.creationTimestamp) < time(pool.metadata.creationTimestamp) ||
        (time(older.metadata.creationTimestamp) === time(pool.metadata.creationTimestamp) && older.metadata.name < pool.metadata.name);
      if (!olderFirst || conflict.has(older.metadata.name)) continue;
      for (const a of own) {
        const b = (rangesOf.get(older.metadata.name) ?? []).find((x) => overlap(a, x));
        if (b) {
          msg = MESSAGES.conflict(rangeStr(a), rangeStr(b), older.metadata.name);
          break;
        }
      }
    }
    if (msg) {
      conflict.set(pool.metadata.name, msg);
      for (const r of own) r.internallyDisabled = true;
    }
  }

  // Services LB-IPAM is responsible for, oldest first.
  const services = [...input.services].sort(
    (a, b) => time(a.metadata.creationTimestamp) - time(b.metadata.creationTimestamp) || serviceKey(a).localeCompare(serviceKey(b)),
  );
  const views: View[] = [];
  const results = new Map<string, ServiceResult>();
  for (const svc of services) {
    if (!isResponsible(svc, config)) {
      // Not ours: if it carries our condition, LB-IPAM was responsible before and cleans up (handleUpsertService).
      const conds = svc.status?.conditions ?? [];
      if (svc.spec.type === 'LoadBalancer' && conds.some((c) => c.type === SVC_CONDITION)) {
        const status = { loadBalancer: {}, conditions: conds.filter((c) => c.type !== SVC_CONDITION) };
        results.set(serviceKey(svc), { key: serviceKey(svc), responsible: false, ingressIPs: [], condition: null, status, changed: true });
      }
      continue;
    }
    views.push(faults.sharingIgnored ? { ...viewOf(svc), sharingKey: '' } : viewOf(svc));
  }

  const findRangeOfIP = (
    v: View,
    ip: number,
    o: { allowExternallyDisabled?: boolean } = {},
  ): { range: Range | null; foundPool: boolean } => {
    let foundPool = false;
    for (const r of ranges) {
      if (r.internallyDisabled || (r.externallyDisabled && !o.allowExternallyDisabled)) continue;
      if (ip < r.from || ip > r.to) continue;
      foundPool = true;
      if (!poolSelects(r.pool, v)) continue;
      return { range: r, foundPool: false };
    }
    return { range: null, foundPool };
  };
  const sharingIndex = new Map<string, { ip: number; range: Range }[]>();
  const indexShare = (v: View, a: { ip: number; range: Range }): void => {
    if (!v.sharingKey) return;
    const list = sharingIndex.get(v.sharingKey) ?? [];
    if (!list.some((x) => x.ip === a.ip && x.range === a.range)) list.push(a);
    sharingIndex.set(v.sharingKey, list);
  };
  const isSatisfied = (v: View): boolean => {
    const ips = v.ingress
      .map((i) => i.ip)
      .filter((ip): ip is string => !!ip && isIpv4(ip))
      .map(ipv4ToNumber);
    return v.requestedIPs.length > 0 ? v.requestedIPs.every((r) => ips.includes(r)) : ips.length > 0;
  };
  const statusChanged = new Set<string>();
  // lbipam-outside-pool: addresses handed out past every block (kept on the next reconcile while the fault is on).
  const inAnyRange = (ip: number): boolean => ranges.some((r) => ip >= r.from && ip <= r.to);
  const outsideUsed = new Set<number>();

  // stripOrImportIngresses: keep an ingress IP while it is still valid (in a matching, enabled range and, when IPs are
  // requested, one of them); the first service importing an IP owns it, later ones go through the sharing logic.
  // Twin: an IP in a pool that was disabled after it was assigned is kept (cilium-behaviour.md 1.2, "existing ones are kept").
  for (const v of views) {
    const kept: View['ingress'] = [];
    for (const ing of v.ingress) {
      if (!ing.ip) continue; // hostname-only ingresses are dropped, as lbipam.go does
      if (!isIpv4(ing.ip)) continue;
      const ip = ipv4ToNumber(ing.ip);
      if (kept.some((k) => k.ip === ing.ip)) continue;
      if (v.requestedIPs.length > 0 && !v.requestedIPs.includes(ip)) continue;
      const { range } = findRangeOfIP(v, ip, { allowExternallyDisabled: true });
      if (!range && faults.outsidePool && !inAnyRange(ip) && !outsideUsed.has(ip)) {
        outsideUsed.add(ip);
        kept.push({ ip: ing.ip });
        continue;
      }
      if (!range) continue;
      const holders = range.allocs.get(ip);
      if (holders) {
        // Twin: the model reconciles from scratch, so a sharer that already holds the IP keeps it when it is compatible
        // with the services imported before it. Dropping it here let a newcomer created in the same second (sorted by
        // name before it) take its place in the sharing logic below: real LB-IPAM never moves an IP off a holder.
        if (!v.sharingKey || holders.length === 0 || !holders.every((h) => isCompatible(h, v).ok)) continue;
        holders.push(v);
      } else range.allocs.set(ip, [v]);
      v.allocated.push({ ip, range });
      indexShare(v, { ip, range });
      kept.push({ ip: ing.ip });
    }
    if (kept.length !== v.ingress.length) statusChanged.add(v.key);
    v.ingress = kept;
  }

  const setSvcCondition = (v: View, satisfied: boolean, reason: string, message: string): void => {
    if (
      setCondition(
        v.conditions,
        { type: SVC_CONDITION, status: satisfied ? 'True' : 'False', observedGeneration: v.generation, reason, message },
        now,
      )
    )
      statusChanged.add(v.key);
  };

  const satisfySpecific = (v: View): void => {
    for (const req of v.requestedIPs) {
      if (v.allocated.some((a) => a.ip === req)) continue;
      const ipStr = numberToIpv4(req);
      const { range, foundPool } = findRangeOfIP(v, req);
      if (!range) {
        if (foundPool) setSvcCondition(v, false, 'pool_selector_mismatch', MESSAGES.selectorMismatch(ipStr));
        else setSvcCondition(v, false, 'no_pool', MESSAGES.requestedNoPool(ipStr));
        continue;
      }
      const holders = range.allocs.get(req);
      if (holders) {
        if (!v.sharingKey) {
          setSvcCondition(v, false, 'already_allocated', MESSAGES.alreadyAllocated(ipStr));
          continue;
        }
        // A reserved first/last address has no holders, so a service with a sharing key passes this check (as in lbipam.go).
        const bad = holders.map((h) => isCompatible(h, v)).find((c) => !c.ok);
        if (bad) {
          setSvcCondition(v, false, 'already_allocated_incompatible_service', MESSAGES.incompatible(ipStr, bad.reason));
          continue;
        }
        holders.push(v);
      } else {
        range.allocs.set(req, [v]);
      }
      v.allocated.push({ ip: req, range });
    }
  };

  const satisfyGeneric = (v: View): void => {
    if (v.allocated.length > 0) return;
    if (v.sharingKey) {
      for (const g of sharingIndex.get(v.sharingKey) ?? []) {
        const holders = g.range.allocs.get(g.ip);
        if (!holders || holders.length === 0) continue;
        if (holders.every((h) => isCompatible(h, v).ok)) {
          holders.push(v);
          v.allocated.push(g);
          return;
        }
      }
    }
    let full = false;
    for (const r of ranges) {
      if (disabled(r) || !poolSelects(r.pool, v)) continue;
      const ip = allocAnyFrom(freeBlocks(r));
      if (ip === null) {
        full = true;
        continue;
      }
      if (faults.outsidePool) {
        let out = Math.max(...ranges.map((x) => x.to)) + 1;
        while (outsideUsed.has(out) || inAnyRange(out)) out++;
        outsideUsed.add(out);
        v.allocated.push({ ip: out, range: r });
        return;
      }
      r.allocs.set(ip, [v]);
      v.allocated.push({ ip, range: r });
      return;
    }
    if (full && !faults.wrongReason) setSvcCondition(v, false, 'out_of_ips', MESSAGES.outOfIps);
    else setSvcCondition(v, false, 'no_pool', MESSAGES.noPool);
  };

  // satisfyService for every service not satisfied by its imported IPs, in order.
  for (const v of views) {
    if (isSatisfied(v)) continue;
    if (v.requestedIPs.length > 0) satisfySpecific(v);
    else satisfyGeneric(v);
    for (const a of v.allocated) {
      const s = numberToIpv4(a.ip);
      if (!v.ingress.some((i) => i.ip === s)) {
        v.ingress.push({ ip: s });
        statusChanged.add(v.key);
        indexShare(v, a);
      }
    }
    if (isSatisfied(v)) setSvcCondition(v, true, 'satisfied', '');
  }

  for (const v of views) {
    const condition = v.conditions.find((c) => c.type === SVC_CONDITION) ?? null;
    const status = {
      loadBalancer: v.ingress.length > 0 ? { ingress: v.ingress } : {},
      ...(v.conditions.length > 0 ? { conditions: v.conditions } : {}),
    };
    results.set(v.key, {
      key: v.key,
      responsible: true,
      ingressIPs: v.ingress.map((i) => i.ip).filter((ip): ip is string => !!ip),
      condition,
      status,
      changed: statusChanged.has(v.key),
    });
  }

  // Pool status: PoolConflict first (a new pool is "unmarked" at once), then the counts (updatePoolCounts).
  const poolResults = new Map<string, PoolResult>();
  for (const pool of pools) {
    const name = pool.metadata.name;
    const gen = pool.metadata.generation ?? 1;
    const conditions = (pool.status?.conditions ?? []).map((c) => ({ ...c }));
    let changed = false;
    const msg = conflict.get(name);
    changed =
      setCondition(
        conditions,
        msg
          ? { type: POOL_CONDITIONS.conflict, status: 'True', reason: 'cidr_overlap', message: msg, observedGeneration: gen }
          : { type: POOL_CONDITIONS.conflict, status: 'False', reason: 'resolved', message: '', observedGeneration: gen },
        now,
      ) || changed;
    let total = 0;
    let used = 0;
    for (const r of rangesOf.get(name) ?? []) {
      total += r.to - r.from + 1;
      used += r.allocs.size;
    }
    const counts = { total, available: total - used, used };
    for (const [type, n] of [
      [POOL_CONDITIONS.total, counts.total],
      [POOL_CONDITIONS.available, counts.available],
      [POOL_CONDITIONS.used, counts.used],
    ] as const) {
      changed =
        setCondition(conditions, { type, status: 'Unknown', reason: 'noreason', message: String(n), observedGeneration: gen }, now) ||
        changed;
    }
    poolResults.set(name, { name, conflicting: msg !== undefined, counts, conditions, changed });
  }

  return { services: results, pools: poolResults, notes };
}
