/**
 * Cilium as it runs in the lab, and bringing it to the settings a suite needs.
 *
 * - runningCilium: the cilium-config ConfigMap, `cilium-dbg status -o json` in every agent pod (container
 *   cilium-agent), and the agent image actually running with its version.
 * - ensureCilium: compares wanted helm settings with the running ones (helpers/cilium/needs.ts) and, only when they differ,
 *   runs `helm upgrade cilium cilium/cilium --version <running chart version> --reuse-values --set ...` on the
 *   control plane over SSH (the lab provisions the `cilium` helm repo there), restarts the operator and the agents,
 *   waits for both rollouts and for every agent to report Ok (cilium-behaviour.md 5.2 `.cilium.state`), checks the
 *   agents now route as asked, and returns what changed.
 * - l2AnnounceTable: the agent's l2-announce table on one node (cilium-behaviour.md 2.5).
 *
 * The helm command line, the version parsing and the agent/settings comparison are pure and unit-tested.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { DEADLINE } from '../wait/deadlines.ts';
import {
  diffSettings,
  normalizeSetting,
  runningLookup,
  checkSettings,
  formatSettings,
  type Change,
  type CiliumSettings,
  type RunningSettings,
} from './needs.ts';
import { parseCiliumDbgStatus, type CiliumDbgStatus, type AgentState } from '../parse/cilium-status.ts';
import { parseL2AnnounceTable, type L2AnnounceEntry } from '../parse/l2announce.ts';
import { parseEncryptionStatus } from '../parse/encryption.ts';
import { pollUntil, type Clock } from '../wait/retry.ts';
import type { Kube } from '../kube/index.ts';
import type { SshPool } from '../transport/ssh.ts';
import { controlPlane, kubeNodes, type Topology } from '../lab/topology.ts';

export type { CiliumSettings } from './needs.ts';

export const CILIUM_NAMESPACE = 'kube-system';
export const CILIUM_CONFIGMAP = 'cilium-config';
export const AGENT_SELECTOR = 'k8s-app=cilium';
export const AGENT_CONTAINER = 'cilium-agent';
export const HELM_RELEASE = 'cilium';
export const HELM_CHART = 'cilium/cilium';
/** kubeadm always writes it on the control plane; helm runs as root there. */
export const ADMIN_KUBECONFIG = '/etc/kubernetes/admin.conf';

/** What Cilium control needs from the lab: the Kubernetes client, the SSH pool and the topology (not the Lab fixture). */
export interface CiliumLab {
  kube: Kube;
  ssh: SshPool;
  topology: Topology;
}

// ---------------------------------------------------------------------------------------------
// Pure parts
// ---------------------------------------------------------------------------------------------

/** POSIX shell single-quoting. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const HELM_KEY = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * One `--set`/`--set-string` argument. Helm's --set parser splits on commas, reads `{a,b}` as a list and `\` as an
 * escape, so those are escaped; booleans and numbers go through --set (typed), everything else through
 * --set-string so that no string is re-typed by helm.
 */
