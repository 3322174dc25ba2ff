/**
 * How the harness reaches a lab's Kubernetes API, and the id of a run: plain functions with no vitest in them,
 * so the lab project's global setup (which runs outside any test) can use them as well as the lab fixture.
 */
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type { SshPool } from '../transport/ssh.ts';
import { controlPlane, type Topology } from './topology.ts';

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
  if (!RUN_ID.test(given)) throw new Error(`LAB_RUN_ID "${given}" must be lower-case letters, digits and hyphens, at most 20 characters, not starting or ending with a hyphen`);
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

/** $KUBECONFIG if set, else admin.conf from the control plane over SSH with the server set to the topology's endpoint. */
export async function loadKubeConfig(topology: Topology, ssh: SshPool, env: NodeJS.ProcessEnv = process.env): Promise<{ kc: KubeConfig; source: string }> {
  const kc = new KubeConfig();
  if (env.KUBECONFIG) {
    kc.loadFromDefault();
    return { kc, source: `KUBECONFIG ${env.KUBECONFIG}` };
  }
  const cp = controlPlane(topology).name;
  const text = await ssh.host(cp).run('cat /etc/kubernetes/admin.conf', { sudo: true, timeoutMs: 30_000 });
  kc.loadFromString(rewriteKubeconfigServer(text, apiServerUrl(topology)));
  return { kc, source: `/etc/kubernetes/admin.conf on ${cp}, server ${apiServerUrl(topology)}` };
}

