/**
 * Pure finishing touches on the L2 suites' manifests (suites/manifests/l2-*.yaml) that a `${placeholder}`
 * cannot express because they are lists: the nodes an L2 policy selects and its interface regexes, and the
 * node the failover backends must avoid. Objects in, new objects out (the input is not modified).
 */
import { exactInterfaceRegex } from '../../helpers/judge/l2.ts';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

function nameOf(o: Obj): string {
  const name = obj(o.metadata)?.name;
  return `${typeof o.kind === 'string' ? o.kind : '?'} ${typeof name === 'string' ? name : '?'}`;
}

/** The hostname expression of a label selector ({ key: kubernetes.io/hostname, operator }). */
function hostnameExpression(selector: unknown, operator: 'In' | 'NotIn', where: string): Obj {
  const exprs = obj(selector)?.matchExpressions;
  const e = Array.isArray(exprs) ? exprs.map(obj).find((x) => x?.key === 'kubernetes.io/hostname' && x.operator === operator) : undefined;
  if (!e) throw new Error(`${where} has no matchExpressions entry { key: kubernetes.io/hostname, operator: ${operator} }`);
  return e;
}

/**
 * A CiliumL2AnnouncementPolicy that selects exactly `nodes` (by kubernetes.io/hostname) and announces on
 * exactly `interfaces` (anchored regexes: the policy's regexes are unanchored, cilium-behaviour.md 2.2).
 */
export function withPolicyNodes<T extends object>(policy: T, o: { nodes: string[]; interfaces: string[] }): T {
  const copy = structuredClone(policy) as Obj;
  const where = nameOf(copy);
  if (copy.kind !== 'CiliumL2AnnouncementPolicy') throw new Error(`${where} is not a CiliumL2AnnouncementPolicy`);
  if (o.nodes.length === 0) throw new Error(`${where}: a policy must select at least one node`);
  if (o.interfaces.length === 0) throw new Error(`${where}: a policy must name at least one interface (an empty list means every device)`);
  const spec = obj(copy.spec);
  if (!spec) throw new Error(`${where} has no spec`);
  hostnameExpression(spec.nodeSelector, 'In', `${where} spec.nodeSelector`).values = [...new Set(o.nodes)];
  spec.interfaces = [...new Set(o.interfaces)].map(exactInterfaceRegex);
  return copy as T;
}

/** A Deployment whose pods never run on `node` (required node affinity, hostname NotIn). */
export function withBackendsAvoiding<T extends object>(deployment: T, node: string): T {
  const copy = structuredClone(deployment) as Obj;
  const where = nameOf(copy);
  if (copy.kind !== 'Deployment') throw new Error(`${where} is not a Deployment`);
  const terms = obj(
    obj(obj(obj(obj(obj(copy.spec)?.template)?.spec)?.affinity)?.nodeAffinity)?.requiredDuringSchedulingIgnoredDuringExecution,
  )?.nodeSelectorTerms;
  if (!Array.isArray(terms) || terms.length !== 1) throw new Error(`${where} needs exactly one required nodeSelectorTerm`);
  hostnameExpression(terms[0], 'NotIn', `${where} nodeSelectorTerms[0]`).values = [node];
  return copy as T;
}