export function helmSetArgs(key: string, value: string | number | boolean): string[] {
  if (!HELM_KEY.test(key))
    throw new Error(`"${key}" is not a helm value path this harness will pass to --set (letters, digits, _ - and dots only)`);
  const v = normalizeSetting(key, value);
  if (typeof v === 'boolean') return ['--set', `${key}=${String(v)}`];
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${key}: ${value} is not a finite number`);
    return ['--set', `${key}=${value}`];
  }
  const s = String(v).replace(/\\/g, '\\\\').replace(/,/g, '\\,').replace(/^\{/, '\\{');
  return ['--set-string', `${key}=${s}`];
}

export interface HelmUpgrade {
  version: string;
  set: CiliumSettings;
  release?: string;
  chart?: string;
  namespace?: string;
  kubeconfig?: string;
}

/** The shell command line of the upgrade, every argument quoted. Never changes the chart version (`--version`). */
export function helmUpgradeCommand(o: HelmUpgrade): string {
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(o.version)) throw new Error(`"${o.version}" is not a chart version`);
  const entries = Object.entries(o.set);
  if (entries.length === 0) throw new Error('helm upgrade with nothing to set');
  const argv = [
    'helm',
    'upgrade',
    o.release ?? HELM_RELEASE,
    o.chart ?? HELM_CHART,
    '--namespace',
    o.namespace ?? CILIUM_NAMESPACE,
    '--kubeconfig',
    o.kubeconfig ?? ADMIN_KUBECONFIG,
    '--version',
    o.version,
    '--reuse-values',
    ...entries.flatMap(([k, v]) => helmSetArgs(k, v)),
  ];
  return argv.map(shellQuote).join(' ');
}

export function helmListCommand(): string {
  return [
    'helm',
    'list',
    '--namespace',
    CILIUM_NAMESPACE,
    '--kubeconfig',
    ADMIN_KUBECONFIG,
    '--filter',
    `^${HELM_RELEASE}$`,
    '--output',
    'json',
  ]
    .map(shellQuote)
    .join(' ');
}

export function helmGetValuesCommand(): string {
  return ['helm', 'get', 'values', HELM_RELEASE, '--namespace', CILIUM_NAMESPACE, '--kubeconfig', ADMIN_KUBECONFIG, '--output', 'json']
    .map(shellQuote)
    .join(' ');
}

export interface HelmRelease {
  name: string;
  chartVersion: string;
  appVersion: string;
  status: string;
}

/** `helm list -o json`: the release's chart version from `chart` ("cilium-1.18.1"). */
export function parseHelmList(text: string, release = HELM_RELEASE): HelmRelease {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`helm list: output is not JSON: ${text.slice(0, 200)}`);
  }
  if (!Array.isArray(doc)) throw new Error('helm list: output is not a JSON array');
  const rel = (doc as { name?: unknown; chart?: unknown; app_version?: unknown; status?: unknown }[]).find((r) => r.name === release);
  if (!rel) throw new Error(`helm list: no release "${release}" in ${CILIUM_NAMESPACE}`);
  const chart = typeof rel.chart === 'string' ? rel.chart : '';
  const m = /^(.+)-(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/.exec(chart);
  if (!m) throw new Error(`helm list: cannot read a chart version from "${chart}"`);
  return {
    name: release,
    chartVersion: m[2] as string,
    appVersion: typeof rel.app_version === 'string' ? rel.app_version : '',
    status: typeof rel.status === 'string' ? rel.status : '',
  };
}

/** `helm get values -o json`: the user-supplied values (helm prints `null` when there are none). */
export function parseHelmValues(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(text.trim() || 'null');
  } catch {
    throw new Error(`helm get values: output is not JSON: ${text.slice(0, 200)}`);
  }
  if (doc === null) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('helm get values: output is not a JSON object');
  return doc as Record<string, unknown>;
}

/** The Cilium version in an image reference: quay.io/cilium/cilium:v1.18.1@sha256:... -> 1.18.1; null without a version tag. */
export function ciliumVersionFromImage(image: string): string | null {
  const noDigest = image.split('@')[0] ?? '';
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.indexOf(':', lastSlash + 1);
  if (colon < 0) return null;
  const m = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/.exec(noDigest.slice(colon + 1));
  return m ? (m[1] as string) : null;
}

/**
 * What an agent's status says that contradicts the wanted settings (routing mode, tunnel protocol, kube-proxy
 * replacement; cilium-behaviour.md 4.1/5.2). Empty when it agrees or the settings do not touch these.
 */
export function agentMismatches(wanted: CiliumSettings, status: CiliumDbgStatus): string[] {
  const out: string[] = [];
  const mode = normalizeSetting('routingMode', wanted.routingMode);
  if (mode === 'tunnel' && status.routing.network !== 'Tunnel') out.push(`routing ${status.routing.network}, wanted Tunnel`);
  if (mode === 'native' && status.routing.network !== 'Native') out.push(`routing ${status.routing.network}, wanted Native`);
  const proto = normalizeSetting('tunnelProtocol', wanted.tunnelProtocol);
  if (proto !== undefined && status.routing.network === 'Tunnel' && status.routing.tunnelProtocol !== proto) {
    out.push(`tunnel protocol ${status.routing.tunnelProtocol ?? 'none'}, wanted ${String(proto)}`);
  }
  const kpr = normalizeSetting('kubeProxyReplacement', wanted.kubeProxyReplacement);
  if (typeof kpr === 'boolean' && status.kubeProxyReplacement !== kpr)
    out.push(`KubeProxyReplacement ${status.kubeProxyReplacement ? 'True' : 'False'}, wanted ${kpr ? 'True' : 'False'}`);
  return out;
}

/**
 * Issue 17: what an agent's `cilium-dbg status -o json` says of encryption that contradicts the wanted settings.
 * Wanted on: the mode of the type (`Wireguard` for wireguard, else `IPsec`: api/v1/models/encryption_status.go enum).
 * Wanted off: any mode other than `Disabled`; a status without an encryption part is accepted (not seen on a lab yet).
 */
export function encryptionMismatches(wanted: CiliumSettings, raw: unknown): string[] {
  const on = normalizeSetting('encryption.enabled', wanted['encryption.enabled']);
  if (typeof on !== 'boolean') return [];
  let mode: string | null = null;
  try {
    mode = parseEncryptionStatus(raw).mode;
  } catch {
    mode = null;
  }
  if (on) {
    const want = normalizeSetting('encryption.type', wanted['encryption.type']) === 'wireguard' ? 'Wireguard' : 'IPsec';
    return mode === want ? [] : [`encryption ${mode ?? 'not reported'}, wanted ${want}`];
  }
  return mode === null || mode === 'Disabled' ? [] : [`encryption ${mode}, wanted Disabled`];
}

// ---------------------------------------------------------------------------------------------
// Reading what runs
// ---------------------------------------------------------------------------------------------

export interface AgentStatus {
  node: string;
  pod: string;
  status: CiliumDbgStatus;
  state: AgentState | null;
  healthy: boolean;
  raw: unknown;
}

export interface RunningCilium {
  config: Record<string, string>;
  agents: AgentStatus[];
  /** The cilium-agent image of the first agent pod; `images` lists every distinct one (differs mid-rollout). */
  image: string;
  images: string[];
  /** From the image tag, else the helm chart's version. */
  version: string;
}

export async function ciliumConfig(lab: Pick<CiliumLab, 'kube'>): Promise<Record<string, string>> {
  const cm = await lab.kube.core.readNamespacedConfigMap({ name: CILIUM_CONFIGMAP, namespace: CILIUM_NAMESPACE });
  return cm.data ?? {};
}

export async function agentPods(lab: Pick<CiliumLab, 'kube'>): Promise<V1Pod[]> {
  const pods = await lab.kube.core.listNamespacedPod({ namespace: CILIUM_NAMESPACE, labelSelector: AGENT_SELECTOR });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp);
}

export async function agentPodOn(lab: Pick<CiliumLab, 'kube'>, node: string): Promise<V1Pod> {
  const pods = await lab.kube.core.listNamespacedPod({
    namespace: CILIUM_NAMESPACE,
    labelSelector: AGENT_SELECTOR,
    fieldSelector: `spec.nodeName=${node}`,
  });
  const pod = pods.items.find((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running');
  if (!pod?.metadata?.name) throw new Error(`no running Cilium agent pod (${AGENT_SELECTOR}) on node ${node}`);
  return pod;
}

/** Runs cilium-dbg in an agent pod; a non-zero exit is an error carrying stderr. */
async function ciliumDbg(lab: Pick<CiliumLab, 'kube'>, pod: string, args: string[], timeoutMs: number = DEADLINE.execMs): Promise<string> {
  const r = await lab.kube.execInPod(CILIUM_NAMESPACE, pod, ['cilium-dbg', ...args], { container: AGENT_CONTAINER, timeoutMs });
  if (r.code !== 0)
    throw new Error(`cilium-dbg ${args.join(' ')} in ${pod} exited ${String(r.code)}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
  return r.stdout;
}

