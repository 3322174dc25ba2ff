/**
 * The twin's `helm` (run on the control plane by the harness over SSH) and what the values mean for Cilium. Pure.
 *
 *   let release = installRelease({ version: twinVersion('1.18.14'), userValues, nowMs });     // the provisioned release
 *   const r = runHelm({ argv, release, version, nowMs, readFile });  // argv as the stand-in program received it
 *   r.stdout / r.stderr / r.code     what helm prints and exits with
 *   r.release                        the release after the call (write it back when r.changed)
 *   ciliumConfigFromValues(r.release.userValues)   -> cilium-config data the chart would render
 *   routingSettings(config) -> contract RoutingSettings; agentRouting(config) -> what `cilium-dbg status` reports
 *
 * Handles what the harness sends (helpers/cilium/cilium.ts helmUpgradeCommand, helmListCommand, helmGetValuesCommand):
 * `helm upgrade <rel> <chart> --namespace N --kubeconfig K --version X --reuse-values --set k=v --set-string k=v -f F`,
 * `helm list --namespace N --filter ^cilium$ --output json`, `helm get values cilium --namespace N --output json`,
 * plus `helm install`, `helm version`, the table/yaml outputs, `--reset-values`, `--set a=null`.
 *
 * Sources: helm 3 behaviour (strvals --set parsing and typing: true/false/null/integers typed, `{a,b}` lists, `\,`
 * escapes; --set-string keeps strings; --reuse-values merges onto the last release's user values; with neither
 * --reuse-values nor --reset-values and no new values the last values are reused; `helm get values` prints `null`
 * when there are none; `helm list -o json` fields name/namespace/revision/updated/status/chart/app_version, see
 * test/fixtures/kube/helm/), seed 001 (`helm get values cilium` → `USER-SUPPLIED VALUES:`), and for the chart's
 * rendering of cilium-config shared/docs/cilium-behaviour.md 2.1, 3, 4, 4.2 and 6, with the config key names taken from
 * helpers/cilium/needs.ts SETTING_MAP.
 */
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { mappingOf } from '../../../helpers/cilium/needs.ts';
import type { RoutingSettings } from '../contract.ts';
import type { TwinCiliumVersion } from './versions.ts';

export type Values = Record<string, unknown>;

export interface HelmReleaseState {
  name: string;
  namespace: string;
  chartVersion: string;
  appVersion: string;
  revision: number;
  updatedMs: number;
  status: 'deployed' | 'failed';
  userValues: Values;
}

export interface HelmResult {
  stdout: string;
  stderr: string;
  code: number;
  release: HelmReleaseState | null;
  changed: boolean;
}

// ---------------------------------------------------------------------------------------------
// --set parsing (helm's strvals, the subset a Cilium install uses)
// ---------------------------------------------------------------------------------------------

/** helm's typedVal: true/false (any case), null, and integers without a leading zero are typed; the rest stay strings. */
export function typedValue(s: string): unknown {
  if (/^true$/i.test(s)) return true;
  if (/^false$/i.test(s)) return false;
  if (s === 'null') return null;
  if (s === '0') return 0;
  if (/^[-+]?[1-9][0-9]*$/.test(s) && Number.isSafeInteger(Number(s))) return Number(s);
  return s;
}

/** Splits one --set argument into key=value pairs (top-level commas; `\` escapes; `{a,b}` is a list). */
export function parseSetArg(arg: string, asString: boolean): { path: string; value: unknown }[] {
  const out: { path: string; value: unknown }[] = [];
  let i = 0;
  while (i < arg.length) {
    const eq = arg.indexOf('=', i);
    if (eq < 0) throw new Error(`key "${arg.slice(i)}" has no value`);
    const path = arg.slice(i, eq);
    if (!/^[A-Za-z0-9_.-]+$/.test(path)) throw new Error(`key "${path}" is not a value path the twin understands`);
    i = eq + 1;
    if (arg[i] === '{') {
      const items: string[] = [];
      let cur = '';
      i++;
      for (; i < arg.length && arg[i] !== '}'; i++) {
        if (arg[i] === '\\' && i + 1 < arg.length) cur += arg[++i];
        else if (arg[i] === ',') {
          items.push(cur);
          cur = '';
        } else cur += arg[i];
      }
      if (arg[i] !== '}') throw new Error(`list for "${path}" is not closed with }`);
      items.push(cur);
      i++;
      out.push({
        path,
        value: items
          .filter((x, n) => !(x === '' && n === items.length - 1 && items.length === 1))
          .map((x) => (asString ? x : typedValue(x))),
      });
      if (arg[i] === ',') i++;
      continue;
    }
    let cur = '';
    for (; i < arg.length && arg[i] !== ','; i++) {
      if (arg[i] === '\\' && i + 1 < arg.length) cur += arg[++i];
      else cur += arg[i];
    }
    if (arg[i] === ',') i++;
    out.push({ path, value: asString ? cur : typedValue(cur) });
  }
  return out;
}

