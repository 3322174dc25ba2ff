/**
 * The objects one suite creates, and nothing else: remembered the moment they are applied (so a half-failed apply
 * is still cleaned up), removed newest first and checked gone with a deadline, and described (YAML, events) for a
 * failed test's attachments. Used by the LB suites (suites/steps/lb.ts) and the L2 suites (suites/steps/l2.ts).
 *
 * Built on helpers/kube/client.ts (apply, read, delete, the events API); no decisions here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { manifestPath, renderManifest, type Kube, type ManifestVars, type ObjectRef } from '../kube/index.ts';
import { attach } from '../report/report.ts';
import { pollUntil, pollVerdict, WaitTimeoutError } from '../wait/retry.ts';
import type { Verdict } from '../judge/types.ts';
import { REPO_ROOT } from './topology.ts';
import { deferCleanup } from './suite-scope.ts';
import { DEADLINE } from '../wait/deadlines.ts';

/** Removal deadline when none is given: deleted objects (finalizers, pods terminating) gone within two minutes. */
export const REMOVAL_TIMEOUT_MS = DEADLINE.removalMs;

/** The reference of an object (`v1` and `?` where the object leaves them out). */
export function refOf(o: KubernetesObject): ObjectRef {
  return {
    apiVersion: o.apiVersion ?? 'v1',
    kind: o.kind ?? '?',
    name: o.metadata?.name ?? '?',
    ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
  };
}

/** `Kind namespace/name` (`Kind name` for cluster-scoped objects). */
export function refText(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
}

/** What SuiteObjects needs of the lab: the Kubernetes helper, and the run its manifests are rendered for. */
export interface SuiteObjectsLab {
  kube: Pick<Kube, 'apply' | 'read' | 'delete' | 'core' | 'manifestDir'>;
  runId: string;
  namespace: string;
}

export class SuiteObjects {
  private readonly created: ObjectRef[] = [];
  /** Takes the removal off the running suite's cleanup stack (set while something created is not removed yet). */
  private leaveStack: (() => void) | null = null;

  /** `label` names the suite in messages ("the lbipam objects to be gone"). */
  constructor(
    private readonly lab: SuiteObjectsLab,
    private readonly o: { label: string; removalTimeoutMs?: number },
  ) {}

  /** What was created and not yet removed, oldest first. */
  get refs(): readonly ObjectRef[] {
    return [...this.created];
  }

  /**
   * Applies an object (server-side apply) and remembers it for removal, before the apply. The removal of what is
   * created joins the running suite's cleanup stack (helpers/lab/suite-scope.ts) with the first object.
   */
  async create<T extends KubernetesObject>(obj: T): Promise<T> {
    const ref = refOf(obj);
    if (!this.created.some((r) => refText(r) === refText(ref))) this.created.push(ref);
    this.leaveStack ??= deferCleanup(`remove the ${this.o.label} objects`, async () => {
      this.leaveStack = null;
      if (this.created.length > 0) await this.remove();
    });
    return this.lab.kube.apply(obj);
  }

  /** Renders suites/manifests/<file> for this run, lets `finish` fill in what a placeholder cannot, creates each object in order. */
  async createFromManifest(
    file: string,
    vars: ManifestVars,
    finish: (o: KubernetesObject) => KubernetesObject = (o) => o,
  ): Promise<KubernetesObject[]> {
    const p = manifestPath(file, this.lab.kube.manifestDir);
    const objects = renderManifest(readFileSync(p, 'utf8'), {
      runId: this.lab.runId,
      namespace: this.lab.namespace,
      vars,
      source: path.relative(REPO_ROOT, p),
    }).map(finish);
    const out: KubernetesObject[] = [];
    for (const o of objects) out.push(await this.create(o));
    return out;
  }