export async function agentStatus(lab: Pick<CiliumLab, 'kube'>, pod: V1Pod): Promise<AgentStatus> {
  const name = pod.metadata?.name ?? '?';
  const stdout = await ciliumDbg(lab, name, ['status', '-o', 'json']);
  const status = parseCiliumDbgStatus(stdout);
  return {
    node: pod.spec?.nodeName ?? '?',
    pod: name,
    status,
    state: status.state,
    healthy: status.state === 'Ok',
    raw: JSON.parse(stdout) as unknown,
  };
}

function agentImage(pod: V1Pod): string | undefined {
  return pod.spec?.containers.find((c) => c.name === AGENT_CONTAINER)?.image;
}

export async function helmRelease(lab: Pick<CiliumLab, 'ssh' | 'topology'>): Promise<HelmRelease> {
  return parseHelmList(
    await lab.ssh
      .host(controlPlane(lab.topology).name)
      .run(helmListCommand(), { sudo: true, timeoutMs: DEADLINE.helmReadMs, idempotent: true }),
  );
}

/** cilium-config, the release's user-supplied values and its chart version. */
export async function readRunningSettings(lab: CiliumLab): Promise<RunningSettings & { chartVersion: string }> {
  const host = lab.ssh.host(controlPlane(lab.topology).name);
  const [config, release, values] = await Promise.all([
    ciliumConfig(lab),
    helmRelease(lab),
    host.run(helmGetValuesCommand(), { sudo: true, timeoutMs: DEADLINE.helmReadMs, idempotent: true }).then(parseHelmValues),
  ]);
  return { config, helmValues: values, chartVersion: release.chartVersion };
}

