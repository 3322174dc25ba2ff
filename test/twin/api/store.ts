/**
 * The twin API server's objects, in memory: one map per resource, one resourceVersion counter for everything (as
 * etcd's revision), an event log for watches (a watch from a revision older than the log's start is 410 Gone, as
 * after etcd compaction), server-side apply with per-manager field ownership, generation bumps on spec changes,
 * and deletion with the garbage collector's cascades (ownerReferences, a namespace's contents).
 *
 * Simplifications (test/twin/README.md lists them): deletion is immediate (no graceful termination or finalizers);
 * server-side apply removes the fields a manager applied before and leaves out now, and otherwise merges
 * (objects field by field, lists replaced whole; no list-map keys).
 */
import { randomUUID } from 'node:crypto';
import { Resources, type ResourceDef } from './resources.ts';
import { matchFieldSelector, matchLabelSelector } from './selectors.ts';

export type Obj = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
};
export interface Meta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  generateName?: string;
  managedFields?: unknown;
  [k: string]: unknown;
}

export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface StoreEvent {
  rv: number;
  type: WatchType;
  res: ResourceDef;
  obj: Obj;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const LOG_SIZE = 20_000;

function clone<T>(v: T): T {
  return structuredClone(v);
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** JSON merge patch (RFC 7386): null deletes, objects merge, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlain(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlain(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Leaf paths of an applied body (objects descend, anything else is a leaf). */
function leafPaths(v: unknown, prefix: string[] = [], out: string[][] = []): string[][] {
  if (isPlain(v) && Object.keys(v).length > 0) for (const [k, x] of Object.entries(v)) leafPaths(x, [...prefix, k], out);
  else if (prefix.length > 0) out.push(prefix);
  return out;
}

function hasPath(v: unknown, p: string[]): boolean {
  let cur = v;
  for (const k of p) {
    if (!isPlain(cur) || !(k in cur)) return false;
    cur = cur[k];
  }
  return true;
}

function deletePath(v: unknown, p: string[]): void {
  let cur = v;
  for (const k of p.slice(0, -1)) {
    if (!isPlain(cur)) return;
    cur = cur[k];
  }
  if (isPlain(cur)) delete cur[p[p.length - 1] as string];
}

function specOf(o: Obj): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return JSON.stringify(rest);
}

const VOLATILE_META = ['resourceVersion', 'generation', 'uid', 'creationTimestamp', 'managedFields'];

function sameContent(a: Obj, b: Obj): boolean {
  const norm = (o: Obj): string => {
    const meta = Object.fromEntries(Object.entries(o.metadata).filter(([k, v]) => !VOLATILE_META.includes(k) && v !== undefined));
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = o;
    return JSON.stringify(sortKeys({ ...rest, metadata: meta }));
  };
  return norm(a) === norm(b);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isPlain(v))
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k])]),
    );
  return v;
}

export class Store {
  private rv = 1;
  private readonly objects = new Map<ResourceDef, Map<string, Obj>>();
  private readonly applied = new Map<string, Map<string, unknown>>();
  private readonly log: StoreEvent[] = [];
  private readonly listeners = new Set<(e: StoreEvent) => void>();