function isObject(v: unknown): v is Values {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets a dotted path in a values tree (a copy); a null stays, so that mergeValues deletes the key, as helm's coalescing does. */
export function setPath(values: Values, dotted: string, value: unknown): Values {
  const parts = dotted.split('.');
  const root: Values = structuredClone(values);
  let cur: Values = root;
  for (const p of parts.slice(0, -1)) {
    if (!isObject(cur[p])) cur[p] = {};
    cur = cur[p] as Values;
  }
  const last = parts[parts.length - 1]!;
  cur[last] = value;
  return root;
}

/** Deep merge, `over` wins; maps merge, everything else is replaced; null in `over` deletes. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = structuredClone(base);
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isObject(v) && isObject(out[k])) out[k] = mergeValues(out[k], v);
    else out[k] = structuredClone(v);
  }
  return out;
}

export function valueAt(values: unknown, dotted: string): unknown {
  let cur: unknown = values;
  for (const p of dotted.split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------
// argv
// ---------------------------------------------------------------------------------------------

export interface HelmArgs {
  command: string;
  positional: string[];
  namespace: string;
  version: string | null;
  reuseValues: boolean;
  resetValues: boolean;
  sets: { path: string; value: unknown }[];
  valuesFiles: string[];
  output: 'table' | 'json' | 'yaml';
  filter: string | null;
  all: boolean;
}

const FLAGS_WITH_VALUE = new Set([
  '--namespace',
  '-n',
  '--kubeconfig',
  '--version',
  '--set',
  '--set-string',
  '-f',
  '--values',
  '-o',
  '--output',
  '--filter',
  '--timeout',
  '--kube-context',
  '--revision',
  '--template',
]);

/** argv of `helm ...` (argv[0] may be "helm" or a path to it). */
export function parseHelmArgv(argv: string[]): HelmArgs {
  const args = /(^|\/)helm$/.test(argv[0] ?? '') ? argv.slice(1) : [...argv];
  const a: HelmArgs = {
    command: '',
    positional: [],
    namespace: 'default',
    version: null,
    reuseValues: false,
    resetValues: false,
    sets: [],
    valuesFiles: [],
    output: 'table',
    filter: null,
    all: false,
  };
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    let flag = args[i]!;
    let value: string | undefined;
    if (flag.startsWith('--') && flag.includes('=')) {
      value = flag.slice(flag.indexOf('=') + 1);
      flag = flag.slice(0, flag.indexOf('='));
    }
    if (!flag.startsWith('-')) {
      words.push(flag);
      continue;
    }
    if (FLAGS_WITH_VALUE.has(flag) && value === undefined) {
      value = args[++i];
      if (value === undefined) throw new Error(`flag needs an argument: ${flag}`);
    }
    switch (flag) {
      case '--namespace':
      case '-n':
        a.namespace = value!;
        break;
      case '--version':
        a.version = value!;
        break;
      case '--reuse-values':
        a.reuseValues = true;
        break;
      case '--reset-values':
        a.resetValues = true;
        break;
      case '--set':
        a.sets.push(...parseSetArg(value!, false));
        break;
      case '--set-string':
        a.sets.push(...parseSetArg(value!, true));
        break;
      case '-f':
      case '--values':
        a.valuesFiles.push(...value!.split(','));
        break;
      case '-o':
      case '--output':
        if (value !== 'json' && value !== 'yaml' && value !== 'table') throw new Error(`invalid format type "${value ?? ''}"`);
        a.output = value;
        break;
      case '--filter':
        a.filter = value!;
        break;
      case '-a':
      case '--all':
        a.all = true;
        break;
      default:
        // --kubeconfig, --timeout, --wait, --install ... accepted and ignored
        break;
    }
  }
  if (words[0] === 'get' && words[1] === 'values') {
    a.command = 'get values';
    a.positional = words.slice(2);
  } else {
    a.command = words[0] ?? '';
    a.positional = words.slice(1);
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

/** Go's time.Time.String() in UTC: "2026-12-04 12:00:00.123456789 +0000 UTC". */
export function goTimeString(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${iso.slice(20, 23)}000000 +0000 UTC`;
}

function listRow(r: HelmReleaseState): Record<string, string> {
  return {
    name: r.name,
    namespace: r.namespace,
    revision: String(r.revision),
    updated: goTimeString(r.updatedMs),
    status: r.status,
    chart: `cilium-${r.chartVersion}`,
    app_version: r.appVersion,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return (
    rows
      .map((r) =>
        r
          .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 1)))
          .join('\t')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function renderHelmList(releases: HelmReleaseState[], output: HelmArgs['output']): string {
  const rows = releases.map(listRow);
  if (output === 'json') return `${JSON.stringify(rows)}\n`;
  if (output === 'yaml') return stringifyYaml(rows);
  return table([
    ['NAME', 'NAMESPACE', 'REVISION', 'UPDATED', 'STATUS', 'CHART', 'APP VERSION'],
    ...rows.map((r) => [r.name!, r.namespace!, r.revision!, r.updated!, r.status!, r.chart!, r.app_version!]),
  ]);
}

export function renderHelmValues(values: Values, output: HelmArgs['output'], heading = 'USER-SUPPLIED VALUES:'): string {
  const empty = Object.keys(values).length === 0;
  if (output === 'json') return `${empty ? 'null' : JSON.stringify(values)}\n`;
  if (output === 'yaml') return empty ? 'null\n' : stringifyYaml(values);
  return `${heading}\n${empty ? 'null\n' : stringifyYaml(values)}`;
}

function deployedText(r: HelmReleaseState, verb: 'upgraded' | 'installed', minor: string): string {
  const d = new Date(r.updatedMs);
  const day = d.toUTCString().slice(0, 3);
  const mon = d.toUTCString().slice(8, 11);
  const when = `${day} ${mon} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()}`;
  const head = verb === 'upgraded' ? `Release "${r.name}" has been upgraded. Happy Helming!\n` : '';
  return `${head}NAME: ${r.name}\nLAST DEPLOYED: ${when}\nNAMESPACE: ${r.namespace}\nSTATUS: deployed\nREVISION: ${r.revision}\nTEST SUITE: None\nNOTES:\nYou have successfully ${verb} Cilium.\n\nYour release version is ${r.appVersion}.\n\nFor any further help, visit https://docs.cilium.io/en/v${minor}/gettinghelp\n`;
}

// ---------------------------------------------------------------------------------------------
// The chart's checks and its cilium-config
// ---------------------------------------------------------------------------------------------

/** Render-time failures of the chart for these user values (cilium-behaviour.md 4, 6), as helm prints them. */
export function chartRenderErrors(userValues: Values, version: TwinCiliumVersion): string[] {
  const errs: string[] = [];
  const kpr = valueAt(userValues, 'kubeProxyReplacement');
  if (kpr !== undefined && kpr !== true && kpr !== false && kpr !== 'true' && kpr !== 'false') {
    errs.push(
      'execution error at (cilium/templates/cilium-configmap.yaml): kubeProxyReplacement must be explicitly set to a valid value (true or false) to continue.',
    );
  }
  const native = valueAt(userValues, 'routingMode') === 'native';
  const masq = valueAt(userValues, 'enableIPv4Masquerade') !== false;
  if (version.helm.refusesNativeWithoutCidr && native && masq && !valueAt(userValues, 'ipv4NativeRoutingCIDR')) {
    errs.push('execution error at (cilium/templates/cilium-configmap.yaml): ipv4NativeRoutingCIDR must be set when routingMode is native');
  }
  return errs;
}

function key(helmPath: string): string {
  const m = mappingOf(helmPath);
  if (!m) throw new Error(`helpers/cilium/needs.ts SETTING_MAP has no mapping for ${helmPath}`);
  return m.configKey;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
const bool = (v: unknown, dflt: boolean): string => String(v === undefined || v === null || v === '' ? dflt : v === true || v === 'true');

/**
 * The cilium-config data the chart renders for these user values (the keys the harness and the twin read):
 * always: routing-mode (tunnel unless set), tunnel-protocol (vxlan unless set, also in native mode),
 * auto-direct-node-routes, direct-routing-skip-unreachable, kube-proxy-replacement, enable-bpf-masquerade,
 * enable-hubble, default-lb-service-ipam, ipam; only when set: ipv4-native-routing-cidr, the l2 lease keys,
 * k8s-client-qps/burst; only when enabled: enable-l2-announcements, the ingress keys.
 */
export function ciliumConfigFromValues(userValues: Values): Record<string, string> {
  const v = (p: string): unknown => valueAt(userValues, p);
  const c: Record<string, string> = {};
  c[key('routingMode')] = (v('routingMode') as string) || 'tunnel';
  c[key('tunnelProtocol')] = (v('tunnelProtocol') as string) || 'vxlan';
  c[key('autoDirectNodeRoutes')] = bool(v('autoDirectNodeRoutes'), false);
  c[key('directRoutingSkipUnreachable')] = bool(v('directRoutingSkipUnreachable'), false);
  if (v('ipv4NativeRoutingCIDR')) c[key('ipv4NativeRoutingCIDR')] = str(v('ipv4NativeRoutingCIDR'));
  c[key('kubeProxyReplacement')] = bool(v('kubeProxyReplacement'), false);
  c[key('bpf.masquerade')] = bool(v('bpf.masquerade'), false);
  c['enable-hubble'] = bool(v('hubble.enabled'), true);
  c[key('defaultLBServiceIPAM')] = (v('defaultLBServiceIPAM') as string) || 'lbipam';
  c['ipam'] = (v('ipam.mode') as string) || 'cluster-pool';
  const podCidrs = v('ipam.operator.clusterPoolIPv4PodCIDRList');
  c['cluster-pool-ipv4-cidr'] = Array.isArray(podCidrs)
    ? podCidrs.map(str).join(' ')
    : typeof podCidrs === 'string'
      ? podCidrs
      : '10.0.0.0/8';
  if (v('l2announcements.enabled') === true || v('l2announcements.enabled') === 'true') c[key('l2announcements.enabled')] = 'true';
  for (const p of [
    'l2announcements.leaseDuration',
    'l2announcements.leaseRenewDeadline',
    'l2announcements.leaseRetryPeriod',
    'k8sClientRateLimit.qps',
    'k8sClientRateLimit.burst',
  ]) {
    const x = v(p);
    if (x !== undefined && x !== null && x !== '') c[key(p)] = str(x);
  }
  // Issue 17: the chart renders the encryption key of the type only when encryption.enabled (unverified shape:
  // `enable-wireguard: "true"` for type wireguard, as cilium-configmap.yaml names the agent flag enable-wireguard).
  if ((v('encryption.enabled') === true || v('encryption.enabled') === 'true') && v('encryption.type') === 'wireguard')
    c['enable-wireguard'] = 'true';
  if (v('l2NeighDiscovery.enabled') !== undefined) c['enable-l2-neigh-discovery'] = bool(v('l2NeighDiscovery.enabled'), false);
  if (v('ingressController.enabled') === true || v('ingressController.enabled') === 'true') {
    c[key('ingressController.enabled')] = 'true';
    c['enable-envoy-config'] = 'true';
    c[key('ingressController.loadbalancerMode')] = (v('ingressController.loadbalancerMode') as string) || 'dedicated';
    c['ingress-shared-lb-service-name'] = (v('ingressController.service.name') as string) || 'cilium-ingress';
    c['enforce-ingress-https'] = bool(v('ingressController.enforceHttps'), true);
    c['ingress-lb-annotation-prefixes'] =
      'lbipam.cilium.io ingress.cilium.io service.beta.kubernetes.io service.kubernetes.io cloud.google.com';
  }
  if (v('bgpControlPlane.enabled') === true) c['enable-bgp-control-plane'] = 'true';
  if (v('externalIPs.enabled') !== undefined) c['enable-external-ips'] = bool(v('externalIPs.enabled'), false);
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => a.localeCompare(b)));
}

