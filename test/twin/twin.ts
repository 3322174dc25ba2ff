/**
 * The lab twin, whole: the network side (test/twin/net, TwinNetwork) and the Kubernetes side (test/twin/api:
 * the API server and the controllers) wired together, answering as one Cilium version.
 *
 *   const twin = await startTwin({ ciliumVersion: '1.18.14' });
 *   // LAB_TOPOLOGY=twin.topologyFile npm test ... (test/twin/run.ts does this)
 *   await twin.teardown();
 *
 * Order: the API server first (its port goes into the twin topology as apiEndpoint), then the network (hosts with
 * real sshd, the stand-in programs calling the cluster's handler), then the controllers; /etc/kubernetes/admin.conf
 * is written on the control plane and /etc/cilium-lab/versions.env on every host, as provisioning does.
 * teardown() undoes all of it (by PID and namespace, in the network side) and may be called more than once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { RUN_LABEL } from '../../helpers/kube/manifests.ts';
import { controlPlane, REPO_ROOT, router, type Topology } from '../../helpers/lab/topology.ts';
import { HARNESS_ROUTE_PROTO } from '../../helpers/transport/probes.ts';
import { effectiveVersions, loadVersions, versionsEnv, VM_VERSIONS_FILE } from '../../helpers/lab/versions.ts';
import { adminKubeconfig, makeTls } from './api/certs.ts';
import { TwinCluster } from './api/cluster.ts';
import { Resources } from './api/resources.ts';
import { TwinApiServer } from './api/server.ts';
import { Store } from './api/store.ts';
import type { StandInCall, StandInResult } from './contract.ts';
import { FaultSet, type FaultName } from './faults.ts';
import { startTwinNetwork, type StartedTwinNetwork } from './net/twin-network.ts';

export interface Twin {
  ciliumVersion: string;
  /** The twin topology (LAB_TOPOLOGY). */
  topologyFile: string;
  topology: Topology;
  apiUrl: string;
  /** The admin kubeconfig (also on the control plane at /etc/kubernetes/admin.conf). */
  kubeconfig: string;
  net: StartedTwinNetwork;
  cluster: TwinCluster;
  server: TwinApiServer;
  /** The faults on (TWIN_FAULTS at start; `faults.set([...])` between runs). Shared by the server, controllers and network. */
  faults: FaultSet;
  /** What a run left in the twin: objects carrying the run label, run namespaces, router routes the harness marks
   *  (proto 173). Empty after a run that cleaned up. */
  leftovers(): Promise<string[]>;
  teardown(): Promise<void>;
}

export interface StartTwinOptions {
  ciliumVersion: string;
  log?: (line: string) => void;
  /** Network namespace prefix (default the network side's). */
  prefix?: string;
  /** Faults on from the start (default none); see test/twin/faults.ts. */
  faults?: readonly FaultName[];
}

/** The helm values the lab is installed with: provision/values/cilium-base.yaml plus the topology's (control-plane.sh). */
export function installValues(t: Topology): Record<string, unknown> {
  const base = parseYaml(readFileSync(path.join(REPO_ROOT, 'provision', 'values', 'cilium-base.yaml'), 'utf8')) as Record<string, unknown>;
  const ipam = (base.ipam ?? {}) as Record<string, unknown>;
  return {
    ...base,
    k8sServiceHost: t.apiEndpoint.host,
    k8sServicePort: t.apiEndpoint.port,
    ipv4NativeRoutingCIDR: t.podCidr,
    ipam: { ...ipam, operator: { clusterPoolIPv4PodCIDRList: [t.podCidr] } },
  };
}

/** /etc/cilium-lab/versions.env as provisioning records it (provision/lib.sh `record`), for one twin host. */
export function versionsEnvFile(o: { ciliumVersion: string; node: string; role: string }): string {
  const pins = versionsEnv(
    effectiveVersions(loadVersions(), { CILIUM_VERSION: o.ciliumVersion, LAB_BOX: 'lab-twin/netns', LAB_BOX_VERSION: '0' }),
  );
  const lines = Object.entries({
    ...pins,
    LAB_NODE: o.node,
    LAB_ROLE: o.role,
    CILIUM_INSTALLED: o.ciliumVersion,
    KERNEL: 'twin',
    OS: 'lab twin (network namespaces)',
    PROVISIONED_AT: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    PROVISIONED_OK: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  }).map(([k, v]) => `${k}="${v}"`);
  return `# Written by the lab twin (test/twin/twin.ts) in the format provisioning uses.\n${lines.join('\n')}\n`;
}

