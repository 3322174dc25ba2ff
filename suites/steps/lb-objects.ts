/**
 * The objects the LB suites create (30-lb-ipam, 40-lb-sharing, 60-ingress), built from the YAML files in
 * suites/manifests/ (lbipam-*.yaml, ingress-*.yaml) by filling parsed objects: never string-built YAML.
 *
 * The rules every object follows (team contract, "Pools"):
 * - it carries `app.kubernetes.io/managed-by: cilium-lab-harness` and `cilium-lab-harness/run: <runId>`;
 * - cluster-scoped objects (pools, L2 policies) are named per run, so a crashed run's leftover cannot collide;
 * - a pool uses the topology's block and selects only the run's services (or, for the ingress suite, exactly
 *   the shared ingress Service), so it never hands IPs to services the harness did not create.
 *
 * Manifests are loaded one way, as the L2 suites' are: `loadManifest` renders the file for the run with
 * helpers/kube/manifests.ts renderManifest (placeholders, run labels, the run namespace, per-run names of
 * cluster-scoped objects); the builders below then fill in what a placeholder cannot say (a selector chosen by
 * the suite, a port list, annotations), as SuiteObjects.createFromManifest's `finish` does for the L2 suites.
 *
 * Everything here is pure except `loadManifest`, which reads a file.
 */
import { readFileSync } from 'node:fs';
import type { KubernetesObject, V1Deployment, V1Ingress, V1LabelSelector, V1Service } from '@kubernetes/client-node';
import path from 'node:path';
import { RUN_LABEL, manifestPath, renderManifest, runLabels, type ManifestVars } from '../../helpers/kube/index.ts';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';
import { MANIFEST_DIR } from '../support/manifests.ts';
import { ANNOTATION, POOL_API_VERSION, POOL_KIND, SERVICE_NAME_LABEL, SERVICE_NAMESPACE_LABEL } from '../../helpers/judge/lbipam.ts';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** A cluster-scoped name unique to the run: `clh-<runId>-<what>` (a DNS label, at most 63 characters). */
export function perRunName(runId: string, what: string): string {
  const name = `clh-${runId}-${what}`;
  if (name.length > 63 || !DNS_LABEL.test(name))
    throw new Error(`"${name}" is not a valid per-run name (DNS label, at most 63 characters)`);
  return name;
}

/** Every object of suites/manifests/<file>, rendered for the run (renderManifest: the one way a manifest is loaded). */
export function loadManifest(file: string, run: { runId: string; namespace: string }, vars: ManifestVars = {}): KubernetesObject[] {
  const full = manifestPath(file, MANIFEST_DIR);
  return renderManifest(readFileSync(full, 'utf8'), {
    runId: run.runId,
    namespace: run.namespace,
    vars,
    source: path.relative(REPO_ROOT, full),
  });
}

function one<T extends KubernetesObject>(docs: readonly unknown[], apiVersion: string, kind: string): T {
  const found = docs.find((d): d is T => {
    const o = d as KubernetesObject | null;
    return !!o && typeof o === 'object' && o.apiVersion === apiVersion && o.kind === kind;
  });
  if (!found) throw new Error(`the template has no ${apiVersion} ${kind}`);
  return structuredClone(found);
}

function withMeta<T extends KubernetesObject>(
  obj: T,
  o: { runId: string; name: string; namespace?: string; labels?: Record<string, string> },
): T {
  obj.metadata = {
    ...obj.metadata,
    name: o.name,
    ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    labels: { ...obj.metadata?.labels, ...o.labels, ...runLabels(o.runId) },
  };
  return obj;
}

// ---------------------------------------------------------------------------------------------
// Pool and L2 announcement policy
// ---------------------------------------------------------------------------------------------

/** Which services a pool or L2 policy selects: the run's own, or exactly one named service (synthetic labels, cilium-behaviour.md 1.2). */
export type Selects = { runId: string } | { service: { namespace: string; name: string } };

export function serviceSelector(s: Selects): V1LabelSelector {
  if ('runId' in s) return { matchLabels: { [RUN_LABEL]: s.runId } };
  return { matchLabels: { [SERVICE_NAMESPACE_LABEL]: s.service.namespace, [SERVICE_NAME_LABEL]: s.service.name } };
}

export interface LbPoolObject extends KubernetesObject {
  spec: { blocks: { start?: string; stop?: string; cidr?: string }[]; serviceSelector?: V1LabelSelector; disabled?: boolean };
}

export function lbPool(
  template: readonly unknown[],
  o: { runId: string; name: string; block: { start: string; stop: string }; selects: Selects },
): LbPoolObject {
  const pool = withMeta(one<LbPoolObject>(template, POOL_API_VERSION, POOL_KIND), o);
  pool.spec = { ...pool.spec, blocks: [{ start: o.block.start, stop: o.block.stop }], serviceSelector: serviceSelector(o.selects) };
  return pool;
}

export interface L2PolicyObject extends KubernetesObject {
  spec: {
    serviceSelector?: V1LabelSelector;
    nodeSelector?: V1LabelSelector;
    interfaces?: string[];
    loadBalancerIPs?: boolean;
    externalIPs?: boolean;
  };
}

