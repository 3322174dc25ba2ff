/**
 * L2 announcements as the Cilium agents do them (1.17/1.18), pure:
 *
 *   selection(policies, service, nodes)  -> which nodes are lease candidates for the service, and the l2-announce rows
 *                                          (IP, interface) each would program if it held the lease
 *   policyConditions(policy)             -> the policy's status conditions (bad selector / bad interface regex)
 *   l2Timings(ciliumConfig)              -> lease duration / renew deadline / retry period in force (defaults 15 s / 5 s / 2 s)
 *   electionStep({ lease, candidates, nowMs, timings }) -> the lease after one round of client-go leader election
 *   leaseObject(svcNs, svcName, spec)    -> the coordination.k8s.io/v1 Lease `cilium-l2announce-<ns>-<name>` in kube-system
 *
 * The twin's controller calls electionStep whenever `dueAtMs` passes (or a candidate set / liveness changes) and writes
 * the lease back when `changed`; only the lease holder's node answers ARP (TwinNetwork.announce) and lists rows.
 *
 * Sources: cilium/cilium pkg/l2announcer/l2announcer.go (upsertSvc, upsertPolicy: candidacy, svcAndMetaLabels,
 * unanchored interface regexes over the agent's selected devices, updatePolicyStatus; newLeaseLock; ReleaseOnCancel),
 * client-go tools/leaderelection (tryAcquireOrRenew: take over only after renewTime + leaseDuration, acquireTime kept on
 * renew, leaseTransitions + 1 on a change of holder; release() writes an empty holder with leaseDurationSeconds 1),
 * shared/docs/cilium-behaviour.md 2.1-2.5, and the harness's own reading of the timings (helpers/judge/failover.ts).
 */
import { leaseTimings } from '../../../helpers/judge/failover.ts';
import { L2_LEASE_NAMESPACE, l2LeaseName } from '../../../helpers/judge/l2.ts';
import { LB_CLASS_L2, SERVICE_NAME_LABEL, SERVICE_NAMESPACE_LABEL } from './lbipam.ts';
import { matchesSelector, validateSelector, type LabelSelector } from './selectors.ts';

export { L2_LEASE_NAMESPACE, l2LeaseName };

export interface L2Policy {
  metadata: { name: string };
  spec: {
    serviceSelector?: LabelSelector | null;
    nodeSelector?: LabelSelector | null;
    interfaces?: string[] | null;
    externalIPs?: boolean;
    loadBalancerIPs?: boolean;
  };
  status?: { conditions?: PolicyCondition[] } | null;
}

export interface PolicyCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface L2Service {
  metadata: { namespace: string; name: string; labels?: Record<string, string> };
  spec: { loadBalancerClass?: string | null; externalIPs?: string[] | null };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } } | null;
}

export interface L2Node {
  name: string;
  labels: Record<string, string>;
  /** The agent's selected devices (`db/show devices`, Selected true), e.g. ['eth0', 'eth1']. */
  devices: string[];
}

export interface L2Row {
  ip: string;
  iface: string;
  /** `<namespace>/<name>` of the services announcing this IP on this interface. */
  origins: string[];
}

export interface L2Candidate {
  node: string;
  policies: string[];
  /** What this node programs (and answers ARP for) while it holds the lease. Empty when no device matches. */
  rows: L2Row[];
}

/** Go's regexp.MatchString is unanchored: `eth0` also matches `veth0xyz`. JS RegExp stands in for RE2 syntax. */
function compile(re: string): RegExp | Error {
  try {
    return new RegExp(re);
  } catch (err) {
    return err as Error;
  }
}

/**
 * updatePolicyStatus as upsertPolicy calls it, in its order with its early returns: node selector, then interface
 * regexes, then service selector. A failing check sets its condition True with the error as message and stops; a
 * passing check turns an existing condition False with an empty message (reason stays `error`, as the code writes it);
 * a passing check with no condition writes nothing.
 */
