/**
 * The Lab a suite receives: topology, SSH pool, Kubernetes client, run id and run namespace, connected once per run.
 *
 *   // suites/support/lab.ts (the scenarios' side wires in their plan and manifest folder):
 *   export const labTest = labTestWith({ manifestDir: MANIFEST_DIR });
 *   // a suite:
 *   test.beforeAll(async ({ lab }) => prepareThisSuite(lab, import.meta.url));
 *   test('webpod answers from every node', async ({ lab }) => { ... });
 *
 * This module knows no scenario: the plan (needs per suite) and the manifest folder are passed in.
 * May import: cilium/, kube/, transport/, report/, wait/ and this folder; never suites/.
 *
 * - `labTestWith` builds vitest's test.extend with a worker-scoped `lab` fixture. The lab project runs one worker, and with
 *   `isolate: false` that worker serves every suite file, so the lab connects once per run and is torn down after the
 *   last file (with the default isolate: true it would connect once per file).
 * - Kubeconfig: /etc/kubernetes/admin.conf read once per run from the control plane over SSH (kept in memory only;
 *   the global setup reads it and provides it to the worker, see ProvidedContext.labAdminConf), with the server set to
 *   the topology's apiEndpoint; or $LAB_KUBECONFIG, refused unless its server is the topology's
 *   apiEndpoint and the cluster's nodes are the topology's. An exported KUBECONFIG is ignored (helpers/lab/lab-access.ts).
 * - The run namespace `clh-<runId>` is created at connect; everything labelled with the run is deleted at the end
 *   (set LAB_KEEP=1 to keep it for debugging). Cleanups run in reverse registration order, all of them, even when one
 *   fails or the run failed.
 * - prepareSuite, once per run, deletes harness objects of earlier runs and the routes they added on the router
 *   (helpers/transport/probes.ts sweepHarnessRoutes); then it converges Cilium (helpers/cilium/cilium.ts ensureCilium, with the fold rule of helpers/cilium/needs.ts over the
 *   suites selected for this run), and deploys the workloads once per run.
 */
import { expect, inject, test } from 'vitest';
import { ensureCilium, readRunningSettings } from '../cilium/cilium.ts';
import { Kube, type AttachFn } from '../kube/index.ts';
import {
  convergeTarget,
  runningLookup,
  selectPlanned,
  suiteFileName,
  type PlannedSuite,
  type SuiteNeeds,
  type Workload,
} from '../cilium/needs.ts';
import { SshPool } from '../transport/ssh.ts';
import { controlPlane, kubeNodes, loadTopology, router, type Topology } from './topology.ts';
import { sweepHarnessRoutes } from '../transport/probes.ts';
import { loadKubeConfig, resolveRunId, type AdminConf } from './lab-access.ts';
import { attach, attachCollected } from '../report/report.ts';
import { DEADLINE } from '../wait/deadlines.ts';
import { useTestSignal } from '../wait/retry.ts';
import { Cleanups } from './cleanups.ts';
import { cleanUpOnInterrupt } from './interrupt.ts';
import { closeSuiteScope, openSuiteScope } from './suite-scope.ts';

export { apiServerUrl, LAB_KUBECONFIG_ENV, loadKubeConfig, makeRunId, resolveRunId, rewriteKubeconfigServer } from './lab-access.ts';
export { Cleanups } from './cleanups.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The lab suite files selected for this run, in run order (provided by the lab project's sequencer). */
    labSuiteFiles?: string[];
    /** admin.conf as the global setup read and used it (suites/support/global-setup.ts), so the fixture does not fetch it again. */
    labAdminConf?: AdminConf;
  }
}

export interface Lab {
  topology: Topology;
  ssh: SshPool;
  kube: Kube;
  runId: string;
  namespace: string;
  /** Run-level cleanups (run at the end of the run, in reverse order). */
  cleanups: Cleanups;
  /** The suite files of this run in order, or null when unknown (then each suite converges to its own needs only). */
  suiteFiles: string[] | null;
  /** What has been done in this run already. */
  done: { workloads: Set<Workload>; staleRemoved: boolean };
  log: (line: string) => void;
}

// ---------------------------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------------------------

export interface ConnectOptions {
  topology?: Topology;
  env?: NodeJS.ProcessEnv;
  /** Diagnostics sink for failed waits (helpers/report/report.ts attach). */
  attach?: AttachFn;
  suiteFiles?: string[] | null;
  log?: (line: string) => void;
  /** The SSH pool to use (default: a new one for the topology; closed with the lab either way). */
  ssh?: SshPool;
  /** The folder relative manifest names resolve against (the suites' manifests). */
  manifestDir?: string;
  /** admin.conf this run has read already (default: what the global setup provided, if it did); see loadKubeConfig. */
  adminConf?: AdminConf | null;
}

