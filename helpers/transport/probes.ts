/**
 * Probes: the questions a person asks from a lab machine (the router unless told otherwise), asked over
 * SSH and answered as data (or from a pod, through the Kubernetes API's exec: curlFromPod). A probe never decides pass or fail; it returns the raw result and the parsed
 * one, and throws only when it could not ask (SSH failed, the tool is missing, the output is not the
 * tool's).
 *
 * Everything that changes a host comes with its undo (addRoutes → Undo), and captures are always stopped
 * (withCapture stops even when the act throws). Both also join the running suite's cleanup stack
 * (helpers/lab/suite-scope.ts) the moment they start, so a failed or timed-out test still undoes them; and the
 * routes carry the harness's route protocol (HARNESS_ROUTE_PROTO), so a later run sweeps those of a killed one.
 */
import type { Kube } from '../kube/index.ts';
import { CURL_WRITE_OUT, parseCurlOutput, type CurlOutput } from '../parse/curl.ts';
import { detectArpingFlavour, parseArping, type ArpingFlavour, type ArpingResult } from '../parse/arping.ts';
import { normalizeMac } from '../parse/common.ts';
import { parseIpRoute, type IpRoute } from '../parse/iproute.ts';
import { parseNeighbours } from '../parse/neigh.ts';
import { parsePing, type PingResult } from '../parse/ping.ts';
import { parseTcpdump, type TcpdumpPacket } from '../parse/tcpdump.ts';
import { shellQuote, SshError, type ExecResult, type SshPool } from './ssh.ts';
import { lostWhileRunning } from './ssh-common.ts';
import { router } from '../lab/topology.ts';
import { deferCleanup } from '../lab/suite-scope.ts';
import { describeAnswer } from '../judge/backends.ts';
import { yes, type HttpAnswer, type Verdict } from '../judge/types.ts';
import { pollVerdict } from '../wait/retry.ts';
import { DEADLINE } from '../wait/deadlines.ts';

/** The host probes run from when none is named: the topology's router. */
export function probeHost(ssh: SshPool, from: string | undefined): string {
  if (from !== undefined) return from;
  const r = router(ssh.topology);
  if (!r) throw new Error(`topology ${ssh.topology.name} has no router: name the host to probe from`);
  return r.name;
}

// ---------------------------------------------------------------------------------------------
// arping
// ---------------------------------------------------------------------------------------------

/**
 * The command line for each arping flavour: the interface is `-I` for iputils and `-i` for Habets; the
 * interval between probes is `-i` for iputils and `-W` for Habets.
 */
export function arpingCommand(flavour: ArpingFlavour, o: { iface: string; target: string; count: number; intervalSec?: number }): string {
  const [ifaceFlag, intervalFlag] = flavour === 'iputils' ? ['-I', '-i'] : ['-i', '-W'];
  const interval = o.intervalSec === undefined ? '' : ` ${intervalFlag} ${o.intervalSec}`;
  return `arping -c ${o.count}${interval} ${ifaceFlag} ${shellQuote(o.iface)} ${shellQuote(o.target)}`;
}

const flavours = new WeakMap<SshPool, Map<string, Promise<ArpingFlavour>>>();

/** Which arping `host` has, asked once per pool and host. */
export function arpingFlavourOn(ssh: SshPool, host: string): Promise<ArpingFlavour> {
  let perHost = flavours.get(ssh);
  if (!perHost) flavours.set(ssh, (perHost = new Map<string, Promise<ArpingFlavour>>()));
  let f = perHost.get(host);
  if (!f) {
    f = ssh
      .host(host)
      // With sudo: arping lives in /usr/sbin, outside an ordinary user's PATH.
      .exec('{ arping --help; arping -V; } 2>&1', { sudo: true, timeoutMs: 15_000, idempotent: true })
      .then((r) => {
        const flavour = detectArpingFlavour(r.stdout);
        if (!flavour)
          throw new Error(`no known arping on ${host} (neither iputils nor Habets): ${r.stdout.trim().slice(0, 300) || '(no output)'}`);
        return flavour;
      });
    perHost.set(host, f);
    f.catch(() => perHost.delete(host));
  }
  return f;
}

