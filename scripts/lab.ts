/**
 * `npm run lab:up | lab:down | lab:status`: thin wrappers over Vagrant.
 *
 * - up:     builds or resumes the lab and waits until it is usable: every Kubernetes node Ready and a Ready
 *           Cilium agent on each. Fails naming the step that did not finish. On a lab that is already up
 *           with the same versions it changes nothing (no `vagrant up`, no provisioning).
 * - status: each VM's state and the versions recorded on it (/etc/cilium-lab/versions.env).
 * - down:   destroys the VMs.
 *
 * Versions come from lab/versions.yaml; each pin's environment variable (CILIUM_VERSION=<version> ...)
 * overrides it and is passed on to Vagrant. Decisions (parsing Vagrant and kubectl output, judging
 * readiness, comparing versions) are pure functions below; the I/O goes through an injectable runner.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { pollUntil, type Check, type Clock } from '../helpers/wait/retry.ts';
import { REPO_ROOT, kubeNodes, loadTopology, topologyFile, controlPlane, type Topology } from '../helpers/lab/topology.ts';
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
    else seen.push(pods.length === 0 ? `${node}: no agent pod` : `${node}: ${pods.map((p) => `${p.metadata?.name} ${p.status?.phase ?? '?'}, not Ready`).join(', ')}`);
  }
  return seen.length === 0 ? { done: true, value: agentOn } : { done: false, seen: seen.join('; ') };
}

/** The last provisioning failure line printed by provision/lib.sh in Vagrant's output, if any. */
export function failedProvisioningStep(output: string): string | undefined {
  const lines = output.split(/\r?\n/).filter((l) => l.includes('[cilium-lab] FAILED'));
  const last = lines.at(-1);
  return last?.slice(last.indexOf('[cilium-lab] FAILED') + '[cilium-lab] '.length).trim();
}

/** A running VM is fully provisioned when its last script recorded PROVISIONED_OK. */
export function provisioningDone(recorded: Record<string, string>): boolean {
  return Boolean(recorded.PROVISIONED_OK);
}

export function formatStatus(
  machines: MachineState[],
  recorded: Map<string, Record<string, string>>,
  wanted: EffectiveVersions,
): string {
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
  for (const k of PIN_KEYS) lines.push(`  ${wanted[k].env}=${wanted[k].value}${wanted[k].source === 'env' ? ' (from the environment)' : ''}`);
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
  /** Runs `vagrant <args>`; `stream` also shows the output as it comes. */
  vagrant(args: string[], opts?: { stream?: boolean; timeoutMs?: number }): Promise<RunResult>;
  log(line: string): void;
  clock?: Clock;
  /** Deadlines of the waits (defaults: 15 min each). */
  timeouts?: { nodesReadyMs?: number; agentsReadyMs?: number; pollIntervalMs?: number };
}

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

async function inStep<T>(step: string, deps: LabDeps, fn: () => Promise<T>): Promise<T> {
  deps.log(`==> ${step}`);
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LabStepError) throw err;
    throw new LabStepError(step, (err as Error).message);
  }
}

async function sshOut(deps: LabDeps, machine: string, command: string): Promise<RunResult> {
  return deps.vagrant(['ssh', machine, '-c', command], { timeoutMs: 120_000 });
}

