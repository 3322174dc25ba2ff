/**
 * What the LB suites (30-lb-ipam, 40-lb-sharing, 60-ingress) do to the lab, in one place: create the run's pool
 * and L2 announcement policy, create objects and remove them again (in reverse, and check they are gone), wait
 * for a judge to say yes (with a deadline, attaching the object when it does not), and send HTTP requests from
 * the router and from curl-pod.
 *
 * No decisions here: every yes/no comes from helpers/judge/*, every parse from helpers/parse.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { runningConfig } from '../../helpers/cilium/cilium.ts';
import { l2Policy, lbPool, loadManifest, perRunName, type Selects } from './lb-objects.ts';
import {
  POOL_API_VERSION,
  POOL_KIND,
  judgeConfig,
  judgePool,
  l2AnnouncePlan,
  parseCiliumVersion,
  poolCountsMayLag,
  readPool,
  readServiceIpam,
  topologyBlock,
  type CiliumVersion,
  type PoolBlock,
} from '../../helpers/judge/lbipam.ts';
import type { HttpAnswer, Verdict } from '../../helpers/judge/types.ts';
import { RUN_LABEL, type ObjectRef } from '../../helpers/kube/index.ts';
import type { Lab } from '../../helpers/lab/lab.ts';
import { prepareThisSuite } from '../support/lab.ts';
import { curlFrom, curlFromPod, waitHttpReady } from '../../helpers/transport/probes.ts';
import { DEADLINE } from '../../helpers/wait/deadlines.ts';
import { refText, SuiteObjects } from '../../helpers/lab/suite-objects.ts';
import { diagnoseOnFailure } from '../../helpers/lab/suite-scope.ts';
import { lbPoolAddresses, router } from '../../helpers/lab/topology.ts';

export const WEBPOD_SELECTOR = 'app=webpod';

/** The state one LB suite keeps between its tests: the lab, the block, the Cilium version, what it created. */
export class LbSuite {
  lab!: Lab;
  version: CiliumVersion | null = null;
  config: Record<string, string> = {};
  /** The topology's LB block, in order. */
  block: string[] = [];
  poolName = '';
  policyName = '';
  /** What this suite created (set by setUp). */
  private objects: SuiteObjects | undefined;

  constructor(readonly suite: string) {}

  /**
   * Arranges the suite: converges the lab to the suite's needs (suites/support/plan.ts, folded with the run's later
   * suites), reads the running Cilium (version, config), checks the config keys the suite relies on, then creates
   * the run's pool and L2 announcement policy for the services `selects` names (given the running config). What it
   * creates joins the suite's cleanup stack; what to attach when a test fails is declared here, once (diagnose).
   */
  async setUp(
    lab: Lab,
    o: { suiteFile: string; config: Record<string, string>; selects: (config: Record<string, string>) => Selects },
  ): Promise<void> {
    this.lab = lab;
    this.objects = new SuiteObjects(lab, { label: this.suite, removalTimeoutMs: DEADLINE.removalMs });
    await prepareThisSuite(lab, o.suiteFile);
    this.block = lbPoolAddresses(lab.topology);
    // Config and version only: no agent's status is needed here (one exec per node saved).
    const running = await runningConfig(lab);
    this.config = running.config;
    this.version = parseCiliumVersion(running.version) ?? parseCiliumVersion(running.image);
    const v = judgeConfig(running.config, o.config);
    if (!v.ok) throw new Error(`the lab was not converged for ${this.suite}: ${v.explanation}`);
    this.diagnose();
    await this.createPoolAndAnnouncement(o.selects(running.config));
  }

  private get made(): SuiteObjects {
    if (!this.objects) throw new Error(`${this.suite}: the suite's objects were used before setUp()`);
    return this.objects;
  }

  get countsMayLag(): boolean {
    return poolCountsMayLag(this.version);
  }

  get namespace(): string {
    return this.lab.namespace;
  }

