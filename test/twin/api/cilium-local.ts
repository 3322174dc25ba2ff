/**
 * The Cilium behaviour the twin's Kubernetes side needs, kept small and pure: helm values -> cilium-config, the
 * `helm` commands the harness runs (list, get values, upgrade --reuse-values --set/--set-string), what an agent
 * answers to `cilium-dbg` / `hubble observe`, LB-IPAM allocation with its conditions, and L2 policy selection.
 *
 * Each rule names its source in shared/docs/cilium-behaviour.md (cb) or the seeds. The twin's Cilium models
 * (test/twin/cilium/, branch twinmodels) are meant to take over these; until they do, this file is the twin's model.
 */
import ipaddr from 'ipaddr.js';
import { addressesInRange, ipToNumber, numberToIp } from '../../../helpers/topology.ts';
import { matchSelectorObject, type LabelSelectorObject } from './selectors.ts';
import type { Obj } from './store.ts';

// ---------------------------------------------------------------------------------------------
// Helm values and cilium-config (cb 2.1, 3, 4, 4.2)
// ---------------------------------------------------------------------------------------------

export type Values = Record<string, unknown>;

export function getPath(v: unknown, dotted: string): unknown {
  let cur = v;
  for (const p of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

export function setPath(v: Values, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur: Record<string, unknown> = v;
  for (const p of parts.slice(0, -1)) {
    if (cur[p] === null || typeof cur[p] !== 'object') cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

function scalar(v: unknown): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

function bool(v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'string') return v.toLowerCase() === 'true';
  return v === true;
}

/** The chart's defaults for what the twin reads (cb 3: ingress default mode dedicated; 2.1 lease timings absent). */
export function effective(values: Values): {
  routingMode: 'native' | 'tunnel';
  tunnelProtocol: string;
  autoDirectNodeRoutes: boolean;
  nativeCidr: string;
  kpr: boolean;
  bpfMasquerade: boolean;
  l2: boolean;
  ingress: boolean;
  ingressMode: string;
  hubble: boolean;
  lease: { durationMs: number; renewMs: number; retryMs: number };
} {
  const dur = (k: string, d: number): number => {
    const v = getPath(values, k);
    if (v === undefined || v === null || v === '') return d;
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(scalar(v));
    if (!m) return d;
    const n = Number(m[1]);
    return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  };
  // leaseTimings() sanity clamps (cb 2.1).
  let durationMs = Math.max(dur('l2announcements.leaseDuration', 15_000), 1000);
  let renewMs = dur('l2announcements.leaseRenewDeadline', 5000);
  let retryMs = dur('l2announcements.leaseRetryPeriod', 2000);
  if (renewMs >= durationMs) renewMs = durationMs / 2;
  if (renewMs <= 1.2 * retryMs) retryMs = renewMs / 2;
  durationMs = Math.round(durationMs);
  return {
    routingMode: getPath(values, 'routingMode') === 'native' ? 'native' : 'tunnel',
    tunnelProtocol: String((getPath(values, 'tunnelProtocol') as string | undefined) ?? 'vxlan'),
    autoDirectNodeRoutes: bool(getPath(values, 'autoDirectNodeRoutes'), false),
    nativeCidr: String((getPath(values, 'ipv4NativeRoutingCIDR') as string | undefined) ?? ''),
    kpr: bool(getPath(values, 'kubeProxyReplacement'), false),
    bpfMasquerade: bool(getPath(values, 'bpf.masquerade'), false),
    l2: bool(getPath(values, 'l2announcements.enabled'), false),
    ingress: bool(getPath(values, 'ingressController.enabled'), false),
    ingressMode: String((getPath(values, 'ingressController.loadbalancerMode') as string | undefined) ?? 'dedicated'),
    hubble: bool(getPath(values, 'hubble.enabled'), true),
    lease: { durationMs, renewMs, retryMs },
  };
}

/** cilium-config as the chart renders it for these values (the keys the harness reads; cb 2.1, 3, 4.2). */
export function ciliumConfig(values: Values): Record<string, string> {
  const e = effective(values);
  const data: Record<string, string> = {
    'routing-mode': e.routingMode,
    'tunnel-protocol': e.tunnelProtocol,
    'auto-direct-node-routes': String(e.autoDirectNodeRoutes),
    'kube-proxy-replacement': String(e.kpr),
    'enable-bpf-masquerade': String(e.bpfMasquerade),
    'enable-hubble': String(e.hubble),
    'ipam': String((getPath(values, 'ipam.mode') as string | undefined) ?? 'cluster-pool'),
    'cluster-name': 'default',
    'default-lb-service-ipam': String((getPath(values, 'defaultLBServiceIPAM') as string | undefined) ?? 'lbipam'),
  };
  if (e.nativeCidr) data['ipv4-native-routing-cidr'] = e.nativeCidr;
  const dsru = getPath(values, 'directRoutingSkipUnreachable');
  if (dsru !== undefined) data['direct-routing-skip-unreachable'] = String(bool(dsru, false));
  if (e.l2) {
    data['enable-l2-announcements'] = 'true';
    for (const [h, k] of [
      ['l2announcements.leaseDuration', 'l2-announcements-lease-duration'],
      ['l2announcements.leaseRenewDeadline', 'l2-announcements-renew-deadline'],
      ['l2announcements.leaseRetryPeriod', 'l2-announcements-retry-period'],
    ] as const) {
      const v = getPath(values, h);
      if (v !== undefined && v !== null) data[k] = scalar(v);
    }
  }
  for (const [h, k] of [
    ['k8sClientRateLimit.qps', 'k8s-client-qps'],
    ['k8sClientRateLimit.burst', 'k8s-client-burst'],
  ] as const) {
    const v = getPath(values, h);
    if (v !== undefined && v !== null) data[k] = scalar(v);
  }
  if (e.ingress) {
    data['enable-ingress-controller'] = 'true';
    data['enable-envoy-config'] = 'true';
    data['ingress-default-lb-mode'] = e.ingressMode;
    data['ingress-shared-lb-service-name'] = 'cilium-ingress';
    data['enforce-ingress-https'] = 'true';
    data['ingress-lb-annotation-prefixes'] = 'lbipam.cilium.io service.beta.kubernetes.io service.kubernetes.io cloud.google.com';
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// helm (the commands helpers/cilium.ts runs on the control plane)
// ---------------------------------------------------------------------------------------------

export interface HelmState {
  values: Values;
  revision: number;
  chartVersion: string;
  updated: string;
}

export interface HelmOutcome {
  stdout: string;
  stderr: string;
  code: number;
  /** Set when an upgrade changed the release. */
  upgraded?: HelmState;
}

/** One --set value as helm's strvals parser types it: true/false, integers, null; else a string. */
function typedSet(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v === 'null') return null;
  if (/^-?(0|[1-9]\d{0,15})$/.test(v)) return Number(v);
  return v;
}

function unescapeSet(v: string): string {
  return v.replace(/\\([\\,{}])/g, '$1');
}

/** `helm list`, `helm get values`, `helm upgrade --reuse-values --set ...` against the release `cilium`. */
export function runHelm(argv: readonly string[], state: HelmState, o: { refusesNativeWithoutCidr: boolean }): HelmOutcome {
  const args = argv.slice(1);
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  const boolFlags = new Set(['--reuse-values', '--reset-values', '--install', '--wait', '--atomic', '--debug', '--all']);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a.startsWith('--') && a.includes('=')) {
      const [k, ...rest] = a.split('=');
      flags.set(k as string, [...(flags.get(k as string) ?? []), rest.join('=')]);
    } else if (a.startsWith('-') && !boolFlags.has(a)) {
      flags.set(a, [...(flags.get(a) ?? []), args[i + 1] ?? '']);
      i++;
    } else if (a.startsWith('-')) flags.set(a, ['true']);
    else positional.push(a);
  }
  const ns = flags.get('--namespace')?.[0] ?? flags.get('-n')?.[0] ?? 'default';
  const [cmd, sub] = positional;
  const output = flags.get('--output')?.[0] ?? flags.get('-o')?.[0] ?? 'table';
  if (cmd === 'list' || cmd === 'ls') {
    const rows = ns === 'kube-system' ? [{ name: 'cilium', namespace: 'kube-system', revision: String(state.revision), updated: state.updated, status: 'deployed', chart: `cilium-${state.chartVersion}`, app_version: state.chartVersion }] : [];
    if (output === 'json') return { stdout: `${JSON.stringify(rows)}\n`, stderr: '', code: 0 };
    return { stdout: `NAME\tNAMESPACE\tREVISION\tUPDATED\tSTATUS\tCHART\tAPP VERSION\n${rows.map((r) => `${r.name}\t${r.namespace}\t${r.revision}\t${r.updated}\t${r.status}\t${r.chart}\t${r.app_version}`).join('\n')}\n`, stderr: '', code: 0 };
  }
  if (cmd === 'get' && sub === 'values') {
    if (positional[2] !== 'cilium' || ns !== 'kube-system') return { stdout: '', stderr: 'Error: release: not found\n', code: 1 };
    return { stdout: output === 'json' ? `${JSON.stringify(state.values)}\n` : `USER-SUPPLIED VALUES:\n${JSON.stringify(state.values, null, 2)}\n`, stderr: '', code: 0 };
  }
  if (cmd === 'upgrade') {
    if (sub !== 'cilium' || ns !== 'kube-system') return { stdout: '', stderr: `Error: UPGRADE FAILED: "${sub ?? ''}" has no deployed releases\n`, code: 1 };
    const version = flags.get('--version')?.[0];
    if (version && version !== state.chartVersion) return { stdout: '', stderr: `Error: the twin only has chart cilium-${state.chartVersion}, not ${version}\n`, code: 1 };
    const values: Values = flags.has('--reuse-values') ? structuredClone(state.values) : {};
    for (const s of flags.get('--set') ?? []) {
      for (const part of s.split(/(?<!\\),/)) {
        const eq = part.indexOf('=');
        if (eq < 0) return { stdout: '', stderr: `Error: failed parsing --set data: key "${part}" has no value\n`, code: 1 };
        setPath(values, part.slice(0, eq), typedSet(unescapeSet(part.slice(eq + 1))));
      }
    }
    for (const s of flags.get('--set-string') ?? []) {
      const eq = s.indexOf('=');
      if (eq < 0) return { stdout: '', stderr: `Error: failed parsing --set-string data: key "${s}" has no value\n`, code: 1 };
      setPath(values, s.slice(0, eq), unescapeSet(s.slice(eq + 1)));
    }
    const e = effective(values);
    if (o.refusesNativeWithoutCidr && e.routingMode === 'native' && !e.nativeCidr && e.bpfMasquerade) {
      return { stdout: '', stderr: 'Error: UPGRADE FAILED: execution error at (cilium/templates/validate.yaml): ipv4NativeRoutingCIDR must be set when routingMode is native\n', code: 1 };
    }
    const next: HelmState = { ...state, values, revision: state.revision + 1, updated: new Date().toISOString() };
    return {
      stdout: `Release "cilium" has been upgraded. Happy Helming!\nNAME: cilium\nLAST DEPLOYED: ${new Date().toUTCString()}\nNAMESPACE: kube-system\nSTATUS: deployed\nREVISION: ${next.revision}\n`,
      stderr: '',
      code: 0,
      upgraded: next,
    };
  }
  if (cmd === 'version') return { stdout: 'v3.21.4+twin\n', stderr: '', code: 0 };
  return { stdout: '', stderr: `Error: the twin's helm does not know "${positional.join(' ')}"\n`, code: 1 };
}

// ---------------------------------------------------------------------------------------------
// Agent answers (cb 2.5, 4.1, 5.2; the seeds' formats)
// ---------------------------------------------------------------------------------------------

export interface AgentContext {
  version: string;
  gitCommit: string;
  kubernetesVersion: string;
  node: string;
  nodeIp: string;
  values: Values;
  /** The LB IPs this node holds the lease for, with the interface. */
  l2Entries: { ip: string; iface: string }[];
  /** Flows the twin saw leave pods on this node (curl/ping it ran), newest last. */
  flows: Flow[];
}

export interface Flow {
  time: string;
  sourceIp: string;
  destinationIp: string;
  source: { namespace: string; pod: string };
  destination: { namespace?: string; pod?: string };
  node: string;
  port?: number;
}

export interface ExecAnswer {
  stdout: string;
  stderr: string;
  code: number;
}

export function statusJson(c: AgentContext): unknown {
  const e = effective(c.values);
  return {
    cilium: { state: 'Ok', msg: `${c.version} (v${c.version}-${c.gitCommit})` },
    kubernetes: { state: 'Ok', msg: `${c.kubernetesVersion.split('.').slice(0, 2).join('.')} (v${c.kubernetesVersion}) [linux/amd64]` },
    'kube-proxy-replacement': {
      mode: e.kpr ? 'True' : 'False',
      devices: ['eth1'],
      deviceList: [{ name: 'eth1', ip: [c.nodeIp] }],
      directRoutingDevice: 'eth1',
      features: { nodePort: { enabled: e.kpr, mode: 'SNAT', portMin: 30000, portMax: 32767 } },
    },
    routing: { 'inter-host-routing-mode': e.routingMode === 'native' ? 'Native' : 'Tunnel', 'intra-host-routing-mode': e.kpr && e.bpfMasquerade ? 'BPF' : 'Legacy', 'tunnel-protocol': e.tunnelProtocol },
    masquerading: { enabled: true, mode: e.bpfMasquerade ? 'BPF' : 'IPTables' },
    hubble: { state: e.hubble ? 'Ok' : 'Disabled' },
  };
}

export function statusText(c: AgentContext): string {
  const e = effective(c.values);
  const net = e.routingMode === 'native' ? 'Native' : `Tunnel [${e.tunnelProtocol}]`;
  return [
    `KVStore:                 Disabled`,
    `Kubernetes:              Ok   ${c.kubernetesVersion.split('.').slice(0, 2).join('.')} (v${c.kubernetesVersion}) [linux/amd64]`,
    `KubeProxyReplacement:    ${e.kpr ? 'True' : 'False'}   [eth1   ${c.nodeIp} (Direct Routing)]`,
    `Cilium:                  Ok   ${c.version} (v${c.version}-${c.gitCommit})`,
    `Routing:                 Network: ${net}   Host: ${e.kpr && e.bpfMasquerade ? 'BPF' : 'Legacy'}`,
    `Masquerading:            ${e.bpfMasquerade ? 'BPF' : 'IPTables'}   [eth1]   ${e.nativeCidr} [IPv4: Enabled, IPv6: Disabled]`,
    '',
  ].join('\n');
}

/** Hubble's JSON lines for the flows (GetFlowsResponse with protobuf names; cb 5, helpers/parse/hubble.ts). */
function hubbleJson(flows: Flow[], c: AgentContext): string {
  const e = effective(c.values);
  const tunnel = e.routingMode === 'tunnel';
  return flows
    .map((f) =>
      JSON.stringify({
        flow: {
          time: f.time,
          verdict: 'FORWARDED',
          IP: { source: f.sourceIp, destination: f.destinationIp, ipVersion: 'IPv4' },
          l4: { TCP: { source_port: 40000, destination_port: f.port ?? 80, flags: { SYN: true } } },
          source: { namespace: f.source.namespace, pod_name: f.source.pod, labels: [], identity: 20000 },
          destination: { ...(f.destination.namespace ? { namespace: f.destination.namespace, pod_name: f.destination.pod } : {}), identity: 20001 },
          Type: 'L3_L4',
          node_name: f.node,
          event_type: { type: 4, sub_type: tunnel ? 4 : 3 },
          trace_observation_point: tunnel ? 'TO_OVERLAY' : 'TO_STACK',
          is_reply: false,
          Summary: 'TCP Flags: SYN',
        },
        node_name: f.node,
        time: f.time,
      }),
    )
    .join('\n');
}

function flagValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`${name}=`));
  return eq?.slice(name.length + 1);
}