export async function runningCilium(lab: CiliumLab): Promise<RunningCilium> {
  const { pods, ...rest } = await runningConfigAndPods(lab);
  const agents = await Promise.all(pods.map((p) => agentStatus(lab, p)));
  return { ...rest, agents };
}

/**
 * What runs without asking each agent: cilium-config, the agents' image and its version. For a caller that needs
 * no agent's status (the agents' `cilium-dbg status`, one exec per node, is runningCilium's).
 */
export async function runningConfig(lab: CiliumLab): Promise<Omit<RunningCilium, 'agents'>> {
  const { pods: _pods, ...rest } = await runningConfigAndPods(lab);
  return rest;
}

async function runningConfigAndPods(lab: CiliumLab): Promise<Omit<RunningCilium, 'agents'> & { pods: V1Pod[] }> {
  const [config, pods] = await Promise.all([ciliumConfig(lab), agentPods(lab)]);
  if (pods.length === 0) throw new Error(`no Cilium agent pods (${AGENT_SELECTOR}) in ${CILIUM_NAMESPACE}`);
  const images = [...new Set(pods.map(agentImage).filter((i): i is string => typeof i === 'string'))];
  const image = images[0];
  if (!image) throw new Error(`Cilium agent pods have no ${AGENT_CONTAINER} container`);
  const version = ciliumVersionFromImage(image) ?? (await helmRelease(lab)).chartVersion;
  return { config, image, images, version, pods };
}

export async function l2AnnounceTable(lab: Pick<CiliumLab, 'kube'>, node: string): Promise<L2AnnounceEntry[]> {
  const pod = await agentPodOn(lab, node);
  return parseL2AnnounceTable(await ciliumDbg(lab, pod.metadata?.name ?? '?', ['shell', '--', 'db/show', '--format=json', 'l2-announce']));
}

// ---------------------------------------------------------------------------------------------
// Converging
// ---------------------------------------------------------------------------------------------

export interface EnsureOptions {
  /** Deadline for the rollouts and for every agent to report Ok (default DEADLINE.ciliumRolloutMs, 10 min). */
  timeoutMs?: number;
  /** Deadline of the helm upgrade command itself (default DEADLINE.helmMs, 5 min). */
  helmTimeoutMs?: number;
  /** The running settings, when the caller has just read them (readRunningSettings: two helm calls over SSH, not repeated). */
  running?: Awaited<ReturnType<typeof readRunningSettings>>;
  log?: (line: string) => void;
  clock?: Clock;
}

export class CiliumConvergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CiliumConvergeError';
  }
}

