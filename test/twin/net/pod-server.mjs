// A twin pod's process, run INSIDE the pod's network namespace (`ip netns exec <pod ns> node pod-server.mjs ...`):
//
//   whoami <port> <hostname> [name]   answers every path as traefik/whoami does (app.go whoamiHandler):
//                                      `Name:` (only when given), `Hostname:`, one `IP:` per interface address,
//                                      `RemoteAddr:`, then the request as received (`GET / HTTP/1.1`, headers).
//   tcp <port>                         accepts and closes (port reachability checks).
//
// Plain JavaScript (no tsx) so that a pod starts in ~50 ms. Prints "ready" once listening. Ended by PID by the
// twin; it also exits when its parent goes away (the twin spawns it with a parent-death signal).
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';

const [kind, portText, hostname, name] = process.argv.slice(2);
const port = Number(portText);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`pod-server: bad port "${portText}"`);
  process.exit(2);
}

function addresses() {
  // whoami prints every address of every interface, loopback first, IPv4 before IPv6 per interface.
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a !== undefined)
    .map((a) => a.address);
}

function whoami(req, res) {
  const lines = [];
  if (name) lines.push(`Name: ${name}`);
  lines.push(`Hostname: ${hostname}`);
  for (const ip of addresses()) lines.push(`IP: ${ip}`);
  const remote = req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
  lines.push(`RemoteAddr: ${remote}:${req.socket.remotePort}`);
  lines.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
  // Go's Request.Write: Host first, then the other headers in sorted order.
  const host = req.headers.host ?? '';
  lines.push(`Host: ${host}`);
  const raw = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const key = req.rawHeaders[i];
    if (key.toLowerCase() === 'host') continue;
    raw.push([key.replace(/(^|-)([a-z])/g, (_m, a, b) => a + b.toUpperCase()), req.rawHeaders[i + 1]]);
  }
  raw.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [k, v] of raw) lines.push(`${k}: ${v}`);
  const body = lines.join('\r\n') + '\r\n\r\n';
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

let server;
if (kind === 'whoami') {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => whoami(req, res));
  });
  server.keepAliveTimeout = 5_000;
} else if (kind === 'tcp') {
  server = net.createServer((socket) => socket.end());
} else {
  console.error(`pod-server: unknown kind "${kind}"`);
  process.exit(2);
}
server.on('error', (err) => {
  console.error(`pod-server: ${err.message}`);
  process.exit(1);
});
server.listen(port, '0.0.0.0', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