export function l2Policy(
  template: readonly unknown[],
  o: { runId: string; name: string; selects: Selects; nodes: readonly string[]; interfaces: readonly string[] },
): L2PolicyObject {
  const policy = withMeta(one<L2PolicyObject>(template, 'cilium.io/v2alpha1', 'CiliumL2AnnouncementPolicy'), o);
  if (o.nodes.length === 0) throw new Error('an L2 announcement policy needs at least one node (an empty In list selects none)');
  policy.spec = {
    ...policy.spec,
    serviceSelector: serviceSelector(o.selects),
    nodeSelector: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [...o.nodes] }] },
    interfaces: [...o.interfaces],
    loadBalancerIPs: true,
  };
  return policy;
}

// ---------------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------------

export interface LbServiceOptions {
  runId: string;
  namespace: string;
  name: string;
  port: number;
  /** lbipam.cilium.io/ips */
  requestIps?: readonly string[];
  /** lbipam.cilium.io/sharing-key */
  sharingKey?: string;
  /** Pod selector; the template selects webpod. */
  selector?: Record<string, string>;
}

export function lbService(template: readonly unknown[], o: LbServiceOptions): V1Service {
  const svc = withMeta(one<V1Service>(template, 'v1', 'Service'), o);
  const annotations: Record<string, string> = { ...svc.metadata?.annotations };
  if (o.requestIps && o.requestIps.length > 0) annotations[ANNOTATION.ips[0]] = o.requestIps.join(',');
  if (o.sharingKey !== undefined) annotations[ANNOTATION.sharingKey[0]] = o.sharingKey;
  if (Object.keys(annotations).length > 0 && svc.metadata) svc.metadata.annotations = annotations;
  const [first] = svc.spec?.ports ?? [];
  if (!svc.spec || !first) throw new Error('the Service template has no port');
  svc.spec.ports = [{ ...first, port: o.port }];
  if (o.selector) svc.spec.selector = { ...o.selector };
  return svc;
}

// ---------------------------------------------------------------------------------------------
// Ingress backends and the Ingress
// ---------------------------------------------------------------------------------------------

/** A whoami Deployment named `name` (app label and WHOAMI_NAME too) and its ClusterIP Service. */
export function whoamiBackend(
  template: readonly unknown[],
  o: { runId: string; namespace: string; name: string },
): { deployment: V1Deployment; service: V1Service } {
  const deployment = withMeta(one<V1Deployment>(template, 'apps/v1', 'Deployment'), o);
  const spec = deployment.spec;
  const container = spec?.template.spec?.containers[0];
  if (!spec || !container) throw new Error('the backend Deployment template has no container');
  spec.selector = { matchLabels: { app: o.name } };
  spec.template.metadata = { ...spec.template.metadata, labels: { ...spec.template.metadata?.labels, app: o.name, ...runLabels(o.runId) } };
  container.env = [...(container.env ?? []).filter((e) => e.name !== 'WHOAMI_NAME'), { name: 'WHOAMI_NAME', value: o.name }];
  const service = withMeta(one<V1Service>(template, 'v1', 'Service'), o);
  if (!service.spec) throw new Error('the backend Service template has no spec');
  service.spec.selector = { app: o.name };
  return { deployment, service };
}

/** The hosts of the run's Ingress rules (reserved `.test` names: only ever a Host header, never resolved). */
export interface IngressHosts {
  /** Rule 1, the study's site: /details -> details, / -> productpage. */
  site: string;
  /** Rule 2: only /details; every other path on this host matches no rule. */
  detailsOnly: string;
}

export function ingressHosts(runId: string): IngressHosts {
  return { site: `${runId}.clh.test`, detailsOnly: `details-only.${runId}.clh.test` };
}

/**
 * The path Ingress: rule i of the template gets host `hosts[i]`, and every path is routed to `backends[path]`.
 * A path of the template without a backend, a backend for a path the template lacks, or a host count that
 * differs from the rule count is an error (the template is the routing table).
 */
export function pathIngress(
  template: readonly unknown[],
  o: { runId: string; namespace: string; name: string; hosts: readonly string[]; backends: Record<string, string> },
): V1Ingress {
  const ing = withMeta(one<V1Ingress>(template, 'networking.k8s.io/v1', 'Ingress'), o);
  const rules = ing.spec?.rules ?? [];
  if (rules.length === 0) throw new Error('the Ingress template has no rules');
  if (rules.length !== o.hosts.length)
    throw new Error(`the Ingress template has ${rules.length} rules, ${o.hosts.length} hosts were given`);
  const seen = new Set<string>();
  rules.forEach((rule, i) => {
    rule.host = o.hosts[i];
    const paths = rule.http?.paths ?? [];
    if (paths.length === 0) throw new Error(`rule ${i + 1} of the Ingress template has no paths`);
    for (const p of paths) {
      const pathName = p.path ?? '';
      const backend = o.backends[pathName];
      if (backend === undefined) throw new Error(`no backend given for the template's path ${pathName}`);
      if (!p.backend.service) throw new Error(`the template's path ${pathName} has no service backend`);
      p.backend.service.name = backend;
      seen.add(pathName);
    }
  });
  const extra = Object.keys(o.backends).filter((k) => !seen.has(k));
  if (extra.length > 0) throw new Error(`the Ingress template has no path ${extra.join(', ')}`);
  return ing;
}