/** What the agent container answers to argv (cilium-dbg, hubble). */
export function agentExec(argv: readonly string[], c: AgentContext): ExecAnswer {
  const [prog, ...rest] = argv;
  if (prog === 'cilium-dbg' || prog === 'cilium') {
    if (rest[0] === 'status') {
      const json = flagValue(rest, '-o') === 'json' || flagValue(rest, '--output') === 'json';
      return { stdout: json ? `${JSON.stringify(statusJson(c), null, 2)}\n` : statusText(c), stderr: '', code: 0 };
    }
    if (rest[0] === 'shell' && rest.includes('db/show')) {
      const table = rest[rest.length - 1];
      const json = rest.includes('--format=json');
      if (table === 'l2-announce') {
        if (json) return { stdout: c.l2Entries.map((x) => JSON.stringify({ IP: x.ip, NetworkInterface: x.iface, Origins: [] }, null, 2)).join('\n') + (c.l2Entries.length ? '\n' : ''), stderr: '', code: 0 };
        return { stdout: ['IP             NetworkInterface', ...c.l2Entries.map((x) => `${x.ip.padEnd(15)}${x.iface}`)].join('\n') + '\n', stderr: '', code: 0 };
      }
      if (table === 'devices') {
        return { stdout: `Name   Index   Selected   Type     MTU    HWAddr   Flags   Addresses\neth1   3       true       device   1500   -        up      ${c.nodeIp}\n`, stderr: '', code: 0 };
      }
      return { stdout: '', stderr: `Error: table "${table ?? ''}" not found\n`, code: 1 };
    }
    if (rest[0] === 'config') return { stdout: Object.entries(ciliumConfig(c.values)).map(([k, v]) => `${k.padEnd(40)}${v}`).join('\n') + '\n', stderr: '', code: 0 };
    return { stdout: '', stderr: `Error: the twin's cilium-dbg does not answer "${rest.join(' ')}"\n`, code: 1 };
  }
  if (prog === 'hubble' && rest[0] === 'observe') {
    if (!effective(c.values).hubble) return { stdout: '', stderr: 'failed to connect to hubble: hubble is disabled\n', code: 1 };
    const from = flagValue(rest, '--from-pod');
    const toIp = flagValue(rest, '--to-ip');
    const last = Number(flagValue(rest, '--last') ?? '20');
    const flows = c.flows
      .filter((f) => !from || `${f.source.namespace}/${f.source.pod}` === from)
      .filter((f) => !toIp || f.destinationIp === toIp)
      .slice(-last);
    return { stdout: flows.length ? `${hubbleJson(flows, c)}\n` : '', stderr: '', code: 0 };
  }
  return { stdout: '', stderr: `exec: "${prog ?? ''}": executable file not found in $PATH`, code: 127 };
}

