/**
 * Runs once, before any lab suite.
 *
 * 1. Is there a lab to test? (helpers/lab/preflight.ts decides.) Without one the run ends here, with one message that
 *    names what is missing and how to start the lab, instead of a timeout per test. `npm test` runs the same check
 *    before vitest starts (so it holds even when no suite file matches) and sets LAB_PREFLIGHT=passed so it is not
 *    repeated here. LAB_PREFLIGHT=skip turns the lab checks off, for debugging the harness itself.
 * 2. Is every SSH endpoint the node the topology names? Each host answers `hostname` over SSH; a host that answers
 *    as another node (a swapped or stale address) stops the run, naming it, before anything is changed.
 * 3. Is it running the Cilium this run is filed under? The results go to reports/<CILIUM_VERSION>/ (without
 *    CILIUM_VERSION: the version lab:up installs by default); a lab running another version would put one version's
 *    results in another's history, so the run stops with what to do instead.
 * 4. One run id for every worker and for the report (excluded from history identity), and the lab facts known
 *    before any suite changes anything, for the report's environment (00-lab-health adds the per-node details).
 * 5. admin.conf, read here from the control plane, is provided to the workers (`labAdminConf`), so the lab fixture
 *    does not fetch it again: once per run.
 *
 * `vitest list` only collects scenario names and needs no lab: nothing here runs for it.
 */
import { AppsV1Api, CoreV1Api, VersionApi } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { ciliumVersionFromImage } from '../../helpers/cilium/cilium.ts';
import { loadKubeConfig, resolveRunId, sshIdentityProblems, type AdminConf } from '../../helpers/lab/lab-access.ts';
import { checkLabOrExit } from '../../helpers/lab/preflight.ts';
import { recordLabEnvironment, versionMismatch } from '../../helpers/report/report.ts';
import { withDeadline } from '../../helpers/wait/retry.ts';
import { SshPool } from '../../helpers/transport/ssh.ts';
import { controlPlane, loadTopology, topologyFile, type Topology } from '../../helpers/lab/topology.ts';
import { parseVersionsEnv, VM_VERSIONS_FILE } from '../../helpers/lab/versions.ts';
import { holdExitForInterruptCleanup } from '../../helpers/lab/interrupt.ts';
import { labProvider, labRunCiliumVersion, RUN_ID_ENV } from '../../reports/run-context.ts';

const VITEST_COMMANDS = new Set(['run', 'watch', 'dev', 'related', 'bench', 'init', 'list']);

/**
 * True when vitest was started as `vitest list` (collect only). Flags may stand before the command and may take
 * values, so the command is the first argument that names one of vitest's commands.
 */
export function isListCommand(argv: readonly string[]): boolean {
  const i = argv.findIndex((a) => /(^|[/\\])vitest(\.m?js)?$/.test(a));
  if (i < 0) return false;
  return argv.slice(i + 1).find((a) => VITEST_COMMANDS.has(a)) === 'list';
}

function stop(message: string): never {
  process.stderr.write(`\n${message}\n\n`);
  process.exit(2);
}

interface RunningLab {
  ciliumImage: string;
  ciliumVersion: string | null;
  kubernetesVersion: string;
  routingMode: string;
  /** What provisioning recorded on the control plane (lab/versions.yaml pins in force then), if this repo built it. */
  provisioned: Record<string, string>;
  /** admin.conf as read and used here (null with LAB_KUBECONFIG), handed to the lab fixture so it is fetched once per run. */
  adminConf: AdminConf | null;
}