/** The contract's routing settings the agents program for this config. */
export function routingSettings(config: Record<string, string>): RoutingSettings {
  const mode = config['routing-mode'] === 'native' ? 'native' : 'tunnel';
  return {
    mode,
    autoDirectNodeRoutes: mode === 'native' && config['auto-direct-node-routes'] === 'true',
    // Issue 17: only when on, so the settings of a lab without WireGuard stay what they were.
    ...(config['enable-wireguard'] === 'true' ? { wireguard: true } : {}),
  };
}

export interface AgentRouting {
  kubeProxyReplacement: boolean;
  network: 'Tunnel' | 'Native';
  tunnelProtocol: string;
  /** BPF only with kube-proxy replacement and BPF masquerading (cilium-behaviour.md 4.1), else Legacy. */
  host: 'BPF' | 'Legacy';
  masquerade: 'BPF' | 'IPTables';
}

/** What `cilium-dbg status` reports for this config (cilium-behaviour.md 4.1, 5.2). */
export function agentRouting(config: Record<string, string>): AgentRouting {
  const kpr = config['kube-proxy-replacement'] === 'true';
  const bpfMasq = config['enable-bpf-masquerade'] === 'true';
  return {
    kubeProxyReplacement: kpr,
    network: config['routing-mode'] === 'native' ? 'Native' : 'Tunnel',
    tunnelProtocol: config['tunnel-protocol'] || 'vxlan',
    host: kpr && bpfMasq && config['enable-host-legacy-routing'] !== 'true' ? 'BPF' : 'Legacy',
    masquerade: bpfMasq ? 'BPF' : 'IPTables',
  };
}