function providedAdminConf(): AdminConf | null {
  try {
    return inject('labAdminConf') ?? null;
  } catch {
    return null;
  }
}

function providedSuiteFiles(env: NodeJS.ProcessEnv): string[] | null {
  let files: string[] | undefined;
  try {
    files = inject('labSuiteFiles');
  } catch {
    files = undefined;
  }
  if (files && files.length > 0) return files;
  const fromEnv = env.LAB_SUITES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return fromEnv && fromEnv.length > 0 ? fromEnv : null;
}

export async function connectLab(o: ConnectOptions = {}): Promise<Lab> {
  const env = o.env ?? process.env;
  const log = o.log ?? ((line: string) => process.stderr.write(`[lab] ${line}\n`));
  const topology = o.topology ?? loadTopology();
  const runId = resolveRunId(env);
  const cleanups = new Cleanups();
  const ssh = o.ssh ?? new SshPool(topology, { log });
  cleanups.add('close SSH connections', () => ssh.close());
  try {
    const { kc, source, notice } = await loadKubeConfig(topology, ssh, env, o.adminConf !== undefined ? o.adminConf : providedAdminConf());
    if (notice) log(notice);
    log(`run ${runId}: Kubernetes API from ${source}`);
    const kube = new Kube(kc, {
      runId,
      ...(o.attach ? { attach: o.attach } : {}),
      ...(o.manifestDir ? { manifestDir: o.manifestDir } : {}),
    });
    await kube.ensureNamespace();
    cleanups.add(`delete the objects of run ${runId}`, async () => {
      if (env.LAB_KEEP === '1') {
        log(`LAB_KEEP=1: keeping namespace ${kube.namespace} and every object labelled cilium-lab-harness/run=${runId}`);
        return;
      }
      const deleted = await kube.deleteByRunLabel(runId, { timeoutMs: DEADLINE.runRemovalMs });
      log(`run ${runId}: deleted ${deleted.length} object(s)`);
    });
    return {
      topology,
      ssh,
      kube,
      runId,
      namespace: kube.namespace,
      cleanups,
      suiteFiles: o.suiteFiles !== undefined ? o.suiteFiles : providedSuiteFiles(env),
      done: { workloads: new Set(), staleRemoved: false },
      log,
    };
  } catch (err) {
    await cleanups.run().catch(() => undefined);
    throw err;
  }
}

export async function closeLab(lab: Pick<Lab, 'cleanups'>): Promise<void> {
  await lab.cleanups.run();
}

/** Whether `file` is the last of the run's suite files (compared by file name; false when the run's files are unknown). */
export function isLastSuiteFile(file: string, suiteFiles: readonly string[] | null): boolean {
  const last = suiteFiles?.at(-1);
  return last !== undefined && suiteFileName(last) === suiteFileName(file);
}

/**
 * vitest test API with a worker-scoped `lab` (connects once per worker: once per run with isolate: false).
 * `manifestDir` is the folder the suites keep their manifests in (relative names in applyManifest resolve there);
 * `connect` replaces connectLab (self-tests of the fixture's chores, without a lab).
 */
export function labTestWith(o: { manifestDir: string; connect?: () => Promise<Lab> }) {
  return (
    test
      // eslint-disable-next-line no-empty-pattern
      .extend('lab', { scope: 'worker' }, async ({}, { onCleanup }) => {
        // Failed waits attach the object's YAML and events to the running test's Allure result (redacted).
        const lab = await (o.connect ? o.connect() : connectLab({ attach, manifestDir: o.manifestDir }));
        // Interrupted (SIGINT/SIGTERM): every cleanup still runs, and the run says what it left undone (interrupt.ts).
        const offInterrupt = o.connect ? () => undefined : cleanUpOnInterrupt(lab);
        onCleanup(async () => {
          await closeLab(lab);
          offInterrupt();
        });
        return lab;
      })
      // The suite's scope (helpers/lab/suite-scope.ts): opened before the file's beforeAll, its cleanup stack run after
      // its afterAll; on the run's stack too, so an interrupted run still undoes what the suite left.
      // After the run's last suite file, the run's own cleanups (delete the run's objects) run here, within the hook
      // timeout: the worker's teardown, where they would run otherwise, is cut by vitest after 60 s (its STOP_TIMEOUT).
      .extend('suiteScope', { scope: 'file', auto: true }, ({ lab }, { onCleanup }) => {
        const file = expect.getState().testPath ?? 'suite';
        const scope = openSuiteScope(suiteFileName(file));
        const off = lab.cleanups.add(`undo what ${scope.name} left`, () => scope.close());
        onCleanup(async () => {
          off();
          await closeSuiteScope(scope);
          if (isLastSuiteFile(file, lab.suiteFiles)) await closeLab(lab);
        });
        return Promise.resolve(scope);
      })
      // Each test: its waits end with it (vitest's signal, aborted when the test times out), and the suite's
      // declared diagnostics are attached when it fails.
      .extend('chores', { auto: true }, ({ signal, onTestFailed, suiteScope }, { onCleanup }) => {
        onCleanup(useTestSignal(signal));
        for (const d of suiteScope.diagnostics) {
          onTestFailed(() =>
            attachCollected(d.name, d.collect, { ...(d.type ? { type: d.type } : {}), timeoutMs: DEADLINE.diagnosticsMs }),
          );
        }
        return Promise.resolve(true);
      })
  );
}