  constructor(readonly resources: Resources) {
    for (const r of resources.all) this.objects.set(r, new Map());
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  /** The oldest revision a watch may start from. */
  get oldestRv(): number {
    return this.log.length > 0 ? (this.log[0] as StoreEvent).rv - 1 : this.rv;
  }

  private key(ns: string | undefined, name: string): string {
    return `${ns ?? ''}/${name}`;
  }

  private map(res: ResourceDef): Map<string, Obj> {
    const m = this.objects.get(res);
    if (!m) throw new Error(`store: unknown resource ${res.plural}`);
    return m;
  }

  /** Called on every change (controllers and watches). */
  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Events after `rv` (for a watch resuming); throws 410 Gone when `rv` is older than the log. */
  since(rv: number): StoreEvent[] {
    if (rv < this.oldestRv) throw new ApiError(410, 'Expired', `too old resource version: ${rv} (${this.oldestRv})`);
    return this.log.filter((e) => e.rv > rv);
  }

  /** Forgets the event log up to now: a watch from any earlier revision gets 410 Gone (for tests). */
  compact(): void {
    this.log.length = 0;
  }

  private emit(type: WatchType, res: ResourceDef, obj: Obj): void {
    const e: StoreEvent = { rv: Number(obj.metadata.resourceVersion), type, res, obj: clone(obj) };
    this.log.push(e);
    if (this.log.length > LOG_SIZE) this.log.splice(0, this.log.length - LOG_SIZE);
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  get(res: ResourceDef, ns: string | undefined, name: string): Obj | undefined {
    const o = this.map(res).get(this.key(res.namespaced ? ns : undefined, name));
    return o ? clone(o) : undefined;
  }

  mustGet(res: ResourceDef, ns: string | undefined, name: string): Obj {
    const o = this.get(res, ns, name);
    if (!o) throw new ApiError(404, 'NotFound', `${res.plural}${res.group ? `.${res.group}` : ''} "${name}" not found`);
    return o;
  }

  list(res: ResourceDef, o: { namespace?: string; labelSelector?: string | null; fieldSelector?: string | null } = {}): Obj[] {
    const out: Obj[] = [];
    for (const obj of this.map(res).values()) {
      if (res.namespaced && o.namespace && obj.metadata.namespace !== o.namespace) continue;
      if (!matchLabelSelector(o.labelSelector, obj.metadata.labels)) continue;
      if (!matchFieldSelector(o.fieldSelector, obj)) continue;
      out.push(clone(obj));
    }
    return out.sort((a, b) =>
      `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`),
    );
  }

  private stamp(res: ResourceDef, obj: Obj, prev: Obj | undefined): Obj {
    obj.apiVersion = Resources.apiVersion(res);
    obj.kind = res.kind;
    obj.metadata.uid = prev?.metadata.uid ?? obj.metadata.uid ?? randomUUID();
    obj.metadata.creationTimestamp = prev?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    obj.metadata.resourceVersion = String(++this.rv);
    const gen = prev?.metadata.generation ?? 0;
    obj.metadata.generation = !prev ? 1 : specOf(prev) !== specOf(obj) ? gen + 1 : gen;
    delete obj.metadata.managedFields;
    if (!res.namespaced) delete obj.metadata.namespace;
    return obj;
  }

  private checkNamespace(res: ResourceDef, ns: string | undefined): void {
    if (!res.namespaced) return;
    if (!ns) throw new ApiError(400, 'BadRequest', `${res.kind} needs a namespace`);
    const nsRes = this.resources.byKind('v1', 'Namespace');
    const n = this.map(nsRes).get(this.key(undefined, ns));
    if (!n) throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`);
    if (n.metadata.deletionTimestamp)
      throw new ApiError(403, 'Forbidden', `unable to create new content in namespace ${ns} because it is being terminated`);
  }

  create(res: ResourceDef, body: Obj): Obj {
    const obj = clone(body);
    if (!obj.metadata.name && obj.metadata.generateName)
      obj.metadata.name = `${obj.metadata.generateName}${Math.random().toString(36).slice(2, 7)}`;
    if (!obj.metadata.name) throw new ApiError(422, 'Invalid', `${res.kind}: metadata.name: Required value`);
    const ns = res.namespaced ? obj.metadata.namespace : undefined;
    this.checkNamespace(res, ns);
    const k = this.key(ns, obj.metadata.name);
    if (this.map(res).has(k))
      throw new ApiError(409, 'AlreadyExists', `${res.plural}${res.group ? `.${res.group}` : ''} "${obj.metadata.name}" already exists`);
    this.stamp(res, obj, undefined);
    this.map(res).set(k, obj);
    this.emit('ADDED', res, obj);
    return clone(obj);
  }

  /** Replaces an object (PUT, or a controller's write). With `checkRv`, a stale resourceVersion is a 409. */
  update(res: ResourceDef, body: Obj, o: { checkRv?: boolean; keepStatus?: boolean; onlyStatus?: boolean } = {}): Obj {
    const ns = res.namespaced ? body.metadata.namespace : undefined;
    const prev = this.map(res).get(this.key(ns, body.metadata.name));
    if (!prev) throw new ApiError(404, 'NotFound', `${res.plural} "${body.metadata.name}" not found`);
    if (o.checkRv && body.metadata.resourceVersion && body.metadata.resourceVersion !== prev.metadata.resourceVersion) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${res.plural} "${body.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    let obj = clone(body);
    if (o.onlyStatus) obj = { ...clone(prev), status: obj.status };
    else if (o.keepStatus && 'status' in prev) obj.status = clone(prev.status);
    obj.metadata = { ...obj.metadata, deletionTimestamp: prev.metadata.deletionTimestamp };
    if (obj.metadata.deletionTimestamp === undefined) delete obj.metadata.deletionTimestamp;
    if (sameContent(prev, obj)) return clone(prev); // no change: no new revision, no event
    this.stamp(res, obj, prev);
    this.map(res).set(this.key(ns, obj.metadata.name), obj);
    this.emit('MODIFIED', res, obj);
    return clone(obj);
  }

  /** JSON merge patch on the object (or on its status only). */
  patch(res: ResourceDef, ns: string | undefined, name: string, patch: unknown, o: { status?: boolean } = {}): Obj {
    const prev = this.mustGet(res, ns, name);
    const next = mergePatch(prev, patch) as Obj;
    return this.update(res, next, o.status ? { onlyStatus: true } : { keepStatus: true });
  }

  /** Server-side apply by `manager` (force: conflicts with other managers are not checked). */
  apply(
    res: ResourceDef,
    ns: string | undefined,
    name: string,
    body: Obj,
    manager: string,
    o: { status?: boolean } = {},
  ): { obj: Obj; created: boolean } {
    const applied = clone(body);
    delete applied.metadata.resourceVersion;
    delete applied.metadata.managedFields;
    applied.metadata.name = name;
    if (res.namespaced) applied.metadata.namespace = ns;
    const k = `${res.plural}.${res.group}/${this.key(res.namespaced ? ns : undefined, name)}${o.status ? '#status' : ''}`;
    const owned = this.applied.get(k) ?? new Map<string, unknown>();
    const before = owned.get(manager);
    const prev = this.get(res, ns, name);
    owned.set(manager, clone(applied));
    this.applied.set(k, owned);
    if (!prev) {
      const { status: _s, ...rest } = applied;
      return { obj: this.create(res, o.status ? applied : rest), created: true };
    }
    const next = clone(prev);
    // Fields this manager applied last time and leaves out now are removed.
    if (before !== undefined)
      for (const p of leafPaths(before)) if (!hasPath(applied, p) && p[0] !== 'apiVersion' && p[0] !== 'kind') deletePath(next, p);
    const merged = mergePatch(next, applied) as Obj;
    merged.metadata.resourceVersion = prev.metadata.resourceVersion;
    return { obj: this.update(res, merged, o.status ? { onlyStatus: true } : { keepStatus: true }), created: false };
  }

  /** Deletes an object and what depends on it (ownerReferences; a namespace's contents). */
  delete(res: ResourceDef, ns: string | undefined, name: string): Obj {
    const k = this.key(res.namespaced ? ns : undefined, name);
    const prev = this.map(res).get(k);
    if (!prev) throw new ApiError(404, 'NotFound', `${res.plural}${res.group ? `.${res.group}` : ''} "${name}" not found`);
    if (res.kind === 'Namespace') {
      for (const r of this.resources.all) {
        if (!r.namespaced) continue;
        for (const o of [...this.map(r).values()])
          if (o.metadata.namespace === name) this.deleteQuiet(r, o.metadata.namespace, o.metadata.name);
      }
    }
    this.map(res).delete(k);
    for (const key of [...this.applied.keys()]) if (key.startsWith(`${res.plural}.${res.group}/${k}`)) this.applied.delete(key);
    const gone = {
      ...clone(prev),
      metadata: {
        ...clone(prev.metadata),
        resourceVersion: String(++this.rv),
        deletionTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    };
    this.emit('DELETED', res, gone);
    this.collectDependents(prev.metadata.uid as string);
    return gone;
  }

  private deleteQuiet(res: ResourceDef, ns: string | undefined, name: string): void {
    try {
      this.delete(res, ns, name);
    } catch {
      // already gone
    }
  }

  private collectDependents(uid: string): void {
    for (const r of this.resources.all) {
      for (const o of [...this.map(r).values()]) {
        if ((o.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid)) this.deleteQuiet(r, o.metadata.namespace, o.metadata.name);
      }
    }
  }
}