export async function startTwin(o: StartTwinOptions): Promise<Twin> {
  const log = o.log ?? (() => undefined);
  const faults = new FaultSet(o.faults ?? []);
  const kubernetesVersion = loadVersions().pins.kubernetes.value;
  const store = new Store(new Resources(o.ciliumVersion));
  const tls = await makeTls();
  let cluster: TwinCluster | undefined;
  const server = new TwinApiServer({
    store,
    tls,
    kubernetesVersion,
    execPrecheck: (r) => cluster?.execPrecheck(r),
    exec: (r, io) => {
      if (!cluster) throw new Error('the twin is still starting');
      return cluster.exec(r, io);
    },
    log,
    faults,
  });
  await server.start();
  let net: StartedTwinNetwork | undefined;
  const teardown = async (): Promise<void> => {
    const errors: string[] = [];
    await cluster?.stop().catch((e: unknown) => errors.push(`cluster: ${(e as Error).message}`));
    await server.stop().catch((e: unknown) => errors.push(`API server: ${(e as Error).message}`));
    await net?.teardown().catch((e: unknown) => errors.push(`network: ${(e as Error).message}`));
    if (errors.length > 0) throw new Error(`twin teardown: ${errors.join('; ')}`);
  };
  try {
    const handler = (call: StandInCall): Promise<StandInResult> =>
      cluster ? cluster.standIn(call) : Promise.resolve({ stdout: '', stderr: 'the twin is still starting\n', code: 75 });
    net = await startTwinNetwork({
      apiEndpoint: { host: '127.0.0.1', port: server.port },
      standIns: handler,
      faults,
      ...(o.prefix ? { prefix: o.prefix } : {}),
    });
    const topology = net.topology;
    cluster = new TwinCluster({
      store,
      net,
      topology,
      ciliumVersion: o.ciliumVersion,
      kubernetesVersion,
      values: installValues(topology),
      log,
      faults,
    });
    await cluster.start();
    await cluster.waitAgentsReady(60_000);
    const kubeconfig = adminKubeconfig(tls, server.url);
    const cp = controlPlane(topology).name;
    await net.writeHostFile(cp, '/etc/kubernetes/admin.conf', kubeconfig);
    for (const n of topology.nodes)
      await net.writeHostFile(n.name, VM_VERSIONS_FILE, versionsEnvFile({ ciliumVersion: o.ciliumVersion, node: n.name, role: n.role }));
    const started = net;
    const leftovers = async (): Promise<string[]> => {
      const found: string[] = [];
      for (const res of store.resources.all) {
        for (const obj of store.list(res, { labelSelector: RUN_LABEL })) {
          const m = obj.metadata as { namespace?: string; name?: string };
          found.push(`${res.kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name ?? '?'} (labelled with a run)`);
        }
      }
      const namespaces = store.resources.all.find((r) => r.kind === 'Namespace');
      for (const ns of namespaces ? store.list(namespaces) : []) {
        const name = (ns.metadata as { name?: string }).name ?? '';
        if (name.startsWith('clh-') && !found.some((f) => f.startsWith(`Namespace ${name} `)))
          found.push(`Namespace ${name} (a run namespace)`);
      }
      const routes = (
        await started.netlab.nsExec(router(topology)?.name ?? 'router', ['ip', 'route', 'show', 'proto', String(HARNESS_ROUTE_PROTO)])
      ).trim();
      for (const r of routes ? routes.split('\n') : []) found.push(`router route "${r}" (proto ${HARNESS_ROUTE_PROTO}, the harness's)`);
      return found;
    };
    return {
      leftovers,
      ciliumVersion: o.ciliumVersion,
      topologyFile: net.topologyFile,
      topology,
      apiUrl: server.url,
      kubeconfig,
      net,
      cluster,
      server,
      faults,
      teardown,
    };
  } catch (err) {
    await teardown().catch(() => undefined);
    throw err;
  }
}
