/**
 * The rehearsal's stand-in for every host the provision scripts fetch from, started inside one rehearsal
 * network namespace (`ip netns exec <ns> node --import tsx server.ts <config.json>`):
 * - https :443 serves `<tree>/<Host>/<path>` (mirror.ts) with the run's certificate; github.com release
 *   downloads answer 302 to release-assets.githubusercontent.com, as GitHub does;
 * - https :6443 answers /readyz with "ok" (the API server a worker waits for);
 * - http :80 serves the node root's /var/www/html (apache2 on the router, which cannot run as a service here);
 * - faults.json, read on every request, injects failures: `notFound` (404 for "<host><path>"), `replace`
 *   ("<host><path>" -> other content).
 * Every request is appended to the request log as a JSON line. Prints "ready" once all three listen.
 */
import { appendFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import path from 'node:path';

export interface ServerConfig {
  tree: string;
  cert: string;
  key: string;
  faults: string;
  requestLog: string;
  /** The node root's layers, upper first: /var/www/html is looked up in them in order. */
  webLayers: string[];
  address: string;
}

interface Faults {
  notFound?: string[];
  replace?: Record<string, string>;
}

const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ServerConfig;

function faults(): Faults {
  return existsSync(config.faults) ? (JSON.parse(readFileSync(config.faults, 'utf8')) as Faults) : {};
}

function answer(
  req: IncomingMessage,
  res: ServerResponse,
  port: number,
  status: number,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  appendFileSync(config.requestLog, `${JSON.stringify({ port, method: req.method, host, path: req.url, status })}\n`);
}

function file(dir: string, urlPath: string): string | undefined {
  const rel = path.normalize(decodeURIComponent(urlPath.split('?')[0]!)).replace(/^(\.\.(\/|$))+/, '');
  const f = path.join(dir, rel);
  if (!f.startsWith(dir)) return undefined;
  return existsSync(f) && statSync(f).isFile() ? f : undefined;
}

function mirror(req: IncomingMessage, res: ServerResponse): void {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  const url = req.url ?? '/';
  const key = `${host}${decodeURIComponent(url)}`;
  const f = faults();
  if (f.notFound?.includes(key)) return answer(req, res, 443, 404, 'Not Found (injected)\n');
  if (f.replace?.[key] !== undefined) return answer(req, res, 443, 200, f.replace[key]);
  const release = /^\/(cilium\/[^/]+\/releases\/download\/.+)$/.exec(url);
  if (host === 'github.com' && release) {
    return answer(req, res, 443, 302, '', { location: `https://release-assets.githubusercontent.com/${release[1]}` });
  }
  const found = file(path.join(config.tree, host), url);
  if (!found) return answer(req, res, 443, 404, 'Not Found\n');
  answer(req, res, 443, 200, readFileSync(found));
}

const tls = { cert: readFileSync(config.cert), key: readFileSync(config.key) };
const servers = [
  [https.createServer(tls, mirror), 443],
  [
    https.createServer(tls, (req, res) =>
      answer(req, res, 6443, req.url === '/readyz' ? 200 : 404, req.url === '/readyz' ? 'ok' : 'not found'),
    ),
    6443,
  ],
  [
    http.createServer((req, res) => {
      const found = config.webLayers
        .map((layer) => file(path.join(layer, 'var/www/html'), req.url === '/' ? '/index.html' : (req.url ?? '/')))
        .find(Boolean);
      if (found) answer(req, res, 80, 200, readFileSync(found));
      else answer(req, res, 80, 404, 'Not Found\n');
    }),
    80,
  ],
] as const;
let listening = 0;
for (const [server, port] of servers) {
  server.listen(port, config.address, () => {
    listening += 1;
    if (listening === servers.length) process.stdout.write('ready\n');
  });
}
process.on('SIGTERM', () => process.exit(0));
