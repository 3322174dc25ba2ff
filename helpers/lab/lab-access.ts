/**
 * How the harness reaches a lab's Kubernetes API, and the id of a run: plain functions with no vitest in them,
 * so the lab project's global setup (which runs outside any test) can use them as well as the lab fixture.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { SshPool } from '../transport/ssh.ts';
import { withDeadline } from '../wait/retry.ts';
import { controlPlane, kubeNodes, primaryAddress, sshEndpoint, type Topology } from './topology.ts';
import { InputFileError, parseYamlText, readInputFile } from './yaml-file.ts';

const RUN_ID = /^[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?$/;

/** r<YYYYMMDD>-<HHMM>-<4 hex> in UTC, e.g. r20261122-0349-ab12 (19 characters). */
export function makeRunId(now: Date = new Date(), random: string = randomBytes(2).toString('hex')): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  const id = `r${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}-${random}`;
  if (!RUN_ID.test(id)) throw new Error(`run id "${id}" is not lower-case [a-z0-9-] of at most 20 characters`);
  return id;
}

/** $LAB_RUN_ID when set (validated), else a new one. */
export function resolveRunId(env: NodeJS.ProcessEnv = process.env, now: Date = new Date()): string {
  const given = env.LAB_RUN_ID;
  if (given === undefined || given === '') return makeRunId(now);
  if (!RUN_ID.test(given))
    throw new Error(
      `LAB_RUN_ID "${given}" must be lower-case letters, digits and hyphens, at most 20 characters, not starting or ending with a hyphen`,
    );
  return given;
}

/**
 * The kubeconfig text with the current context's cluster pointed at `server` (https://host:port). Everything else
 * (certificates, keys, names) is kept as it is.
 */
export function rewriteKubeconfigServer(text: string, server: string): string {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new Error(`kubeconfig is not YAML: ${(err as Error).message}`);
  }
  const k = doc as {
    'current-context'?: string;
    contexts?: { name?: string; context?: { cluster?: string } }[];
    clusters?: { name?: string; cluster?: { server?: string } }[];
  } | null;
  if (!k || !Array.isArray(k.clusters) || k.clusters.length === 0) throw new Error('kubeconfig has no clusters');
  const ctx = k.contexts?.find((c) => c.name === k['current-context']) ?? (k.contexts?.length === 1 ? k.contexts[0] : undefined);
  const name = ctx?.context?.cluster ?? (k.clusters.length === 1 ? k.clusters[0]?.name : undefined);
  const cluster = k.clusters.find((c) => c.name === name);
  if (!cluster?.cluster) throw new Error(`kubeconfig: cannot tell which cluster the current context "${k['current-context'] ?? ''}" uses`);
  cluster.cluster.server = server;
  return toYaml(doc);
}

export function apiServerUrl(t: Pick<Topology, 'apiEndpoint'>): string {
  return `https://${t.apiEndpoint.host}:${t.apiEndpoint.port}`;
}

// ---------------------------------------------------------------------------------------------
// Which kubeconfig: only the lab's
// ---------------------------------------------------------------------------------------------

/** The harness's own variable for a kubeconfig of the lab (never the ambient KUBECONFIG). */
export const LAB_KUBECONFIG_ENV = 'LAB_KUBECONFIG';
export const ADMIN_CONF = '/etc/kubernetes/admin.conf';

export type KubeconfigChoice =
  { kind: 'control-plane'; node: string; notice: string | null } | { kind: 'explicit'; file: string; notice: string | null };

/**
 * Where the lab's kubeconfig comes from. An exported KUBECONFIG is usually another cluster (a work cluster), so it
 * is never used: the kubeconfig is /etc/kubernetes/admin.conf read from the topology's control plane over SSH, or
 * the file named by LAB_KUBECONFIG when the user asks for one explicitly (checked by `loadKubeConfig`).
 * Same rule for provider vagrant and existing. `notice` is the one line saying an ambient KUBECONFIG is ignored.
 */
