/**
 * What a suite needs from the lab, and the pure decisions around it: how a helm value path shows up in the
 * cilium-config ConfigMap, whether the running Cilium already gives a suite what it needs, what a helm upgrade must
 * change, and the run plan (which suites trigger a helm upgrade, and which settings each upgrade folds in).
 *
 * Facts about cilium-config come from shared/docs/cilium-behaviour.md sections 2.1, 3, 4 and 4.2. No I/O here.
 *
 * The fold rule (fewest helm upgrades the scenarios allow)
 * --------------------------------------------------------
 * Suites run in file order. Before suite i runs, its own needs are compared with what is running. When they are all
 * met, nothing is upgraded, whatever later suites need. When something is unmet, one helm upgrade is made anyway, so
 * it also sets what the suites after i (in this run) will need, walking them in order, key by key:
 *   - a key nobody before has asked for is folded in with the first value a later suite asks for;
 *   - a key already in the upgrade (from suite i or an earlier fold) with the same value stays;
 *   - a key a later suite wants with a different value is left alone, for good: that suite will make its own
 *     upgrade, and no suite after it gets that key folded either.
 * A suite only ever declares what it depends on, so a folded setting never changes anything a suite between i and
 * the folding suite asked for (those keys were seen first and are either in the upgrade already or blocked).
 * A suite run alone has no later suites, so it converges to exactly its own needs.
 *
 * Needs "off" (issue 17): a suite declares what must be OFF as well as on when its assertions depend on it, e.g.
 * `'encryption.enabled': false` in a suite that asserts what the wire shows (20-vxlan: bare UDP 8472). Such a key is
 * then "asked for" by that suite, so the rule above never folds a later suite's `true` into an upgrade made for it or
 * for any suite before it: the later suite makes its own upgrade. Without the declaration, WireGuard (80-wireguard)
 * would be folded into the upgrade before 20-vxlan and break it (test/helpers/cilium/needs.test.ts, counter-example).
 * An "off" key costs no upgrade where the lab already has it off: an unmapped key the release's user values do not
 * name reads as the chart's default (CHART_DEFAULTS).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type SettingValue = string | number | boolean;
/** Helm value paths, e.g. { routingMode: 'tunnel', tunnelProtocol: 'vxlan', 'l2announcements.enabled': true }. */
export type CiliumSettings = Record<string, SettingValue>;
export type Workload = 'webpod' | 'curl-pod';
export const WORKLOADS: readonly Workload[] = ['webpod', 'curl-pod'];