// ---------------------------------------------------------------------------------------------
// LB-IPAM (cb 1.2-1.6)
// ---------------------------------------------------------------------------------------------

export const SVC_CONDITION = 'cilium.io/IPAMRequestSatisfied';
const ANN_IPS = ['lbipam.cilium.io/ips', 'io.cilium/lb-ipam-ips'];
const ANN_KEY = ['lbipam.cilium.io/sharing-key', 'io.cilium/lb-ipam-sharing-key'];
const ANN_XNS = ['lbipam.cilium.io/sharing-cross-namespace', 'io.cilium/lb-ipam-sharing-cross-namespace'];

function ann(o: Obj, keys: string[]): string | undefined {
  const a = o.metadata.annotations ?? {};
  for (const k of keys) if (a[k] !== undefined) return a[k];
  return undefined;
}

export interface PoolResult {
  name: string;
  conflict: { with: string; range: string; other: string } | null;
  total: number;
  used: number;
  available: number;
}

export interface SvcResult {
  key: string;
  ips: string[];
  condition: { status: 'True' | 'False'; reason: string; message: string } | null;
}

interface Range {
  pool: string;
  text: string;
  first: number;
  last: number;
}

function poolRanges(p: Obj): Range[] {
  const spec = (p.spec ?? {}) as { blocks?: { cidr?: string; start?: string; stop?: string }[]; allowFirstLastIPs?: string };
  const out: Range[] = [];
  for (const b of spec.blocks ?? []) {
    if (b.cidr) {
      const [net, len] = ipaddr.IPv4.parseCIDR(b.cidr);
      const first = ipToNumber(ipaddr.IPv4.networkAddressFromCIDR(b.cidr).toString());
      const size = 2 ** (32 - len);
      let lo = first;
      let hi = first + size - 1;
      if (spec.allowFirstLastIPs === 'No' && len <= 30) {
        lo++;
        hi--;
      }
      void net;
      out.push({ pool: p.metadata.name, text: b.cidr, first: lo, last: hi });
    } else if (b.start) {
      out.push({ pool: p.metadata.name, text: `${b.start}-${b.stop ?? b.start}`, first: ipToNumber(b.start), last: ipToNumber(b.stop ?? b.start) });
    }
  }
  return out;
}