/** Why an agent with this config does not start (1.17: native routing without a native routing CIDR), or null. */
export function agentStartError(config: Record<string, string>, version: TwinCiliumVersion): string | null {
  if (config['direct-routing-skip-unreachable'] === 'true' && config['auto-direct-node-routes'] !== 'true') {
    return 'Flag direct-routing-skip-unreachable cannot be enabled when auto-direct-node-routes is not enabled';
  }
  if (version.agent.refusesNativeWithoutCidr && config['routing-mode'] === 'native' && !config['ipv4-native-routing-cidr'])
    return version.agent.nativeCidrError;
  return null;
}

// ---------------------------------------------------------------------------------------------
// The commands
// ---------------------------------------------------------------------------------------------

export function installRelease(o: { version: TwinCiliumVersion; userValues: Values; nowMs: number; namespace?: string }): HelmReleaseState {
  return {
    name: 'cilium',
    namespace: o.namespace ?? 'kube-system',
    chartVersion: o.version.chartVersion,
    appVersion: o.version.appVersion,
    revision: 1,
    updatedMs: o.nowMs,
    status: 'deployed',
    userValues: structuredClone(o.userValues),
  };
}

const fail = (release: HelmReleaseState | null, msg: string): HelmResult => ({
  stdout: '',
  stderr: `Error: ${msg}\n`,
  code: 1,
  release,
  changed: false,
});

