/**
 * The twin's Kubernetes API server: HTTPS on 127.0.0.1 (a per-run CA, test/twin/api/certs.ts), bearer-token auth,
 * and the REST protocol as @kubernetes/client-node 1.4 and kubectl speak it, over the in-memory Store:
 * discovery (/version, /api, /apis, per group-version resource lists), get/list with label and field selectors,
 * create, replace, JSON merge / strategic merge (read as merge) / JSON patch, server-side apply
 * (application/apply-patch+yaml with fieldManager and force), the status subresource, delete and deletecollection,
 * watch (chunked JSON lines; from a resourceVersion, 410 Gone when it is older than the log; bookmarks when asked),
 * and exec into pods over a WebSocket (v5/v4.channel.k8s.io; the V1Status with the exit code on channel 3).
 */
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { pickProtocol, rejectUpgrade, ServerWebSocket } from '../../support/websocket.ts';
import { Resources, type ResourceDef } from './resources.ts';
import { SelectorError, matchFieldSelector, matchLabelSelector } from './selectors.ts';
import { ApiError, mergePatch, Store, type Obj, type StoreEvent } from './store.ts';
import type { TwinTls } from './certs.ts';
import type { FaultSet } from '../faults.ts';
import { afterApiDelay } from './faults-api.ts';

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  argv: string[];
}

export interface ExecStreams {
  stdout: (chunk: Buffer) => void;
  stderr: (chunk: Buffer) => void;
  signal: AbortSignal;
}

/** Runs an exec; resolves with the exit code. Throwing an ApiError before any output refuses the upgrade with it. */
export type ExecHandler = (req: ExecRequest, io: ExecStreams) => Promise<number>;

export interface ApiServerOptions {
  store: Store;
  tls: TwinTls;
  kubernetesVersion: string;
  exec: ExecHandler;
  /** Checked before an exec is accepted (pod exists, container exists, pod running); throw ApiError to refuse. */
  execPrecheck?: (req: ExecRequest) => void;
  log?: (line: string) => void;
  /** The faults on (test/twin/faults.ts); shared with the controllers and the network side. */
  faults?: FaultSet;
}

export function statusBody(code: number, reason: string, message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...extra };
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

interface Target {
  res: ResourceDef;
  version: string;
  namespace?: string;
  name?: string;
  sub?: string;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  410: 'Gone',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
};

export class TwinApiServer {
  private server: https.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<() => void>();
  private stopped = false;
  readonly store: Store;
  private readonly resources: Resources;

  constructor(private readonly o: ApiServerOptions) {
    this.store = o.store;
    this.resources = o.store.resources;
  }