function svcLabels(s: Obj): Record<string, string> {
  return { ...(s.metadata.labels ?? {}), 'io.kubernetes.service.namespace': s.metadata.namespace ?? '', 'io.kubernetes.service.name': s.metadata.name };
}

function ports(s: Obj): number[] {
  return (((s.spec as { ports?: { port: number }[] } | undefined)?.ports) ?? []).map((p) => p.port);
}

/** Why two services cannot share an IP (isCompatible in svcstore, cb 1.6), or null when they can. */
function incompatible(a: Obj, b: Obj): string | null {
  const ka = ann(a, ANN_KEY);
  const kb = ann(b, ANN_KEY);
  if (!ka || ka !== kb) return 'different sharing key';
  if (a.metadata.namespace !== b.metadata.namespace) {
    const allows = (x: Obj, ns: string | undefined): boolean => (ann(x, ANN_XNS) ?? '').split(',').map((s) => s.trim()).some((n) => n === '*' || n === ns);
    if (!allows(a, b.metadata.namespace) || !allows(b, a.metadata.namespace)) return 'different and not permitted namespace';
  }
  const pa = ports(a);
  if (ports(b).some((p) => pa.includes(p))) return 'same port';
  const ea = (a.spec as { externalTrafficPolicy?: string } | undefined)?.externalTrafficPolicy ?? 'Cluster';
  const eb = (b.spec as { externalTrafficPolicy?: string } | undefined)?.externalTrafficPolicy ?? 'Cluster';
  if (ea !== eb) return 'different ExternalTrafficPolicy';
  return null;
}

