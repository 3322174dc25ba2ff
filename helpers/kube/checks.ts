/**
 * Judging an API object's state (pure): each function returns a pollUntil Check, so Kube's waits say what they
 * waited for and what they saw last.
 */
import type { V1DaemonSet, V1Deployment, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Check } from '../wait/retry.ts';
import { asObj } from './manifests.ts';

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function conditionsOf(obj: unknown): Condition[] {
  const status = asObj(asObj(obj)?.status);
  return Array.isArray(status?.conditions) ? (status.conditions as Condition[]) : [];
}

function describeConditions(cs: Condition[]): string {
  return cs.length === 0 ? 'no conditions' : cs.map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}`).join(', ');
}

export function deploymentAvailable(d: V1Deployment): Check<V1Deployment> {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  const available = s.availableReplicas ?? 0;
  const updated = s.updatedReplicas ?? 0;
  const observed = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const cond = conditionsOf(d).find((c) => c.type === 'Available');
  const seen = `${available}/${want} available, ${updated} updated, ${s.replicas ?? 0} total, Available=${cond?.status ?? 'missing'}${cond?.reason ? ` (${cond.reason})` : ''}${observed ? '' : ', spec change not observed yet'}`;
  const done = observed && cond?.status === 'True' && available >= want && updated >= want && (s.replicas ?? 0) === want;
  return done ? { done: true, value: d } : { done: false, seen };
}

/** `kubectl rollout status` for a Deployment: new generation observed, all replicas updated and available, old ones gone. */
export function deploymentRolledOut(d: V1Deployment): Check<V1Deployment> {
  return deploymentAvailable(d);
}

/** `kubectl rollout status` for a DaemonSet: new generation observed, every scheduled pod updated and available. */
export function daemonSetRolledOut(ds: V1DaemonSet): Check<V1DaemonSet> {
  const s = ds.status;
  const desired = s?.desiredNumberScheduled ?? 0;
  const updated = s?.updatedNumberScheduled ?? 0;
  const available = s?.numberAvailable ?? 0;
  const observed = (s?.observedGeneration ?? 0) >= (ds.metadata?.generation ?? 0);
  const seen = `${updated}/${desired} updated, ${available}/${desired} available${observed ? '' : ', spec change not observed yet'}`;
  return observed && desired > 0 && updated === desired && available === desired ? { done: true, value: ds } : { done: false, seen };
}

function podReady(p: V1Pod): boolean {
  return (
    !p.metadata?.deletionTimestamp &&
    p.status?.phase === 'Running' &&
    (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/**
 * Ready pods (Running, condition Ready, not terminating). With `nodes`, every listed node must run a ready pod;
 * with `count`, exactly that many pods must be ready.
 */
export function podsReady(pods: V1Pod[], o: { nodes?: string[]; count?: number } = {}): Check<V1Pod[]> {
  const ready = pods.filter(podReady);
  const readyNodes = new Set(ready.map((p) => p.spec?.nodeName ?? '?'));
  const describe =
    pods.length === 0
      ? 'no pods match'
      : pods
          .map(
            (p) =>
              `${p.metadata?.name ?? '?'}@${p.spec?.nodeName ?? 'unscheduled'}:${p.metadata?.deletionTimestamp ? 'Terminating' : podReady(p) ? 'Ready' : (p.status?.phase ?? 'Unknown')}`,
          )
          .join(', ');
  const missingNodes = (o.nodes ?? []).filter((n) => !readyNodes.has(n));
  if (ready.length === 0 || missingNodes.length > 0 || (o.count !== undefined && ready.length !== o.count)) {
    const extra = missingNodes.length > 0 ? `; no ready pod on ${missingNodes.join(', ')}` : '';
    return { done: false, seen: `${describe}${extra}` };
  }
  return { done: true, value: ready };
}

export function serviceLbIp(svc: V1Service): Check<string> {
  const ip = svc.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip;
  if (ip) return { done: true, value: ip };
  return { done: false, seen: `no LoadBalancer ingress IP (type ${svc.spec?.type ?? '?'}; ${describeConditions(conditionsOf(svc))})` };
}

export function conditionMatches(obj: unknown, o: { type: string; status: string; reason?: string }): Check<Condition> {
  const cs = conditionsOf(obj);
  const c = cs.find((x) => x.type === o.type);
  if (c && c.status === o.status && (o.reason === undefined || c.reason === o.reason)) return { done: true, value: c };
  return {
    done: false,
    seen: c
      ? `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`
      : `no ${o.type} condition (${describeConditions(cs)})`,
  };
}

/** Ready: condition Ready=True. NotReady: Ready is False or Unknown (a node that stopped reporting). */
export function nodeReadiness(node: V1Node, ready: boolean): Check<V1Node> {
  const c = (node.status?.conditions ?? []).find((x) => x.type === 'Ready');
  const isReady = c?.status === 'True';
  if (isReady === ready) return { done: true, value: node };
  return { done: false, seen: `Ready=${c?.status ?? 'missing'}${c?.reason ? ` (${c.reason})` : ''}` };
}