export function policyConditions(policy: L2Policy, now: string, generation = 1): PolicyCondition[] {
  const checks: [string, () => string | null][] = [
    ['io.cilium/bad-node-selector', () => validateSelector(policy.spec.nodeSelector)],
    [
      'io.cilium/bad-interface-regex',
      () => (policy.spec.interfaces ?? []).map(compile).find((r): r is Error => r instanceof Error)?.message ?? null,
    ],
    ['io.cilium/bad-service-selector', () => validateSelector(policy.spec.serviceSelector)],
  ];
  const out: PolicyCondition[] = (policy.status?.conditions ?? []).map((c) => ({ ...c }));
  for (const [type, check] of checks) {
    const err = check();
    const i = out.findIndex((c) => c.type === type);
    if (i < 0 && err === null) continue;
    const status = err === null ? 'False' : 'True';
    const prev = out[i];
    const next: PolicyCondition = {
      type,
      status,
      reason: 'error',
      message: err ?? '',
      observedGeneration: generation,
      lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
    };
    if (prev) out[i] = next;
    else out.push(next);
    if (err !== null) break;
  }
  return out;
}

function policyUsable(p: L2Policy): boolean {
  return (
    validateSelector(p.spec.nodeSelector) === null &&
    validateSelector(p.spec.serviceSelector) === null &&
    (p.spec.interfaces ?? []).every((r) => !(compile(r) instanceof Error))
  );
}

/** The devices a policy selects on a node: all selected devices without regexes, else those matching any regex. */
export function policyDevices(p: L2Policy, devices: string[]): string[] {
  const res = p.spec.interfaces ?? [];
  if (res.length === 0) return [...devices];
  const regexes = res.map(compile).filter((r): r is RegExp => r instanceof RegExp);
  return devices.filter((d) => regexes.some((r) => r.test(d)));
}

/**
 * Who takes part in the election for `svc`, and what each would announce (upsertSvc/upsertPolicy/
 * recalculateL2EntriesTableEntries): a node is a candidate when some usable policy selects it (nodeSelector, nil = all),
 * selects the service (serviceSelector over its labels plus io.kubernetes.service.name/namespace, nil = all) and asks for
 * an IP type the service has (loadBalancerIPs: status.loadBalancer.ingress IPs; externalIPs: spec.externalIPs).
 * Services with another loadBalancerClass than io.cilium/l2-announcer, or with no IP at all, have no candidates.
 */
export function selection(policies: L2Policy[], svc: L2Service, nodes: L2Node[]): { candidates: L2Candidate[]; ips: string[] } {
  const cls = svc.spec.loadBalancerClass;
  const lbIPs = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
  const extIPs = svc.spec.externalIPs ?? [];
  if ((cls !== undefined && cls !== null && cls !== LB_CLASS_L2) || (lbIPs.length === 0 && extIPs.length === 0))
    return { candidates: [], ips: [] };
  const labels = {
    ...(svc.metadata.labels ?? {}),
    [SERVICE_NAME_LABEL]: svc.metadata.name,
    [SERVICE_NAMESPACE_LABEL]: svc.metadata.namespace,
  };
  const origin = `${svc.metadata.namespace}/${svc.metadata.name}`;
  const candidates: L2Candidate[] = [];
  const allIPs = new Set<string>();
  for (const node of nodes) {
    const rows = new Map<string, L2Row>();
    const names: string[] = [];
    for (const p of policies) {
      if (!policyUsable(p)) continue;
      if (p.spec.nodeSelector && !matchesSelector(p.spec.nodeSelector, node.labels)) continue;
      if (p.spec.serviceSelector && !matchesSelector(p.spec.serviceSelector, labels)) continue;
      const ips = [...(p.spec.loadBalancerIPs ? lbIPs : []), ...(p.spec.externalIPs ? extIPs : [])];
      if (ips.length === 0) continue;
      names.push(p.metadata.name);
      for (const ip of ips) {
        allIPs.add(ip);
        for (const iface of policyDevices(p, node.devices)) rows.set(`${ip} ${iface}`, { ip, iface, origins: [origin] });
      }
    }
    if (names.length > 0) candidates.push({ node: node.name, policies: names, rows: sortRows([...rows.values()]) });
  }
  return { candidates, ips: [...allIPs] };
}

