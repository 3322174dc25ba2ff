/**
 * `npm run lab:up | lab:down | lab:status`: thin wrappers over Vagrant.
 *
 * - up:     builds or resumes the lab one VM at a time in topology order (router, control plane, workers): a
 *           VM whose provisioning never finished is provisioned again before any later VM is created. Records
 *           each VM's SSH host keys (read through `vagrant ssh`) into the lab's known-hosts file, then waits
 *           over the harness's SSH pool until every Kubernetes node is Ready with a Ready Cilium agent. Fails
 *           naming the step that did not finish and Vagrant's own message; prints each step's duration. On a
 *           lab that is already up with the same versions it changes nothing (no `vagrant up`, no provisioning).
 * - status: each VM's state and the versions recorded on it (/etc/cilium-lab/versions.env).
 * - down:   destroys the VMs.
 *
 * The provider is VirtualBox unless the user chose another (`--provider NAME`, VAGRANT_DEFAULT_PROVIDER, or VMs
 * already created with one); every Vagrant call gets it, and lab:up/lab:status say which and why. With
 * VirtualBox, the Vagrant/VirtualBox pair is checked against VIRTUALBOX_NEEDS_VAGRANT before anything is created.
 *
 * Versions come from lab/versions.yaml; each pin's environment variable (CILIUM_VERSION=<version> ...)
 * overrides it and is passed on to Vagrant. Decisions (parsing Vagrant and kubectl output, judging
 * readiness, comparing versions) are pure functions below; the I/O goes through an injectable runner.
 */
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { machineProviders, vagrantStateDir } from '../helpers/lab/preflight.ts';
import { pollUntil, systemClock, type Check, type Clock } from '../helpers/wait/retry.ts';
import { knownHostsName, labKnownHostsFile } from '../helpers/transport/ssh-auth.ts';
import { SshPool } from '../helpers/transport/ssh.ts';
import { REPO_ROOT, kubeNodes, loadTopology, topologyFile, controlPlane, sshEndpoint, type Topology } from '../helpers/lab/topology.ts';
import {
  VM_VERSIONS_FILE,
  effectiveVersions,
  loadVersions,
  parseVersionsEnv,
  versionMismatches,
  versionsEnv,
  type EffectiveVersions,
  PIN_KEYS,
} from '../helpers/lab/versions.ts';

// ---------------------------------------------------------------------------------------------
// Pure: parsing and judging
// ---------------------------------------------------------------------------------------------

export interface MachineState {
  name: string;
  /** Vagrant's state id: running, poweroff, not_created, shutoff, saved, ... */
  state: string;
  provider: string | null;
}

/** Machines and states from `vagrant status --machine-readable` (order kept). */
export function parseVagrantStatus(text: string): MachineState[] {
  const byName = new Map<string, MachineState>();
  for (const line of text.split(/\r?\n/)) {
    const [, target, type, ...data] = line.split(',');
    if (!target || !type) continue;
    const value = data.join(',').replace(/%!\(VAGRANT_COMMA\)/g, ',');
    if (type !== 'state' && type !== 'provider-name') continue;
    const m = byName.get(target) ?? { name: target, state: 'unknown', provider: null };
    if (type === 'state') m.state = value;
    else m.provider = value;
    byName.set(target, m);
  }
  return [...byName.values()];
}

interface KubeList {
  items?: {
    metadata?: { name?: string };
    spec?: { nodeName?: string };
    status?: { phase?: string; conditions?: { type?: string; status?: string }[] };
  }[];
}

function parseList(json: string, what: string): KubeList {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new Error(`${what}: kubectl did not print JSON: ${json.trim().slice(0, 200) || '(nothing)'}`);
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as KubeList).items)) {
    throw new Error(`${what}: kubectl printed JSON without items`);
  }
  return doc;
}