async function statusOf(deps: LabDeps): Promise<MachineState[]> {
  const r = await deps.vagrant(['status', '--machine-readable'], { timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new Error(`vagrant status failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  return parseVagrantStatus(r.stdout);
}

async function recordedOn(deps: LabDeps, machine: string): Promise<Record<string, string>> {
  const r = await sshOut(deps, machine, `cat ${VM_VERSIONS_FILE} 2>/dev/null || true`);
  if (r.exitCode !== 0) throw new Error(`vagrant ssh ${machine} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  return parseVersionsEnv(r.stdout);
}

function describeMismatch(machine: string, wanted: EffectiveVersions, recorded: Record<string, string>): string | undefined {
  const diff = versionMismatches(wanted, recorded);
  if (diff.length === 0) return undefined;
  return `${machine} was built with ${diff.map((d) => `${d.env}=${d.recorded ?? '(none)'}`).join(', ')} but ${diff.map((d) => `${d.env}=${d.wanted}`).join(', ')} is asked for`;
}

export async function labUp(t: Topology, wanted: EffectiveVersions, deps: LabDeps): Promise<void> {
  const machines = await inStep('read the VMs\' state (vagrant status)', deps, () => statusOf(deps));
  const running = machines.filter((m) => m.state === 'running');

  const before = await inStep('compare versions with the running VMs', deps, async () => {
    const rec = new Map<string, Record<string, string>>();
    const problems: string[] = [];
    for (const m of running) {
      const r = await recordedOn(deps, m.name);
      rec.set(m.name, r);
      const problem = Object.keys(r).length > 0 ? describeMismatch(m.name, wanted, r) : undefined;
      if (problem) problems.push(problem);
    }
    if (problems.length > 0) {
      throw new Error(`${problems.join('; ')}. Nothing was changed. Re-create the lab to change versions: npm run lab:down && npm run lab:up`);
    }
    return rec;
  });

  const notRunning = machines.filter((m) => m.state !== 'running');
  if (notRunning.length > 0) {
    await inStep(`vagrant up (${notRunning.map((m) => m.name).join(', ')})`, deps, async () => {
      const r = await deps.vagrant(['up', '--no-parallel'], { stream: true });
      if (r.exitCode !== 0) {
        const failed = failedProvisioningStep(`${r.stdout}\n${r.stderr}`);
        throw new Error(failed ? `provisioning failed: ${failed}` : `vagrant up failed (exit ${r.exitCode})`);
      }
    });
  } else {
    deps.log('all VMs are running: vagrant up skipped');
  }

  // VMs whose provisioning never finished (e.g. an earlier run stopped half-way) are provisioned again;
  // the scripts are idempotent.
  for (const m of machines) {
    const recorded = notRunning.includes(m) ? await recordedOn(deps, m.name) : before.get(m.name)!;
    if (provisioningDone(recorded)) {
      const problem = describeMismatch(m.name, wanted, recorded);
      if (problem) throw new LabStepError('compare versions with the running VMs', problem);
      continue;
    }
    await inStep(`provision ${m.name} (its provisioning had not finished)`, deps, async () => {
      const r = await deps.vagrant(['provision', m.name], { stream: true });
      if (r.exitCode !== 0) {
        const failed = failedProvisioningStep(`${r.stdout}\n${r.stderr}`);
        throw new Error(failed ? `provisioning failed: ${failed}` : `vagrant provision ${m.name} failed (exit ${r.exitCode})`);
      }
    });
  }

  const cp = controlPlane(t).name;
  const nodes = kubeNodes(t).map((n) => n.name);
  const poll = { timeoutMs: 0, intervalMs: deps.timeouts?.pollIntervalMs ?? 10_000, ...(deps.clock ? { clock: deps.clock } : {}) };
  await inStep('wait until every Kubernetes node is Ready', deps, () =>
    pollUntil(
      `nodes ${nodes.join(', ')} Ready`,
      async () => judgeNodesReady((await sshOut(deps, cp, 'kubectl get nodes -o json')).stdout, nodes),
      { ...poll, timeoutMs: deps.timeouts?.nodesReadyMs ?? 15 * 60_000 },
    ),
  );
  await inStep('wait until a Cilium agent is Ready on every node', deps, () =>
    pollUntil(
      `a Ready Cilium agent on each of ${nodes.join(', ')}`,
      async () => judgeAgentsReady((await sshOut(deps, cp, 'kubectl -n kube-system get pods -l k8s-app=cilium -o json')).stdout, nodes),
      { ...poll, timeoutMs: deps.timeouts?.agentsReadyMs ?? 15 * 60_000 },
    ),
  );
  deps.log(`lab is up: ${nodes.join(', ')} Ready, Cilium ${wanted.cilium.value} agents Ready`);
}

export async function labStatus(wanted: EffectiveVersions, deps: LabDeps): Promise<string> {
  const machines = await statusOf(deps);
  const recorded = new Map<string, Record<string, string>>();
  for (const m of machines.filter((x) => x.state === 'running')) recorded.set(m.name, await recordedOn(deps, m.name));
  return formatStatus(machines, recorded, wanted);
}

export async function labDown(deps: LabDeps): Promise<void> {
  const r = await deps.vagrant(['destroy', '--force'], { stream: true });
  if (r.exitCode !== 0) throw new Error(`vagrant destroy failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
}

/** The real runner: vagrant in the repository, with the versions in force in its environment. */
export function vagrantRunner(wanted: EffectiveVersions, env: NodeJS.ProcessEnv = process.env): LabDeps['vagrant'] {
  return async (args, opts) => {
    const r = await execa('vagrant', args, {
      cwd: REPO_ROOT,
      env: { ...env, ...versionsEnv(wanted) },
      reject: false,
      stdin: 'ignore',
      ...(opts?.timeoutMs ? { timeout: opts.timeoutMs } : {}),
      ...(opts?.stream ? { stdout: ['pipe', 'inherit'], stderr: ['pipe', 'inherit'] } : {}),
    });
    if (r.failed && r.exitCode === undefined) throw new Error(r.message);
    return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  };
}

async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (command !== 'up' && command !== 'down' && command !== 'status') {
    console.error('usage: tsx scripts/lab.ts up|down|status');
    return 2;
  }
  try {
    const file = topologyFile();
    const t = loadTopology(file);
    const wanted = effectiveVersions(loadVersions());
    const deps: LabDeps = { vagrant: vagrantRunner(wanted), log: (l) => console.log(l) };
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
  }
}

const invoked = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (invoked === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
