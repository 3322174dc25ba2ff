/**
 * What a twin Cilium agent pod prints for the commands the harness runs in it (exec into container cilium-agent). Pure.
 *
 *   answerAgentExec(argv, agent) -> { stdout, stderr, code }   dispatches:
 *     cilium-dbg status [-o json]                              renderStatusText / renderStatusJson
 *     cilium-dbg shell -- db/show [--format=json] l2-announce  renderL2AnnounceTable (tabwriter text / object stream)
 *     cilium-dbg shell -- db/show devices                      renderDevicesTable
 *     hubble observe [--last N] [-o json|compact] [--from-pod ns/pod] [--to-ip IP] ...   renderHubbleJson / renderHubbleCompact
 *   (`cilium` is accepted as a name for `cilium-dbg`, as the seeds use it.)
 *
 * Formats, each checked by a round trip through the harness's own parser in agent-outputs.test.ts:
 * - status text: the `Label:` column of 25 characters and the `KubeProxyReplacement:` / `Routing:` lines of
 *   cilium-behaviour.md 4.1 (test/fixtures/kube/cilium-status/text-tunnel.txt for the other lines' shape);
 *   JSON: StatusResponse keys of cilium-behaviour.md 5.2 (test/fixtures/kube/cilium-status/status-native.json);
 *   parsed by helpers/parse/cilium-status.ts.
 * - l2-announce: header `IP  NetworkInterface` without `#`, tabwriter (padding 3) as seed 002 prints it, JSON as an
 *   object stream of {IP, NetworkInterface, Origins} (cilium-behaviour.md 2.5); parsed by helpers/parse/l2announce.ts.
 * - devices: statedb's Device table columns (Name Index Selected Type MTU HWAddr Flags Addresses) — shape not verified
 *   against a capture; the harness only attaches it to reports.
 * - hubble: `-o json` one GetFlowsResponse per line with protobuf field names and event_type sub_type = Cilium's trace
 *   observation point (test/fixtures/seeds/002/hubble-flow-to-overlay.jsonl; helpers/parse/hubble.ts); compact as seed
 *   002 line 226 (`Aug  9 14:06:08.749: default/curl-pod:40372 (ID:14553) -> ... to-overlay FORWARDED (TCP Flags: ACK, FIN)`).
 */
import { renderServiceList, type FrontendModel } from './services.ts';
import type { AgentRouting } from './helm.ts';
import type { L2Row } from './l2.ts';
import type { TwinCiliumVersion } from './versions.ts';

export interface ExecAnswer {
  stdout: string;
  stderr: string;
  code: number;
}

// ---------------------------------------------------------------------------------------------
// tabwriter
// ---------------------------------------------------------------------------------------------

/** Go text/tabwriter with padchar ' ': every column but the last is padded to max(width + padding, minwidth). */
export function tabwrite(rows: string[][], o: { padding?: number; minwidth?: number } = {}): string {
  const padding = o.padding ?? 3;
  const minwidth = o.minwidth ?? 5;
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: cols }, (_, c) =>
    Math.max(minwidth, ...rows.filter((r) => c < r.length - 1).map((r) => r[c]!.length + padding)),
  );
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('')).join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// cilium-dbg status
// ---------------------------------------------------------------------------------------------

export interface AgentDevice {
  name: string;
  index: number;
  mac: string;
  mtu: number;
  ips: string[];
  /** Selected by the agent (the devices it attaches to and that L2 policies can match). */
  selected: boolean;
}

export interface AgentModel {
  version: TwinCiliumVersion;
  node: string;
  kubernetesVersion: string;
  routing: AgentRouting;
  devices: AgentDevice[];
  directRoutingDevice: string;
  podCidr: string;
  ciliumHostIp: string;
  allocatedIPs: number;
  hubble: boolean;
  state: 'Ok' | 'Warning' | 'Failure';
  clusterHealth: { reachable: number; total: number };
  /** ISO time for the `Cluster health` line. */
  now: string;
  /** l2-announce rows (only on the lease holder for a service). */
  l2Rows: L2Row[];
  flows: HubbleFlowModel[];
  /** Issue 17: WireGuard as the agent reports it; absent or Disabled: `Encryption: Disabled`. */
  encryption?: EncryptionModel;
  /** Issue 17: the frontends this agent serves (`cilium-dbg service list`; test/twin/cilium/services.ts). */
  services?: FrontendModel[];
}

