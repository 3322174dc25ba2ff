// The twin's Envoy stand-in for the shared ingress, run INSIDE the holder node's network namespace:
//
//   node envoy.mjs <listen ip> <port> <routes file>
//
// The routes file (JSON, IngressRoute[] of test/twin/contract.ts) is re-read on every request, so the twin changes
// routes by rewriting it. Matching: Exact routes before Prefix routes, then first match in the given order; a route
// with a host matches only that Host (port ignored); Prefix matches whole path segments ("/" matches everything,
// "/foo" matches "/foo" and "/foo/bar", not "/foobar") as Kubernetes Ingress defines it.
// Answers as Envoy does (/work/shared/docs/cilium-behaviour.md section 3): every answer carries `server: envoy`;
// no route: 404, empty body, content-length 0, no x-envoy-upstream-service-time; proxied answers carry
// x-envoy-upstream-service-time; an unreachable backend gives 503 "upstream connect error ...".
// Prints "ready" once listening. Ended by PID by the twin (and by a parent-death signal).
import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';

const [listenIp, portText, routesFile] = process.argv.slice(2);
const port = Number(portText);

function loadRoutes() {
  try {
    const routes = JSON.parse(readFileSync(routesFile, 'utf8'));
    return [...routes.filter((r) => r.pathType === 'Exact'), ...routes.filter((r) => r.pathType !== 'Exact')];
  } catch {
    return [];
  }
}

function prefixMatch(prefix, path) {
  if (prefix === '/' || prefix === '') return true;
  const p = prefix.replace(/\/+$/, '');
  return path === p || path.startsWith(`${p}/`);
}

function match(req) {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
  const path = (req.url ?? '/').split('?')[0];
  return loadRoutes().find(
    (r) => (!r.host || r.host.toLowerCase() === host) && (r.pathType === 'Exact' ? r.path === path : prefixMatch(r.path, path)),
  );
}

function plain(res, status, body) {
  res.writeHead(status, {
    'content-length': Buffer.byteLength(body),
    'content-type': 'text/plain',
    date: new Date().toUTCString(),
    server: 'envoy',
  });
  res.end(body);
}

// Issue 16's fault ingress-unmatched-200 (test/twin/net/net-faults.ts): while `<routes file>.unmatched-200` exists,
// a request no rule matches goes to the first route's backend (as a stray catch-all / default backend would send it).
function fallback() {
  return existsSync(`${routesFile}.unmatched-200`) ? loadRoutes()[0] : undefined;
}

const server = http.createServer((req, res) => {
  const route = match(req) ?? fallback();
  if (!route) {
    req.resume();
    res.writeHead(404, { 'content-length': '0', date: new Date().toUTCString(), server: 'envoy' });
    res.end();
    return;
  }
  const started = Date.now();
  const remote = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
  const headers = {
    ...req.headers,
    'x-forwarded-for': req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${remote}` : remote,
    'x-forwarded-proto': 'http',
    'x-envoy-internal': 'true',
    'x-request-id': randomUUID(),
  };
  const upstream = http.request(
    { host: route.backend.ip, port: route.backend.port, method: req.method, path: req.url, headers, timeout: 15_000 },
    (answer) => {
      const out = { ...answer.headers, server: 'envoy', 'x-envoy-upstream-service-time': String(Date.now() - started) };
      delete out.connection;
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    },
  );
  upstream.on('timeout', () => upstream.destroy(new Error('timeout')));
  upstream.on('error', (err) => {
    if (!res.headersSent)
      plain(
        res,
        503,
        `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${err.message}`,
      );
    else res.destroy();
  });
  req.pipe(upstream);
});
server.on('error', (err) => {
  console.error(`envoy stand-in: ${err.message}`);
  process.exit(1);
});
server.listen(port, listenIp, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