function ipKey(ip: string): string {
  return ip
    .split('.')
    .map((o) => o.padStart(3, '0'))
    .join('.');
}

/** Rows in the table's order (IP, then interface). */
export function sortRows(rows: L2Row[]): L2Row[] {
  return [...rows].sort((a, b) => ipKey(a.ip).localeCompare(ipKey(b.ip)) || a.iface.localeCompare(b.iface));
}

/** Merges the rows of several services held by one node (one row per IP and interface, origins joined). */
export function mergeRows(rows: L2Row[]): L2Row[] {
  const m = new Map<string, L2Row>();
  for (const r of rows) {
    const k = `${r.ip} ${r.iface}`;
    const prev = m.get(k);
    m.set(k, prev ? { ...prev, origins: [...new Set([...prev.origins, ...r.origins])].sort() } : { ...r, origins: [...r.origins] });
  }
  return sortRows([...m.values()]);
}

// ---------------------------------------------------------------------------------------------
// Timings and the lease
// ---------------------------------------------------------------------------------------------

export interface L2Timings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** From cilium-config data: l2-announcements-lease-duration / -renew-deadline / -retry-period, agent defaults and clamping. */
export function l2Timings(config: Record<string, string | undefined>): L2Timings {
  const t = leaseTimings(config);
  return { leaseDurationMs: t.leaseDurationMs, renewDeadlineMs: t.renewDeadlineMs, retryPeriodMs: t.retryPeriodMs };
}

/** coordination.k8s.io/v1 LeaseSpec as client-go's LeaseLock writes it (times as MicroTime strings). */
export interface LeaseSpec {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/** metav1.MicroTime as the API serializes it: RFC 3339 with six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function parseMicroTime(s: string): number {
  const n = Date.parse(s);
  if (Number.isNaN(n)) throw new Error(`"${s}" is not a MicroTime`);
  return n;
}

export interface CandidateState {
  node: string;
  /** The node is up and its agent runs (a rebooting node is not alive, and renews nothing). */
  alive: boolean;
}

export type ElectionAction = 'none' | 'create' | 'renew' | 'acquire' | 'takeover' | 'release';

export interface ElectionResult {
  lease: LeaseSpec | null;
  holder: string | null;
  action: ElectionAction;
  /** Whether the lease must be written back. */
  changed: boolean;
  /** When the next step is due (the holder's next renewal, or the lease's expiry). */
  dueAtMs: number;
  why: string;
}

/**
 * One round of client-go leader election for one service's lease (Cilium: ReleaseOnCancel true, identity = node name):
 * - no lease: the first alive candidate creates it (acquireTime = renewTime = now, transitions 0);
 * - a live holder that is still a candidate renews (renewTime = now, acquireTime kept) once retryPeriod has passed;
 * - a live holder that is no longer a candidate (policy or service no longer selects it) stops its election and releases
 *   (holder "", leaseDurationSeconds 1, transitions kept);
 * - an empty holder: the first alive candidate acquires at once (transitions + 1);
 * - a holder that is not alive: nobody may take over before renewTime + leaseDuration; then the first alive candidate
 *   does (transitions + 1). The twin uses the lease's renewTime where client-go uses the time it observed the record.
 * `candidates` are tried in the given order (the controller may shuffle them, as real agents race).
 */