const isReady = (conditions: { type?: string; status?: string }[] | undefined): boolean =>
  (conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** Done when every expected node exists and is Ready (`kubectl get nodes -o json`). */
export function judgeNodesReady(json: string, expected: string[]): Check<string[]> {
  const list = parseList(json, 'nodes');
  const ready = new Set(list.items!.filter((n) => isReady(n.status?.conditions)).map((n) => n.metadata?.name ?? ''));
  const present = new Set(list.items!.map((n) => n.metadata?.name ?? ''));
  const missing = expected.filter((n) => !present.has(n));
  const notReady = expected.filter((n) => present.has(n) && !ready.has(n));
  if (missing.length === 0 && notReady.length === 0) return { done: true, value: expected };
  const parts = [
    ...(missing.length ? [`not registered: ${missing.join(', ')}`] : []),
    ...(notReady.length ? [`not Ready: ${notReady.join(', ')}`] : []),
  ];
  return { done: false, seen: parts.join('; ') };
}

/** Done when each node has a Ready Cilium agent pod (`kubectl -n kube-system get pods -l k8s-app=cilium -o json`). */
export function judgeAgentsReady(json: string, nodes: string[]): Check<Record<string, string>> {
  const list = parseList(json, 'cilium agents');
  const agentOn: Record<string, string> = {};
  const seen: string[] = [];
  for (const node of nodes) {
    const pods = list.items!.filter((p) => p.spec?.nodeName === node);
    const ready = pods.find((p) => isReady(p.status?.conditions));
    if (ready) agentOn[node] = ready.metadata?.name ?? '?';
    else
      seen.push(
        pods.length === 0
          ? `${node}: no agent pod`
          : `${node}: ${pods.map((p) => `${p.metadata?.name} ${p.status?.phase ?? '?'}, not Ready`).join(', ')}`,
      );
  }
  return seen.length === 0 ? { done: true, value: agentOn } : { done: false, seen: seen.join('; ') };
}

/**
 * The provisioning failure lines printed by provision/lib.sh in Vagrant's output, first to last, each once (a die
 * inside a command substitution prints its reason, then the script's shell prints the step's exit and line).
 */
export function failedProvisioningStep(output: string): string | undefined {
  const lines = output
    .split(/\r?\n/)
    .filter((l) => l.includes('[cilium-lab] FAILED'))
    .map((l) => l.slice(l.indexOf('[cilium-lab] FAILED') + '[cilium-lab] '.length).trim());
  return lines.length === 0 ? undefined : [...new Set(lines)].join('\n  ');
}

/** Vagrant's `--machine-readable` escapes: commas as %!(VAGRANT_COMMA), newlines as a literal \\n. */
function unescapeMachineReadable(data: string): string {
  return data
    .replace(/%!\(VAGRANT_COMMA\)/g, ',')
    .replace(/\\n/g, '\n')
    .replace(/\\r/g, '')
    .trim();
}

/**
 * What Vagrant said when a call failed. With --machine-readable Vagrant writes its errors to stdout (`error-exit`
 * and `ui,error` lines) and nothing to stderr; otherwise to stderr. Falls back to the end of stdout.
 */
export function vagrantMessage(r: RunResult): string {
  const errorExit: string[] = [];
  const uiError: string[] = [];
  const human: string[] = [];
  for (const line of r.stdout.split(/\r?\n/)) {
    const m = /^\d*,[^,]*,([^,]+),(.*)$/.exec(line);
    if (!m) {
      if (line.trim()) human.push(line);
      continue;
    }
    const [, type, data] = m;
    if (type === 'error-exit') errorExit.push(unescapeMachineReadable(data!.slice(data!.indexOf(',') + 1)));
    else if (type === 'ui' && data!.startsWith('error,')) uiError.push(unescapeMachineReadable(data!.slice('error,'.length)));
  }
  if (errorExit.length > 0) return errorExit.join('\n');
  if (uiError.length > 0) return uiError.join('\n');
  if (r.stderr.trim()) return r.stderr.trim();
  if (human.length > 0) return human.slice(-10).join('\n').trim();
  return '(Vagrant printed nothing)';
}

/** Which VirtualBox needs which Vagrant (older Vagrant refuses the VirtualBox version). README and docs/lab.md show it. */
export const VIRTUALBOX_NEEDS_VAGRANT: { virtualbox: string; vagrant: string }[] = [
  { virtualbox: '7.0', vagrant: '2.3.2' },
  { virtualbox: '7.1', vagrant: '2.4.2' },
  { virtualbox: '7.2', vagrant: '2.4.9' },
];

const versionOf = (text: string | undefined): number[] | undefined => {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
};
const older = (a: number[], b: number[]): boolean => {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
};

/**
 * Does this Vagrant (`vagrant --version`) support this VirtualBox (`VBoxManage --version`)? Unknown versions are
 * left to Vagrant to judge (its message is shown); a VirtualBox newer than the table only warns.
 */
export function checkProviderVersions(
  vagrantText: string | undefined,
  vboxText: string | undefined,
): { ok: true; warning?: string } | { ok: false; message: string } {
  const vagrant = versionOf(vagrantText);
  const vbox = versionOf(vboxText);
  if (!vagrant || !vbox) return { ok: true };
  const shown = (v: number[]): string => v.join('.');
  const row = VIRTUALBOX_NEEDS_VAGRANT.find((r) => versionOf(r.virtualbox)!.slice(0, 2).join('.') === vbox.slice(0, 2).join('.'));
  if (row) {
    const needs = versionOf(row.vagrant)!;
    if (!older(vagrant, needs)) return { ok: true };
    const fits = VIRTUALBOX_NEEDS_VAGRANT.filter((r) => !older(vagrant, versionOf(r.vagrant)!)).at(-1);
    return {
      ok: false,
      message:
        `VirtualBox ${shown(vbox)} needs Vagrant ${row.vagrant} or newer, and this is Vagrant ${shown(vagrant)}: upgrade Vagrant ` +
        `(https://developer.hashicorp.com/vagrant/install)${fits ? `, or use VirtualBox ${fits.virtualbox}, which Vagrant ${shown(vagrant)} supports` : ''}. ` +
        'Nothing was created.',
    };
  }
  const newest = versionOf(VIRTUALBOX_NEEDS_VAGRANT.at(-1)!.virtualbox)!;
  if (older(newest, vbox) && !(vbox[0] === newest[0] && vbox[1] === newest[1])) {
    return {
      ok: true,
      warning: `VirtualBox ${shown(vbox)} is newer than the table this harness knows (up to ${VIRTUALBOX_NEEDS_VAGRANT.at(-1)!.virtualbox}); if Vagrant refuses it, upgrade Vagrant`,
    };
  }
  return { ok: true };
}

export interface ProviderChoice {
  provider: string;
  /** Why this provider, in words shown to the user. */
  why: string;
}

/**
 * VirtualBox unless the user chose another: `--provider NAME`, then VAGRANT_DEFAULT_PROVIDER, then the provider the
 * lab's VMs were already created with (`created`: machine → provider, from .vagrant/machines/<name>/<provider>/id).
 * Vagrant alone would pick any usable provider (e.g. libvirt, which Debian's vagrant package pulls in).
 */
export function chooseProvider(o: { option?: string; env: NodeJS.ProcessEnv; created: Record<string, string> }): ProviderChoice {
  if (o.option) return { provider: o.option, why: `--provider ${o.option}` };
  const fromEnv = o.env.VAGRANT_DEFAULT_PROVIDER?.trim();
  if (fromEnv) return { provider: fromEnv, why: `VAGRANT_DEFAULT_PROVIDER=${fromEnv}` };
  const used = [...new Set(Object.values(o.created))];
  if (used.length === 1) return { provider: used[0]!, why: `the lab's VMs were created with it (${Object.keys(o.created).join(', ')})` };
  return {
    provider: 'virtualbox',
    why: 'the default; choose another with VAGRANT_DEFAULT_PROVIDER=libvirt or `npm run lab:up -- --provider libvirt`',
  };
}

/** The order VMs are brought up in: router, control plane, workers, each as the topology lists them. */
export function bringUpOrder<M extends { name: string }>(t: Topology, machines: M[]): M[] {
  const rank = (name: string): number => {
    const i = t.nodes.findIndex((n) => n.name === name);
    if (i < 0) return 3 * t.nodes.length + machines.findIndex((m) => m.name === name);
    const role = t.nodes[i]!.role;
    return (role === 'router' ? 0 : role === 'control-plane' ? 1 : 2) * t.nodes.length + i;
  };
  return [...machines].sort((a, b) => rank(a.name) - rank(b.name));
}

/** The marker between versions.env and the host keys in what RECORDED_COMMAND prints. */
const HOST_KEYS_MARK = '# --- ssh host keys';
/** One `vagrant ssh` per VM reads what it was built with and its SSH host keys (through Vagrant's own channel). */
const RECORDED_COMMAND = `cat ${VM_VERSIONS_FILE} 2>/dev/null || true; echo '${HOST_KEYS_MARK}'; cat /etc/ssh/ssh_host_*_key.pub 2>/dev/null || true`;

export interface Recorded {
  versions: Record<string, string>;
  /** `type base64` of each host key. */
  hostKeys: string[];
}

export function parseRecorded(text: string): Recorded {
  const at = text.indexOf(HOST_KEYS_MARK);
  const versionsPart = at < 0 ? text : text.slice(0, at);
  const keysPart = at < 0 ? '' : text.slice(at + HOST_KEYS_MARK.length);
  const hostKeys = keysPart
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/))
    .filter((w) => w.length >= 2 && /^(ssh-|ecdsa-|sk-)/.test(w[0]!) && /^[A-Za-z0-9+/=]+$/.test(w[1]!))
    .map((w) => `${w[0]} ${w[1]}`);
  return { versions: parseVersionsEnv(versionsPart), hostKeys };
}

