/**
 * Manifests and run labels (pure): the labels every harness object carries, and renderManifest, which parses a
 * manifest and prepares its objects for one run (placeholders, namespace, per-run names, labels, nodeName).
 */
import path from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

export const FIELD_MANAGER = 'cilium-lab-harness';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const RUN_LABEL = 'cilium-lab-harness/run';

export function runLabels(runId: string): Record<string, string> {
  return { [MANAGED_BY_LABEL]: FIELD_MANAGER, [RUN_LABEL]: runId };
}

export function runNamespace(runId: string): string {
  return `clh-${runId}`;
}

/** Selects the harness's objects of one run. */
export function runSelector(runId: string): string {
  return `${RUN_LABEL}=${runId}`;
}

/** Selects the harness's objects of every run except `runId`. */
export function staleSelector(runId: string): string {
  return `${MANAGED_BY_LABEL}=${FIELD_MANAGER},${RUN_LABEL}!=${runId}`;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** `Kind namespace/name`, for messages. */
export function refText(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

/** Kinds without a namespace among those the harness may create; everything else is treated as namespaced. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'Node',
  'CiliumLoadBalancerIPPool',
  'CiliumL2AnnouncementPolicy',
  'CiliumClusterwideNetworkPolicy',
  'IngressClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'StorageClass',
  'PersistentVolume',
]);

const POD_TEMPLATE_KINDS: ReadonlySet<string> = new Set(['Deployment', 'DaemonSet', 'StatefulSet', 'ReplicaSet', 'Job']);

export type ManifestVars = Record<string, string | number | boolean>;

export interface RenderOptions {
  runId: string;
  namespace: string;
  /** Values for `${name}` placeholders. `runId` and `namespace` are always available. */
  vars?: ManifestVars;
  /** Pins every Pod of the manifest to this node (spec.nodeName). */
  nodeName?: string;
  /** For messages: the manifest file. */
  source?: string;
}

export class ManifestError extends Error {
  constructor(source: string, message: string) {
    super(`manifest ${source}: ${message}`);
    this.name = 'ManifestError';
  }
}

const WHOLE_PLACEHOLDER = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const ANY_PLACEHOLDER = /\$\{[^}]*\}/;

function substitute(node: unknown, vars: ManifestVars, source: string, where: string, missing: Set<string>): unknown {
  if (typeof node === 'string') {
    const m = WHOLE_PLACEHOLDER.exec(node);
    if (m) {
      const name = m[1] as string;
      if (!(name in vars)) {
        missing.add(name);
        return node;
      }
      return vars[name];
    }
    if (ANY_PLACEHOLDER.test(node)) {
      throw new ManifestError(source, `${where}: "${node}" has a placeholder inside a longer value; a placeholder must be the whole value`);
    }
    return node;
  }
  if (Array.isArray(node)) return node.map((v, i) => substitute(v, vars, source, `${where}[${i}]`, missing));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, substitute(v, vars, source, where ? `${where}.${k}` : k, missing)]));
  }
  return node;
}

export type Obj = Record<string, unknown>;

export function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

/**
 * Parses a multi-document manifest and prepares every object for this run:
 * - `${name}` scalars are replaced by `vars[name]` (plus `runId`, `namespace`); a missing var is an error;
 * - every object gets the run labels, and so does the pod template of workload kinds;
 * - namespaced objects are put in the run namespace; cluster-scoped ones get the name `clh-<runId>-<name>`;
 * - `nodeName` pins Pods.
 */
export function renderManifest(text: string, o: RenderOptions): KubernetesObject[] {
  const source = o.source ?? '<manifest>';
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) throw new ManifestError(source, 'not a YAML stream');
  const vars: ManifestVars = { ...o.vars, runId: o.runId, namespace: o.namespace };
  const labels = runLabels(o.runId);
  const missing = new Set<string>();
  const objects: KubernetesObject[] = [];
  docs.forEach((doc, i) => {
    if (doc.errors.length > 0) throw new ManifestError(source, `document ${i + 1}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const raw: unknown = doc.toJS();
    if (raw === null || raw === undefined) return;
    const obj = asObj(substitute(raw, vars, source, `document ${i + 1}`, missing));
    const meta = asObj(obj?.metadata);
    if (
      !obj ||
      typeof obj.apiVersion !== 'string' ||
      typeof obj.kind !== 'string' ||
      !meta ||
      typeof meta.name !== 'string' ||
      meta.name === ''
    ) {
      throw new ManifestError(source, `document ${i + 1} is not a Kubernetes object (needs apiVersion, kind and metadata.name)`);
    }
    meta.labels = { ...asObj(meta.labels), ...labels };
    const prefix = `clh-${o.runId}-`;
    const name = CLUSTER_SCOPED_KINDS.has(obj.kind) && !meta.name.startsWith(prefix) ? `${prefix}${meta.name}` : meta.name;
    meta.name = name;
    if (CLUSTER_SCOPED_KINDS.has(obj.kind)) {
      delete meta.namespace;
    } else {
      meta.namespace = o.namespace;
    }
    const spec = asObj(obj.spec);
    if (POD_TEMPLATE_KINDS.has(obj.kind)) {
      const template = asObj(spec?.template);
      if (template) {
        const tmeta = asObj(template.metadata) ?? {};
        tmeta.labels = { ...asObj(tmeta.labels), ...labels };
        template.metadata = tmeta;
      }
    }
    if (obj.kind === 'Pod' && o.nodeName !== undefined) {
      if (!spec) throw new ManifestError(source, `document ${i + 1} (Pod ${name}) has no spec to pin to a node`);
      spec.nodeName = o.nodeName;
    }
    objects.push(obj);
  });
  if (missing.size > 0) throw new ManifestError(source, `no value for placeholder(s) ${[...missing].map((m) => `\${${m}}`).join(', ')}`);
  if (objects.length === 0) throw new ManifestError(source, 'contains no object');
  return objects;
}

/** A manifest file path: absolute, or relative to `dir` (the folder the caller keeps its manifests in). */
export function manifestPath(file: string, dir: string | undefined): string {
  if (path.isAbsolute(file)) return file;
  if (dir === undefined) throw new Error(`manifest ${file}: a relative manifest name needs a manifest folder (Kube's manifestDir option)`);
  return path.join(dir, file);
}
