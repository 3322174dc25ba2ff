// The twin's stand-in for Cilium's L7 (Envoy) policy proxy, run INSIDE a backend pod's network namespace:
//
//   node l7-proxy.mjs <listen port> <backend ip> <backend port> <rules file>
//
// nftables in the pod namespace redirects TCP <backend port> arriving from outside to <listen port> here; the proxy
// forwards allowed requests to <backend ip>:<backend port> (its own traffic is local and not redirected).
// The rules file (JSON {allowAll: boolean, http: [{method?, path?}]}) is re-read on every request. Matching as
// Cilium's HTTP rules do (api/v1 PortRuleHTTP): method and path are regular expressions matched against the WHOLE
// value (anchored); an empty field matches anything; a request is allowed when any rule matches.
// Denied: 403 with the body `Access denied` (cilium pkg/option/config.go HTTP403Message default), content-type
// text/plain, server: envoy. `allowAll` (fault l7-allows-all) forwards every request.
// One JSON line per request on stdout (after the first line "ready"):
//   {"method","url","path","protocol","code","verdict":"FORWARDED"|"DROPPED","srcIp","srcPort","latencyMs"}
// Ended by PID by the twin (and by a parent-death signal).
import http from 'node:http';
import { readFileSync } from 'node:fs';

const [portText, backendIp, backendPortText, rulesFile] = process.argv.slice(2);
const port = Number(portText);
const backendPort = Number(backendPortText);

function loadRules() {
  try {
    const r = JSON.parse(readFileSync(rulesFile, 'utf8'));
    return { allowAll: r.allowAll === true, http: Array.isArray(r.http) ? r.http : [] };
  } catch {
    return { allowAll: false, http: [] };
  }
}

function whole(re, value) {
  if (re === undefined || re === null || re === '') return true;
  try {
    return new RegExp(`^(?:${re})$`).test(value);
  } catch {
    return false;
  }
}

function allowed(req, rules) {
  const path = (req.url ?? '/').split('?')[0];
  return rules.allowAll || rules.http.some((r) => whole(r.method, req.method ?? '') && whole(r.path, path));
}

function record(req, code, verdict, started) {
  const path = (req.url ?? '/').split('?')[0];
  const line = {
    method: req.method,
    url: `http://${req.headers.host ?? backendIp}${req.url ?? '/'}`,
    path,
    protocol: `HTTP/${req.httpVersion}`,
    code,
    verdict,
    srcIp: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
    srcPort: req.socket.remotePort ?? 0,
    latencyMs: Date.now() - started,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const server = http.createServer((req, res) => {
  const started = Date.now();
  if (!allowed(req, loadRules())) {
    const body = 'Access denied';
    res.writeHead(403, {
      'content-length': Buffer.byteLength(body),
      'content-type': 'text/plain',
      date: new Date().toUTCString(),
      server: 'envoy',
    });
    res.end(body);
    record(req, 403, 'DROPPED', started);
    return;
  }
  const up = http.request({ host: backendIp, port: backendPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    const headers = { ...answer.headers, 'x-envoy-upstream-service-time': String(Date.now() - started) };
    res.writeHead(answer.statusCode ?? 502, headers);
    answer.pipe(res);
    record(req, answer.statusCode ?? 502, 'FORWARDED', started);
  });
  up.on('error', (err) => {
    const body = `upstream connect error or disconnect/reset before headers. reset reason: ${err.message}`;
    res.writeHead(503, { 'content-length': Buffer.byteLength(body), 'content-type': 'text/plain', server: 'envoy' });
    res.end(body);
    record(req, 503, 'FORWARDED', started);
  });
  req.pipe(up);
});

server.listen(port, '0.0.0.0', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