function svcKey(s: Obj): string {
  return `${s.metadata.namespace ?? ''}/${s.metadata.name}`;
}

/** Does LB-IPAM serve this service (cb 1.4)? */
export function lbipamServes(s: Obj, o: { l2: boolean; defaultIpam: string }): boolean {
  const spec = (s.spec ?? {}) as { type?: string; loadBalancerClass?: string };
  if (spec.type !== 'LoadBalancer') return false;
  if (!spec.loadBalancerClass) return o.defaultIpam === 'lbipam';
  return spec.loadBalancerClass === 'io.cilium/l2-announcer' && o.l2;
}

/**
 * One pass of LB-IPAM over every pool and service. `previous` keeps existing allocations (a service keeps its IPs
 * while they stay valid). Services are handled oldest first.
 */
export function allocate(pools: Obj[], services: Obj[], previous: Map<string, string[]>): { pools: PoolResult[]; services: SvcResult[] } {
  const byAge = (a: Obj, b: Obj): number => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name);
  const sortedPools = [...pools].sort(byAge);
  const conflicts = new Map<string, PoolResult['conflict']>();
  const accepted: Range[] = [];
  for (const p of sortedPools) {
    const mine = poolRanges(p);
    let conflict: PoolResult['conflict'] = null;
    for (const r of mine) {
      const o = accepted.find((x) => x.first <= r.last && r.first <= x.last);
      if (o) {
        conflict = { with: o.pool, range: r.text, other: o.text };
        break;
      }
    }
    conflicts.set(p.metadata.name, conflict);
    if (!conflict) accepted.push(...mine);
  }
  const usable = (p: Obj): boolean => !conflicts.get(p.metadata.name) && !(p.spec as { disabled?: boolean } | undefined)?.disabled;
  const owner = new Map<number, Obj[]>(); // ip -> services
  const results: SvcResult[] = [];
  const poolOf = (ip: number): Obj | undefined => sortedPools.find((p) => usable(p) && poolRanges(p).some((r) => r.first <= ip && ip <= r.last));
  const anyPoolOf = (ip: number): Obj | undefined => sortedPools.find((p) => poolRanges(p).some((r) => r.first <= ip && ip <= r.last));
  const take = (ip: number, s: Obj): void => {
    owner.set(ip, [...(owner.get(ip) ?? []), s]);
  };

  // Existing allocations first (kept while their pool still exists, is usable and selects the service).
  const sorted = [...services].sort(byAge);
  const kept = new Map<string, number[]>();
  for (const s of sorted) {
    const prev = (previous.get(svcKey(s)) ?? []).map(ipToNumber);
    const ok = prev.filter((ip) => {
      const p = poolOf(ip);
      return p && matchSelectorObject((p.spec as { serviceSelector?: LabelSelectorObject } | undefined)?.serviceSelector, svcLabels(s)) && (owner.get(ip) ?? []).every((o) => !incompatible(o, s));
    });
    if (ok.length > 0 && ok.length === prev.length) {
      for (const ip of ok) take(ip, s);
      kept.set(svcKey(s), ok);
    }
  }
  for (const s of sorted) {
    const key = svcKey(s);
    const k = kept.get(key);
    if (k) {
      results.push({ key, ips: k.map(numberToIp), condition: { status: 'True', reason: 'satisfied', message: '' } });
      continue;
    }
    const requested = [...(ann(s, ANN_IPS) ?? '').split(','), ((s.spec as { loadBalancerIP?: string } | undefined)?.loadBalancerIP ?? '')].map((x) => x.trim()).filter(Boolean);
    const selects = (p: Obj): boolean => matchSelectorObject((p.spec as { serviceSelector?: LabelSelectorObject } | undefined)?.serviceSelector, svcLabels(s));
    if (requested.length > 0) {
      let failure: SvcResult['condition'] = null;
      const got: number[] = [];
      for (const ipText of requested) {
        const ip = ipToNumber(ipText);
        const p = poolOf(ip);
        if (!p) {
          failure = { status: 'False', reason: 'no_pool', message: `No pool exists with a CIDR containing '${ipText}'` };
          break;
        }
        if (!selects(p)) {
          failure = { status: 'False', reason: 'pool_selector_mismatch', message: `The pool with the CIDR containing '${ipText}', doesn't select this service` };
          break;
        }
        const holders = owner.get(ip) ?? [];
        if (holders.length > 0) {
          if (!ann(s, ANN_KEY)) {
            failure = { status: 'False', reason: 'already_allocated', message: `The IP '${ipText}' is already allocated to another service` };
            break;
          }
          const why = holders.map((h) => incompatible(h, s)).find((x) => x !== null);
          if (why) {
            failure = { status: 'False', reason: 'already_allocated_incompatible_service', message: `The IP '${ipText}' is already allocated to an incompatible service. Reason: ${why}` };
            break;
          }
        }
        got.push(ip);
      }
      if (failure) results.push({ key, ips: [], condition: failure });
      else {
        for (const ip of got) take(ip, s);
        results.push({ key, ips: got.map(numberToIp), condition: { status: 'True', reason: 'satisfied', message: '' } });
      }
      continue;
    }
    const candidates = sortedPools.filter((p) => usable(p) && selects(p));
    if (candidates.length === 0) {
      results.push({ key, ips: [], condition: { status: 'False', reason: 'no_pool', message: 'There are no enabled CiliumLoadBalancerIPPools that match this service' } });
      continue;
    }
    let chosen: number | undefined;
    // A sharing key: reuse a compatible service's IP first (cb 1.6).
    if (ann(s, ANN_KEY)) {
      for (const [ip, holders] of owner) {
        const p = poolOf(ip);
        if (p && candidates.includes(p) && holders.every((h) => !incompatible(h, s))) {
          chosen = ip;
          break;
        }
      }
    }
    if (chosen === undefined) {
      outer: for (const p of candidates) {
        for (const r of poolRanges(p)) {
          for (let ip = r.first; ip <= r.last; ip++) {
            if (!owner.has(ip)) {
              chosen = ip;
              break outer;
            }
          }
        }
      }
    }
    if (chosen === undefined) {
      results.push({ key, ips: [], condition: { status: 'False', reason: 'out_of_ips', message: 'All enabled CiliumLoadBalancerIPPools that match this service ran out of allocatable IPs' } });
      continue;
    }
    take(chosen, s);
    results.push({ key, ips: [numberToIp(chosen)], condition: { status: 'True', reason: 'satisfied', message: '' } });
  }
  const poolResults: PoolResult[] = sortedPools.map((p) => {
    const ranges = poolRanges(p);
    const total = ranges.reduce((n, r) => n + (r.last - r.first + 1), 0);
    const conflict = conflicts.get(p.metadata.name) ?? null;
    const used = conflict ? 0 : [...owner.keys()].filter((ip) => anyPoolOf(ip) === p).length;
    return { name: p.metadata.name, conflict, total, used, available: total - used };
  });
  return { pools: poolResults, services: results };
}

