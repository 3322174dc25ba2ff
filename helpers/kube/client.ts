/**
 * The Kubernetes API as the harness uses it (@kubernetes/client-node 1.4, promise API objects).
 *
 * - Server-side apply (field manager `cilium-lab-harness`, force) of manifests kept as YAML next to the suites; the
 *   manifest is parsed and fields are set on the objects (namespace, per-run names, run labels, nodeName) -- no YAML
 *   is built from strings.
 * - Everything the harness creates carries `app.kubernetes.io/managed-by: cilium-lab-harness` and
 *   `cilium-lab-harness/run: <runId>`; deleteByRunLabel / deleteStaleRuns find it again.
 * - Waits poll with a deadline (helpers/retry.ts pollUntil) and say what they waited for and what they saw last.
 * - execInPod uses the client's Exec (websocket) and reads the exit code from the V1Status the API server sends.
 * - watchLeaseHolder uses the client's Watch: list, then watch from the list's resourceVersion, resume from the last
 *   seen resourceVersion when the server closes the watch, relist on 410 Gone; an optional callback is told when the
 *   watch connects, is lost, resumes or relists (WatchConnectionEvent).
 * Every HTTP request has a deadline (requestTimeoutMs); API errors become KubeApiError naming what was attempted.
 *
 * The pure parts (rendering, judging an object's state, the exec exit code) are exported and unit-tested; the
 * wrapper's behaviour on server answers is covered by test/helpers/kube.contract.test.ts against a local fake API.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  Exec,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  Watch,
  type KubernetesObject,
  type Middleware,
  type RequestContext,
  type ResponseContext,
  type V1Deployment,
  type V1DaemonSet,
  type V1Lease,
  type V1Node,
  type V1Pod,
  type V1Service,
  type V1Status,
} from '@kubernetes/client-node';
import { parseAllDocuments, stringify as toYaml } from 'yaml';
import { pollUntil, retryTransient, systemClock, WaitTimeoutError, isTransient, type Check, type Clock } from '../wait/retry.ts';
import type { ExecResult } from '../transport/ssh.ts';
import { REPO_ROOT } from '../lab/topology.ts';

export const FIELD_MANAGER = 'cilium-lab-harness';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const RUN_LABEL = 'cilium-lab-harness/run';
export const MANIFEST_DIR = path.join(REPO_ROOT, 'suites', 'manifests');

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

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

const HINTS: Record<number, string> = {
  401: ' (the API server did not accept the credentials: check KUBECONFIG, or the admin.conf fetched from the control plane)',
  403: ' (the kubeconfig user is not allowed to do this)',
  404: ' (not found)',
  409: ' (conflict with the object on the server)',
};

/** An API call that did not succeed, naming what was attempted. `code` is null when no HTTP answer came. */
export class KubeApiError extends Error {
  constructor(
    readonly what: string,
    readonly code: number | null,
    readonly reason: string | null,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    const status = code === null ? 'no answer' : `HTTP ${code}${reason ? ` ${reason}` : ''}`;
    super(`${what}: ${status}: ${detail}${code !== null ? (HINTS[code] ?? '') : ''}`, options);
    this.name = 'KubeApiError';
  }
}

interface StatusBody {
  reason?: string;
  message?: string;
  details?: { causes?: { reason?: string; message?: string; field?: string }[] };
}

function parseStatusBody(body: unknown): StatusBody | null {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as StatusBody;
    } catch {
      return body.trim() ? { message: body.trim().slice(0, 500) } : null;
    }
  }
  return body !== null && typeof body === 'object' ? body : null;
}