/**
 * One `helm` invocation against the twin's single release. `readFile` resolves `-f` paths on the twin host (null: missing).
 */
export function runHelm(o: {
  argv: string[];
  release: HelmReleaseState | null;
  version: TwinCiliumVersion;
  nowMs: number;
  readFile?: (path: string) => string | null;
}): HelmResult {
  const { release, version } = o;
  let a: HelmArgs;
  try {
    a = parseHelmArgv(o.argv);
  } catch (err) {
    return fail(release, (err as Error).message);
  }
  const inNs = (r: HelmReleaseState | null): r is HelmReleaseState => r !== null && r.namespace === a.namespace;
  switch (a.command) {
    case 'version':
      return {
        stdout: 'version.BuildInfo{Version:"v3.21.4", GitCommit:"", GitTreeState:"clean", GoVersion:"go1.25"}\n',
        stderr: '',
        code: 0,
        release,
        changed: false,
      };
    case 'list':
    case 'ls': {
      let rows = inNs(release) ? [release] : [];
      if (a.filter !== null) {
        let re: RegExp;
        try {
          re = new RegExp(a.filter);
        } catch {
          return fail(release, `error parsing regexp: ${a.filter}`);
        }
        rows = rows.filter((r) => re.test(r.name));
      }
      return { stdout: renderHelmList(rows, a.output), stderr: '', code: 0, release, changed: false };
    }
    case 'get values': {
      const name = a.positional[0];
      if (!name) return fail(release, '"helm get values" requires 1 argument');
      if (!inNs(release) || release.name !== name) return fail(release, 'release: not found');
      const values = a.all ? mergeValues(chartDefaults(), release.userValues) : release.userValues;
      return {
        stdout: renderHelmValues(values, a.output, a.all ? 'COMPUTED VALUES:' : 'USER-SUPPLIED VALUES:'),
        stderr: '',
        code: 0,
        release,
        changed: false,
      };
    }
    case 'upgrade':
    case 'install': {
      const [name, chart] = a.positional;
      if (!name || !chart) return fail(release, `"helm ${a.command}" requires 2 arguments`);
      if (a.version !== null && a.version !== version.chartVersion) {
        return fail(release, `the lab twin runs Cilium ${version.chartVersion} and cannot change the chart to ${a.version}`);
      }
      const exists = inNs(release) && release.name === name;
      if (a.command === 'install' && exists) return fail(release, 'INSTALLATION FAILED: cannot re-use a name that is still in use');
      if (a.command === 'upgrade' && !exists) return fail(release, `UPGRADE FAILED: "${name}" has no deployed releases`);
      let fresh: Values = {};
      for (const f of a.valuesFiles) {
        const text = o.readFile?.(f) ?? null;
        if (text === null) return fail(release, `open ${f}: no such file or directory`);
        const doc: unknown = parseYaml(text);
        if (doc !== null && doc !== undefined && !isObject(doc)) return fail(release, `failed to parse ${f}: not a map of values`);
        fresh = mergeValues(fresh, (doc as Values | null) ?? {});
      }
      for (const s of a.sets) fresh = setPath(fresh, s.path, s.value);
      const noNew = a.valuesFiles.length === 0 && a.sets.length === 0;
      const base = exists && (a.reuseValues || (!a.resetValues && noNew)) ? release.userValues : {};
      const userValues = mergeValues(base, fresh);
      const errs = chartRenderErrors(userValues, version);
      if (errs.length > 0) return fail(release, `${a.command === 'upgrade' ? 'UPGRADE' : 'INSTALLATION'} FAILED: ${errs.join('; ')}`);
      const next: HelmReleaseState = {
        name,
        namespace: a.namespace,
        chartVersion: version.chartVersion,
        appVersion: version.appVersion,
        revision: exists ? release.revision + 1 : 1,
        updatedMs: o.nowMs,
        status: 'deployed',
        userValues,
      };
      return {
        stdout: deployedText(next, a.command === 'upgrade' ? 'upgraded' : 'installed', version.minor),
        stderr: '',
        code: 0,
        release: next,
        changed: true,
      };
    }
    default:
      return fail(release, `the lab twin's helm does not implement "${a.command || '(no command)'}"`);
  }
}

