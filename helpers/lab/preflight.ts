/**
 * The fast check that runs once before any lab suite: is there a lab at all?
 *
 * Order matters: for the Vagrant lab we first look at Vagrant's own state on disk (.vagrant/machines)
 * and stop before sending a single packet when the VMs were never created. Only then do we try a TCP
 * connection to every SSH endpoint and to the API server, all at once, each with a short deadline.
 * Whatever is missing is reported in one message that names it and says how to start the lab.
 */
import { existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { checkKubeconfigServer, kubeconfigChoice, LAB_KUBECONFIG_ENV, readKubeconfigFile } from './lab-access.ts';
import { REPO_ROOT, loadTopology, sshEndpoint, topologyFile, type Topology } from './topology.ts';

export const LAB_UP_COMMAND = 'npm run lab:up';

export interface Endpoint {
  /** What a person would call it: "SSH on k8s-ctr", "Kubernetes API". */
  what: string;
  host: string;
  port: number;
}

export type PreflightResult = { ok: true; checked: Endpoint[]; notice: string | null } | { ok: false; message: string };

/** Where Vagrant keeps its state for this repo's Vagrantfile. */
export function vagrantStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.VAGRANT_CWD ? path.resolve(env.VAGRANT_CWD) : REPO_ROOT, '.vagrant');
}

/**
 * Machines Vagrant has never created (no `.vagrant/machines/<name>/<provider>/id` for any provider).
 * `listProviders` and `hasId` are injected so the decision is testable without a disk layout.
 */
export function machinesNotCreated(
  t: Topology,
  stateDir: string,
  fsx: { listDir(p: string): string[]; exists(p: string): boolean } = defaultFs,
): string[] {
  return t.nodes
    .map((n) => n.name)
    .filter((name) => {
      const machineDir = path.join(stateDir, 'machines', name);
      return !fsx.listDir(machineDir).some((provider) => fsx.exists(path.join(machineDir, provider, 'id')));
    });
}

/**
 * The provider each machine Vagrant created was created with: `.vagrant/machines/<name>/<provider>/id` (machines
 * not created are left out). lab:up keeps using it; the run context of reports records it.
 */
export function machineProviders(
  t: Topology,
  stateDir: string,
  fsx: { listDir(p: string): string[]; exists(p: string): boolean } = defaultFs,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of t.nodes) {
    const machineDir = path.join(stateDir, 'machines', n.name);
    const provider = fsx.listDir(machineDir).find((p) => fsx.exists(path.join(machineDir, p, 'id')));
    if (provider) out[n.name] = provider;
  }
  return out;
}

const defaultFs = {
  listDir(p: string): string[] {
    try {
      return readdirSync(p);
    } catch {
      return [];
    }
  },
  exists: existsSync,
};

/**
 * The API server address the harness will talk to: the topology's, after checking LAB_KUBECONFIG (when given) is
 * readable and points there. An ambient KUBECONFIG is never read (lab-access.ts kubeconfigChoice).
 */
export function apiEndpoint(t: Topology, env: NodeJS.ProcessEnv = process.env): Endpoint & { source: string; notice: string | null } {
  const choice = kubeconfigChoice(t, env);
  if (choice.kind === 'explicit') {
    const k = readKubeconfigFile(choice.file, LAB_KUBECONFIG_ENV);
    checkKubeconfigServer(k, t);
    return { what: 'Kubernetes API', host: k.host, port: k.port, source: `${LAB_KUBECONFIG_ENV} ${k.file}`, notice: choice.notice };
  }
  return {
    what: 'Kubernetes API',
    host: t.apiEndpoint.host,
    port: t.apiEndpoint.port,
    source: 'topology apiEndpoint',
    notice: choice.notice,
  };
}

/**
 * host and port of the current context's cluster in a kubeconfig document (pure), undefined when it has none.
 * Read with the same library (and so the same context rules) the harness then talks to the API server with.
 */
export function kubeconfigServer(text: string): { host: string; port: number } | undefined {
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch {
    return undefined;
  }
  const server = kc.getCurrentCluster()?.server;
  if (!server) return undefined;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return undefined;
  }
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443 };
}

/** Every endpoint the suites need before they can do anything. */
export function endpointsToCheck(t: Topology, env: NodeJS.ProcessEnv = process.env): Endpoint[] {
  const api = apiEndpoint(t, env);
  const ssh = t.nodes.map((n) => ({ what: `SSH on ${n.name}`, ...sshEndpoint(n) }));
  return [...ssh, { what: api.what, host: api.host, port: api.port }];
}

/** Resolves to undefined when a TCP connection opens within `timeoutMs`, else to the reason. */
export function tcpReachable(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (reason: string | undefined): void => {
      socket.destroy();
      clearTimeout(timer);
      resolve(reason);
    };
    const timer = setTimeout(() => done(`no answer within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

export function startHint(t: Topology, file: string): string {
  return t.provider === 'vagrant'
    ? `Start the lab with: ${LAB_UP_COMMAND}`
    : `Start the lab described by ${file}, or point LAB_TOPOLOGY at a lab that is running.`;
}

export interface PreflightOptions {
  topologyFile: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  probe?: typeof tcpReachable;
}

export async function preflight(t: Topology, opts: PreflightOptions): Promise<PreflightResult> {
  const env = opts.env ?? process.env;
  // The inputs first (LAB_KUBECONFIG readable and pointing at this lab): a wrong input is named before anything else.
  let endpoints: Endpoint[];
  let notice: string | null;
  try {
    notice = apiEndpoint(t, env).notice;
    endpoints = endpointsToCheck(t, env);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
  if (t.provider === 'vagrant') {
    const stateDir = vagrantStateDir(env);
    const missing = machinesNotCreated(t, stateDir);
    if (missing.length > 0) {
      return {
        ok: false,
        message:
          `No lab: the Vagrant VMs ${missing.join(', ')} have not been created (nothing in ${path.join(stateDir, 'machines')}). ` +
          `No packet was sent. ${startHint(t, opts.topologyFile)}`,
      };
    }
  }
  const probe = opts.probe ?? tcpReachable;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const results = await Promise.all(endpoints.map(async (e) => ({ e, reason: await probe(e.host, e.port, timeoutMs) })));
  const failed = results.filter((r) => r.reason !== undefined);
  if (failed.length > 0) {
    const list = failed.map(({ e, reason }) => `${e.what} at ${e.host}:${e.port} (${reason})`).join('; ');
    return { ok: false, message: `No lab: unreachable: ${list}. ${startHint(t, opts.topologyFile)}` };
  }
  return { ok: true, checked: endpoints, notice };
}

/**
 * The check as the entry points run it: load the topology in force, run the pre-flight, and on failure
 * print one message and end the process (a thrown error would come back wrapped in vitest's noise).
 */
export async function checkLabOrExit(env: NodeJS.ProcessEnv = process.env): Promise<Endpoint[]> {
  const file = topologyFile(env);
  const stop = (message: string): never => {
    process.stderr.write(`\n${message}\n\n`);
    process.exit(2);
  };
  let result: PreflightResult;
  try {
    result = await preflight(loadTopology(file), { topologyFile: file, env });
  } catch (err) {
    return stop((err as Error).message);
  }
  if (!result.ok) return stop(result.message);
  if (result.notice) process.stderr.write(`${result.notice}\n`);
  return result.checked;
}