export function electionStep(o: {
  lease: LeaseSpec | null;
  candidates: CandidateState[];
  nowMs: number;
  timings: L2Timings;
  /** The holder is not among the candidates but its agent runs: it stops its election and releases (ReleaseOnCancel). */
  holderAliveOutsideCandidates?: boolean;
}): ElectionResult {
  const { lease, nowMs, timings } = o;
  const durS = Math.max(1, Math.round(timings.leaseDurationMs / 1000));
  const alive = o.candidates.filter((c) => c.alive);
  const first = alive[0];
  const now = microTime(nowMs);
  if (lease === null) {
    if (!first)
      return {
        lease: null,
        holder: null,
        action: 'none',
        changed: false,
        dueAtMs: nowMs + timings.retryPeriodMs,
        why: 'no lease and no live candidate',
      };
    const created = { holderIdentity: first.node, leaseDurationSeconds: durS, acquireTime: now, renewTime: now, leaseTransitions: 0 };
    return {
      lease: created,
      holder: first.node,
      action: 'create',
      changed: true,
      dueAtMs: nowMs + timings.retryPeriodMs,
      why: `${first.node} created the lease`,
    };
  }
  const renewMs = parseMicroTime(lease.renewTime);
  const holder = lease.holderIdentity;
  const holderState = o.candidates.find((c) => c.node === holder);
  if (holder !== '' && holderState?.alive) {
    if (nowMs - renewMs < timings.retryPeriodMs) {
      return {
        lease,
        holder,
        action: 'none',
        changed: false,
        dueAtMs: renewMs + timings.retryPeriodMs,
        why: `${holder} renewed ${nowMs - renewMs} ms ago`,
      };
    }
    const renewed = { ...lease, renewTime: now, leaseDurationSeconds: durS };
    return { lease: renewed, holder, action: 'renew', changed: true, dueAtMs: nowMs + timings.retryPeriodMs, why: `${holder} renewed` };
  }
  if (holder !== '' && holderState === undefined && o.holderAliveOutsideCandidates) {
    const released = releaseLease(lease, nowMs);
    return {
      lease: released,
      holder: null,
      action: 'release',
      changed: true,
      dueAtMs: nowMs,
      why: `${holder} no longer takes part (no policy selects it for this service) and released the lease`,
    };
  }
  const expiresMs = renewMs + lease.leaseDurationSeconds * 1000;
  if (holder !== '' && nowMs < expiresMs) {
    return {
      lease,
      holder,
      action: 'none',
      changed: false,
      dueAtMs: expiresMs,
      why: `${holder} is not renewing; the lease runs until ${microTime(expiresMs)}`,
    };
  }
  if (!first) {
    return {
      lease,
      holder: holder || null,
      action: 'none',
      changed: false,
      dueAtMs: nowMs + timings.retryPeriodMs,
      why: 'no live candidate',
    };
  }
  const taken = {
    holderIdentity: first.node,
    leaseDurationSeconds: durS,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: lease.leaseTransitions + 1,
  };
  return {
    lease: taken,
    holder: first.node,
    action: holder === '' ? 'acquire' : 'takeover',
    changed: true,
    dueAtMs: nowMs + timings.retryPeriodMs,
    why: holder === '' ? `${first.node} acquired the released lease` : `${first.node} took over from ${holder} after the lease expired`,
  };
}

/**
 * When a non-leader tries again: client-go's acquire loop is wait.JitterUntil(retryPeriod, JitterFactor 1.2), so
 * retryPeriod × (1 + 1.2 × random) with random in [0, 1); the leader's renew loop runs every retryPeriod, unjittered.
 */
export function acquireRetryDelayMs(timings: L2Timings, random: number): number {
  return timings.retryPeriodMs * (1 + 1.2 * Math.min(Math.max(random, 0), 1));
}

/** client-go release() on a graceful stop (ReleaseOnCancel): empty holder, leaseDurationSeconds 1, transitions kept. */
export function releaseLease(lease: LeaseSpec, nowMs: number): LeaseSpec {
  const now = microTime(nowMs);
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.leaseTransitions };
}

/** The Lease object (kube-system/cilium-l2announce-<svc namespace>-<svc name>). */
export function leaseObject(
  svcNamespace: string,
  svcName: string,
  spec: LeaseSpec,
  namespace: string = L2_LEASE_NAMESPACE,
): {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string };
  spec: LeaseSpec;
} {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: l2LeaseName(svcNamespace, svcName), namespace }, spec };
}