export interface SuiteNeeds {
  cilium?: CiliumSettings;
  workloads?: Workload[];
  /** Breaks the lab for a while (reboots a node): excluded from default runs by a tag. */
  destructive?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Helm value path <-> cilium-config key
// ---------------------------------------------------------------------------------------------

export interface SettingMapping {
  helm: string;
  configKey: string;
  kind: 'bool' | 'string';
  /**
   * What it means when the key is absent from cilium-config. `undefined`: unknown (never equal to a wanted value,
   * so an absent key leads to an upgrade that sets it explicitly).
   */
  whenAbsent?: SettingValue;
  /** Where in cilium-behaviour.md the mapping is stated. */
  source: string;
}

export const SETTING_MAP: readonly SettingMapping[] = [
  { helm: 'routingMode', configKey: 'routing-mode', kind: 'string', source: '4: always present' },
  // tunnel-protocol stays present (vxlan) even in native mode: it says nothing about the routing mode.
  { helm: 'tunnelProtocol', configKey: 'tunnel-protocol', kind: 'string', source: '4: always present, also in native mode' },
  { helm: 'autoDirectNodeRoutes', configKey: 'auto-direct-node-routes', kind: 'bool', source: '4: always rendered' },
  { helm: 'directRoutingSkipUnreachable', configKey: 'direct-routing-skip-unreachable', kind: 'bool', source: '4, 4.2' },
  { helm: 'ipv4NativeRoutingCIDR', configKey: 'ipv4-native-routing-cidr', kind: 'string', whenAbsent: '', source: '4.2: only when set' },
  { helm: 'kubeProxyReplacement', configKey: 'kube-proxy-replacement', kind: 'bool', source: '4: always rendered' },
  { helm: 'bpf.masquerade', configKey: 'enable-bpf-masquerade', kind: 'bool', source: '4.2' },
  {
    helm: 'l2announcements.enabled',
    configKey: 'enable-l2-announcements',
    kind: 'bool',
    whenAbsent: false,
    source: '2.1: absent when disabled',
  },
  {
    helm: 'l2announcements.leaseDuration',
    configKey: 'l2-announcements-lease-duration',
    kind: 'string',
    whenAbsent: '15s',
    source: '2.1: absent unless set, agent default 15s',
  },
  {
    helm: 'l2announcements.leaseRenewDeadline',
    configKey: 'l2-announcements-renew-deadline',
    kind: 'string',
    whenAbsent: '5s',
    source: '2.1: absent unless set, agent default 5s',
  },
  {
    helm: 'l2announcements.leaseRetryPeriod',
    configKey: 'l2-announcements-retry-period',
    kind: 'string',
    whenAbsent: '2s',
    source: '2.1: absent unless set, agent default 2s',
  },
  {
    helm: 'k8sClientRateLimit.qps',
    configKey: 'k8s-client-qps',
    kind: 'string',
    whenAbsent: '10',
    source: '2.1: absent unless set, agent default 10',
  },
  {
    helm: 'k8sClientRateLimit.burst',
    configKey: 'k8s-client-burst',
    kind: 'string',
    whenAbsent: '20',
    source: '2.1: absent unless set, agent default 20',
  },
  // VERIFY: cilium-behaviour.md 3 says the chart renders `enable-ingress-controller: "true"` when enabled; it does not
  // say what is rendered when disabled. Absent is read as disabled; a rendered "false" reads as false anyway.
  { helm: 'ingressController.enabled', configKey: 'enable-ingress-controller', kind: 'bool', whenAbsent: false, source: '3' },
  { helm: 'ingressController.loadbalancerMode', configKey: 'ingress-default-lb-mode', kind: 'string', source: '3' },
  { helm: 'defaultLBServiceIPAM', configKey: 'default-lb-service-ipam', kind: 'string', source: '1.4' },
  // Not mapped on purpose: loadBalancer.l7.backend (cilium-behaviour.md names no config key for it). Unmapped
  // settings are compared with the release's user-supplied helm values instead (see runningLookup).
];

const BY_HELM = new Map(SETTING_MAP.map((m) => [m.helm, m]));

/**
 * Chart defaults of unmapped settings: what the running Cilium has when the release's user-supplied values do not
 * name the key (`helm get values` prints only what the user set). Source: cilium/cilium
 * install/kubernetes/cilium/values.yaml (`encryption.enabled: false`, `encryption.type: ipsec`), read in December 2026.
 */
export const CHART_DEFAULTS: Readonly<Record<string, SettingValue>> = {
  'encryption.enabled': false,
  'encryption.type': 'ipsec',
};

export function mappingOf(helmPath: string): SettingMapping | undefined {
  return BY_HELM.get(helmPath);
}

/** A value in a form two values can be compared in: booleans for bool settings ("true"/"True"/true), trimmed strings otherwise. */
export function normalizeSetting(helmPath: string, value: unknown): SettingValue | undefined {
  if (value === undefined || value === null) return undefined;
  const kind = mappingOf(helmPath)?.kind;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return kind === 'bool' ? value : String(value);
  if (typeof value !== 'string') return JSON.stringify(value);
  const s = value.trim();
  if (kind === 'bool' || kind === undefined) {
    if (/^true$/i.test(s)) return true;
    if (/^false$/i.test(s)) return false;
  }
  return s;
}

export function sameSetting(helmPath: string, a: unknown, b: unknown): boolean {
  const na = normalizeSetting(helmPath, a);
  const nb = normalizeSetting(helmPath, b);
  return na !== undefined && nb !== undefined && na === nb;
}

// ---------------------------------------------------------------------------------------------
// Running state and the diff
// ---------------------------------------------------------------------------------------------

/** Where a setting's running value was read. */
export type Lookup = (helmPath: string) => { value: SettingValue | undefined; via: string };

export interface RunningSettings {
  /** cilium-config ConfigMap data. */
  config: Record<string, string>;
  /** The release's user-supplied values (`helm get values -o json`), or null when not read. */
  helmValues: unknown;
}

function valueAtPath(tree: unknown, dotted: string): unknown {
  let cur: unknown = tree;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** How the running Cilium answers "what is <helm path>?": through cilium-config when mapped, else the helm values. */
export function runningLookup(running: RunningSettings): Lookup {
  return (helmPath) => {
    const m = mappingOf(helmPath);
    if (m) {
      const raw = running.config[m.configKey];
      if (raw !== undefined) return { value: normalizeSetting(helmPath, raw), via: `cilium-config ${m.configKey}` };
      return { value: m.whenAbsent, via: `cilium-config ${m.configKey} (absent)` };
    }
    if (running.helmValues === null || running.helmValues === undefined) return { value: undefined, via: 'helm values (not read)' };
    const set = valueAtPath(running.helmValues, helmPath);
    if ((set === undefined || set === null) && helmPath in CHART_DEFAULTS)
      return { value: CHART_DEFAULTS[helmPath], via: 'chart default (not in the helm user-supplied values)' };
    return { value: normalizeSetting(helmPath, set), via: 'helm user-supplied values' };
  };
}

/** A lookup over plain helm-level settings (the plan's simulated lab state). */
export function settingsLookup(state: CiliumSettings): Lookup {
  return (helmPath) => ({ value: normalizeSetting(helmPath, state[helmPath]), via: 'planned state' });
}

export interface Change {
  key: string;
  /** The running value (normalized), or null when absent/unknown. */
  from: SettingValue | null;
  to: SettingValue;
  /** Where `from` was read. */
  via: string;
}

/** The wanted settings the running lab does not have yet, in the order they were given. */
export function diffSettings(wanted: CiliumSettings, running: Lookup): Change[] {
  const out: Change[] = [];
  for (const [key, to] of Object.entries(wanted)) {
    const { value, via } = running(key);
    if (!sameSetting(key, to, value)) out.push({ key, from: value ?? null, to, via });
  }
  return out;
}

/** Keys set in both with different values. */
export function conflicts(a: CiliumSettings, b: CiliumSettings): string[] {
  return Object.keys(a).filter((k) => k in b && !sameSetting(k, a[k], b[k]));
}

// ---------------------------------------------------------------------------------------------
// Consistency of a resulting configuration
// ---------------------------------------------------------------------------------------------

export interface SettingsCheck {
  /** Settings that must change along with the wanted ones, with the reason. */
  implied: { key: string; value: SettingValue; reason: string }[];
  /** Combinations that cannot work; an upgrade must not be attempted. */
  problems: string[];
}

/**
 * Checks what the lab would run after setting `wanted` on top of `running`:
 * - routingMode=native with IPv4 masquerade needs ipv4NativeRoutingCIDR, else helm fails to render (4);
 * - l2announcements needs kube-proxy replacement (2.1, documented prerequisite);
 * - the ingress controller needs kube-proxy replacement or nodePort.enabled (3);
 * - auto-direct-node-routes off with direct-routing-skip-unreachable on is refused (4); the latter is switched off.
 */
export function checkSettings(wanted: CiliumSettings, running: Lookup): SettingsCheck {
  const after = (k: string): SettingValue | undefined => (k in wanted ? normalizeSetting(k, wanted[k]) : running(k).value);
  const implied: SettingsCheck['implied'] = [];
  const problems: string[] = [];

  if (after('routingMode') === 'native' && !after('ipv4NativeRoutingCIDR')) {
    problems.push('routingMode=native needs ipv4NativeRoutingCIDR (helm: "ipv4NativeRoutingCIDR must be set when routingMode is native")');
  }
  if (after('l2announcements.enabled') === true && after('kubeProxyReplacement') !== true) {
    problems.push('l2announcements.enabled=true needs kubeProxyReplacement=true (documented prerequisite)');
  }
  if (after('ingressController.enabled') === true && after('kubeProxyReplacement') !== true && after('nodePort.enabled') !== true) {
    problems.push('ingressController.enabled=true needs kubeProxyReplacement=true or nodePort.enabled=true');
  }
  // VERIFY: the refusal of direct-routing-skip-unreachable without auto-direct-node-routes comes from third-party
  // notes quoted in cilium-behaviour.md 4 ("Flag direct-routing-skip-unreachable cannot be enabled when
  // auto-direct-node-routes is not enabled").
  if (
    after('autoDirectNodeRoutes') === false &&
    after('directRoutingSkipUnreachable') === true &&
    !('directRoutingSkipUnreachable' in wanted)
  ) {
    implied.push({
      key: 'directRoutingSkipUnreachable',
      value: false,
      reason: 'autoDirectNodeRoutes=false: the agent refuses direct-routing-skip-unreachable without auto-direct-node-routes',
    });
  }
  return { implied, problems };
}

// ---------------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------------

/** The suite file name for a path, a file: URL (import.meta.url) or a bare name. */
export function suiteFileName(fileOrUrl: string): string {
  const p = fileOrUrl.startsWith('file:') ? fileURLToPath(fileOrUrl) : fileOrUrl;
  return path.basename(p);
}

/** The planned suites among `files` (paths, URLs or names), in plan order; unknown files are ignored. */
export function selectPlanned(plan: readonly PlannedSuite[], files: readonly string[]): PlannedSuite[] {
  const names = new Set(files.map(suiteFileName));
  return plan.filter((s) => names.has(s.file));
}

export interface PlannedSuite {
  file: string;
  title: string;
  needs: SuiteNeeds;
}

export interface Folded {
  key: string;
  value: SettingValue;
  /** The later suite(s) that asked for it. */
  for: string[];
}

/** The suite's own needs plus what later suites need that can be set in the same upgrade (the fold rule above). */
export function foldLater(
  own: CiliumSettings,
  later: { file: string; cilium: CiliumSettings }[],
): { merged: CiliumSettings; folded: Folded[] } {
  const merged: CiliumSettings = { ...own };
  const folded = new Map<string, Folded>();
  const blocked = new Set<string>();
  for (const s of later) {
    for (const [key, value] of Object.entries(s.cilium)) {
      if (blocked.has(key)) continue;
      if (key in merged) {
        if (!sameSetting(key, merged[key], value)) blocked.add(key);
        else folded.get(key)?.for.push(s.file);
        continue;
      }
      merged[key] = value;
      folded.set(key, { key, value, for: [s.file] });
    }
  }
  return { merged, folded: [...folded.values()] };
}

export interface Target {
  /** What the upgrade sets (own needs + folded + implied), or null when the suite's needs are already met. */
  wanted: CiliumSettings | null;
  unmet: Change[];
  folded: Folded[];
  implied: SettingsCheck['implied'];
  problems: string[];
}

/** What to converge to before suite `index` of `suites` runs, given the running lab. */
export function convergeTarget(suites: readonly PlannedSuite[], index: number, running: Lookup): Target {
  const suite = suites[index];
  if (!suite) throw new Error(`no suite at position ${index} (of ${suites.length})`);
  const own = suite.needs.cilium ?? {};
  const unmet = diffSettings(own, running);
  if (unmet.length === 0) return { wanted: null, unmet, folded: [], implied: [], problems: [] };
  const later = suites.slice(index + 1).map((s) => ({ file: s.file, cilium: s.needs.cilium ?? {} }));
  const { merged, folded } = foldLater(own, later);
  const { implied, problems } = checkSettings(merged, running);
  const wanted = { ...merged, ...Object.fromEntries(implied.map((i) => [i.key, i.value])) };
  return { wanted, unmet, folded, implied, problems };
}

export interface PlanStep extends PlannedSuite {
  /** null: the suite's needs are met by the state left by earlier steps. */
  upgrade: null | { number: number; changes: Change[]; folded: Folded[]; implied: SettingsCheck['implied'] };
}

export interface RunPlan {
  base: CiliumSettings;
  steps: PlanStep[];
  helmUpgrades: number;
}

export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

/** Simulates a run of `suites` (in the given order) starting from `base`. */
export function planRun(suites: readonly PlannedSuite[], base: CiliumSettings): RunPlan {
  let state: CiliumSettings = { ...base };
  let upgrades = 0;
  const steps: PlanStep[] = suites.map((suite, i) => {
    const t = convergeTarget(suites, i, settingsLookup(state));
    if (t.problems.length > 0) throw new PlanError(`${suite.file}: ${t.problems.join('; ')}`);
    if (t.wanted === null) return { ...suite, upgrade: null };
    const changes = diffSettings(t.wanted, settingsLookup(state));
    state = { ...state, ...t.wanted };
    upgrades++;
    const changedKeys = new Set(changes.map((c) => c.key));
    return {
      ...suite,
      upgrade: { number: upgrades, changes, folded: t.folded.filter((f) => changedKeys.has(f.key)), implied: t.implied },
    };
  });
  return { base, steps, helmUpgrades: upgrades };
}

export function formatSettings(s: CiliumSettings): string {
  const entries = Object.entries(s);
  return entries.length === 0 ? '(none)' : entries.map(([k, v]) => `${k}=${String(v)}`).join(', ');
}

/** The contract's short names: diff(wanted, running) and plan(suites, base). */
export { diffSettings as diff, planRun as plan };