export function kubeconfigChoice(t: Topology, env: NodeJS.ProcessEnv = process.env): KubeconfigChoice {
  const explicit = env[LAB_KUBECONFIG_ENV]?.trim();
  const ambient = env.KUBECONFIG?.trim();
  const cp = controlPlane(t).name;
  if (explicit) {
    const file = path.resolve(explicit);
    const notice = ambient ? `KUBECONFIG=${ambient} is ignored: the lab's API is reached with ${LAB_KUBECONFIG_ENV}=${file}` : null;
    return { kind: 'explicit', file, notice };
  }
  const notice = ambient
    ? `KUBECONFIG=${ambient} is ignored: the lab's kubeconfig is ${ADMIN_CONF} on ${cp} (set ${LAB_KUBECONFIG_ENV} to use another kubeconfig of this lab)`
    : null;
  return { kind: 'control-plane', node: cp, notice };
}

export interface KubeconfigFile {
  file: string;
  kc: KubeConfig;
  /** The current context's server, as written. */
  server: string;
  host: string;
  port: number;
}

/**
 * Reads a kubeconfig file; every problem names the file and the problem: missing, a directory, not YAML (line and
 * column), empty, not a kubeconfig, no current context, a context or cluster that is not there, a server that is
 * not an http(s) URL.
 */
export function readKubeconfigFile(file: string, what = 'kubeconfig'): KubeconfigFile {
  const text = readInputFile(file, what);
  const data = parseYamlText(text, file, what);
  const fail = (problem: string): never => {
    throw new InputFileError(what, file, problem);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    fail('is not a kubeconfig (expected a mapping with clusters, contexts, users)');
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    fail(`is not a kubeconfig: ${(err as Error).message}`);
  }
  const current = kc.getCurrentContext();
  if (!current) fail('has no current-context');
  const ctx = kc.getContextObject(current);
  if (!ctx)
    fail(
      `current-context "${current}" is not among its contexts (${
        kc
          .getContexts()
          .map((c) => c.name)
          .join(', ') || 'none'
      })`,
    );
  const cluster = kc.getCluster(ctx?.cluster ?? '');
  if (!cluster) fail(`context "${current}" names cluster "${ctx?.cluster ?? ''}", which is not among its clusters`);
  const server = cluster?.server ?? '';
  let url: URL | undefined;
  try {
    url = new URL(server);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname) {
    fail(`the server of cluster "${cluster?.name ?? ''}" is "${server}", which is not a URL (expected https://host:port)`);
  }
  const u = url as URL;
  return { file, kc, server, host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443 };
}

/** Throws unless the kubeconfig's server is the topology's API endpoint (host and port), naming both. */
export function checkKubeconfigServer(k: Pick<KubeconfigFile, 'file' | 'server' | 'host' | 'port'>, t: Topology): void {
  if (k.host === t.apiEndpoint.host && k.port === t.apiEndpoint.port) return;
  throw new Error(
    `Refusing ${LAB_KUBECONFIG_ENV} ${k.file}: its server ${k.server} is not the API endpoint of topology ${t.name} ` +
      `(${t.apiEndpoint.host}:${t.apiEndpoint.port}); the suites would create and delete objects in another cluster.`,
  );
}

export interface ClusterNode {
  name: string;
  internalIp: string | null;
}

const describeNodes = (nodes: ClusterNode[]): string =>
  nodes.map((n) => `${n.name} (${n.internalIp ?? 'no InternalIP'})`).join(', ') || 'none';

/** Pure: null when the cluster's nodes are the topology's Kubernetes nodes (names and InternalIPs), else why not. */
export function nodesMismatch(t: Topology, cluster: ClusterNode[], source: string): string | null {
  const wanted: ClusterNode[] = kubeNodes(t).map((n) => ({ name: n.name, internalIp: primaryAddress(n) }));
  const key = (n: ClusterNode): string => `${n.name}=${n.internalIp ?? ''}`;
  const have = new Set(cluster.map(key));
  const same = cluster.length === wanted.length && wanted.every((n) => have.has(key(n)));
  if (same) return null;
  const sort = (ns: ClusterNode[]): ClusterNode[] => [...ns].sort((a, b) => a.name.localeCompare(b.name));
  return (
    `Refusing ${source}: the cluster's nodes are ${describeNodes(sort(cluster))}, but topology ${t.name} names ` +
    `${describeNodes(sort(wanted))}; the suites would create and delete objects in another cluster.`
  );
}

