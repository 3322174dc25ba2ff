/**
 * The Kubernetes API as the harness uses it (@kubernetes/client-node 1.4, promise API objects).
 *
 * - Server-side apply (field manager `cilium-lab-harness`, force) of manifests kept as YAML next to the suites; the
 *   manifest is parsed and fields are set on the objects (namespace, per-run names, run labels, nodeName) -- no YAML
 *   is built from strings.
 * - Everything the harness creates carries `app.kubernetes.io/managed-by: cilium-lab-harness` and
 *   `cilium-lab-harness/run: <runId>`; deleteByRunLabel / deleteStaleRuns find it again.
 * - Waits poll with a deadline (helpers/wait/retry.ts pollUntil) and say what they waited for and what they saw last.
 * - execInPod uses the client's Exec (websocket) and reads the exit code from the V1Status the API server sends.
 * - watchLeaseHolder uses the client's Watch: list, then watch from the list's resourceVersion, resume from the last
 *   seen resourceVersion when the server closes the watch, relist on 410 Gone; an optional callback is told when the
 *   watch connects, is lost, resumes or relists (WatchConnectionEvent).
 * Every HTTP request has a deadline (requestTimeoutMs); API errors become KubeApiError naming what was attempted.
 *
 * The pure parts (rendering, judging an object's state, the exec exit code) are exported and unit-tested; the
 * wrapper's behaviour on server answers is covered by test/helpers/kube/client.contract.test.ts against a local fake API.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  type KubernetesObject,
  type Middleware,
  type RequestContext,
  type ResponseContext,
  type V1Deployment,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { pollUntil, retryTransient, systemClock, WaitTimeoutError, type Check, type Clock } from '../wait/retry.ts';
import type { ExecResult } from '../transport/ssh.ts';
import { REPO_ROOT } from '../lab/topology.ts';
import { isNotFound, isRetriableKubeError, KubeApiError, toKubeError } from './errors.ts';
import { execInPod } from './exec.ts';
import { isoOf, watchLeaseHolder, type LeaseHolderChange, type LeaseWatchApi, type WatchLeaseOptions } from './lease-watch.ts';
import {
  FIELD_MANAGER,
  manifestPath,
  refText,
  renderManifest,
  runLabels,
  runNamespace,
  runSelector,
  staleSelector,
  type ManifestVars,
  type Obj,
  type ObjectRef,
} from './manifests.ts';
import {
  conditionMatches,
  daemonSetRolledOut,
  deploymentAvailable,
  deploymentRolledOut,
  nodeReadiness,
  podsReady,
  serviceLbIp,
  type Condition,
} from './checks.ts';

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
  /** Called with diagnostics (object YAML, events) when a wait gives up; wire helpers/report/report.ts attach here. */
  attach?: AttachFn;
  clock?: Clock;
  /** Retries of transient failures per call (default 3). */
  retries?: number;
  /** The folder relative manifest names resolve against (the suites pass theirs; the framework knows none). */
  manifestDir?: string;
}

/** Kinds deleteByRunLabel always looks at (besides the kinds applied by this process). Namespace goes last. */
export const HARNESS_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumL2AnnouncementPolicy' },
  { apiVersion: 'cilium.io/v2alpha1', kind: 'CiliumLoadBalancerIPPool' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Namespace' },
];

/**
 * The object API serializes a known kind through client-node's model, whose property names are not always the wire
 * names: NetworkPolicy's ingress `from` is the model's `_from` (V1NetworkPolicyIngressRule.attributeTypeMap), so a
 * plain object's `from` is silently dropped and the rule admits every peer (found by 75-network-policy in the twin).
 * Plain objects get the model's names before the patch; everything else is passed as it is.
 */