/** Waits until every Kubernetes node runs one agent that reports Ok and routes as `wanted` says. */
export async function waitAgentsOk(lab: CiliumLab, wanted: CiliumSettings, timeoutMs: number, clock?: Clock): Promise<AgentStatus[]> {
  const nodes = kubeNodes(lab.topology).map((n) => n.name);
  return pollUntil(
    `every Cilium agent (${nodes.join(', ')}) to report Ok in cilium-dbg status${Object.keys(wanted).length ? ` with ${formatSettings(wanted)}` : ''}`,
    async () => {
      const pods = await agentPods(lab);
      const results = await Promise.all(
        pods.map(async (p) => {
          try {
            return await agentStatus(lab, p);
          } catch (err) {
            return `${p.spec?.nodeName ?? p.metadata?.name ?? '?'}: ${(err as Error).message.slice(0, 160)}`;
          }
        }),
      );
      const problems: string[] = results.filter((r): r is string => typeof r === 'string');
      const agents = results.filter((r): r is AgentStatus => typeof r !== 'string');
      for (const a of agents) {
        if (!a.healthy) problems.push(`${a.node}: state ${a.state ?? 'unknown'}`);
        const mism = [...agentMismatches(wanted, a.status), ...encryptionMismatches(wanted, a.raw)];
        if (mism.length > 0) problems.push(`${a.node}: ${mism.join(', ')}`);
      }
      const missing = nodes.filter((n) => !agents.some((a) => a.node === n));
      if (missing.length > 0) problems.push(`no agent status from ${missing.join(', ')}`);
      return problems.length === 0 ? { done: true, value: agents } : { done: false, seen: problems.join('; ') };
    },
    { timeoutMs, intervalMs: 3000, ...(clock ? { clock } : {}) },
  );
}

/**
 * Brings Cilium to `wanted` (helm value paths). Does nothing when the running config already matches. Otherwise one
 * `helm upgrade --reuse-values` with the changed keys (plus settings they imply), restart of operator and agents,
 * rollout and agent-health waits, and a re-read proving the config now matches. Returns what changed.
 */
export async function ensureCilium(lab: CiliumLab, wanted: CiliumSettings, o: EnsureOptions = {}): Promise<{ changed: Change[] }> {
  const timeoutMs = o.timeoutMs ?? DEADLINE.ciliumRolloutMs;
  const running = o.running ?? (await readRunningSettings(lab));
  const lookup = runningLookup(running);
  const { implied, problems } = checkSettings(wanted, lookup);
  if (problems.length > 0) throw new CiliumConvergeError(`cannot set ${formatSettings(wanted)}: ${problems.join('; ')}`);
  const target: CiliumSettings = { ...wanted, ...Object.fromEntries(implied.map((i) => [i.key, i.value])) };
  const changed = diffSettings(target, lookup);
  if (changed.length === 0) return { changed };

  const set = Object.fromEntries(changed.map((c) => [c.key, c.to]));
  const command = helmUpgradeCommand({ version: running.chartVersion, set });
  o.log?.(`helm upgrade on ${controlPlane(lab.topology).name}: ${command}`);
  const host = lab.ssh.host(controlPlane(lab.topology).name);
  const r = await host.exec(command, { sudo: true, timeoutMs: o.helmTimeoutMs ?? DEADLINE.helmMs });
  if (r.code !== 0)
    throw new CiliumConvergeError(
      `helm upgrade failed (exit ${String(r.code)}): ${(r.stderr || r.stdout).trim().slice(0, 1000)}\ncommand: ${command}`,
    );

  // The chart does not roll the pods on a ConfigMap change by default; restart as the docs recommend (cilium-behaviour.md 3).
  await lab.kube.rolloutRestart('Deployment', CILIUM_NAMESPACE, 'cilium-operator');
  await lab.kube.rolloutRestart('DaemonSet', CILIUM_NAMESPACE, 'cilium');
  await lab.kube.waitRolledOut('Deployment', CILIUM_NAMESPACE, 'cilium-operator', timeoutMs);
  await lab.kube.waitRolledOut('DaemonSet', CILIUM_NAMESPACE, 'cilium', timeoutMs);
  await waitAgentsOk(lab, target, timeoutMs, o.clock);

  const after = diffSettings(target, runningLookup(await readRunningSettings(lab)));
  if (after.length > 0) {
    throw new CiliumConvergeError(
      `after helm upgrade the running settings still differ: ${after.map((c) => `${c.key}=${String(c.from)} (wanted ${String(c.to)}, read from ${c.via})`).join('; ')}`,
    );
  }
  return { changed };
}