/**
 * The lab's known-hosts file: for each VM in `keys`, one line per host key at the address the harness dials
 * (topology sshEndpoint); that host's earlier lines are replaced (a re-created VM has new keys), others kept.
 */
export function knownHostsText(t: Topology, keys: Record<string, string[]>, existing = ''): string {
  const names = new Map<string, string[]>();
  for (const [machine, list] of Object.entries(keys)) {
    const n = t.nodes.find((x) => x.name === machine);
    if (!n || list.length === 0) continue;
    const { host, port } = sshEndpoint(n);
    names.set(knownHostsName(host, port), list);
  }
  const kept = existing
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .filter((l) => !names.has(l.split(/\s+/)[0]!));
  const added = [...names].flatMap(([name, list]) => list.map((k) => `${name} ${k}`));
  return [
    "# The lab VMs' SSH host keys, read by `npm run lab:up` through `vagrant ssh` (rewritten when a VM is re-created).",
    ...kept,
    ...added,
    '',
  ].join('\n');
}

/** A running VM is fully provisioned when its last script recorded PROVISIONED_OK. */
export function provisioningDone(recorded: Record<string, string>): boolean {
  return Boolean(recorded.PROVISIONED_OK);
}

export function formatStatus(machines: MachineState[], recorded: Map<string, Record<string, string>>, wanted: EffectiveVersions): string {
  const keys = PIN_KEYS.map((k) => wanted[k].env);
  const extra = ['KUBELET_INSTALLED', 'CONTAINERD_INSTALLED', 'CILIUM_INSTALLED', 'KERNEL', 'PROVISIONED_OK'];
  const lines: string[] = [];
  for (const m of machines) {
    lines.push(`${m.name}: ${m.state}${m.provider ? ` (${m.provider})` : ''}`);
    const r = recorded.get(m.name);
    if (!r) continue;
    if (Object.keys(r).length === 0) {
      lines.push(`  no ${VM_VERSIONS_FILE} (not provisioned yet)`);
      continue;
    }
    for (const k of [...keys, ...extra]) {
      if (r[k] !== undefined) lines.push(`  ${k}=${r[k]}`);
    }
  }
  lines.push('', 'versions in force for the next lab:up:');
  for (const k of PIN_KEYS)
    lines.push(`  ${wanted[k].env}=${wanted[k].value}${wanted[k].source === 'env' ? ' (from the environment)' : ''}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// I/O: Vagrant through an injectable runner
// ---------------------------------------------------------------------------------------------

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface LabDeps {
  /** Runs `vagrant <args>` with the chosen provider; `stream` also shows the output as it comes. */
  vagrant(args: string[], opts?: { stream?: boolean; timeoutMs?: number }): Promise<RunResult>;
  /** Runs a program on this host (`vagrant --version`, `VBoxManage --version`). */
  exec(cmd: string, args: string[]): Promise<RunResult>;
  /** The provider every Vagrant call uses, and why. */
  provider: ProviderChoice;
  log(line: string): void;
  /** Runs a command on the control plane once the VMs have addresses (the harness's SSH pool). */
  kubectl?(command: string): Promise<RunResult>;
  /** Writes the lab's known-hosts file (the text of knownHostsText); `readKnownHosts` gives the current one. */
  saveKnownHosts?(text: string): void;
  readKnownHosts?(): string;
  clock?: Clock;
  /** Deadlines of the waits after provisioning (defaults: NODES_READY_MS, AGENTS_READY_MS). */
  timeouts?: { nodesReadyMs?: number; agentsReadyMs?: number; pollIntervalMs?: number };
}

/**
 * After every VM is provisioned, kubeadm has joined each node and Cilium is installed; what is left is each agent
 * starting (image pull, BPF programs) and its node turning Ready: a minute or two, so five minutes each.
 */
export const NODES_READY_MS = 5 * 60_000;
export const AGENTS_READY_MS = 5 * 60_000;

/** A step of lab:up that did not finish; the message names it. */
export class LabStepError extends Error {
  constructor(
    readonly step: string,
    detail: string,
  ) {
    super(`lab:up did not finish step "${step}": ${detail}`);
    this.name = 'LabStepError';
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** Runs one named step: prints it, then its duration; a failure becomes a LabStepError naming it. */
async function inStep<T>(step: string, deps: LabDeps, fn: () => Promise<T>, timings?: [string, number][]): Promise<T> {
  const clock = deps.clock ?? systemClock;
  const started = clock.now();
  deps.log(`==> ${step}`);
  try {
    const value = await fn();
    const took = clock.now() - started;
    timings?.push([step, took]);
    deps.log(`<== ${step}: ${seconds(took)}`);
    return value;
  } catch (err) {
    if (err instanceof LabStepError) throw err;
    throw new LabStepError(step, (err as Error).message);
  }
}

/** `vagrant <what> failed (exit N): <Vagrant's message>`, or the provisioning FAILED line when there is one. */
function vagrantFailure(what: string, r: RunResult): Error {
  const failed = failedProvisioningStep(`${r.stdout}\n${r.stderr}`);
  return new Error(failed ? `provisioning failed: ${failed}` : `vagrant ${what} failed (exit ${r.exitCode}): ${vagrantMessage(r)}`);
}

async function statusOf(deps: LabDeps): Promise<MachineState[]> {
  const r = await deps.vagrant(['status', '--machine-readable'], { timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw vagrantFailure('status', r);
  return parseVagrantStatus(r.stdout);
}

async function recordedOn(deps: LabDeps, machine: string): Promise<Recorded> {
  const r = await deps.vagrant(['ssh', machine, '-c', RECORDED_COMMAND], { timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw vagrantFailure(`ssh ${machine}`, r);
  return parseRecorded(r.stdout);
}

function describeMismatch(machine: string, wanted: EffectiveVersions, recorded: Record<string, string>): string | undefined {
  const diff = versionMismatches(wanted, recorded);
  if (diff.length === 0) return undefined;
  return `${machine} was built with ${diff.map((d) => `${d.env}=${d.recorded ?? '(none)'}`).join(', ')} but ${diff.map((d) => `${d.env}=${d.wanted}`).join(', ')} is asked for`;
}

const providerLine = (p: ProviderChoice): string => `provider: ${p.provider} (${p.why})`;

export async function labUp(t: Topology, wanted: EffectiveVersions, deps: LabDeps): Promise<void> {
  const clock = deps.clock ?? systemClock;
  const startedAt = clock.now();
  const timings: [string, number][] = [];
  const step = <T>(name: string, fn: () => Promise<T>): Promise<T> => inStep(name, deps, fn, timings);
  deps.log(providerLine(deps.provider));

  if (deps.provider.provider === 'virtualbox') {
    await step('check the Vagrant and VirtualBox versions', async () => {
      const [vagrant, vbox] = await Promise.all([deps.exec('vagrant', ['--version']), deps.exec('VBoxManage', ['--version'])]);
      const verdict = checkProviderVersions(
        vagrant.exitCode === 0 ? vagrant.stdout : undefined,
        vbox.exitCode === 0 ? vbox.stdout : undefined,
      );
      if (!verdict.ok) throw new Error(verdict.message);
      deps.log(
        `    ${vagrant.stdout.trim() || 'vagrant: version unknown'}, VirtualBox ${vbox.exitCode === 0 ? vbox.stdout.trim() : 'not found (VBoxManage)'}`,
      );
      if (verdict.warning) deps.log(`    warning: ${verdict.warning}`);
    });
  }

  const machines = bringUpOrder(t, await step("read the VMs' state (vagrant status)", () => statusOf(deps)));
  const recorded = new Map<string, Recorded>();

  await step('compare versions with the running VMs', async () => {
    const problems: string[] = [];
    for (const m of machines.filter((x) => x.state === 'running')) {
      const r = await recordedOn(deps, m.name);
      recorded.set(m.name, r);
      const problem = Object.keys(r.versions).length > 0 ? describeMismatch(m.name, wanted, r.versions) : undefined;
      if (problem) problems.push(problem);
    }
    if (problems.length > 0) {
      throw new Error(
        `${problems.join('; ')}. Nothing was changed. Re-create the lab to change versions: npm run lab:down && npm run lab:up`,
      );
    }
  });

  // One VM at a time, in order: a VM whose provisioning never finished (an earlier run stopped there) is
  // provisioned again (the scripts are idempotent) before any later VM is created or provisioned, so workers
  // never wait for a control plane that was not built.
  let changed = false;
  for (const m of machines) {
    if (m.state !== 'running') {
      changed = true;
      await step(`vagrant up ${m.name}`, async () => {
        const r = await deps.vagrant(['up', m.name, '--provider', deps.provider.provider], { stream: true });
        if (r.exitCode !== 0) throw vagrantFailure(`up ${m.name}`, r);
        recorded.set(m.name, await recordedOn(deps, m.name));
      });
      const problem = describeMismatch(m.name, wanted, recorded.get(m.name)!.versions);
      if (provisioningDone(recorded.get(m.name)!.versions) && problem)
        throw new LabStepError('compare versions with the running VMs', problem);
    }
    if (provisioningDone(recorded.get(m.name)!.versions)) continue;
    changed = true;
    await step(`provision ${m.name} (its provisioning had not finished)`, async () => {
      const r = await deps.vagrant(['provision', m.name], { stream: true });
      if (r.exitCode !== 0) throw vagrantFailure(`provision ${m.name}`, r);
      recorded.set(m.name, await recordedOn(deps, m.name));
    });
  }
  if (!changed) deps.log('all VMs are running and provisioned: nothing to bring up');

  await step("record the VMs' SSH host keys (read through vagrant ssh)", () => {
    const keys = Object.fromEntries([...recorded].map(([name, r]) => [name, r.hostKeys]));
    const missing = machines.filter((m) => (keys[m.name] ?? []).length === 0).map((m) => m.name);
    if (missing.length > 0) throw new Error(`no SSH host key could be read from ${missing.join(', ')} (/etc/ssh/ssh_host_*_key.pub)`);
    deps.saveKnownHosts?.(knownHostsText(t, keys, deps.readKnownHosts?.() ?? ''));
    return Promise.resolve();
  });

  const cp = controlPlane(t).name;
  const nodes = kubeNodes(t).map((n) => n.name);
  const onControlPlane = async (command: string): Promise<string> => {
    if (deps.kubectl) return (await deps.kubectl(command)).stdout;
    return (await deps.vagrant(['ssh', cp, '-c', command], { timeoutMs: 120_000 })).stdout;
  };
  if (deps.kubectl) {
    const kubectl = deps.kubectl.bind(deps);
    // One connection, made once: a refused host key or a wrong SSH key fails here, at once, not after the waits.
    await step(`connect to ${cp} over SSH (the harness's pool)`, async () => {
      const r = await kubectl('true');
      if (r.exitCode !== 0) throw new Error(`\`true\` on ${cp} exited ${r.exitCode}: ${r.stderr.trim()}`);
    });
  }
  const poll = { timeoutMs: 0, intervalMs: deps.timeouts?.pollIntervalMs ?? 5_000, clock };
  await step('wait until every Kubernetes node is Ready', () =>
    pollUntil(`nodes ${nodes.join(', ')} Ready`, async () => judgeNodesReady(await onControlPlane('kubectl get nodes -o json'), nodes), {
      ...poll,
      timeoutMs: deps.timeouts?.nodesReadyMs ?? NODES_READY_MS,
    }),
  );
  await step('wait until a Cilium agent is Ready on every node', () =>
    pollUntil(
      `a Ready Cilium agent on each of ${nodes.join(', ')}`,
      async () => judgeAgentsReady(await onControlPlane('kubectl -n kube-system get pods -l k8s-app=cilium -o json'), nodes),
      { ...poll, timeoutMs: deps.timeouts?.agentsReadyMs ?? AGENTS_READY_MS },
    ),
  );
  deps.log(`lab is up: ${nodes.join(', ')} Ready, Cilium ${wanted.cilium.value} agents Ready`);
  deps.log(`lab:up took ${seconds(clock.now() - startedAt)} in all: ${timings.map(([name, ms]) => `${name} ${seconds(ms)}`).join('; ')}`);
}

export async function labStatus(wanted: EffectiveVersions, deps: LabDeps): Promise<string> {
  const machines = await statusOf(deps);
  const recorded = new Map<string, Record<string, string>>();
  for (const m of machines.filter((x) => x.state === 'running')) recorded.set(m.name, (await recordedOn(deps, m.name)).versions);
  return `${providerLine(deps.provider)}\n${formatStatus(machines, recorded, wanted)}`;
}

export async function labDown(deps: LabDeps): Promise<void> {
  const r = await deps.vagrant(['destroy', '--force'], { stream: true });
  if (r.exitCode !== 0) throw vagrantFailure('destroy', r);
}

/**
 * The real runner: vagrant in the repository, with the versions in force and the chosen provider in its
 * environment (VAGRANT_DEFAULT_PROVIDER). `quiet` keeps streamed output off the console (self-tests).
 */
export function vagrantRunner(
  wanted: EffectiveVersions,
  provider: ProviderChoice,
  env: NodeJS.ProcessEnv = process.env,
  o: { quiet?: boolean } = {},
): LabDeps['vagrant'] {
  return async (args, opts) => {
    const stream = opts?.stream && !o.quiet;
    const r = await execa('vagrant', args, {
      cwd: REPO_ROOT,
      env: { ...env, ...versionsEnv(wanted), VAGRANT_DEFAULT_PROVIDER: provider.provider },
      extendEnv: false,
      reject: false,
      stdin: 'ignore',
      ...(opts?.timeoutMs ? { timeout: opts.timeoutMs } : {}),
      ...(stream ? { stdout: ['pipe', 'inherit'], stderr: ['pipe', 'inherit'] } : {}),
    });
    if (r.failed && r.exitCode === undefined) {
      if ((r as { code?: string }).code === 'ENOENT')
        throw new Error('vagrant is not installed (not found on PATH); see README.md, "Start the lab"');
      throw new Error(r.message);
    }
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  };
}

async function execOnHost(cmd: string, args: string[]): Promise<RunResult> {
  const r = await execa(cmd, args, { reject: false, stdin: 'ignore', timeout: 60_000 });
  return { exitCode: r.exitCode ?? 127, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? r.message) };
}

/** `--provider NAME` anywhere after the command. */
function providerOption(argv: string[]): string | undefined {
  const i = argv.indexOf('--provider');
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith('--provider='))?.slice('--provider='.length);
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (command !== 'up' && command !== 'down' && command !== 'status') {
    console.error('usage: tsx scripts/lab.ts up|down|status [--provider virtualbox|libvirt]');
    return 2;
  }
  let pool: SshPool | undefined;
  try {
    const file = topologyFile();
    const t = loadTopology(file);
    const wanted = effectiveVersions(loadVersions());
    const created = machineProviders(t, vagrantStateDir());
    const provider = chooseProvider({ option: providerOption(argv), env: process.env, created });
    const knownHosts = labKnownHostsFile();
    const deps: LabDeps = {
      vagrant: vagrantRunner(wanted, provider),
      exec: execOnHost,
      provider,
      log: (l) => console.log(l),
      readKnownHosts: () => {
        try {
          return readFileSync(knownHosts, 'utf8');
        } catch {
          return '';
        }
      },
      saveKnownHosts: (text) => {
        mkdirSync(path.dirname(knownHosts), { recursive: true });
        writeFileSync(knownHosts, text, { mode: 0o644 });
      },
      // Once the VMs have addresses: one SSH connection to the control plane, reused by every poll.
      kubectl: async (cmd) => {
        pool ??= new SshPool(t);
        const r = await pool.host(controlPlane(t).name).exec(cmd, { timeoutMs: 60_000 });
        return { exitCode: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
      },
    };
    if (command === 'status') {
      console.log(await labStatus(wanted, deps));
    } else if (command === 'down') {
      await labDown(deps);
    } else {
      console.log(`cilium lab from ${file}; versions: ${PIN_KEYS.map((k) => `${wanted[k].env}=${wanted[k].value}`).join(' ')}`);
      await labUp(t, wanted, deps);
    }
    return 0;
  } catch (err) {
    console.error(`\n${(err as Error).message}`);
    return 1;
  } finally {
    await pool?.close();
  }
}

const invoked = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invoked === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
