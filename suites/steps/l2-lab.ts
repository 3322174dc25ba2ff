/**
 * What the L2 suites (50-l2-announcements, 90-l2-failover) do to and read from the lab, built on the
 * shared helpers (kube, ssh, probes, cilium; the objects a suite creates are helpers/lab/suite-objects.ts).
 * No judging here: every function returns what it saw, and the pure judges in helpers/judge/l2.ts and
 * helpers/judge/failover.ts decide.
 */
import type { V1Lease } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { AGENT_CONTAINER, agentPodOn, agentStatus, CILIUM_NAMESPACE } from '../../helpers/cilium/cilium.ts';
import type { LeaseTimelineEvent } from '../../helpers/judge/failover.ts';
import { L2_LEASE_NAMESPACE, type LeaseState } from '../../helpers/judge/l2.ts';
import { toKubeError, type ObjectRef, type WatchConnectionEvent, type WatchLeaseOptions } from '../../helpers/kube/index.ts';
import type { Lab } from '../../helpers/lab/lab.ts';
import { parseHttpProbeLog, type HttpProbeLog } from '../../helpers/parse/http-probe-loop.ts';
import { httpProbeLoopCommand, type HttpProbeLoopOptions } from '../../helpers/transport/probe-loop.ts';
import { pollUntil, systemClock, withDeadline } from '../../helpers/wait/retry.ts';
import { SshError, type ExecResult } from '../../helpers/transport/ssh.ts';
import { router } from '../../helpers/lab/topology.ts';
import { deferCleanup } from '../../helpers/lab/suite-scope.ts';
import { DEADLINE } from '../../helpers/wait/deadlines.ts';

// ---------------------------------------------------------------------------------------------
// The lease
// ---------------------------------------------------------------------------------------------

function leaseState(l: V1Lease): LeaseState {
  const renew: unknown = l.spec?.renewTime;
  return {
    holder: l.spec?.holderIdentity || null,
    renewTime: renew instanceof Date ? renew.toISOString() : typeof renew === 'string' ? renew : null,
    transitions: l.spec?.leaseTransitions ?? null,
  };
}

const leaseRef = (name: string): ObjectRef => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  namespace: L2_LEASE_NAMESPACE,
  name,
});

/** The lease's state now (null when it does not exist) and its YAML for attachments. */
export async function readLease(lab: Pick<Lab, 'kube'>, name: string): Promise<{ state: LeaseState | null; yaml: string }> {
  const l = await lab.kube.read<V1Lease>(leaseRef(name));
  return { state: l ? leaseState(l) : null, yaml: l ? toYaml(l) : `# Lease ${L2_LEASE_NAMESPACE}/${name} not found\n` };
}

export interface LeaseRecorder {
  /** Everything seen so far, in arrival order (harness clock). */
  readonly events: LeaseTimelineEvent[];
  /** Stops watching and polling; idempotent. */
  stop(): Promise<void>;
}

/**
 * A lease watcher's connection event as the failover timeline records it: connected and resumed are both a
 * (re)connect (watch-connected), disconnected is watch-disconnected with its error (null when the server just
 * ended the watch). A relist after 410 Gone has no kind of its own in the timeline: the 410 is the error of the
 * disconnect before it, the lease state the relist read arrives as a lease event, and the watch opened from it
 * as watch-connected; so it maps to null.
 */
export function connectionTimelineEvent(e: WatchConnectionEvent): LeaseTimelineEvent | null {
  switch (e.state) {
    case 'connected':
    case 'resumed':
      return { at: e.at, kind: 'watch-connected' };
    case 'disconnected':
      return { at: e.at, kind: 'watch-disconnected', error: e.error ?? null };
    case 'relisted':
      return null;
  }
}

/**
 * Records the lease two ways at once, so a person can tell "Cilium did not fail over" from "the harness lost
 * the API server": the Kubernetes helpers' watcher (every holder change, and when its watch connected, was lost
 * and came back: watch-connected / watch-disconnected), and a plain read every `pollMs` whose failures are
 * recorded as api-error events (each read bounded by `readTimeoutMs`). `watch` tunes the watcher's reconnects.
 */