export async function arpingFrom(
  ssh: SshPool,
  o: { from?: string; iface: string; target: string; count?: number; intervalSec?: number },
): Promise<{ raw: ExecResult; result: ArpingResult }> {
  const host = probeHost(ssh, o.from);
  const count = o.count ?? 3;
  const flavour = await arpingFlavourOn(ssh, host);
  const command = arpingCommand(flavour, { iface: o.iface, target: o.target, count, intervalSec: o.intervalSec });
  // Probes only ask (ARP requests, pings, HTTP GETs): asking again after a lost connection changes nothing.
  const raw = await ssh.host(host).exec(command, { sudo: true, timeoutMs: (count * (o.intervalSec ?? 1) + 10) * 1000, idempotent: true });
  return { raw, result: parsed(host, command, raw, () => parseArping(raw.stdout)) };
}

function parsed<T>(host: string, command: string, raw: ExecResult, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    const stderr = raw.stderr.trim();
    throw new SshError(
      host,
      command,
      `${(err as Error).message}${stderr ? `; stderr: ${stderr.slice(0, 300)}` : ''} (exit code ${raw.code})`,
      {
        cause: err,
        result: raw,
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// ping
// ---------------------------------------------------------------------------------------------

export function pingCommand(o: { target: string; count: number; timeoutSec: number; intervalSec?: number; source?: string }): string {
  const parts = ['ping', '-n', '-c', String(o.count), '-W', String(o.timeoutSec)];
  if (o.intervalSec !== undefined) parts.push('-i', String(o.intervalSec));
  if (o.source !== undefined) parts.push('-I', shellQuote(o.source));
  parts.push(shellQuote(o.target));
  return parts.join(' ');
}

export async function pingFrom(
  ssh: SshPool,
  o: { from?: string; target: string; count?: number; timeoutSec?: number; intervalSec?: number; source?: string },
): Promise<{ raw: ExecResult; result: PingResult }> {
  const host = probeHost(ssh, o.from);
  const count = o.count ?? 3;
  const timeoutSec = o.timeoutSec ?? 2;
  const command = pingCommand({ ...o, count, timeoutSec });
  const raw = await ssh.host(host).exec(command, { timeoutMs: (count * (o.intervalSec ?? 1) + timeoutSec + 15) * 1000, idempotent: true });
  return { raw, result: parsed(host, command, raw, () => parsePing(`${raw.stdout}\n${raw.stderr}`)) };
}

// ---------------------------------------------------------------------------------------------
// curl
// ---------------------------------------------------------------------------------------------

export interface CurlResult {
  /** True when an HTTP answer came back (any status). */
  ok: boolean;
  status: number | null;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  timeMs: number;
  /** What curl said when no answer came (connection refused, timeout…), else null. */
  error: string | null;
  raw: ExecResult;
}

/**
 * curl's argv (no shell): the response head and body, then the marker line parseCurlOutput reads (written even when
 * the request fails). `--max-time` is the whole request's deadline; headers and the URL are single arguments.
 */
export function curlArgv(o: { url: string; timeoutMs: number; headers?: Record<string, string>; method?: string }): string[] {
  const argv = ['curl', '-sS', '-i', '--max-time', (o.timeoutMs / 1000).toFixed(3), '-w', CURL_WRITE_OUT];
  // `-X` only for another method than GET, so a GET's argv stays what it always was.
  if (o.method && o.method !== 'GET') argv.push('-X', o.method);
  for (const [k, v] of Object.entries(o.headers ?? {})) argv.push('-H', `${k}: ${v}`);
  argv.push('--', o.url);
  return argv;
}

/** curlArgv as a shell command line (for SSH): every argument that is not a plain word is quoted. */
export function curlCommand(o: { url: string; timeoutMs: number; headers?: Record<string, string> }): string {
  return curlArgv(o)
    .map((a) => (/^[\w.-]+$/.test(a) ? a : shellQuote(a)))
    .join(' ');
}

/** A CurlResult from curl's parsed output: `error` is set whenever curl did not end cleanly, even after an answer began. */
function curlResult(out: CurlOutput, raw: ExecResult): CurlResult {
  const ok = out.status !== null;
  return {
    ok,
    status: out.status,
    headers: out.headers,
    body: out.body,
    timeMs: out.timeMs,
    error: raw.code === 0 && ok ? null : raw.stderr.trim() || `curl exited with code ${raw.code}`,
    raw,
  };
}

export async function curlFrom(
  ssh: SshPool,
  o: { from?: string; url: string; timeoutMs?: number; headers?: Record<string, string> },
): Promise<CurlResult> {
  const host = probeHost(ssh, o.from);
  const timeoutMs = o.timeoutMs ?? 10_000;
  const command = curlCommand({ url: o.url, timeoutMs, headers: o.headers });
  const raw = await ssh.host(host).exec(command, { timeoutMs: timeoutMs + 15_000, idempotent: true });
  return curlResult(
    parsed(host, command, raw, () => parseCurlOutput(raw.stdout)),
    raw,
  );
}

// ---------------------------------------------------------------------------------------------
// curl from a pod (exec through the Kubernetes API)
// ---------------------------------------------------------------------------------------------

/** The run's client pod (suites/manifests/curl-pod.yaml). */
export const CURL_POD = 'curl-pod';

/** A probe ran in a pod, but what came back is not the tool's output (the tool is missing, it was killed). */
export class PodProbeError extends Error {
  constructor(
    /** `namespace/pod`. */
    readonly pod: string,
    readonly argv: readonly string[],
    message: string,
    readonly raw: ExecResult,
    options?: ErrorOptions,
  ) {
    super(`${argv.join(' ')} in ${pod}: ${message}`, options);
    this.name = 'PodProbeError';
  }
}

/**
 * One HTTP request with curl from inside a pod (curl-pod of the run's namespace unless told otherwise), exec'd
 * through the Kubernetes API and read like curlFrom reads it. Never retried. A non-zero exit is an answer (`error`);
 * thrown: the exec failed (KubeApiError, the exec deadline) or the output is not curl's (PodProbeError).
 */
export async function curlFromPod(
  lab: { kube: Pick<Kube, 'execInPod'>; namespace: string },
  o: { pod?: string; namespace?: string; url: string; headers?: Record<string, string>; timeoutMs?: number; method?: string },
): Promise<CurlResult> {
  const namespace = o.namespace ?? lab.namespace;
  const pod = o.pod ?? CURL_POD;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const argv = curlArgv({ url: o.url, timeoutMs, headers: o.headers, method: o.method });
  const raw = await lab.kube.execInPod(namespace, pod, argv, { timeoutMs: timeoutMs + 15_000 });
  let out: CurlOutput;
  try {
    out = parseCurlOutput(raw.stdout);
  } catch (err) {
    const stderr = raw.stderr.trim();
    throw new PodProbeError(
      `${namespace}/${pod}`,
      argv,
      `${(err as Error).message}${stderr ? `; stderr: ${stderr.slice(0, 300)}` : ''} (exit code ${raw.code})`,
      raw,
      { cause: err },
    );
  }
  return curlResult(out, raw);
}

// ---------------------------------------------------------------------------------------------
// tcpdump
// ---------------------------------------------------------------------------------------------

export interface Capture {
  /** Stops tcpdump and returns what it printed, parsed. Always safe to call; later calls return the same. */
  stop(): Promise<{ text: string; packets: TcpdumpPacket[] }>;
}

export interface CaptureOptions {
  on?: string;
  /** Default `any` (interface and direction columns in the output). */
  iface?: string;
  /** A pcap filter, e.g. `icmp` or `udp port 8472`. */
  filter: string;
  /** Decode UDP as VXLAN (`-T vxlan`): outer addresses plus the inner packet. */
  vxlan?: boolean;
  /** tcpdump ends by itself after this long even if nobody stops it (a crashed run). Default 600. */
  maxSeconds?: number;
}

export function tcpdumpCommand(o: { iface: string; filter: string; vxlan: boolean; maxSeconds: number }): string {
  return [
    'timeout -s INT',
    String(o.maxSeconds),
    'tcpdump -nn -l --immediate-mode -i',
    shellQuote(o.iface),
    ...(o.vxlan ? ['-T vxlan'] : []),
    shellQuote(o.filter),
  ].join(' ');
}

/** Starts tcpdump and returns once it is listening (so packets sent next are seen). */
export async function captureOn(ssh: SshPool, o: CaptureOptions): Promise<Capture> {
  const host = probeHost(ssh, o.on);
  const command = tcpdumpCommand({ iface: o.iface ?? 'any', filter: o.filter, vxlan: o.vxlan ?? false, maxSeconds: o.maxSeconds ?? 600 });
  const bg = await ssh.host(host).background(command, { sudo: true });
  try {
    await bg.waitFor(/listening on/, DEADLINE.captureMs);
  } catch (err) {
    await bg.stop().catch(() => undefined);
    throw err;
  }
  let result: Promise<{ text: string; packets: TcpdumpPacket[] }> | undefined;
  return {
    stop: () =>
      (result ??= bg.stop().then(
        (r) => ({ text: r.stdout, packets: parseTcpdump(r.stdout) }),
        (err: unknown) => {
          // The connection dropped under tcpdump: what arrived before is still evidence.
          if (err instanceof SshError && err.result) return { text: err.result.stdout, packets: parseTcpdump(err.result.stdout) };
          throw err;
        },
      )),
  };
}

/**
 * Sends requests until one gets an HTTP answer that `ready` accepts (the path is programmed: ARP answered, Envoy
 * configured), or the deadline passes. This is a readiness wait: the answers that count are judged after it. It
 * returns a verdict (never reaching readiness is the finding, with the last answer), plus how long it took.
 */
export async function waitHttpReady(
  what: string,
  send: () => Promise<HttpAnswer>,
  ready: (a: HttpAnswer) => boolean,
  timeoutMs: number,
): Promise<Verdict & { ms: number }> {
  const started = Date.now();
  const v = await pollVerdict(
    what,
    async () => {
      const a = await send();
      return ready(a) ? yes(`${what}: after ${Date.now() - started} ms`) : { ok: false, explanation: describeAnswer(a) };
    },
    { timeoutMs, intervalMs: 1000 },
  );
  return { ...v, ms: Date.now() - started };
}

/** Capture around `act`; the capture is stopped even when `act` throws (then the error is rethrown). */
export async function withCapture<T>(
  ssh: SshPool,
  o: CaptureOptions & { settleMs?: number },
  act: () => Promise<T>,
): Promise<{ value: T; text: string; packets: TcpdumpPacket[] }> {
  const capture = await captureOn(ssh, o);
  let value: T;
  try {
    value = await act();
  } catch (err) {
    await capture.stop().catch(() => undefined);
    throw err;
  }
  // Let the last packets of the act reach tcpdump's output before it is interrupted.
  await new Promise((r) => setTimeout(r, o.settleMs ?? 300));
  const { text, packets } = await capture.stop();
  return { value, text, packets };
}

// ---------------------------------------------------------------------------------------------
// routes, MACs, neighbours
// ---------------------------------------------------------------------------------------------

export async function routesOn(ssh: SshPool, on: string): Promise<{ text: string; routes: IpRoute[] }> {
  const command = 'ip -4 route show';
  const raw = await ssh.host(on).exec(command, { timeoutMs: 15_000, idempotent: true });
  if (raw.code !== 0) throw new SshError(on, command, `exited with code ${raw.code}: ${raw.stderr.trim()}`, { result: raw });
  return { text: raw.stdout, routes: parsed(on, command, raw, () => parseIpRoute(raw.stdout)) };
}

export type Undo = () => Promise<void>;

/**
 * The route protocol number (iproute2 `proto`, 0-255) of every route the harness adds: 173, which
 * /etc/iproute2/rt_protos and the kernel's RTPROT_* leave unassigned. `ip route show proto 173` lists the
 * harness's routes and nothing else's, so the stale-run sweep (sweepHarnessRoutes) can remove a killed run's.
 */
export const HARNESS_ROUTE_PROTO = 173;

/**
 * Adds routes on a host, marked `proto HARNESS_ROUTE_PROTO`. Fails (after removing any it had added) when one cannot be
 * added, e.g. because the route already exists: the returned undo must remove exactly what this call added, nothing
 * older. The undo is idempotent and tolerates a route someone else already removed. It joins the running suite's
 * cleanup stack before the first route is added, and leaves the stack once it ran.
 */
export async function addRoutes(ssh: SshPool, on: string, routes: { dst: string; via: string }[]): Promise<Undo> {
  const host = ssh.host(on);
  const added: { dst: string; via: string }[] = [];
  let undone: Promise<void> | undefined;
  let leaveStack = (): void => undefined;
  const undo: Undo = () =>
    (undone ??= (async () => {
      const problems: string[] = [];
      for (const r of [...added].reverse()) {
        const res = await host.exec(`ip route del ${shellQuote(r.dst)} via ${shellQuote(r.via)} proto ${HARNESS_ROUTE_PROTO}`, {
          sudo: true,
          timeoutMs: DEADLINE.hostReadMs,
          // Deleting twice ends the same way: the second finds nothing, which is accepted below.
          idempotent: true,
        });
        if (res.code !== 0 && !/No such process|not found/i.test(res.stderr)) problems.push(`${r.dst} via ${r.via}: ${res.stderr.trim()}`);
      }
      if (problems.length > 0) throw new Error(`undo of routes on ${on} failed: ${problems.join('; ')}`);
      leaveStack();
    })());
  leaveStack = deferCleanup(`remove the routes added on ${on} (${routes.map((r) => `${r.dst} via ${r.via}`).join(', ')})`, undo);
  try {
    for (const r of routes) {
      const add = `ip route add ${shellQuote(r.dst)} via ${shellQuote(r.via)} proto ${HARNESS_ROUTE_PROTO}`;
      // On the undo list first: a route whose add was cut off may be there (the undo accepts one that is not).
      added.push(r);
      try {
        await host.run(add, { sudo: true, timeoutMs: DEADLINE.hostReadMs });
      } catch (err) {
        if (!lostWhileRunning(err)) {
          added.pop(); // refused (e.g. File exists): not ours to remove
          throw err;
        }
        // The connection dropped while the add ran (issue 16, ssh-drop): look, and add only if it did not happen, so
        // the add never runs twice.
        const listed = await host.run(`ip -4 route show proto ${HARNESS_ROUTE_PROTO}`, {
          timeoutMs: DEADLINE.hostReadMs,
          idempotent: true,
        });
        const there = parseIpRoute(listed).some((x) => x.dst === r.dst && x.via === r.via);
        if (!there) await host.run(add, { sudo: true, timeoutMs: DEADLINE.hostReadMs });
      }
    }
  } catch (err) {
    await undo().catch(() => undefined);
    throw err;
  }
  return undo;
}

/**
 * The reaper for routes: removes every route marked with the harness's protocol on `hosts` (left by a run that was
 * killed before its cleanup stack ran). Call it before this run adds any. Returns what was removed, per host.
 */
export async function sweepHarnessRoutes(ssh: SshPool, hosts: readonly string[]): Promise<{ host: string; routes: string[] }[]> {
  const out: { host: string; routes: string[] }[] = [];
  for (const on of hosts) {
    const h = ssh.host(on);
    const listed = await h.run(`ip -4 route show proto ${HARNESS_ROUTE_PROTO}`, { timeoutMs: DEADLINE.hostReadMs, idempotent: true });
    const routes = listed
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    if (routes.length === 0) continue;
    await h.run(`ip -4 route flush proto ${HARNESS_ROUTE_PROTO}`, { sudo: true, timeoutMs: DEADLINE.hostReadMs, idempotent: true });
    out.push({ host: on, routes });
  }
  return out;
}

/** MAC address of an interface, lower case. */
export async function macOf(ssh: SshPool, on: string, iface: string): Promise<string> {
  const command = `cat /sys/class/net/${shellQuote(iface)}/address`;
  const out = await ssh.host(on).run(command, { timeoutMs: 15_000, idempotent: true });
  const mac = normalizeMac(out.trim());
  if (!mac) throw new SshError(on, command, `"${out.trim()}" is not a MAC address`);
  return mac;
}

/** The host's neighbour (ARP) entry for `ip`, or null when it has none. */
export async function neighbourOf(ssh: SshPool, on: string, ip: string): Promise<{ ip: string; mac: string | null; state: string } | null> {
  const out = await ssh.host(on).run(`ip neigh show to ${shellQuote(ip)}`, { timeoutMs: 15_000, idempotent: true });
  const n = parseNeighbours(out).find((e) => e.ip === ip);
  return n ? { ip: n.ip, mac: n.mac, state: n.state ?? 'UNKNOWN' } : null;
}