  async start(port = 0): Promise<void> {
    this.server = https.createServer({ cert: this.o.tls.cert, key: this.o.tls.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        // Lab fault api-slow (faults-api.ts): the answer comes late.
        afterApiDelay(this.o.faults, () => {
          if (res.destroyed) return;
          try {
            this.handle(req, Buffer.concat(chunks).toString('utf8'), res);
          } catch (err) {
            const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', (err as Error).message);
            if (!res.headersSent) send(res, e.code, statusBody(e.code, e.reason, e.message));
            else res.end();
          }
        }),
      );
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('secureConnection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) =>
      afterApiDelay(this.o.faults, () => (socket.destroyed ? undefined : this.upgrade(req, socket))),
    );
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, '127.0.0.1', resolve);
    });
  }

  get port(): number {
    return (this.server?.address() as AddressInfo).port;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.halt();
  }

  private async halt(): Promise<void> {
    for (const w of this.watches) w();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Lab fault api-restart (faults-api.ts): stop (watches ended, connections dropped, nothing listening), then after
   *  `downMs` listen again on the same port over the same store. */
  async restart(downMs: number): Promise<void> {
    const port = this.port;
    this.o.log?.(`API server restarting: refusing connections for ${downMs} ms`);
    await this.halt();
    await new Promise((r) => setTimeout(r, downMs));
    if (this.stopped) return; // torn down meanwhile
    await this.start(port);
    this.o.log?.('API server listening again');
  }

  private authorized(req: http.IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.o.tls.token}`;
  }

  // -- routing -------------------------------------------------------------------------------

  private discovery(path: string): unknown {
    if (path === '/version') {
      const [major, minor] = this.o.kubernetesVersion.split('.');
      return {
        major,
        minor,
        gitVersion: `v${this.o.kubernetesVersion}`,
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2026-01-01T00:00:00Z',
        goVersion: 'go1.24',
        compiler: 'gc',
        platform: 'linux/amd64',
      };
    }
    if (path === '/api')
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }],
      };
    const gvs = this.resources.groupVersions();
    const groupOf = (g: string): unknown => {
      const versions = gvs.filter((x) => x.group === g).map((x) => ({ groupVersion: `${g}/${x.version}`, version: x.version }));
      return { name: g, versions, preferredVersion: versions[0] };
    };
    if (path === '/apis') {
      const groups = [...new Set(gvs.map((x) => x.group).filter(Boolean))];
      return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupOf) };
    }
    let m = /^\/apis\/([^/]+)$/.exec(path);
    if (m && gvs.some((x) => x.group === m?.[1])) return { kind: 'APIGroup', apiVersion: 'v1', ...(groupOf(m[1] as string) as object) };
    m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (m) {
      const group = m[1] ? '' : (m[2] as string);
      const version = m[1] ?? m[3] ?? '';
      const rs = this.resources.all.filter((r) => r.group === group && r.versions.includes(version));
      if (rs.length === 0) return undefined;
      const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
      const list: unknown[] = [];
      for (const r of rs) {
        list.push({
          name: r.plural,
          singularName: r.singular,
          namespaced: r.namespaced,
          kind: r.kind,
          verbs,
          ...(r.shortNames ? { shortNames: r.shortNames } : {}),
        });
        for (const s of r.subresources ?? [])
          list.push({
            name: `${r.plural}/${s}`,
            singularName: '',
            namespaced: r.namespaced,
            kind: s === 'exec' ? 'PodExecOptions' : r.kind,
            verbs: s === 'exec' ? ['create', 'get'] : ['get', 'patch', 'update'],
          });
      }
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources: list };
    }
    return undefined;
  }

  private target(path: string): Target | undefined {
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(path);
    if (!m) return undefined;
    const group = m[1] ? '' : (m[2] as string);
    const version = m[1] ?? m[3] ?? '';
    const parts = (m[4] as string).split('/').map(decodeURIComponent);
    let namespace: string | undefined;
    if (parts[0] === 'namespaces' && parts.length >= 3 && this.resources.byPlural(group, version, parts[2] as string)?.namespaced) {
      namespace = parts[1];
      parts.splice(0, 2);
    }
    const res = this.resources.byPlural(group, version, parts[0] as string);
    if (!res) return undefined;
    return { res, version, namespace, name: parts[1], sub: parts[2] };
  }

  private out(t: Pick<Target, 'res' | 'version'>, o: Obj): Obj {
    return { ...o, apiVersion: t.res.group ? `${t.res.group}/${t.version}` : t.version, kind: t.res.kind };
  }

  private handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    if (!this.authorized(req)) {
      send(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const url = new URL(req.url ?? '/', 'https://twin');
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    if (method === 'GET') {
      const d = this.discovery(url.pathname);
      if (d !== undefined) {
        send(res, 200, d);
        return;
      }
    }
    const t = this.target(url.pathname);
    if (!t) {
      send(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    if (t.sub && t.sub !== 'status') {
      send(res, 404, statusBody(404, 'NotFound', `the server could not find the requested resource (${t.sub})`));
      return;
    }
    const { res: r } = t;
    const store = this.store;
    try {
      if (method === 'GET' && t.name) {
        send(res, 200, this.out(t, store.mustGet(r, t.namespace, t.name)));
      } else if (method === 'GET') {
        if (q.get('watch') === 'true' || q.get('watch') === '1') {
          this.watch(t, q, req, res);
          return;
        }
        const items = store.list(r, {
          namespace: t.namespace,
          labelSelector: q.get('labelSelector'),
          fieldSelector: q.get('fieldSelector'),
        });
        send(res, 200, {
          kind: `${r.kind}List`,
          apiVersion: t.res.group ? `${t.res.group}/${t.version}` : t.version,
          metadata: { resourceVersion: store.resourceVersion },
          items: items.map((i) => this.out(t, i)),
        });
      } else if (method === 'POST' && !t.name) {
        const obj = parseBody(body);
        if (t.namespace) obj.metadata.namespace = t.namespace;
        send(res, 201, this.out(t, store.create(r, obj)));
      } else if (method === 'PUT' && t.name) {
        const obj = parseBody(body);
        if (t.namespace) obj.metadata.namespace = t.namespace;
        send(
          res,
          200,
          this.out(t, store.update(r, obj, t.sub === 'status' ? { checkRv: true, onlyStatus: true } : { checkRv: true, keepStatus: true })),
        );
      } else if (method === 'PATCH' && t.name) {
        const ctype = String(req.headers['content-type'] ?? '')
          .split(';')[0]
          ?.trim();
        if (ctype === 'application/apply-patch+yaml') {
          const manager = q.get('fieldManager');
          if (!manager) throw new ApiError(400, 'BadRequest', 'PATCH with apply-patch+yaml requires fieldManager');
          const obj = parseBody(body);
          const { obj: out, created } = store.apply(r, t.namespace, t.name, obj, manager, { status: t.sub === 'status' });
          send(res, created ? 201 : 200, this.out(t, out));
        } else if (ctype === 'application/json-patch+json') {
          const cur = store.mustGet(r, t.namespace, t.name);
          const next = jsonPatch(cur, JSON.parse(body) as JsonOp[]);
          send(res, 200, this.out(t, store.update(r, next as Obj, t.sub === 'status' ? { onlyStatus: true } : { keepStatus: true })));
        } else {
          send(res, 200, this.out(t, store.patch(r, t.namespace, t.name, JSON.parse(body) as unknown, { status: t.sub === 'status' })));
        }
      } else if (method === 'DELETE' && t.name) {
        const gone = store.delete(r, t.namespace, t.name);
        send(res, 200, this.out(t, gone));
      } else if (method === 'DELETE') {
        const items = store.list(r, {
          namespace: t.namespace,
          labelSelector: q.get('labelSelector'),
          fieldSelector: q.get('fieldSelector'),
        });
        for (const i of items) store.delete(r, i.metadata.namespace, i.metadata.name);
        send(res, 200, {
          kind: `${r.kind}List`,
          apiVersion: 'v1',
          metadata: { resourceVersion: store.resourceVersion },
          items: items.map((i) => this.out(t, i)),
        });
      } else {
        send(res, 405, statusBody(405, 'MethodNotAllowed', `${method} is not supported here`));
      }
    } catch (err) {
      if (err instanceof ApiError) send(res, err.code, statusBody(err.code, err.reason, err.message));
      else if (err instanceof SelectorError) send(res, 400, statusBody(400, 'BadRequest', err.message));
      else if (err instanceof SyntaxError) send(res, 400, statusBody(400, 'BadRequest', `the body is not valid: ${err.message}`));
      else throw err;
    }
  }

  // -- watch ---------------------------------------------------------------------------------

  private watch(t: Target, q: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): void {
    const labelSelector = q.get('labelSelector');
    const fieldSelector = q.get('fieldSelector');
    const rvParam = q.get('resourceVersion');
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '') || 1800;
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    const matches = (e: StoreEvent): boolean =>
      e.res === t.res &&
      (!t.namespace || e.obj.metadata.namespace === t.namespace) &&
      matchLabelSelector(labelSelector, e.obj.metadata.labels) &&
      matchFieldSelector(fieldSelector, e.obj);
    let backlog: StoreEvent[];
    if (rvParam && rvParam !== '0') {
      try {
        backlog = this.store.since(Number(rvParam));
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        // As the API server does: 200, then one ERROR event carrying the 410 Status.
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.end(`${JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', err.message) })}\n`);
        return;
      }
    } else {
      backlog = this.store
        .list(t.res, { namespace: t.namespace, labelSelector, fieldSelector })
        .map((obj) => ({ rv: Number(obj.metadata.resourceVersion), type: 'ADDED' as const, res: t.res, obj }));
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // As kube-apiserver does: the 200 goes out at once, not with the first event (a watch resumed with nothing new
    // would otherwise look unanswered until the next change).
    res.flushHeaders();
    const write = (type: string, obj: unknown): void => {
      res.write(`${JSON.stringify({ type, object: obj })}\n`);
    };
    for (const e of backlog) if (matches(e)) write(e.type, this.out(t, e.obj));
    const unsubscribe = this.store.subscribe((e) => {
      if (matches(e)) write(e.type, this.out(t, e.obj));
    });
    const bookmarkTimer = bookmarks
      ? setInterval(
          () =>
            write('BOOKMARK', {
              kind: t.res.kind,
              apiVersion: t.res.group ? `${t.res.group}/${t.version}` : t.version,
              metadata: { resourceVersion: this.store.resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } },
            }),
          10_000,
        )
      : undefined;
    const end = (): void => {
      clearTimeout(timer);
      if (bookmarkTimer) clearInterval(bookmarkTimer);
      unsubscribe();
      this.watches.delete(end);
      res.end();
    };
    const timer = setTimeout(end, timeoutSeconds * 1000);
    this.watches.add(end);
    // The response's close (the client went away, or the stream ended); not the request's, which Node emits as soon
    // as the request has been read, and which ended every watch right after it opened.
    res.on('close', end);
  }

  // -- exec ----------------------------------------------------------------------------------

  private upgrade(req: http.IncomingMessage, socket: Duplex): void {
    socket.on('error', () => undefined);
    if (!this.authorized(req)) {
      rejectUpgrade(socket, 401, 'Unauthorized', statusBody(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const url = new URL(req.url ?? '/', 'https://twin');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (!m) {
      rejectUpgrade(socket, 404, 'Not Found', statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const r: ExecRequest = {
      namespace: decodeURIComponent(m[1] as string),
      pod: decodeURIComponent(m[2] as string),
      container: url.searchParams.get('container') ?? '',
      argv: url.searchParams.getAll('command'),
    };
    try {
      this.o.execPrecheck?.(r);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, 'InternalError', (err as Error).message);
      rejectUpgrade(socket, e.code, STATUS_TEXT[e.code] ?? 'Error', statusBody(e.code, e.reason, e.message));
      return;
    }
    const protocol = pickProtocol(req);
    if (!protocol) {
      rejectUpgrade(
        socket,
        400,
        'Bad Request',
        statusBody(400, 'BadRequest', 'no supported exec subprotocol offered (v5/v4.channel.k8s.io)'),
      );
      return;
    }
    const ws = ServerWebSocket.accept(req, socket, protocol);
    const abort = new AbortController();
    ws.onClose(() => abort.abort());
    this.o
      .exec(r, { stdout: (c) => ws.channel(1, c), stderr: (c) => ws.channel(2, c), signal: abort.signal })
      .then(
        (code) =>
          code === 0
            ? { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' }
            : statusBody(
                500,
                'NonZeroExitCode',
                `command terminated with non-zero exit code: error executing command [${r.argv.join(' ')}], exit code ${code}`,
                { details: { causes: [{ reason: 'ExitCode', message: String(code) }] } },
              ),
        (err: unknown) => statusBody(500, 'InternalError', `error executing command in container: ${(err as Error).message}`),
      )
      .then((st) => {
        ws.channel(3, JSON.stringify(st));
        ws.close();
      })
      .catch(() => ws.close());
  }
}

function parseBody(body: string): Obj {
  const doc = parseYaml(body) as unknown;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ApiError(400, 'BadRequest', 'the body is not an object');
  const obj = doc as Obj;
  if (!obj.metadata || typeof obj.metadata !== 'object') obj.metadata = { name: '' };
  return obj;
}

interface JsonOp {
  op: string;
  path: string;
  value?: unknown;
}

/** RFC 6902 add / replace / remove on objects and arrays (what kubectl sends for json patches). */
function jsonPatch(doc: Obj, ops: JsonOp[]): unknown {
  let out: unknown = structuredClone(doc);
  for (const op of ops) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (parts.length === 0) {
      out = op.op === 'remove' ? {} : structuredClone(op.value);
      continue;
    }
    let cur = out as Record<string, unknown>;
    for (const p of parts.slice(0, -1)) {
      if (cur[p] === undefined || cur[p] === null) cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
    const last = parts[parts.length - 1] as string;
    if (Array.isArray(cur)) {
      const i = last === '-' ? cur.length : Number(last);
      if (op.op === 'remove') cur.splice(i, 1);
      else if (op.op === 'add') cur.splice(i, 0, structuredClone(op.value));
      else cur[i] = structuredClone(op.value);
    } else if (op.op === 'remove') delete cur[last];
    else if (op.op === 'add' || op.op === 'replace') cur[last] = structuredClone(op.value);
    else if (op.op === 'merge') cur[last] = mergePatch(cur[last], op.value);
  }
  return out;
}