export interface EncryptionModel {
  mode: 'Disabled' | 'Wireguard';
  nodeEncryption: 'Disabled' | 'Enabled';
  interfaces: { name: string; publicKey: string; listenPort: number; peerCount: number }[];
}

/**
 * The `Encryption:` value of the text status (pkg/client/client.go): `<mode>\t[NodeEncryption: <x>, <name> (Pubkey: <k>,
 * Port: <p>, Peers: <n>)]` for WireGuard, the bare mode otherwise. The twin's label column replaces the tabwriter.
 */
export function renderEncryptionText(e: EncryptionModel | undefined): string {
  if (!e || e.mode !== 'Wireguard') return 'Disabled';
  const ifaces = e.interfaces.map((i) => `${i.name} (Pubkey: ${i.publicKey}, Port: ${i.listenPort}, Peers: ${i.peerCount})`).join(', ');
  return `Wireguard   [NodeEncryption: ${e.nodeEncryption}, ${ifaces}]`;
}

/** `encryption` of StatusResponse (api/v1/models: EncryptionStatus, WireguardStatus, WireguardInterface field names). */
export function encryptionJson(e: EncryptionModel | undefined): Record<string, unknown> {
  if (!e || e.mode !== 'Wireguard') return { mode: 'Disabled' };
  return {
    mode: 'Wireguard',
    wireguard: {
      interfaces: e.interfaces.map((i) => ({
        'listen-port': i.listenPort,
        name: i.name,
        'peer-count': i.peerCount,
        peers: [],
        'public-key': i.publicKey,
      })),
      'node-encryption': e.nodeEncryption,
    },
  };
}

const LABEL = 25;
const line = (label: string, value: string): string => `${`${label}:`.padEnd(LABEL)}${value}`;

function kprDevices(a: AgentModel): string {
  return a.devices
    .filter((d) => d.selected)
    .map((d) => `${d.name}   ${d.ips.join(' ')}${d.name === a.directRoutingDevice ? ' (Direct Routing)' : ''}`)
    .join(', ');
}

function cidrSize(cidr: string): number {
  const bits = Number(cidr.split('/')[1] ?? 32);
  return Math.max(0, 2 ** (32 - bits) - 2);
}

/** `cilium-dbg status` (text). */
export function renderStatusText(a: AgentModel): string {
  const r = a.routing;
  const v = a.version;
  const state = a.state;
  return (
    [
      line('KVStore', 'Disabled'),
      line('Kubernetes', `Ok         ${a.kubernetesVersion.split('.').slice(0, 2).join('.')} (v${a.kubernetesVersion}) [linux/amd64]`),
      line(
        'Kubernetes APIs',
        '["EndpointSliceOrEndpoint", "cilium/v2::CiliumClusterwideNetworkPolicy", "cilium/v2::CiliumEndpoint", "cilium/v2::CiliumNetworkPolicy", "cilium/v2::CiliumNode", "core/v1::Namespace", "core/v1::Pods", "core/v1::Service", "networking.k8s.io/v1::NetworkPolicy"]',
      ),
      line('KubeProxyReplacement', r.kubeProxyReplacement ? `True   [${kprDevices(a)}]` : 'False'),
      line('Host firewall', 'Disabled'),
      line('SRv6', 'Disabled'),
      line('CNI Chaining', 'none'),
      line('CNI Config file', 'successfully wrote CNI configuration file to /host/etc/cni/net.d/05-cilium.conflist'),
      line('Cilium', `${state}   ${v.version} (v${v.version}-${v.gitCommit})`),
      line('NodeMonitor', 'Listening for events on 2 CPUs with 64x4096 of shared memory'),
      line('Cilium health daemon', 'Ok'),
      line('IPAM', `IPv4: ${a.allocatedIPs}/${cidrSize(a.podCidr)} allocated from ${a.podCidr},`),
      line('IPv4 BIG TCP', 'Disabled'),
      line('IPv6 BIG TCP', 'Disabled'),
      line('BandwidthManager', 'Disabled'),
      line('Routing', `Network: ${r.network}${r.network === 'Tunnel' ? ` [${r.tunnelProtocol}]` : ''}   Host: ${r.host}`),
      line('Attach Mode', 'TCX'),
      line('Device Mode', 'veth'),
      line(
        'Masquerading',
        r.masquerade === 'BPF'
          ? `BPF   [${a.devices
              .filter((d) => d.selected)
              .map((d) => d.name)
              .join(', ')}]   [IPv4: Enabled, IPv6: Disabled]`
          : 'IPTables [IPv4: Enabled, IPv6: Disabled]',
      ),
      line('Controller Status', '40/40 healthy'),
      line('Proxy Status', `OK, ip ${a.ciliumHostIp}, 0 redirects active on ports 10000-20000, Envoy: external`),
      line('Global Identity Range', 'min 256, max 65535'),
      line('Hubble', a.hubble ? 'Ok              Current/Max Flows: 4095/4095 (100.00%), Flows/s: 12.41   Metrics: Disabled' : 'Disabled'),
      line('Encryption', renderEncryptionText(a.encryption)),
      line('Cluster health', `${a.clusterHealth.reachable}/${a.clusterHealth.total} reachable   (${a.now.replace(/\.\d+Z$/, 'Z')})`),
      line('Modules Health', `Stopped(0) Degraded(0) OK(58)`),
    ].join('\n') + '\n'
  );
}

