/**
 * A small local HTTP server (127.0.0.1 only) that answers like the Kubernetes API for the calls helpers/kube/client.ts makes:
 * API discovery, JSON bodies and Status errors, chunked watch streams, and the exec websocket (channel protocol
 * v4.channel.k8s.io: one byte of stream number, then data; stream 3 carries the V1Status).
 * Each test routes requests itself; everything not routed is a 404 Status.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { rejectUpgrade, ServerWebSocket } from '../../support/websocket.ts';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Route = (req: FakeRequest, res: http.ServerResponse) => boolean | void | Promise<boolean | void>;
/** Decides an exec websocket: a session function, or null for a 404 before the handshake. */
export type WsRoute = (req: FakeRequest) => ((ws: FakeWebSocket) => void) | null;

const DISCOVERY: Record<string, { name: string; kind: string; namespaced: boolean }[]> = {
  '/api/v1': [
    { name: 'pods', kind: 'Pod', namespaced: true },
    { name: 'services', kind: 'Service', namespaced: true },
    { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
    { name: 'namespaces', kind: 'Namespace', namespaced: false },
    { name: 'nodes', kind: 'Node', namespaced: false },
    { name: 'events', kind: 'Event', namespaced: true },
  ],
  '/apis/apps/v1': [
    { name: 'deployments', kind: 'Deployment', namespaced: true },
    { name: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  ],
  '/apis/networking.k8s.io/v1': [{ name: 'ingresses', kind: 'Ingress', namespaced: true }],
  '/apis/coordination.k8s.io/v1': [{ name: 'leases', kind: 'Lease', namespaced: true }],
  '/apis/cilium.io/v2alpha1': [
    { name: 'ciliumloadbalancerippools', kind: 'CiliumLoadBalancerIPPool', namespaced: false },
    { name: 'ciliuml2announcementpolicies', kind: 'CiliumL2AnnouncementPolicy', namespaced: false },
  ],
};

export function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function status(
  code: number,
  reason: string,
  message: string,
  causes?: { reason?: string; field?: string; message: string }[],
): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
    ...(causes ? { details: { causes } } : {}),
  };
}

/** Starts a chunked watch response; call `event` per event and `end()` to close it like the server does. */
export function startWatch(res: http.ServerResponse): { event(type: string, object: unknown): void; end(): void } {
  res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
  return {
    event: (type, object) => res.write(`${JSON.stringify({ type, object })}\n`),
    end: () => res.end(),
  };
}

/** The exec session of a test (the shared server-side WebSocket, test/support/websocket.ts). */
export type FakeWebSocket = ServerWebSocket;

export class FakeKubeApi {
  readonly requests: FakeRequest[] = [];
  readonly routes: Route[] = [];
  wsRoute: WsRoute = () => null;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Bearer token the server accepts; anything else is a 401. */
  token = 'good-token';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket) => this.upgrade(req, socket));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    const a = this.server?.address() as AddressInfo;
    return `http://127.0.0.1:${a.port}`;
  }

  kubeConfig(token = this.token): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'u', token }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
      currentContext: 'fake',
    });
    return kc;
  }

  private toFake(req: http.IncomingMessage, body: string): FakeRequest {
    const u = new URL(req.url ?? '/', 'http://fake');
    return { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers: req.headers, body };
  }

  private async handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): Promise<void> {
    const r = this.toFake(req, body);
    this.requests.push(r);
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      sendJson(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    const resources = DISCOVERY[r.path];
    if (r.method === 'GET' && resources) {
      sendJson(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: r.path.replace(/^\/apis?\//, ''),
        resources: resources.map((x) => ({ ...x, singularName: '', verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'] })),
      });
      return;
    }
    for (const route of this.routes) {
      if ((await route(r, res)) === true) return;
    }
    sendJson(res, 404, status(404, 'NotFound', `${r.method} ${r.path} not found`));
  }

  private upgrade(req: http.IncomingMessage, socket: Socket): void {
    const r = this.toFake(req, '');
    this.requests.push(r);
    const session = this.wsRoute(r);
    if (!session) {
      rejectUpgrade(socket, 404, 'Not Found', status(404, 'NotFound', `pods "${r.path.split('/')[5] ?? '?'}" not found`));
      return;
    }
    session(ServerWebSocket.accept(req, socket, 'v4.channel.k8s.io'));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