export function addressesOfBlock(start: string, stop: string): string[] {
  return addressesInRange(start, stop);
}

// ---------------------------------------------------------------------------------------------
// L2 announcement selection (cb 2.2)
// ---------------------------------------------------------------------------------------------

export interface L2Selection {
  /** LB IP and the nodes (with the interface) that take part in its election. */
  ip: string;
  service: Obj;
  candidates: { node: string; iface: string }[];
}

/** Which services each policy announces and from which nodes/interfaces (the node's LAN interface `eth1`). */
export function l2Selections(policies: Obj[], services: Obj[], nodes: { name: string; labels: Record<string, string>; ifaces: string[] }[]): L2Selection[] {
  const out = new Map<string, L2Selection>();
  for (const pol of policies) {
    const spec = (pol.spec ?? {}) as { serviceSelector?: LabelSelectorObject; nodeSelector?: LabelSelectorObject; interfaces?: string[]; loadBalancerIPs?: boolean };
    if (!spec.loadBalancerIPs) continue;
    let regexes: RegExp[];
    try {
      regexes = (spec.interfaces ?? []).map((r) => new RegExp(r));
    } catch {
      continue;
    }
    for (const s of services) {
      const sspec = (s.spec ?? {}) as { loadBalancerClass?: string };
      if (sspec.loadBalancerClass && sspec.loadBalancerClass !== 'io.cilium/l2-announcer') continue;
      if (!matchSelectorObject(spec.serviceSelector, svcLabels(s))) continue;
      const ips = (((s.status as { loadBalancer?: { ingress?: { ip?: string }[] } } | undefined)?.loadBalancer?.ingress) ?? []).map((i) => i.ip).filter((x): x is string => !!x);
      for (const ip of ips) {
        const sel = out.get(ip) ?? { ip, service: s, candidates: [] };
        for (const n of nodes) {
          if (!matchSelectorObject(spec.nodeSelector, n.labels)) continue;
          const iface = n.ifaces.find((i) => regexes.length === 0 || regexes.some((r) => r.test(i)));
          if (iface && !sel.candidates.some((c) => c.node === n.name)) sel.candidates.push({ node: n.name, iface });
        }
        out.set(ip, sel);
      }
    }
  }
  return [...out.values()];
}