export function recordLease(
  lab: Pick<Lab, 'kube'>,
  name: string,
  o: {
    pollMs?: number;
    readTimeoutMs?: number;
    maxMs?: number;
    watch?: Pick<WatchLeaseOptions, 'reconnectDelayMs' | 'maxReconnectDelayMs'>;
  } = {},
): LeaseRecorder {
  const pollMs = o.pollMs ?? 1_000;
  const readTimeoutMs = o.readTimeoutMs ?? DEADLINE.leaseReadMs;
  const ac = new AbortController();
  // A recorder nobody stops still ends (DEADLINE.recorderMs covers a reboot wait with the failover around it).
  const cap = setTimeout(() => ac.abort(new Error('lease recorder reached its time limit')), o.maxMs ?? DEADLINE.recorderMs);
  cap.unref();
  const events: LeaseTimelineEvent[] = [];
  const onConnection = (c: WatchConnectionEvent): void => {
    const e = connectionTimelineEvent(c);
    if (e) events.push(e);
  };
  const watch = lab.kube
    .watchLeaseHolder(
      L2_LEASE_NAMESPACE,
      name,
      (e) =>
        events.push({ at: e.at, kind: 'lease', source: 'watch', holder: e.holder, renewTime: e.renewTime, transitions: e.transitions }),
      ac.signal,
      // The recorder times a failover: after the API server is back its watch resumes within 2 s, not after the
      // default backoff's 10 s (issue 16 api-restart: a 5 s restart showed a 12 s watch gap). The poll goes on anyway.
      { maxReconnectDelayMs: DEADLINE.recorderReconnectMs, ...o.watch, onConnection },
    )
    .catch((err: unknown) =>
      events.push({ at: Date.now(), kind: 'api-error', source: 'watch', error: `the watcher gave up: ${(err as Error).message}` }),
    );
  const poll = (async () => {
    while (!ac.signal.aborted) {
      const at = Date.now();
      try {
        const l = await withDeadline(
          `read Lease ${name}`,
          readTimeoutMs,
          lab.kube.coordination.readNamespacedLease({ name, namespace: L2_LEASE_NAMESPACE }),
        );
        events.push({ at, kind: 'lease', source: 'poll', ...leaseState(l) });
      } catch (err) {
        const e = toKubeError(err, `read Lease ${L2_LEASE_NAMESPACE}/${name}`);
        if (e.code === 404) events.push({ at, kind: 'lease-missing', source: 'poll' });
        else events.push({ at, kind: 'api-error', source: 'poll', error: e.message });
      }
      // The project's sleep, cut short by stop() instead of finishing the interval.
      await systemClock.sleep(pollMs, ac.signal).catch(() => undefined);
    }
  })();
  let stopped: Promise<void> | undefined;
  // On the running suite's cleanup stack until stopped (a test that failed before stopping it).
  let leaveStack = (): void => undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      clearTimeout(cap);
      ac.abort();
      await Promise.allSettled([watch, poll]);
      leaveStack();
    })());
  leaveStack = deferCleanup(`stop recording Lease ${L2_LEASE_NAMESPACE}/${name}`, stop);
  return { events, stop };
}

// ---------------------------------------------------------------------------------------------
// The router's probe loop and clock
// ---------------------------------------------------------------------------------------------

export function routerName(lab: Pick<Lab, 'topology'>): string {
  const r = router(lab.topology);
  if (!r) throw new Error(`topology ${lab.topology.name} has no router: the L2 suites probe from the router`);
  return r.name;
}

export interface RouterProbes {
  /** The log so far, parsed. */
  now(): HttpProbeLog;
  /** Stops the loop (idempotent) and returns its whole output, parsed and raw. */
  stop(): Promise<{ log: HttpProbeLog; raw: ExecResult }>;
}

/** Starts the bounded HTTP probe loop on the router in the background (SshHost.background). */
export async function startRouterProbes(lab: Pick<Lab, 'ssh' | 'topology'>, o: HttpProbeLoopOptions): Promise<RouterProbes> {
  const bg = await lab.ssh.host(routerName(lab)).background(httpProbeLoopCommand(o));
  let result: Promise<{ log: HttpProbeLog; raw: ExecResult }> | undefined;
  return {
    now: () => parseHttpProbeLog(bg.output),
    stop: () => (result ??= bg.stop().then((raw) => ({ log: parseHttpProbeLog(raw.stdout), raw }))),
  };
}