/** One look at the cluster through its API: which Cilium image runs, the Kubernetes version, the routing mode. */
async function lookAtLab(topology: Topology): Promise<RunningLab> {
  const ssh = new SshPool(topology);
  try {
    const { kc, adminConf } = await loadKubeConfig(topology, ssh);
    const recorded = await ssh.host(controlPlane(topology).name).exec(`cat ${VM_VERSIONS_FILE}`, { timeoutMs: 20_000 });
    const ds = await kc.makeApiClient(AppsV1Api).readNamespacedDaemonSet({ name: 'cilium', namespace: 'kube-system' });
    const agent = ds.spec?.template.spec?.containers.find((c) => c.name === 'cilium-agent') ?? ds.spec?.template.spec?.containers[0];
    const image = agent?.image ?? '';
    const version = await kc.makeApiClient(VersionApi).getCode();
    const config = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'cilium-config', namespace: 'kube-system' });
    return {
      ciliumImage: image,
      ciliumVersion: ciliumVersionFromImage(image),
      kubernetesVersion: version.gitVersion,
      // cilium-behaviour.md 4.2: routing-mode is always rendered in cilium-config (desired config).
      routingMode: config.data?.['routing-mode'] ?? 'unknown',
      provisioned: recorded.code === 0 ? parseVersionsEnv(recorded.stdout) : {},
      adminConf,
    };
  } finally {
    await ssh.close();
  }
}

/** Stops the run, naming every host, unless each SSH endpoint answers `hostname` as the node the topology names. */
async function checkSshIdentity(topology: Topology): Promise<void> {
  const ssh = new SshPool(topology);
  let problems: string[];
  try {
    problems = await withDeadline('every host answering `hostname` over SSH', 60_000, sshIdentityProblems(topology, ssh));
  } catch (err) {
    problems = [(err as Error).message];
  } finally {
    await ssh.close();
  }
  if (problems.length > 0) {
    stop(
      `Not the lab ${topologyFile()} describes: ${problems.join('; ')}. ` +
        'Nothing was changed. Fix the node addresses (or ssh.host/ssh.port) in the topology, or point LAB_TOPOLOGY at the right file.',
    );
  }
}

export default async function setup(project?: TestProject): Promise<void> {
  if (isListCommand(process.argv)) return;
  const gate = process.env.LAB_PREFLIGHT;
  if (gate === 'skip') return;
  if (gate !== 'passed') await checkLabOrExit();

  const runId = resolveRunId();
  process.env.LAB_RUN_ID = runId; // the workers' lab fixture uses the same id
  process.env[RUN_ID_ENV] = runId; // the reporter adds it to every result, excluded from history
  // Interrupted: vitest's exit waits (bounded) for the worker's cleanups and prints what was left undone.
  holdExitForInterruptCleanup(runId);

  let topology: Topology;
  let version: string;
  try {
    topology = loadTopology();
    version = labRunCiliumVersion();
  } catch (err) {
    stop((err as Error).message);
  }
  await checkSshIdentity(topology);
  let running: RunningLab;
  try {
    running = await withDeadline('the Cilium DaemonSet, Kubernetes version and cilium-config', 60_000, lookAtLab(topology));
  } catch (err) {
    const message = (err as Error).message;
    // A kubeconfig refused as another cluster's is the whole message, not an unreadable API.
    stop(message.startsWith('Refusing ') ? message : `The lab answers, but its Kubernetes API could not be read: ${message}`);
  }
  if (!running.ciliumVersion) stop(`Cannot tell the Cilium version from the agent image "${running.ciliumImage}" (kube-system/cilium).`);
  const problem = versionMismatch(version, running.ciliumVersion);
  if (problem) stop(problem);
  // The lab fixture (helpers/lab/lab.ts connectLab) uses it instead of fetching admin.conf again (in memory only).
  if (running.adminConf) project?.provide('labAdminConf', running.adminConf);

  const { LAB_BOX: box, LAB_BOX_VERSION: boxVersion } = running.provisioned;
  recordLabEnvironment({
    ciliumVersion: running.ciliumVersion,
    ciliumImage: running.ciliumImage,
    kubernetesVersion: running.kubernetesVersion,
    routingModeAtStart: running.routingMode,
    provider: labProvider(topology),
    ...(box ? { box: `${box} ${boxVersion ?? ''}`.trim() } : {}),
    topology: topology.name,
    runId,
  });
}