export function withClientModelNames<T extends KubernetesObject>(obj: T): T {
  if (obj.kind !== 'NetworkPolicy' || !obj.apiVersion?.startsWith('networking.k8s.io/')) return obj;
  const spec = (obj as { spec?: { ingress?: Record<string, unknown>[] } }).spec;
  if (!spec?.ingress) return obj;
  const ingress = spec.ingress.map((rule) => {
    if (!('from' in rule)) return rule;
    const { from, ...rest } = rule;
    return { ...rest, _from: from };
  });
  return { ...obj, spec: { ...spec, ingress } };
}

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
  readonly manifestDir: string | undefined;
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
    this.manifestDir = opts.manifestDir;
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
    const retriable = (err: unknown): boolean =>
      isRetriableKubeError(err) || (o.retryConflict === true && err instanceof KubeApiError && err.code === 409);
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
    const ref = {
      apiVersion: obj.apiVersion ?? 'v1',
      kind: obj.kind ?? '?',
      namespace: obj.metadata?.namespace,
      name: obj.metadata?.name ?? '?',
    };
    const body = withClientModelNames({ ...obj, metadata: { ...obj.metadata } });
    delete (body.metadata as Obj).managedFields;
    delete (body.metadata as Obj).resourceVersion;
    const applied = await this.call(
      `apply ${refText(ref)}`,
      () => this.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
      { retryConflict: true },
    );
    this.appliedKinds.set(`${ref.apiVersion}/${ref.kind}`, { apiVersion: ref.apiVersion, kind: ref.kind });
    return applied;
  }

  /** Renders a manifest from the manifest folder (or an absolute path) for this run and applies its objects in order. */
  async applyManifest(file: string, vars: ManifestVars = {}, o: { nodeName?: string } = {}): Promise<KubernetesObject[]> {
    const p = manifestPath(file, this.manifestDir);
    const objects = renderManifest(readFileSync(p, 'utf8'), {
      runId: this.runId,
      namespace: this.namespace,
      vars,
      source: path.relative(REPO_ROOT, p),
      ...o,
    });
    const out: KubernetesObject[] = [];
    for (const obj of objects) out.push(await this.apply(obj));
    return out;
  }

  /** Reads an object; null when it does not exist. */
  async read<T extends KubernetesObject = KubernetesObject>(ref: ObjectRef): Promise<T | null> {
    try {
      return await this.call(`read ${refText(ref)}`, () =>
        this.objects.read<T>({
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
        }),
      );
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Lists objects of a kind (all namespaces unless one is given). A kind the server does not serve lists as empty. */
  async list(
    apiVersion: string,
    kind: string,
    o: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {},
  ): Promise<KubernetesObject[]> {
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
        this.objects.delete(
          {
            apiVersion: ref.apiVersion,
            kind: ref.kind,
            metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
          },
          undefined,
          undefined,
          undefined,
          undefined,
          'Background',
        ),
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
            for (const obj of await this.list(k.apiVersion, k.kind, { labelSelector }))
              left.push(refText({ ...k, namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '?' }));
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
    await this.call(`rollout restart ${kind} ${namespace}/${name}`, () =>
      this.objects.patch(patch, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch),
    );
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
  private async waitFor<T>(
    what: string,
    ref: ObjectRef | null,
    timeoutMs: number,
    check: () => Promise<Check<T>>,
    intervalMs = 1000,
  ): Promise<T> {
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
      const events = await this.call('list events', () =>
        this.core.listNamespacedEvent({ namespace: ref.namespace as string, fieldSelector: `involvedObject.name=${ref.name}` }),
      );
      const lines = events.items.map(
        (e) => `${isoOf(e.lastTimestamp ?? e.eventTime) ?? '?'} ${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`,
      );
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
    return this.waitFor(
      `Deployment ${namespace}/${name} to be available`,
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace, name },
      timeoutMs,
      async () => {
        const d = await this.readOrNull(`read Deployment ${namespace}/${name}`, () =>
          this.apps.readNamespacedDeployment({ name, namespace }),
        );
        return d ? deploymentAvailable(d) : { done: false, seen: 'not found' };
      },
    );
  }

  async waitPodsReady(namespace: string, selector: string, o: { nodes?: string[]; count?: number; timeoutMs: number }): Promise<V1Pod[]> {
    const where = o.nodes ? ` on ${o.nodes.join(', ')}` : '';
    return this.waitFor(`pods ${namespace}/${selector} to be ready${where}`, null, o.timeoutMs, async () => {
      const pods = await this.call(`list pods ${namespace}/${selector}`, () =>
        this.core.listNamespacedPod({ namespace, labelSelector: selector }),
      );
      return podsReady(pods.items, o);
    });
  }

  async waitServiceLbIp(namespace: string, name: string, timeoutMs: number): Promise<string> {
    return this.waitFor(
      `Service ${namespace}/${name} to get a LoadBalancer IP`,
      { apiVersion: 'v1', kind: 'Service', namespace, name },
      timeoutMs,
      async () => {
        const svc = await this.readOrNull(`read Service ${namespace}/${name}`, () => this.core.readNamespacedService({ name, namespace }));
        return svc ? serviceLbIp(svc) : { done: false, seen: 'not found' };
      },
    );
  }

  async waitCondition(o: ObjectRef & { type: string; status: string; reason?: string; timeoutMs: number }): Promise<Condition> {
    const want = `${o.type}=${o.status}${o.reason ? ` (${o.reason})` : ''}`;
    return this.waitFor(`${refText(o)} to have condition ${want}`, o, o.timeoutMs, async () => {
      const obj = await this.read(o);
      return obj ? conditionMatches(obj, o) : { done: false, seen: 'not found' };
    });
  }

  async waitNodeReady(name: string, ready: boolean, timeoutMs: number): Promise<V1Node> {
    return this.waitFor(
      `node ${name} to be ${ready ? 'Ready' : 'NotReady'}`,
      { apiVersion: 'v1', kind: 'Node', name },
      timeoutMs,
      async () => {
        const node = await this.readOrNull(`read Node ${name}`, () => this.core.readNode({ name }));
        return node ? nodeReadiness(node, ready) : { done: false, seen: 'not found' };
      },
    );
  }

  // -- exec --------------------------------------------------------------------------------

  /** Runs argv in a pod's container (no shell); see exec.ts execInPod. */
  execInPod(namespace: string, pod: string, argv: string[], o: { container?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
    return execInPod(this.kc, this.clock, namespace, pod, argv, o);
  }

  // -- lease watch -------------------------------------------------------------------------

  /** Reports the lease's holder now and on every change until `signal` aborts; see lease-watch.ts watchLeaseHolder. */
  watchLeaseHolder(
    namespace: string,
    name: string,
    onChange: (e: LeaseHolderChange) => void,
    signal: AbortSignal,
    o: WatchLeaseOptions = {},
  ): Promise<void> {
    const api: LeaseWatchApi = {
      kc: this.kc,
      clock: this.clock,
      listLease: (ns, n) =>
        this.call(`list Lease ${ns}/${n}`, () =>
          this.coordination.listNamespacedLease({ namespace: ns, fieldSelector: `metadata.name=${n}` }),
        ),
    };
    return watchLeaseHolder(api, namespace, name, onChange, signal, o);
  }
}