/** Turns whatever the client threw into a KubeApiError (kept as is when it already is one). */
export function toKubeError(err: unknown, what: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const code = (err as ApiException<unknown>).code;
    const status = parseStatusBody((err as ApiException<unknown>).body);
    const causes = (status?.details?.causes ?? []).map((c) => [c.field, c.message].filter(Boolean).join(': ')).filter(Boolean);
    const detail = [status?.message ?? (code === 401 ? 'Unauthorized' : 'no message'), ...causes].join('; ');
    return new KubeApiError(what, code, status?.reason ?? null, detail, { cause: err });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const statusCode = (e as { statusCode?: unknown }).statusCode;
  if (typeof statusCode === 'number') return new KubeApiError(what, statusCode, null, e.message, { cause: e });
  const ws = /Unexpected server response: (\d{3})/.exec(e.message);
  if (ws) return new KubeApiError(what, Number(ws[1]), null, e.message, { cause: e });
  const detail = e.name === 'AbortError' ? 'request timed out (aborted by the request deadline)' : e.message;
  return new KubeApiError(what, null, null, detail, { cause: e });
}

/** Transport hiccups, request deadlines and server overload are worth another try; answers like 404/409/401 are not. */
export function isRetriableKubeError(err: unknown): boolean {
  if (err instanceof KubeApiError) {
    if (err.code === null) return isTransient(err.cause) || /timed out|ECONNRESET|ECONNREFUSED|socket hang up/i.test(err.detail);
    return [429, 500, 502, 503, 504].includes(err.code);
  }
  return isTransient(err);
}

function asError(err: unknown): Error {
  if (err instanceof Error) return err;
  const message = (err as { message?: unknown } | null)?.message;
  return new Error(typeof message === 'string' ? message : JSON.stringify(err));
}

function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.code === 404;
}

