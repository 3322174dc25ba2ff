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
import { runningCilium } from '../../helpers/cilium/cilium.ts';
import { describeAnswer } from '../../helpers/judge/backends.ts';
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
import { no, yes, type HttpAnswer, type Verdict } from '../../helpers/judge/types.ts';
import { RUN_LABEL, type ObjectRef } from '../../helpers/kube/index.ts';
import type { Lab } from '../../helpers/lab/lab.ts';
import { prepareThisSuite } from '../support/lab.ts';
import { curlFrom, curlFromPod } from '../../helpers/transport/probes.ts';
import { attachOnFailure } from '../../helpers/report/report.ts';
import { pollUntil, WaitTimeoutError } from '../../helpers/wait/retry.ts';
import { refText, SuiteObjects } from '../../helpers/lab/suite-objects.ts';
import { lbPoolAddresses, router } from '../../helpers/lab/topology.ts';

/** Deadlines, named for what they wait for. */
export const DEADLINE = {
  /** LB-IPAM writes pool and service status within a second or two; counts may lag on 1.18.0-1.18.2. */
  lbipamMs: 60_000,
  /** First HTTP answer on a new LB IP from the router: lease election, then ARP (cilium-behaviour.md 2.4: 10-20 s worst case). */
  firstAnswerMs: 90_000,
  /** One HTTP request. */
  requestMs: 5_000,
  /** Objects deleted and gone. */
  removalMs: 120_000,
  /** Deployments available (image pulls on a fresh lab). */
  deploymentMs: 240_000,
  /** The Ingress programmed into Envoy and answered. */
  ingressMs: 180_000,
} as const;

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
   * the run's pool and L2 announcement policy for the services `selects` names (given the running config).
   */
  async setUp(lab: Lab, o: { suiteFile: string; config: Record<string, string>; selects: (config: Record<string, string>) => Selects }): Promise<void> {
    this.lab = lab;
    this.objects = new SuiteObjects(lab, { label: this.suite, removalTimeoutMs: DEADLINE.removalMs });
    await prepareThisSuite(lab, o.suiteFile);
    this.block = lbPoolAddresses(lab.topology);
    const running = await runningCilium(lab);
    this.config = running.config;
    this.version = parseCiliumVersion(running.version) ?? parseCiliumVersion(running.image);
    const v = judgeConfig(running.config, o.config);
    if (!v.ok) throw new Error(`the lab was not converged for ${this.suite}: ${v.explanation}`);
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
    const pool = lbPool(loadManifest('lbipam-pool.yaml'), { runId, name: this.poolName, block: topologyBlock(t), selects });
    const plan = l2AnnouncePlan(t);
    const policy = l2Policy(loadManifest('lbipam-l2-policy.yaml'), { runId, name: this.policyName, selects, nodes: plan.nodes, interfaces: plan.interfaces });
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

  /**
   * Reads `ref` until `judge` says yes or the deadline passes. The final verdict is returned either way: when Cilium
   * never reaches the state, that is the finding (a product failure the test asserts on, with what the judge saw
   * last), not a harness timeout. On timeout the object's YAML and events are attached.
   */
  async waitVerdict(what: string, ref: ObjectRef, judge: (obj: unknown) => Verdict, timeoutMs: number): Promise<Verdict> {
    try {
      return await pollUntil(
        what,
        async () => {
          const obj = await this.lab.kube.read(ref);
          if (obj === null) return { done: false, seen: `${refText(ref)} does not exist` };
          const v = judge(obj);
          return v.ok ? { done: true, value: v } : { done: false, seen: v.explanation };
        },
        { timeoutMs, intervalMs: 1000 },
      );
    } catch (err) {
      if (!(err instanceof WaitTimeoutError)) throw err;
      await this.attachObject(ref);
      return no(`not within ${Math.round(timeoutMs / 1000)} s: ${err.lastSeen}`);
    }
  }

  /** Waits for a Service of the run namespace to satisfy `judge`. */
  async waitService(name: string, what: string, judge: (obj: unknown) => Verdict, namespace = this.namespace): Promise<Verdict> {
    return this.waitVerdict(`service ${namespace}/${name} ${what}`, { apiVersion: 'v1', kind: 'Service', namespace, name }, judge, DEADLINE.lbipamMs);
  }

  async attachObject(ref: ObjectRef): Promise<void> {
    await this.made.attachObject(ref);
  }

  /**
   * Registers, for the running test, what a person looks at when it fails: the pool, the run's services,
   * the L2 announcement leases of the run's services, and the run namespace's events.
   */
  collectOnFailure(extra: ObjectRef[] = []): void {
    attachOnFailure('LB pool (YAML)', async () => toYaml(await this.readPoolObject()), { type: 'yaml' });
    attachOnFailure(
      "the run's services (YAML)",
      async () => toYaml(await this.lab.kube.list('v1', 'Service', { labelSelector: `${RUN_LABEL}=${this.lab.runId}` })),
      { type: 'yaml' },
    );
    attachOnFailure('L2 announcement leases (holder per service)', async () => {
      const leases = await this.lab.kube.list('coordination.k8s.io/v1', 'Lease', { namespace: 'kube-system' });
      return leases
        .filter((l) => l.metadata?.name?.startsWith('cilium-l2announce-'))
        .map((l) => `${l.metadata?.name ?? '?'}: ${String((l as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? '(no holder)')}`)
        .join('\n');
    });
    attachOnFailure(`events in ${this.namespace}`, async () => {
      const events = await this.lab.kube.core.listNamespacedEvent({ namespace: this.namespace });
      return events.items.map((e) => `${String(e.lastTimestamp ?? e.eventTime ?? '?')} ${e.involvedObject.kind ?? ''}/${e.involvedObject.name ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`).join('\n');
    });
    for (const r of extra) attachOnFailure(`${refText(r)} (YAML)`, () => this.made.yamlOf(r), { type: 'yaml' });
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

  /**
   * Sends requests until one gets an HTTP answer that `ready` accepts (the path is programmed: ARP answered,
   * Envoy configured), or the deadline passes. This is a readiness wait: the answers that count are judged after it.
   * Like waitVerdict it returns a verdict (never reaching readiness is the finding), plus how long it took.
   */
  async waitHttpReady(what: string, send: () => Promise<HttpAnswer>, ready: (a: HttpAnswer) => boolean, timeoutMs: number): Promise<Verdict & { ms: number }> {
    const started = Date.now();
    try {
      await pollUntil(
        what,
        async () => {
          const a = await send();
          return ready(a) ? { done: true, value: a } : { done: false, seen: describeAnswer(a) };
        },
        { timeoutMs, intervalMs: 1000 },
      );
      const ms = Date.now() - started;
      return { ...yes(`${what}: after ${ms} ms`), ms };
    } catch (err) {
      if (!(err instanceof WaitTimeoutError)) throw err;
      return { ...no(`${what}: not within ${Math.round(timeoutMs / 1000)} s; last answer: ${err.lastSeen}`), ms: Date.now() - started };
    }
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