  /**
   * Deletes `objects` in the order given (default: everything created, newest first), then waits until every one
   * it could delete is gone. Every failure is collected: a delete the API refused is reported, the others are still
   * deleted and waited for. Returns what this call deleted (objects already gone are not listed). Throws the
   * WaitTimeoutError (naming what is left) when only the wait failed, else an Error listing every failure.
   */
  async remove(o: { objects?: readonly KubernetesObject[]; timeoutMs?: number } = {}): Promise<string[]> {
    const refs = o.objects ? o.objects.map(refOf) : [...this.created].reverse();
    const deleted: string[] = [];
    const failures: string[] = [];
    const toWaitFor: ObjectRef[] = [];
    for (const r of refs) {
      try {
        if (await this.lab.kube.delete(r)) deleted.push(refText(r));
        toWaitFor.push(r);
      } catch (err) {
        failures.push(`${refText(r)}: ${(err as Error).message}`);
      }
    }
    let timedOut: WaitTimeoutError | undefined;
    if (toWaitFor.length > 0) {
      try {
        await pollUntil(
          `the ${this.o.label} objects to be gone (${toWaitFor.map(refText).join(', ')})`,
          async () => {
            const left: string[] = [];
            for (const r of toWaitFor) if ((await this.lab.kube.read(r)) !== null) left.push(refText(r));
            return left.length === 0 ? { done: true, value: undefined } : { done: false, seen: `still there: ${left.join(', ')}` };
          },
          { timeoutMs: o.timeoutMs ?? this.o.removalTimeoutMs ?? REMOVAL_TIMEOUT_MS, intervalMs: 2_000 },
        );
        this.forget(toWaitFor);
        if (this.created.length === 0) {
          this.leaveStack?.();
          this.leaveStack = null;
        }
      } catch (err) {
        if (!(err instanceof WaitTimeoutError)) throw err;
        timedOut = err;
      }
    }
    if (timedOut && failures.length === 0) throw timedOut;
    if (timedOut) failures.push(timedOut.message);
    if (failures.length > 0) throw new Error(`removing the ${this.o.label} objects failed: ${failures.join('; ')}`, { cause: timedOut });
    return deleted;
  }

  private forget(gone: readonly ObjectRef[]): void {
    const texts = new Set(gone.map(refText));
    for (let i = this.created.length - 1; i >= 0; i--) if (texts.has(refText(this.created[i]!))) this.created.splice(i, 1);
  }

  /** An object's YAML as it is now (without managedFields), or a comment saying it is not there or unreadable. */
  async yamlOf(ref: ObjectRef): Promise<string> {
    try {
      const obj = await this.lab.kube.read(ref);
      if (obj === null) return `# ${refText(ref)}: not found\n`;
      return toYaml({ ...obj, metadata: { ...obj.metadata, managedFields: undefined } });
    } catch (err) {
      return `# ${refText(ref)}: could not read: ${(err as Error).message}\n`;
    }
  }

  /** The YAML of everything created and not yet removed, oldest first, as one multi-document text. */
  async dump(): Promise<string> {
    const docs: string[] = [];
    for (const r of this.created) docs.push(await this.yamlOf(r));
    return docs.join('---\n');
  }

  /** Events about a namespaced object (one line each), null for a cluster-scoped one. */
  async eventsOf(ref: ObjectRef): Promise<string | null> {
    if (!ref.namespace) return null;
    const events = await this.lab.kube.core.listNamespacedEvent({
      namespace: ref.namespace,
      fieldSelector: `involvedObject.name=${ref.name}`,
    });
    const lines = events.items.map(
      (e) => `${String(e.lastTimestamp ?? e.eventTime ?? '?')} ${e.type ?? ''} ${e.reason ?? ''}: ${e.message ?? ''}`,
    );
    return lines.join('\n') || '(no events)';
  }

  /**
   * Reads `ref` until `judge` says yes or the deadline passes. The final verdict is returned either way: when Cilium
   * never reaches the state, that is the finding (a product failure the test asserts on, with what the judge saw
   * last), not a harness timeout. On timeout the object's YAML and events are attached.
   */
  async waitVerdict(what: string, ref: ObjectRef, judge: (obj: unknown) => Verdict, timeoutMs: number): Promise<Verdict> {
    return pollVerdict(
      what,
      async () => {
        const obj = await this.lab.kube.read(ref);
        return obj === null ? { ok: false, explanation: `${refText(ref)} does not exist` } : judge(obj);
      },
      { timeoutMs, intervalMs: 1000, onTimeout: () => this.attachObject(ref) },
    );
  }

  /** Attaches an object's YAML and (for a namespaced object) its events to the running test. */
  async attachObject(ref: ObjectRef): Promise<void> {
    await attach(`${refText(ref)} (YAML)`, await this.yamlOf(ref), 'yaml');
    const events = await this.eventsOf(ref);
    if (events !== null) await attach(`${refText(ref)} (events)`, events, 'text');
  }
}