/** Lists the cluster's nodes (one request, 20 s) and throws unless they are the topology's. */
export async function checkClusterNodes(kc: KubeConfig, t: Topology, source: string): Promise<void> {
  const list = await withDeadline(`the node list of ${source}`, 20_000, kc.makeApiClient(CoreV1Api).listNode());
  const cluster = list.items.map((n) => ({
    name: n.metadata?.name ?? '',
    internalIp: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? null,
  }));
  const problem = nodesMismatch(t, cluster, source);
  if (problem) throw new Error(problem);
}

export interface LabKubeConfig {
  kc: KubeConfig;
  source: string;
  /** One line to show when an ambient KUBECONFIG was ignored. */
  notice: string | null;
  /** admin.conf as used (server already the topology's endpoint), when that was the source; null for LAB_KUBECONFIG. */
  adminConf: AdminConf | null;
}

/**
 * admin.conf read from `node` with its server set to `server`, as `loadKubeConfig` chose and used it. The global setup
 * hands it to the lab fixture (vitest provide/inject, in memory only: never written to disk or logged), so admin.conf
 * is fetched once per run; `loadKubeConfig` takes it only when its own choice is the same node and server.
 */
export interface AdminConf {
  node: string;
  server: string;
  text: string;
}

type AdminConfReader = Pick<SshPool, 'host'>;

/**
 * The lab's kubeconfig (see kubeconfigChoice): admin.conf from the control plane over SSH with the server set to the
 * topology's endpoint, or LAB_KUBECONFIG after checking its server and the cluster's nodes against the topology.
 * An ambient KUBECONFIG is never read and never contacted. `readBefore` (admin.conf this run has read already) is
 * used instead of reading it again only when it comes from the same node with the same server.
 */
export async function loadKubeConfig(
  topology: Topology,
  ssh: AdminConfReader,
  env: NodeJS.ProcessEnv = process.env,
  readBefore: AdminConf | null = null,
): Promise<LabKubeConfig> {
  const choice = kubeconfigChoice(topology, env);
  if (choice.kind === 'explicit') {
    const k = readKubeconfigFile(choice.file, LAB_KUBECONFIG_ENV);
    checkKubeconfigServer(k, topology);
    await checkClusterNodes(k.kc, topology, `${LAB_KUBECONFIG_ENV} ${k.file}`);
    return {
      kc: k.kc,
      source: `${LAB_KUBECONFIG_ENV} ${k.file} (server ${k.server}; nodes match topology ${topology.name})`,
      notice: choice.notice,
      adminConf: null,
    };
  }
  const kc = new KubeConfig();
  const server = apiServerUrl(topology);
  const text =
    readBefore && readBefore.node === choice.node && readBefore.server === server
      ? readBefore.text
      : rewriteKubeconfigServer(
          await ssh.host(choice.node).run(`cat ${ADMIN_CONF}`, { sudo: true, timeoutMs: 30_000, idempotent: true }),
          server,
        );
  kc.loadFromString(text);
  return {
    kc,
    source: `${ADMIN_CONF} on ${choice.node}, server ${server}`,
    notice: choice.notice,
    adminConf: { node: choice.node, server, text },
  };
}

// ---------------------------------------------------------------------------------------------
// SSH identity: each SSH endpoint is the node the topology names
// ---------------------------------------------------------------------------------------------

type HostnameReader = { host(name: string): Pick<ReturnType<SshPool['host']>, 'exec'> };

/**
 * Asks every host its `hostname` over SSH (all at once, each within `timeoutMs`). One line per host that does not
 * answer as the node the topology names (a swapped or stale address in the topology would send reboots and helm
 * to the wrong machine), or that cannot be asked. Empty when every host is who the topology says.
 */
export async function sshIdentityProblems(t: Topology, ssh: HostnameReader, timeoutMs = 20_000): Promise<string[]> {
  const answers = await Promise.all(
    t.nodes.map(async (n) => {
      const ep = sshEndpoint(n);
      const where = `node ${n.name} (SSH ${ep.host}:${ep.port})`;
      try {
        const r = await ssh.host(n.name).exec('hostname', { timeoutMs });
        const got = r.stdout.trim();
        if (r.code !== 0) return `${where}: \`hostname\` exited ${String(r.code)}: ${r.stderr.trim()}`;
        if (got === n.name || got.startsWith(`${n.name}.`)) return null;
        return `${where} answers as "${got}"`;
      } catch (err) {
        return `${where}: cannot run \`hostname\`: ${(err as Error).message}`;
      }
    }),
  );
  return answers.filter((a): a is string => a !== null);
}