/** The chart defaults the twin knows of (for `helm get values --all`); the rest of the chart is not modelled. */
export function chartDefaults(): Values {
  return {
    routingMode: '',
    tunnelProtocol: '',
    autoDirectNodeRoutes: false,
    kubeProxyReplacement: 'false',
    l2announcements: { enabled: false },
    ingressController: { enabled: false, loadbalancerMode: 'dedicated' },
    hubble: { enabled: true },
    defaultLBServiceIPAM: 'lbipam',
    ipam: { mode: 'cluster-pool' },
    rollOutCiliumPods: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Objects the chart adds for the ingress controller
// ---------------------------------------------------------------------------------------------

/**
 * What the chart renders besides the agents when `ingressController.enabled` is true (cilium-behaviour.md 3):
 * IngressClass `cilium` (controller cilium.io/ingress-controller) and the shared LoadBalancer Service
 * `kube-system/<ingressController.service.name>` (default cilium-ingress, label cilium.io/ingress: "true", ports 80
 * http and 443 https) — rendered whatever the default load-balancer mode, so it takes a pool IP. The dummy Endpoints
 * (192.192.192.192:9999) are left to the API side. Empty when the ingress controller is off.
 */
export function chartIngressObjects(userValues: Values, namespace = 'kube-system'): Values[] {
  const on = valueAt(userValues, 'ingressController.enabled');
  if (on !== true && on !== 'true') return [];
  const name = (valueAt(userValues, 'ingressController.service.name') as string) || 'cilium-ingress';
  const type = (valueAt(userValues, 'ingressController.service.type') as string) || 'LoadBalancer';
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'cilium' },
      spec: { controller: 'cilium.io/ingress-controller' },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace, labels: { 'cilium.io/ingress': 'true' } },
      spec: {
        type,
        ports: [
          { name: 'http', port: 80, protocol: 'TCP' },
          { name: 'https', port: 443, protocol: 'TCP' },
        ],
      },
    },
  ];
}