/** The router's clock against ours: remote ≈ local + offsetMs (± uncertaintyMs). */
export async function routerClock(
  lab: Pick<Lab, 'ssh' | 'topology'>,
): Promise<{ localBefore: number; remote: number; localAfter: number }> {
  const host = lab.ssh.host(routerName(lab));
  const localBefore = Date.now();
  const out = await host.run('date +%s%3N', { timeoutMs: DEADLINE.hostReadMs, idempotent: true });
  const localAfter = Date.now();
  const remote = Number(out.trim());
  if (!/^\d{13}$/.test(out.trim()))
    throw new SshError(host.name, 'date +%s%3N', `"${out.trim()}" is not milliseconds since the epoch (GNU date needed)`);
  return { localBefore, remote, localAfter };
}

// ---------------------------------------------------------------------------------------------
// Rebooting a node and getting it back
// ---------------------------------------------------------------------------------------------

/** /proc/sys/kernel/random/boot_id: changes at every boot, so it proves a reboot happened. */
export async function bootId(lab: Pick<Lab, 'ssh'>, node: string, timeoutMs: number = DEADLINE.hostReadMs): Promise<string> {
  const out = (await lab.ssh.host(node).run('cat /proc/sys/kernel/random/boot_id', { timeoutMs, idempotent: true })).trim();
  if (!/^[0-9a-f-]{36}$/.test(out)) throw new SshError(node, 'cat /proc/sys/kernel/random/boot_id', `"${out}" is not a boot id`);
  return out;
}

/**
 * Asks `node` to reboot (systemctl reboot). The SSH connection may drop before an exit status comes back:
 * that is expected and recorded. A command that runs and fails (not allowed, no systemd) throws.
 */
export async function rebootNode(lab: Lab, node: string): Promise<{ at: number; outcome: string }> {
  const at = Date.now();
  try {
    const r = await lab.ssh.host(node).exec('systemctl reboot', { sudo: true, timeoutMs: DEADLINE.hostCommandMs });
    if (r.code !== 0) throw new Error(`systemctl reboot on ${node} exited with ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    return { at, outcome: 'systemctl reboot exited 0' };
  } catch (err) {
    if (err instanceof SshError) return { at, outcome: `SSH ended while rebooting (expected): ${err.message}` };
    throw err;
  }
}

/**
 * Waits (one deadline for all, never stretched: each step gets what is left) until `node` is back whole: SSH answers with a NEW boot id, the Kubernetes
 * node is Ready, and its Cilium agent is healthy. Returns the new boot id.
 */
export async function waitNodeBack(lab: Lab, node: string, o: { bootIdBefore: string | null; timeoutMs: number }): Promise<string> {
  const deadline = Date.now() + o.timeoutMs;
  const left = (): number => Math.max(0, deadline - Date.now());
  const id = await pollUntil(
    `${node} to answer SSH after its reboot (with a new boot id)`,
    async () => {
      await lab.ssh.host(node).waitReachable(Math.min(left(), DEADLINE.execMs));
      const now = await bootId(lab, node);
      return now !== o.bootIdBefore ? { done: true, value: now } : { done: false, seen: `boot id still ${now}: not rebooted yet` };
    },
    { timeoutMs: left(), intervalMs: 5_000 },
  );
  await lab.kube.waitNodeReady(node, true, left());
  await pollUntil(
    `the Cilium agent on ${node} to be healthy (cilium-dbg status: Ok)`,
    async () => {
      const agent = await agentStatus(lab, await agentPodOn(lab, node));
      return agent.healthy
        ? { done: true, value: undefined }
        : { done: false, seen: `agent ${agent.pod}: ${agent.state ?? 'state unknown'}` };
    },
    { timeoutMs: left(), intervalMs: 5_000 },
  );
  return id;
}

/** `cilium-dbg shell -- db/show devices` of the agent on `node`, as text for an attachment (Selected must be true for eth1). */
export async function agentDevices(lab: Pick<Lab, 'kube'>, node: string): Promise<string> {
  const pod = (await agentPodOn(lab, node)).metadata?.name ?? '?';
  const r = await lab.kube.execInPod(CILIUM_NAMESPACE, pod, ['cilium-dbg', 'shell', '--', 'db/show', 'devices'], {
    container: AGENT_CONTAINER,
    timeoutMs: DEADLINE.execMs,
  });
  return `# ${node} (${pod}), exit ${String(r.code)}\n${r.stdout}${r.stderr}`;
}