// ---------------------------------------------------------------------------------------------
// Manifest rendering (pure)
// ---------------------------------------------------------------------------------------------

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

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
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
    if (!obj || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || !meta || typeof meta.name !== 'string' || meta.name === '') {
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

/** A manifest file path: absolute, or relative to suites/manifests. */
export function manifestPath(file: string): string {
  return path.isAbsolute(file) ? file : path.join(MANIFEST_DIR, file);
}

// ---------------------------------------------------------------------------------------------
// Judging object state (pure): each returns a pollUntil Check
// ---------------------------------------------------------------------------------------------

interface Condition {
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
  return !p.metadata?.deletionTimestamp && p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/**
 * Ready pods (Running, condition Ready, not terminating). With `nodes`, every listed node must run a ready pod;
 * with `count`, exactly that many pods must be ready.
 */
export function podsReady(pods: V1Pod[], o: { nodes?: string[]; count?: number } = {}): Check<V1Pod[]> {
  const ready = pods.filter(podReady);
  const readyNodes = new Set(ready.map((p) => p.spec?.nodeName ?? '?'));
  const describe = pods.length === 0
    ? 'no pods match'
    : pods.map((p) => `${p.metadata?.name ?? '?'}@${p.spec?.nodeName ?? 'unscheduled'}:${p.metadata?.deletionTimestamp ? 'Terminating' : podReady(p) ? 'Ready' : (p.status?.phase ?? 'Unknown')}`).join(', ');
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
  return { done: false, seen: c ? `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}` : `no ${o.type} condition (${describeConditions(cs)})` };
}

/** Ready: condition Ready=True. NotReady: Ready is False or Unknown (a node that stopped reporting). */
export function nodeReadiness(node: V1Node, ready: boolean): Check<V1Node> {
  const c = (node.status?.conditions ?? []).find((x) => x.type === 'Ready');
  const isReady = c?.status === 'True';
  if (isReady === ready) return { done: true, value: node };
  return { done: false, seen: `Ready=${c?.status ?? 'missing'}${c?.reason ? ` (${c.reason})` : ''}` };
}

// ---------------------------------------------------------------------------------------------
// Exec exit code (pure)
// ---------------------------------------------------------------------------------------------

/**
 * The exit code in the V1Status the API server sends on the exec status channel: Success is 0; a Failure with reason
 * NonZeroExitCode carries the code as the message of the cause with reason ExitCode. Any other Failure means the
 * command did not run (no such container, executable not found...): that is thrown, not turned into a code.
 */
export function exitCodeFromStatus(status: V1Status): number {
  if (status.status === 'Success') return 0;
  if (status.reason === 'NonZeroExitCode') {
    const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
    const code = cause?.message !== undefined ? Number(cause.message) : NaN;
    if (Number.isInteger(code)) return code;
    throw new Error(`exec status NonZeroExitCode without a readable exit code: ${JSON.stringify(status)}`);
  }
  throw new Error(`exec failed: ${status.message ?? status.reason ?? JSON.stringify(status)}`);
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

export type AttachFn = (name: string, content: string, type?: 'text' | 'json' | 'yaml') => Promise<void>;

export interface KubeOptions {
  runId: string;
  /** The run namespace; default clh-<runId>. */
  namespace?: string;
  /** Deadline of one HTTP request (default 30 s). Watches are bounded separately. */
  requestTimeoutMs?: number;
  /** Called with diagnostics (object YAML, events) when a wait gives up; wire helpers/report.ts attach here. */
  attach?: AttachFn;
  clock?: Clock;
  /** Retries of transient failures per call (default 3). */
  retries?: number;
}

export interface LeaseHolderChange {
  holder: string | null;
  /** When the harness saw the change (ms epoch). */
  at: number;
  renewTime: string | null;
  transitions: number | null;
}

/**
 * The lease watcher's connection to the API server, as it changes (each change once, on the Kube clock):
 * - connected: a watch stream is open, starting from a fresh list (the first one, or the one after a relist);
 * - resumed: a watch stream is open again from the last resourceVersion seen (no change was missed);
 * - disconnected: the open watch ended (the server closed it, an ERROR event, a dropped connection; `error` says
 *   why, none when the server just ended it), or the watcher could not open one. Further failed attempts while it
 *   stays disconnected are not reported again (the backoff keeps retrying);
 * - relisted: after a 410 Gone the lease was listed again (its state then comes through onChange as usual).
 * Stopping the watch through its AbortSignal reports nothing.
 */
export type WatchConnectionState = 'connected' | 'disconnected' | 'resumed' | 'relisted';

export interface WatchConnectionEvent {
  /** When the harness saw it (ms epoch, Kube clock). */
  at: number;
  state: WatchConnectionState;
  error?: string;
}

export interface WatchLeaseOptions {
  /** Server-side timeout of one watch request (default 240 s). */
  timeoutSeconds?: number;
  /** First delay before another try after a failure (default 500 ms), doubled per failure up to maxReconnectDelayMs (default 10 s). */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** Told when the watch is opened, resumed, lost, or relisted after 410 Gone (see WatchConnectionState). */
  onConnection?: (e: WatchConnectionEvent) => void;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** Kinds deleteByRunLabel always looks at (besides the kinds applied by this process). Namespace goes last. */
export const HARNESS_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumL2AnnouncementPolicy' },
  { apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumLoadBalancerIPPool' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Namespace' },
];

function timeoutMiddleware(ms: number): Middleware {
  return {
    pre(ctx: RequestContext): Promise<RequestContext> {
      if (!ctx.getSignal()) ctx.setSignal(AbortSignal.timeout(ms));
      return Promise.resolve(ctx);
    },
    post(ctx: ResponseContext): Promise<ResponseContext> {
      return Promise.resolve(ctx);
    },
  };
}

function isoOf(v: unknown): string | null {
  if (v instanceof Date) return v.toISOString();
  return typeof v === 'string' && v !== '' ? v : null;
}

function refText(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

export class Kube {
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly coordination: CoordinationV1Api;
  readonly objects: KubernetesObjectApi;
  readonly runId: string;
  readonly namespace: string;
  private readonly clock: Clock;
  private readonly attach: AttachFn | undefined;
  private readonly retries: number;
  private readonly appliedKinds = new Map<string, { apiVersion: string; kind: string }>();

  constructor(kc: KubeConfig, opts: KubeOptions) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.kc = kc;
    this.runId = opts.runId;
    this.namespace = opts.namespace ?? runNamespace(opts.runId);
    this.clock = opts.clock ?? systemClock;
    this.attach = opts.attach;
    this.retries = opts.retries ?? 3;
    const config = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [timeoutMiddleware(opts.requestTimeoutMs ?? 30_000)],
    });
    this.core = new CoreV1Api(config);
    this.apps = new AppsV1Api(config);
    this.coordination = new CoordinationV1Api(config);
    this.objects = new KubernetesObjectApi(config);
  }

  /** One API call: errors become KubeApiError naming `what`; transient failures (and 409 when asked) are retried. */
  private async call<T>(what: string, fn: () => Promise<T>, o: { retryConflict?: boolean } = {}): Promise<T> {
    const retriable = (err: unknown): boolean => isRetriableKubeError(err) || (o.retryConflict === true && err instanceof KubeApiError && err.code === 409);
    return retryTransient(
      async () => {
        try {
          return await fn();
        } catch (err) {
          throw toKubeError(err, what);
        }
      },
      { what, retries: this.retries, minTimeoutMs: 200, maxTimeoutMs: 2000, shouldRetry: retriable },
    ).catch((err: unknown) => {
      // retryTransient prefixes the message with `what`; keep the KubeApiError (and its code) for callers.
      if (err instanceof KubeApiError) throw new KubeApiError(what, err.code, err.reason, err.detail, { cause: err.cause });
      throw err;
    });
  }

  // -- apply / delete ----------------------------------------------------------------------

  /**
   * Server-side apply (field manager cilium-lab-harness, force). A 409 conflict is retried, then reported with its causes.
   * VERIFY: on 1.18 applying a cilium.io/v2alpha1 pool may draw a deprecation warning (cilium-behaviour.md 1.1); the
   * API server sends warnings as HTTP `Warning` headers, which this client does not treat as failures.
   */
  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    const ref = { apiVersion: obj.apiVersion ?? 'v1', kind: obj.kind ?? '?', namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '?' };
    const body = { ...obj, metadata: { ...obj.metadata } };
    delete (body.metadata as Obj).managedFields;
    delete (body.metadata as Obj).resourceVersion;
    const applied = await this.call(`apply ${refText(ref)}`, () => this.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply), { retryConflict: true });
    this.appliedKinds.set(`${ref.apiVersion}/${ref.kind}`, { apiVersion: ref.apiVersion, kind: ref.kind });
    return applied;
  }

  /** Renders a manifest from suites/manifests (or an absolute path) for this run and applies its objects in order. */
  async applyManifest(file: string, vars: ManifestVars = {}, o: { nodeName?: string } = {}): Promise<KubernetesObject[]> {
    const p = manifestPath(file);
    const objects = renderManifest(readFileSync(p, 'utf8'), { runId: this.runId, namespace: this.namespace, vars, source: path.relative(REPO_ROOT, p), ...o });
    const out: KubernetesObject[] = [];
    for (const obj of objects) out.push(await this.apply(obj));
    return out;
  }

  /** Reads an object; null when it does not exist. */
  async read<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef): Promise<T | null> {
    try {
      return await this.call(`read ${refText(ref)}`, () =>
        this.objects.read<T>({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) } }),
      );
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Lists objects of a kind (all namespaces unless one is given). A kind the server does not serve lists as empty. */
  async list(apiVersion: string, kind: string, o: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): Promise<KubernetesObject[]> {
    try {
      const res = await this.call(`list ${kind} (${o.labelSelector ?? 'all'})`, () =>
        this.objects.list(apiVersion, kind, o.namespace, undefined, undefined, undefined, o.fieldSelector, o.labelSelector),
      );
      return res.items;
    } catch (err) {
      if (isNotFound(err) || /Unrecognized API version and kind/.test((err as Error).message)) return [];
      throw err;
    }
  }

  /** Deletes an object; true when it was there, false when it was already gone (404 is not an error). */
  async delete(ref: ObjectRef): Promise<boolean> {
    try {
      await this.call(`delete ${refText(ref)}`, () =>
        this.objects.delete({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) } }, undefined, undefined, undefined, undefined, 'Background'),
      );
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private kindsToClean(): { apiVersion: string; kind: string }[] {
    const all = new Map(HARNESS_KINDS.map((k) => [`${k.apiVersion}/${k.kind}`, k]));
    for (const [key, k] of this.appliedKinds) all.set(key, k);
    const kinds = [...all.values()];
    return [...kinds.filter((k) => k.kind !== 'Namespace'), ...kinds.filter((k) => k.kind === 'Namespace')];
  }

  /** Deletes every harness object matching `labelSelector`, then waits until they are gone. Returns what was deleted. */
  async deleteBySelector(labelSelector: string, o: { timeoutMs?: number; what?: string } = {}): Promise<string[]> {
    const deleted: string[] = [];
    const kinds = this.kindsToClean();
    for (const k of kinds) {
      for (const obj of await this.list(k.apiVersion, k.kind, { labelSelector })) {
        const ref = { apiVersion: k.apiVersion, kind: k.kind, namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '?' };
        if (await this.delete(ref)) deleted.push(refText(ref));
      }
    }
    if (deleted.length > 0) {
      await pollUntil(
        `${o.what ?? `objects labelled ${labelSelector}`} to be deleted`,
        async () => {
          const left: string[] = [];
          for (const k of kinds) {
            for (const obj of await this.list(k.apiVersion, k.kind, { labelSelector })) left.push(refText({ ...k, namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '?' }));
          }
          return left.length === 0 ? { done: true, value: undefined } : { done: false, seen: `still there: ${left.join(', ')}` };
        },
        { timeoutMs: o.timeoutMs ?? 180_000, intervalMs: 2000, clock: this.clock },
      );
    }
    return deleted;
  }

  /** Deletes everything carrying this run's label (namespace last) and waits until it is gone. */
  async deleteByRunLabel(runId: string = this.runId, o: { timeoutMs?: number } = {}): Promise<string[]> {
    return this.deleteBySelector(runSelector(runId), { ...o, what: `objects of run ${runId}` });
  }

  /** Deletes harness objects left by other runs (e.g. LB pools whose blocks would conflict with this run's). */
  async deleteStaleRuns(o: { timeoutMs?: number } = {}): Promise<string[]> {
    return this.deleteBySelector(staleSelector(this.runId), { ...o, what: 'harness objects of earlier runs' });
  }

  /** Creates (applies) the run namespace with the run labels. */
  async ensureNamespace(): Promise<void> {
    await this.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: this.namespace, labels: runLabels(this.runId) } });
  }

  // -- rollouts ----------------------------------------------------------------------------

  /** What `kubectl rollout restart` does: a new pod-template annotation, so every pod is replaced. */
  async rolloutRestart(kind: 'Deployment' | 'DaemonSet', namespace: string, name: string): Promise<void> {
    const patch = {
      apiVersion: 'apps/v1',
      kind,
      metadata: { name, namespace },
      spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date(this.clock.now()).toISOString() } } } },
    };
    await this.call(`rollout restart ${kind} ${namespace}/${name}`, () => this.objects.patch(patch, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch));
  }

  async waitRolledOut(kind: 'Deployment' | 'DaemonSet', namespace: string, name: string, timeoutMs: number): Promise<void> {
    const ref = { apiVersion: 'apps/v1', kind, namespace, name };
    await this.waitFor(`${kind} ${namespace}/${name} to finish its rollout`, ref, timeoutMs, async () => {
      if (kind === 'DaemonSet') {
        const ds = await this.call(`read DaemonSet ${namespace}/${name}`, () => this.apps.readNamespacedDaemonSet({ name, namespace }));
        return daemonSetRolledOut(ds);
      }
      const d = await this.call(`read Deployment ${namespace}/${name}`, () => this.apps.readNamespacedDeployment({ name, namespace }));
      return deploymentRolledOut(d);
    });
  }

  // -- waits -------------------------------------------------------------------------------

  /** pollUntil, plus diagnostics (object YAML and events) handed to `attach` when it gives up. */
  private async waitFor<T>(what: string, ref: ObjectRef | null, timeoutMs: number, check: () => Promise<Check<T>>, intervalMs = 1000): Promise<T> {
    try {
      return await pollUntil(what, check, { timeoutMs, intervalMs, clock: this.clock });
    } catch (err) {
      if (err instanceof WaitTimeoutError && ref && this.attach) await this.attachDiagnostics(ref).catch(() => undefined);
      throw err;
    }
  }

  private async attachDiagnostics(ref: ObjectRef): Promise<void> {
    if (!this.attach) return;
    const obj = await this.read(ref);
    if (obj) {
      const copy = { ...obj, metadata: { ...obj.metadata } };
      delete (copy.metadata as Obj).managedFields;
      await this.attach(`${refText(ref)} (YAML)`, toYaml(copy), 'yaml');
    }
    if (ref.namespace) {
      const events = await this.call('list events', () => this.core.listNamespacedEvent({ namespace: ref.namespace as string, fieldSelector: `involvedObject.name=${ref.name}` }));
      const lines = events.items.map((e) => `${isoOf(e.lastTimestamp ?? e.eventTime) ?? '?'} ${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`);
      await this.attach(`${refText(ref)} (events)`, lines.join('\n') || '(no events)', 'text');
    }
  }

  private async readOrNull<T>(what: string, fn: () => Promise<T>): Promise<T | null> {
    try {
      return await this.call(what, fn);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async waitDeploymentAvailable(namespace: string, name: string, timeoutMs: number): Promise<V1Deployment> {
    return this.waitFor(`Deployment ${namespace}/${name} to be available`, { apiVersion: 'apps/v1', kind: 'Deployment', namespace, name }, timeoutMs, async () => {
      const d = await this.readOrNull(`read Deployment ${namespace}/${name}`, () => this.apps.readNamespacedDeployment({ name, namespace }));
      return d ? deploymentAvailable(d) : { done: false, seen: 'not found' };
    });
  }

  async waitPodsReady(namespace: string, selector: string, o: { nodes?: string[]; count?: number; timeoutMs: number }): Promise<V1Pod[]> {
    const where = o.nodes ? ` on ${o.nodes.join(', ')}` : '';
    return this.waitFor(`pods ${namespace}/${selector} to be ready${where}`, null, o.timeoutMs, async () => {
      const pods = await this.call(`list pods ${namespace}/${selector}`, () => this.core.listNamespacedPod({ namespace, labelSelector: selector }));
      return podsReady(pods.items, o);
    });
  }

  async waitServiceLbIp(namespace: string, name: string, timeoutMs: number): Promise<string> {
    return this.waitFor(`Service ${namespace}/${name} to get a LoadBalancer IP`, { apiVersion: 'v1', kind: 'Service', namespace, name }, timeoutMs, async () => {
      const svc = await this.readOrNull(`read Service ${namespace}/${name}`, () => this.core.readNamespacedService({ name, namespace }));
      return svc ? serviceLbIp(svc) : { done: false, seen: 'not found' };
    });
  }

  async waitCondition(o: ObjectRef & { type: string; status: string; reason?: string; timeoutMs: number }): Promise<Condition> {
    const want = `${o.type}=${o.status}${o.reason ? ` (${o.reason})` : ''}`;
    return this.waitFor(`${refText(o)} to have condition ${want}`, o, o.timeoutMs, async () => {
      const obj = await this.read(o);
      return obj ? conditionMatches(obj, o) : { done: false, seen: 'not found' };
    });
  }

  async waitNodeReady(name: string, ready: boolean, timeoutMs: number): Promise<V1Node> {
    return this.waitFor(`node ${name} to be ${ready ? 'Ready' : 'NotReady'}`, { apiVersion: 'v1', kind: 'Node', name }, timeoutMs, async () => {
      const node = await this.readOrNull(`read Node ${name}`, () => this.core.readNode({ name }));
      return node ? nodeReadiness(node, ready) : { done: false, seen: 'not found' };
    });
  }

  // -- exec --------------------------------------------------------------------------------

  /**
   * Runs argv in a pod's container (no shell) and returns stdout, stderr and the exit code. A non-zero exit is
   * returned, not thrown. Thrown: the pod/container cannot be reached, the command could not start, the deadline
   * passed, or the stream closed before the API server sent the status (the exit code is unknown then).
   */
  async execInPod(namespace: string, pod: string, argv: string[], o: { container?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    const timeoutMs = o.timeoutMs ?? 60_000;
    const what = `exec [${argv.join(' ')}] in ${namespace}/${pod}${o.container ? ` (${o.container})` : ''}`;
    const started = this.clock.now();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const sink = (into: Buffer[]): Writable =>
      new Writable({
        write(chunk: Buffer | string, _enc, cb): void {
          into.push(Buffer.from(chunk));
          cb();
        },
      });
    const text = (b: Buffer[]): string => Buffer.concat(b).toString('utf8');

    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let socket: { close(): void } | undefined;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(() => {
        socket?.close();
        finish(() => reject(new WaitTimeoutError(what, timeoutMs, `stdout: ${text(out).slice(-200) || '(none)'}; stderr: ${text(err).slice(-200) || '(none)'}`, 1)));
      }, timeoutMs);
      const onStatus = (status: V1Status): void => {
        finish(() => {
          try {
            resolve({ stdout: text(out), stderr: text(err), code: exitCodeFromStatus(status), signal: null, durationMs: this.clock.now() - started });
          } catch (e) {
            reject(new KubeApiError(what, null, status.reason ?? null, (e as Error).message));
          }
        });
      };
      new Exec(this.kc)
        .exec(namespace, pod, o.container ?? '', argv, sink(out), sink(err), null, false, onStatus)
        .then((ws) => {
          const s = ws as unknown as { close(): void; on(event: 'close', cb: () => void): void };
          socket = s;
          if (settled) s.close();
          // Let any status frame already queued be handled before deciding the exit code was lost.
          s.on('close', () => setImmediate(() => finish(() => reject(new KubeApiError(what, null, null, 'exec stream closed without a status (exit code lost)')))));
        })
        .catch((e: unknown) => finish(() => reject(toKubeError(asError(e), what))));
    });
  }

  // -- lease watch -------------------------------------------------------------------------

  /**
   * Reports the lease's holder now and on every change, each change once, with the time the harness saw it, until
   * `signal` aborts (then resolves). Implementation: list (field selector on the name) for the current state and a
   * resourceVersion, then watch from there; when the server ends the watch, watch again from the last
   * resourceVersion seen; on 410 Gone, list again. Transport errors reconnect with backoff; 401/403 reject.
   * A missing or deleted lease, or an empty holderIdentity, is reported as holder null.
   * `o.onConnection` is told when the watch opens, is lost and comes back (see WatchConnectionState), so a
   * timeline can tell "nothing changed" from "the harness was not listening".
   */
  async watchLeaseHolder(namespace: string, name: string, onChange: (e: LeaseHolderChange) => void, signal: AbortSignal, o: WatchLeaseOptions = {}): Promise<void> {
    const timeoutSeconds = o.timeoutSeconds ?? 240;
    const baseDelay = o.reconnectDelayMs ?? 500;
    const maxDelay = o.maxReconnectDelayMs ?? 10_000;
    const what = `watch Lease ${namespace}/${name}`;
    let last: string | null | undefined;
    let rv: string | undefined;
    let failures = 0;

    const report = (lease: V1Lease | null): void => {
      const holder = lease?.spec?.holderIdentity || null;
      if (holder === last) return;
      last = holder;
      onChange({ holder, at: this.clock.now(), renewTime: isoOf(lease?.spec?.renewTime), transitions: lease?.spec?.leaseTransitions ?? null });
    };

    // Connection state, reported on changes only: a watch open from a fresh list, resumed from rv, or lost.
    let fromList = false;
    let relisting = false;
    let lost = false;
    const tell = (state: WatchConnectionState, error?: string): void => {
      o.onConnection?.({ at: this.clock.now(), state, ...(error !== undefined ? { error } : {}) });
    };
    const opened = (): void => {
      tell(fromList ? 'connected' : 'resumed');
      fromList = false;
      lost = false;
    };
    const disconnected = (error?: string): void => {
      if (lost) return;
      lost = true;
      tell('disconnected', error);
    };

    while (!signal.aborted) {
      try {
        if (rv === undefined) {
          const list = await this.call(`list Lease ${namespace}/${name}`, () => this.coordination.listNamespacedLease({ namespace, fieldSelector: `metadata.name=${name}` }));
          if (relisting) tell('relisted');
          relisting = false;
          report(list.items[0] ?? null);
          rv = list.metadata?.resourceVersion;
          fromList = true;
        }
        let gone: (StatusBody & { code?: number }) | undefined;
        let errorEvent: (StatusBody & { code?: number }) | undefined;
        let events = 0;
        await this.watchOnce(
          `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`,
          { fieldSelector: `metadata.name=${name}`, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds },
          (type, obj) => {
            const o2 = obj as V1Lease & { code?: number };
            if (type === 'ERROR') {
              if (o2.code === 410) gone = obj as StatusBody & { code?: number };
              else errorEvent = obj as StatusBody & { code?: number };
              return 'stop';
            }
            events++;
            const objRv = o2.metadata?.resourceVersion;
            if (objRv) rv = objRv;
            if (type === 'ADDED' || type === 'MODIFIED') report(o2);
            else if (type === 'DELETED') report(null);
            failures = 0;
            return undefined;
          },
          signal,
          (timeoutSeconds + 15) * 1000,
          opened,
        );
        if (signal.aborted) break;
        if (gone) {
          disconnected(new KubeApiError(what, 410, gone.reason ?? null, `${gone.message ?? 'ERROR event'} (listing again)`).message);
          rv = undefined;
          relisting = true;
        } else if (errorEvent) throw new KubeApiError(what, errorEvent.code ?? null, errorEvent.reason ?? null, errorEvent.message ?? 'ERROR event');
        else {
          disconnected();
          if (events === 0) {
            // Ended without a single event or bookmark: back off before the next watch instead of spinning.
            failures++;
            await this.clock.sleep(Math.min(baseDelay * 2 ** (failures - 1), maxDelay), signal).catch(() => undefined);
          }
        }
      } catch (err) {
        if (signal.aborted) break;
        const e = toKubeError(err, what);
        disconnected(e.message);
        if (e.code === 401 || e.code === 403) throw e;
        failures++;
        const delay = Math.min(baseDelay * 2 ** (failures - 1), maxDelay);
        await this.clock.sleep(delay, signal).catch(() => undefined);
      }
    }
  }

  /**
   * One watch request; resolves when the server ends it (or `onEvent` says stop, or `signal` aborts). `onOpen` is
   * called once when the server accepted the watch (HTTP 200, before its first event), never when it did not.
   */
  private watchOnce(
    apiPath: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, obj: unknown) => 'stop' | undefined,
    signal: AbortSignal,
    maxMs: number,
    onOpen: () => void = () => undefined,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      let controller: AbortController | undefined;
      let stopping = false;
      let ended = false;
      let open = false;
      const opened = (): void => {
        if (open || ended || stopping) return;
        open = true;
        onOpen();
      };
      const stop = (): void => {
        stopping = true;
        controller?.abort();
      };
      const onAbort = (): void => {
        stop();
        resolve();
      };
      const guard = setTimeout(stop, maxMs);
      signal.addEventListener('abort', onAbort, { once: true });
      const cleanup = (): void => {
        clearTimeout(guard);
        signal.removeEventListener('abort', onAbort);
      };
      const q = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined));
      new Watch(this.kc)
        .watch(
          apiPath,
          q,
          (type: string, obj: unknown) => {
            if (stopping) return;
            opened();
            if (onEvent(type, obj) === 'stop') stop();
          },
          (err: unknown) => {
            ended = true;
            cleanup();
            if (stopping || !err) resolve();
            else reject(asError(err));
          },
        )
        .then((c) => {
          // Watch.watch returns only after the response: before `done` was called means the server said 200.
          controller = c;
          if (stopping) c.abort();
          else opened();
        })
        .catch((err: unknown) => {
          cleanup();
          reject(asError(err));
        });
    });
  }
}