// ---------------------------------------------------------------------------------------------
// Converging before a suite
// ---------------------------------------------------------------------------------------------

export const WORKLOAD_TIMEOUT_MS = DEADLINE.workloadMs;

/** Deploys the workloads not deployed yet in this run and waits until they serve. Removed with the run's objects. */
export async function ensureWorkloads(lab: Lab, workloads: readonly Workload[]): Promise<void> {
  const nodes = kubeNodes(lab.topology).map((n) => n.name);
  for (const w of workloads) {
    if (lab.done.workloads.has(w)) continue;
    if (w === 'webpod') {
      await lab.kube.applyManifest('webpod.yaml');
      await lab.kube.waitDeploymentAvailable(lab.namespace, 'webpod', WORKLOAD_TIMEOUT_MS);
      // 3 replicas, one per node by required anti-affinity: on the reference lab's 3 nodes, one on each.
      await lab.kube.waitPodsReady(lab.namespace, 'app=webpod', {
        count: 3,
        ...(nodes.length === 3 ? { nodes } : {}),
        timeoutMs: WORKLOAD_TIMEOUT_MS,
      });
    } else {
      const cp = controlPlane(lab.topology).name;
      await lab.kube.applyManifest('curl-pod.yaml', {}, { nodeName: cp });
      await lab.kube.waitPodsReady(lab.namespace, 'app=curl', { count: 1, nodes: [cp], timeoutMs: WORKLOAD_TIMEOUT_MS });
    }
    lab.done.workloads.add(w);
  }
}

/**
 * The suites whose needs a convergence before `file` may fold in: the run's selected suites when known and `file`
 * is among them, else just this suite (a suite run alone converges to its own needs only). `needs` replaces the
 * plan's entry for `file` so a suite may pass adjusted needs.
 */
export function suitesForConvergence(
  file: string | undefined,
  needs: SuiteNeeds,
  suiteFiles: string[] | null,
  plan: readonly PlannedSuite[],
): { suites: PlannedSuite[]; index: number } {
  const name = file ? suiteFileName(file) : '(suite)';
  const selection = suiteFiles ? selectPlanned(plan, suiteFiles) : [];
  const index = selection.findIndex((s) => s.file === name);
  if (index < 0) return { suites: [{ file: name, title: name, needs }], index: 0 };
  return { suites: selection.map((s, i) => (i === index ? { ...s, needs } : s)), index };
}

/** Converges the lab to a suite's needs: stale harness objects removed (once per run), Cilium, workloads. */
export async function prepareSuite(lab: Lab, needs: SuiteNeeds, o: { file?: string; plan?: readonly PlannedSuite[] } = {}): Promise<void> {
  if (!lab.done.staleRemoved) {
    const removed = await lab.kube.deleteStaleRuns();
    if (removed.length > 0) lab.log(`removed ${removed.length} object(s) left by earlier runs: ${removed.join(', ')}`);
    // Routes a killed run added on the router (marked proto HARNESS_ROUTE_PROTO), as its API objects above.
    const r = router(lab.topology);
    for (const swept of r ? await sweepHarnessRoutes(lab.ssh, [r.name]) : []) {
      lab.log(`removed ${swept.routes.length} route(s) left by earlier runs on ${swept.host}: ${swept.routes.join('; ')}`);
    }
    lab.done.staleRemoved = true;
  }
  if (needs.cilium && Object.keys(needs.cilium).length > 0) {
    const { suites, index } = suitesForConvergence(o.file, needs, lab.suiteFiles, o.plan ?? []);
    const running = await readRunningSettings(lab);
    const target = convergeTarget(suites, index, runningLookup(running));
    if (target.problems.length > 0)
      throw new Error(`${suites[index]?.file ?? 'suite'}: cannot converge Cilium: ${target.problems.join('; ')}`);
    if (target.wanted) {
      const { changed } = await ensureCilium(lab, target.wanted, { log: lab.log, running });
      lab.log(
        `Cilium changed for ${suites[index]?.file ?? 'suite'}: ${changed.map((c) => `${c.key} ${String(c.from)} -> ${String(c.to)}`).join(', ') || 'nothing'}`,
      );
    }
  }
  await ensureWorkloads(lab, needs.workloads ?? []);
}