  /** The router's name, or null when the topology has none (then HTTP-from-the-router scenarios are skipped). */
  get routerName(): string | null {
    return router(this.lab.topology)?.name ?? null;
  }

  // -- objects ---------------------------------------------------------------------------------

  /** Applies an object and remembers it for removal (remembered first, so a half-failed apply is still cleaned up). */
  async create<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.made.create(obj);
  }

  /** Re-applies an object this suite created (e.g. a new annotation). */
  async update<T extends KubernetesObject>(obj: T): Promise<T> {
    return this.lab.kube.apply(obj);
  }

  /**
   * Deletes `objects` (default: everything this suite created, newest first), then waits until every one is gone.
   * Throws, naming what is left, when they are not gone by the deadline. Returns what was deleted.
   */
  async remove(objects?: readonly KubernetesObject[]): Promise<string[]> {
    return this.objects ? this.objects.remove(objects ? { objects } : {}) : [];
  }

  // -- the pool and the L2 announcement policy ----------------------------------------------------

  /**
   * Creates the run's pool on the topology block and an L2 announcement policy for the same services, on the nodes
   * that sit on the block's subnet (so the router reaches LB IPs by ARP, as in the study).
   */
  async createPoolAndAnnouncement(selects: Selects): Promise<void> {
    const t = this.lab.topology;
    const runId = this.lab.runId;
    this.poolName = perRunName(runId, this.suite);
    this.policyName = perRunName(runId, this.suite);
    const pool = lbPool(loadManifest('lbipam-pool.yaml', this.lab), { runId, name: this.poolName, block: topologyBlock(t), selects });
    const plan = l2AnnouncePlan(t);
    const policy = l2Policy(loadManifest('lbipam-l2-policy.yaml', this.lab), {
      runId,
      name: this.policyName,
      selects,
      nodes: plan.nodes,
      interfaces: plan.interfaces,
    });
    await this.create(pool);
    await this.create(policy);
  }

  async readPoolObject(): Promise<KubernetesObject | null> {
    return this.lab.kube.read({ apiVersion: POOL_API_VERSION, kind: POOL_KIND, name: this.poolName });
  }

  /** Waits until the run's pool is enabled, not conflicting, with the expected counts (blank tolerated when they may lag). */
  async waitPool(want: { total?: number; available?: number; used?: number }): Promise<Verdict> {
    return this.waitVerdict(
      `pool ${this.poolName} to report no conflict and ${JSON.stringify(want)}`,
      { apiVersion: POOL_API_VERSION, kind: POOL_KIND, name: this.poolName },
      (o) => judgePool(o, { ...want, countsMayLag: this.countsMayLag }),
      DEADLINE.lbipamMs,
    );
  }

  /** Blocks of every pool in the cluster (to find an address in none of them). */
  async allPoolBlocks(): Promise<PoolBlock[]> {
    const pools = await this.lab.kube.list(POOL_API_VERSION, POOL_KIND);
    return pools.flatMap((p) => readPool(p).blocks);
  }

  /** Addresses of the block held by this run's services (the only services the run's pools select). */
  async heldBlockIps(): Promise<string[]> {
    const svcs = await this.lab.kube.list('v1', 'Service', { labelSelector: `${RUN_LABEL}=${this.lab.runId}` });
    return svcs.flatMap((s) => readServiceIpam(s).ips).filter((ip) => this.block.includes(ip));
  }

  // -- waiting on a judge ------------------------------------------------------------------------

  /** SuiteObjects.waitVerdict: `ref` read until `judge` says yes; the failing verdict (object attached) at the deadline. */
  async waitVerdict(what: string, ref: ObjectRef, judge: (obj: unknown) => Verdict, timeoutMs: number): Promise<Verdict> {
    return this.made.waitVerdict(what, ref, judge, timeoutMs);
  }

  /** Waits for a Service of the run namespace to satisfy `judge`. */
  async waitService(name: string, what: string, judge: (obj: unknown) => Verdict, namespace = this.namespace): Promise<Verdict> {
    return this.waitVerdict(
      `service ${namespace}/${name} ${what}`,
      { apiVersion: 'v1', kind: 'Service', namespace, name },
      judge,
      DEADLINE.lbipamMs,
    );
  }

  async attachObject(ref: ObjectRef): Promise<void> {
    await this.made.attachObject(ref);
  }

  /**
   * Declares, once for the suite, what a person looks at when one of its tests fails: the pool, the run's services,
   * the L2 announcement leases of the run's services and the run namespace's events (setUp declares them).
   */
  private diagnose(): void {
    diagnoseOnFailure('LB pool (YAML)', async () => toYaml(await this.readPoolObject()), { type: 'yaml' });
    diagnoseOnFailure(
      "the run's services (YAML)",
      async () => toYaml(await this.lab.kube.list('v1', 'Service', { labelSelector: `${RUN_LABEL}=${this.lab.runId}` })),
      { type: 'yaml' },
    );
    diagnoseOnFailure('L2 announcement leases (holder per service)', async () => {
      const leases = await this.lab.kube.list('coordination.k8s.io/v1', 'Lease', { namespace: 'kube-system' });
      return leases
        .filter((l) => l.metadata?.name?.startsWith('cilium-l2announce-'))
        .map(
          (l) =>
            `${l.metadata?.name ?? '?'}: ${String((l as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? '(no holder)')}`,
        )
        .join('\n');
    });
    diagnoseOnFailure(`events in ${this.namespace}`, async () => {
      const events = await this.lab.kube.core.listNamespacedEvent({ namespace: this.namespace });
      return events.items
        .map(
          (e) =>
            `${String(e.lastTimestamp ?? e.eventTime ?? '?')} ${e.involvedObject.kind ?? ''}/${e.involvedObject.name ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`,
        )
        .join('\n');
    });
  }

  /** Declares, once for the suite, the YAML of more objects to attach when one of its tests fails. */
  diagnoseObjects(refs: ObjectRef[]): void {
    for (const r of refs) diagnoseOnFailure(`${refText(r)} (YAML)`, () => this.made.yamlOf(r), { type: 'yaml' });
  }

  // -- HTTP ------------------------------------------------------------------------------------

  /** One HTTP request from the router (over SSH): the answer as the judges read it, plus curl's raw output. */
  async curlFromRouter(url: string, headers?: Record<string, string>): Promise<HttpAnswer> {
    return curlFrom(this.lab.ssh, { url, timeoutMs: DEADLINE.requestMs, ...(headers ? { headers } : {}) });
  }

  /** One HTTP request from curl-pod (inside the cluster), read with the same parser curlFrom uses. */
  async curlFromPod(url: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    return curlFromPod(this.lab, { url, headers, timeoutMs: DEADLINE.requestMs });
  }

  /** helpers/transport/probes.ts waitHttpReady: requests until `ready` accepts an answer; a verdict and how long it took. */
  async waitHttpReady(
    what: string,
    send: () => Promise<HttpAnswer>,
    ready: (a: HttpAnswer) => boolean,
    timeoutMs: number,
  ): Promise<Verdict & { ms: number }> {
    return waitHttpReady(what, send, ready, timeoutMs);
  }

  /** Names of the webpod pods of the run (whoami's Hostname is the pod name). */
  async webpodNames(): Promise<string[]> {
    const pods = await this.lab.kube.list('v1', 'Pod', { namespace: this.namespace, labelSelector: WEBPOD_SELECTOR });
    return pods.map((p) => p.metadata?.name ?? '').filter((n) => n !== '');
  }
}

/** `http://<ip>[:port]<path>`. */
export function httpUrl(ip: string, path = '/', port = 80): string {
  return `http://${ip}${port === 80 ? '' : `:${port}`}${path}`;
}