/** `cilium-dbg status -o json` (StatusResponse, 2-space indented). */
export function renderStatusJson(a: AgentModel): string {
  const r = a.routing;
  const v = a.version;
  const selected = a.devices.filter((d) => d.selected);
  const doc = {
    cilium: { state: a.state, msg: `${v.version} (v${v.version}-${v.gitCommit})` },
    kubernetes: { state: 'Ok', msg: `${a.kubernetesVersion.split('.').slice(0, 2).join('.')} (v${a.kubernetesVersion}) [linux/amd64]` },
    'kube-proxy-replacement': {
      mode: r.kubeProxyReplacement ? 'True' : 'False',
      devices: selected.map((d) => d.name),
      deviceList: selected.map((d) => ({ name: d.name, ip: d.ips })),
      directRoutingDevice: a.directRoutingDevice,
      features: { nodePort: { enabled: r.kubeProxyReplacement, mode: 'SNAT', portMin: 30000, portMax: 32767 } },
    },
    routing: { 'inter-host-routing-mode': r.network, 'intra-host-routing-mode': r.host, 'tunnel-protocol': r.tunnelProtocol },
    masquerading: { enabled: true, mode: r.masquerade },
    ipam: { ipv4: `${a.allocatedIPs}/${cidrSize(a.podCidr)} allocated from ${a.podCidr}` },
    hubble: { state: a.hubble ? 'Ok' : 'Disabled' },
    encryption: encryptionJson(a.encryption),
    cluster: { ciliumHealth: { state: 'Ok' } },
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// statedb tables
// ---------------------------------------------------------------------------------------------

/** `db/show l2-announce` (text) or `db/show --format=json l2-announce` (object stream). Empty table: header only. */
export function renderL2AnnounceTable(rows: L2Row[], format: 'table' | 'json'): string {
  if (format === 'json') {
    // Origins are []resource.Key{Name, Namespace}: Go's encoding/json of that struct (no tags) — unverified, no capture.
    const origin = (o: string): { Name: string; Namespace: string } => ({
      Name: o.split('/').slice(1).join('/'),
      Namespace: o.split('/')[0] ?? '',
    });
    return rows
      .map((r) => `${JSON.stringify({ IP: r.ip, NetworkInterface: r.iface, Origins: r.origins.map(origin) }, null, 2)}\n`)
      .join('');
  }
  return tabwrite([['IP', 'NetworkInterface'], ...rows.map((r) => [r.ip, r.iface])]);
}

/** `db/show devices` (text). */
export function renderDevicesTable(devices: AgentDevice[]): string {
  return tabwrite([
    ['Name', 'Index', 'Selected', 'Type', 'MTU', 'HWAddr', 'Flags', 'Addresses'],
    ...devices.map((d) => [
      d.name,
      String(d.index),
      String(d.selected),
      'device',
      String(d.mtu),
      d.mac,
      d.name === 'lo' ? 'up|loopback|running' : 'up|broadcast|multicast|running',
      d.ips.join(', '),
    ]),
  ]);
}

// ---------------------------------------------------------------------------------------------
// hubble observe
// ---------------------------------------------------------------------------------------------

/** Cilium's trace observation points by name (pkg/monitor/api/types.go), the event_type.sub_type of a trace event. */
export const TRACE_SUB_TYPE: Record<string, number> = {
  'to-endpoint': 0,
  'to-proxy': 1,
  'to-host': 2,
  'to-stack': 3,
  'to-overlay': 4,
  'from-endpoint': 5,
  'from-proxy': 6,
  'from-host': 7,
  'from-stack': 8,
  'from-overlay': 9,
  'from-network': 10,
  'to-network': 11,
  'from-crypto': 12,
  'to-crypto': 13,
};

export interface HubbleEndpointModel {
  namespace?: string;
  pod?: string;
  identity: number;
  labels: string[];
  workload?: { name: string; kind: string };
}

export interface HubbleFlowModel {
  timeMs: number;
  verdict: 'FORWARDED' | 'DROPPED';
  srcIp: string;
  dstIp: string;
  protocol: 'TCP' | 'UDP';
  srcPort: number;
  dstPort: number;
  /** TCP flags set, e.g. ['ACK', 'FIN']. */
  tcpFlags: string[];
  source: HubbleEndpointModel;
  destination: HubbleEndpointModel;
  node: string;
  /** Trace observation point (FORWARDED), e.g. 'to-overlay'. */
  observationPoint?: string;
  isReply: boolean;
  trafficDirection: 'EGRESS' | 'INGRESS';
  /** For DROPPED, e.g. 'POLICY_DENIED'. */
  dropReason?: string;
  /**
   * Issue 17: an L7 flow (Envoy's access log record, pkg/hubble/parser/seven): `Type: "L7"`, event_type 129
   * (MessageTypeAccessLog, pkg/monitor/api/types.go), `l7.type` REQUEST|RESPONSE, `l7.http` with method, url,
   * protocol, and code on responses (seven/http.go decodeHTTP); a denied request is DROPPED (seven decodeVerdict).
   */
  l7?: { type: 'REQUEST' | 'RESPONSE'; method: string; url: string; protocol: string; code?: number; latencyNs?: number };
}

/** MessageTypeAccessLog (pkg/monitor/api/types.go): the event type of L7 flows. */
export const ACCESS_LOG_EVENT = 129;

const FLAG_PROTO_ORDER = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'];
const FLAG_SUMMARY_ORDER = ['SYN', 'ACK', 'RST', 'FIN', 'PSH', 'URG', 'ECE', 'CWR', 'NS'];

function summary(f: HubbleFlowModel): string {
  return f.protocol === 'TCP' ? `TCP Flags: ${FLAG_SUMMARY_ORDER.filter((x) => f.tcpFlags.includes(x)).join(', ')}` : 'UDP';
}

function endpointJson(e: HubbleEndpointModel): Record<string, unknown> {
  return {
    identity: e.identity,
    ...(e.namespace ? { namespace: e.namespace } : {}),
    labels: e.labels,
    ...(e.pod ? { pod_name: e.pod } : {}),
    ...(e.workload ? { workloads: [e.workload] } : {}),
  };
}

/** One line of `hubble observe -o json`. */
export function renderHubbleJson(f: HubbleFlowModel): string {
  const time = new Date(f.timeMs).toISOString();
  const flags = Object.fromEntries(FLAG_PROTO_ORDER.filter((x) => f.tcpFlags.includes(x)).map((x) => [x, true]));
  const l4 =
    f.protocol === 'TCP'
      ? { TCP: { source_port: f.srcPort, destination_port: f.dstPort, flags } }
      : { UDP: { source_port: f.srcPort, destination_port: f.dstPort } };
  const trace = f.verdict === 'FORWARDED';
  const sub = trace ? (TRACE_SUB_TYPE[f.observationPoint ?? 'to-endpoint'] ?? 0) : 0;
  if (f.l7) {
    const l7 = f.l7;
    const http = {
      ...(l7.type === 'RESPONSE' && l7.code !== undefined ? { code: l7.code } : {}),
      method: l7.method,
      url: l7.url,
      protocol: l7.protocol,
    };
    const flow = {
      time,
      verdict: f.verdict,
      IP: { source: f.srcIp, destination: f.dstIp, ipVersion: 'IPv4' },
      l4: { TCP: { source_port: f.srcPort, destination_port: f.dstPort } },
      source: endpointJson(f.source),
      destination: endpointJson(f.destination),
      Type: 'L7',
      node_name: f.node,
      l7: { type: l7.type, ...(l7.latencyNs ? { latency_ns: String(l7.latencyNs) } : {}), http },
      event_type: { type: ACCESS_LOG_EVENT },
      traffic_direction: f.trafficDirection,
      is_reply: f.isReply,
      Summary: `${l7.protocol} ${l7.type === 'RESPONSE' ? `${l7.code ?? 0} ` : ''}${l7.method} ${l7.url}`,
    };
    return JSON.stringify({ flow, node_name: f.node, time });
  }
  const flow = {
    time,
    verdict: f.verdict,
    ...(f.dropReason ? { drop_reason: 133, drop_reason_desc: f.dropReason } : {}),
    IP: { source: f.srcIp, destination: f.dstIp, ipVersion: 'IPv4' },
    l4,
    source: endpointJson(f.source),
    destination: endpointJson(f.destination),
    Type: 'L3_L4',
    node_name: f.node,
    event_type: trace ? (sub === 0 ? { type: 4 } : { type: 4, sub_type: sub }) : { type: 1, sub_type: 133 },
    traffic_direction: f.trafficDirection,
    ...(trace ? { trace_observation_point: (f.observationPoint ?? 'to-endpoint').toUpperCase().replace(/-/g, '_') } : {}),
    is_reply: f.isReply,
    Summary: summary(f),
  };
  return JSON.stringify({ flow, node_name: f.node, time });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function endpointCompact(e: HubbleEndpointModel, ip: string, port: number): string {
  return `${e.pod ? `${e.namespace ?? ''}/${e.pod}` : ip}:${port} (ID:${e.identity})`;
}

/** One line of `hubble observe` (compact), Go's StampMilli time in UTC. */
export function renderHubbleCompact(f: HubbleFlowModel): string {
  const d = new Date(f.timeMs);
  const stamp = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 23)}`;
  const what = f.l7
    ? `http-${f.l7.type.toLowerCase()}`
    : f.verdict === 'FORWARDED'
      ? (f.observationPoint ?? 'to-endpoint')
      : (f.dropReason ?? 'drop');
  return `${stamp}: ${endpointCompact(f.source, f.srcIp, f.srcPort)} ${f.isReply ? '<-' : '->'} ${endpointCompact(f.destination, f.dstIp, f.dstPort)} ${what} ${f.verdict} (${summary(f)})`;
}

export interface HubbleFilter {
  last: number | null;
  output: 'json' | 'compact';
  fromPod: string | null;
  toPod: string | null;
  pod: string | null;
  fromIp: string | null;
  toIp: string | null;
  ip: string | null;
  protocol: string | null;
  verdict: string | null;
  follow: boolean;
}

/** The flags of `hubble observe` the twin understands; anything else is refused so a harness change is noticed. */
export function parseHubbleObserveArgs(args: string[]): HubbleFilter {
  const f: HubbleFilter = {
    last: null,
    output: 'compact',
    fromPod: null,
    toPod: null,
    pod: null,
    fromIp: null,
    toIp: null,
    ip: null,
    protocol: null,
    verdict: null,
    follow: false,
  };
  const podRef = (p: string): string => (p.includes('/') ? p : `default/${p}`);
  for (let i = 0; i < args.length; i++) {
    let flag = args[i]!;
    let val: string | undefined;
    if (flag.startsWith('--') && flag.includes('=')) {
      val = flag.slice(flag.indexOf('=') + 1);
      flag = flag.slice(0, flag.indexOf('='));
    }
    const next = (): string => {
      const x = val ?? args[++i];
      if (x === undefined) throw new Error(`flag needs an argument: ${flag}`);
      return x;
    };
    switch (flag) {
      case '--last': {
        const n = Number(next());
        if (!Number.isInteger(n) || n < 0) throw new Error(`invalid argument for --last`);
        f.last = n;
        break;
      }
      case '-o':
      case '--output': {
        const o = next();
        if (o !== 'json' && o !== 'jsonpb' && o !== 'compact') throw new Error(`invalid output format: ${o}`);
        f.output = o === 'compact' ? 'compact' : 'json';
        break;
      }
      case '--from-pod':
        f.fromPod = podRef(next());
        break;
      case '--to-pod':
        f.toPod = podRef(next());
        break;
      case '--pod':
        f.pod = podRef(next());
        break;
      case '--from-ip':
        f.fromIp = next();
        break;
      case '--to-ip':
        f.toIp = next();
        break;
      case '--ip':
        f.ip = next();
        break;
      case '--protocol':
        f.protocol = next().toUpperCase();
        break;
      case '--verdict':
        f.verdict = next().toUpperCase();
        break;
      case '-f':
      case '--follow':
        f.follow = true;
        break;
      default:
        throw new Error(`unknown flag: ${flag}`);
    }
  }
  return f;
}

/** The flows `hubble observe` would print with this filter (oldest first; --last N keeps the newest N). */
export function filterFlows(flows: HubbleFlowModel[], f: HubbleFilter): HubbleFlowModel[] {
  const pod = (e: HubbleEndpointModel): string | null => (e.pod ? `${e.namespace ?? ''}/${e.pod}` : null);
  const hit = flows
    .filter((x) => (f.fromPod === null || pod(x.source) === f.fromPod) && (f.toPod === null || pod(x.destination) === f.toPod))
    .filter((x) => f.pod === null || pod(x.source) === f.pod || pod(x.destination) === f.pod)
    .filter(
      (x) =>
        (f.fromIp === null || x.srcIp === f.fromIp) &&
        (f.toIp === null || x.dstIp === f.toIp) &&
        (f.ip === null || x.srcIp === f.ip || x.dstIp === f.ip),
    )
    .filter((x) => (f.protocol === null || x.protocol === f.protocol) && (f.verdict === null || x.verdict === f.verdict))
    .sort((a, b) => a.timeMs - b.timeMs);
  return f.last === null ? hit : hit.slice(Math.max(0, hit.length - f.last));
}

// ---------------------------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------------------------

const ok = (stdout: string): ExecAnswer => ({ stdout, stderr: '', code: 0 });
const err = (stderr: string, code = 1): ExecAnswer => ({ stdout: '', stderr: stderr.endsWith('\n') ? stderr : `${stderr}\n`, code });

export function answerAgentExec(argv: string[], agent: AgentModel): ExecAnswer {
  const [prog, ...rest] = argv;
  const name = (prog ?? '').split('/').pop();
  if (name === 'hubble') {
    if (rest[0] !== 'observe') return err(`Error: the lab twin's hubble does not implement "${rest.join(' ')}"`);
    if (!agent.hubble)
      return err(
        'failed to connect to \'unix:///var/run/cilium/hubble.sock\': connection error: desc = "transport: error while dialing: dial unix /var/run/cilium/hubble.sock: connect: no such file or directory"',
      );
    let f: HubbleFilter;
    try {
      f = parseHubbleObserveArgs(rest.slice(1));
    } catch (e) {
      return err(`Error: ${(e as Error).message}`);
    }
    if (f.follow) return err('Error: the lab twin does not stream (--follow); use --last N');
    const flows = filterFlows(agent.flows, f);
    return ok(flows.map((x) => `${f.output === 'json' ? renderHubbleJson(x) : renderHubbleCompact(x)}\n`).join(''));
  }
  if (name !== 'cilium-dbg' && name !== 'cilium') return err(`exec: "${prog ?? ''}": executable file not found in $PATH`, 127);
  if (rest[0] === 'status') {
    const opts = rest.slice(1);
    const json = opts.some(
      (o, i) => o === '--output=json' || o === '-ojson' || ((o === '-o' || o === '--output') && opts[i + 1] === 'json'),
    );
    return ok(json ? renderStatusJson(agent) : renderStatusText(agent));
  }
  if (rest[0] === 'service' && (rest[1] === 'list' || rest[1] === 'ls')) {
    const opts = rest.slice(2);
    const json = opts.some(
      (o, i) => o === '--output=json' || o === '-ojson' || ((o === '-o' || o === '--output') && opts[i + 1] === 'json'),
    );
    return ok(renderServiceList(agent.services ?? [], json ? 'json' : 'table'));
  }
  if (rest[0] === 'shell' && rest[1] === '--' && rest[2] === 'db/show') {
    const words = rest.slice(3);
    const json = words.includes('--format=json') || words.some((w, i) => w === '--format' && words[i + 1] === 'json');
    const table = words.filter((w, i) => !w.startsWith('-') && words[i - 1] !== '--format')[0];
    if (table === 'l2-announce') return ok(renderL2AnnounceTable(agent.l2Rows, json ? 'json' : 'table'));
    if (table === 'devices' && !json) return ok(renderDevicesTable(agent.devices));
    return err(`Error: the lab twin does not model table "${table ?? ''}"${json ? ' as JSON' : ''}`);
  }
  return err(`Error: the lab twin's cilium-dbg does not implement "${rest.join(' ')}"`);
}
