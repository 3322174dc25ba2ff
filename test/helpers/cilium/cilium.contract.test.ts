/**
 * Contract tests: helpers/cilium/cilium.ts and prepareSuite (helpers/lab/lab.ts) against the local fake Kubernetes API
 * (test/helpers/kube/fake-kube-api.ts) and a fake SSH pool that plays helm on the control plane. The fake helm applies
 * --set values to the fake cilium-config the way cilium-behaviour.md 4/4.2 says the chart renders them; the fake
 * agents answer `cilium-dbg status -o json` from that config. They prove the orchestration (when helm runs, with
 * which command line, restarts, waits, the re-check, the fold over the run's suites); they prove nothing about real
 * helm, the real chart or a real agent.
 */
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CiliumConvergeError, ensureCilium, l2AnnounceTable, runningCilium, runningConfig } from '../../../helpers/cilium/cilium.ts';
import { Kube } from '../../../helpers/kube/index.ts';
import { Cleanups, prepareSuite, type Lab } from '../../../helpers/lab/lab.ts';
import { mappingOf } from '../../../helpers/cilium/needs.ts';
import type { Clock } from '../../../helpers/wait/retry.ts';
import type { ExecOptions, ExecResult, SshPool } from '../../../helpers/transport/ssh.ts';
import { loadTopology } from '../../../helpers/lab/topology.ts';
import { needsOf, SUITES } from '../../../suites/support/plan.ts';
import { MANIFEST_DIR } from '../../../suites/support/manifests.ts';
import { FakeKubeApi, sendJson, status, type FakeRequest } from '../kube/fake-kube-api.ts';

const RUN = 'r20261122-0349-ab12';
const NS = `clh-${RUN}`;
const SUITES_DIR = '/repo/suites';

function fakeClock(): Clock {
  let t = 1_700_000_000_000;
  return { now: () => ++t, sleep: (ms) => ((t += ms), Promise.resolve()) };
}

/** What a POSIX shell makes of the command line. */
function argv(command: string): string[] {
  return execFileSync('sh', ['-c', `printf '%s\\n' ${command}`], { encoding: 'utf8' })
    .split('\n')
    .slice(0, -1);
}

const BASE_CONFIG = {
  'routing-mode': 'native',
  'tunnel-protocol': 'vxlan',
  'auto-direct-node-routes': 'true',
  'ipv4-native-routing-cidr': '172.20.0.0/16',
  'kube-proxy-replacement': 'true',
  'enable-bpf-masquerade': 'true',
};

/** helm keeps user-supplied values as a tree: a.b.c=v is { a: { b: { c: v } } }. */
function setPath(tree: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur = tree;
  for (const part of parts.slice(0, -1)) {
    if (typeof cur[part] !== 'object' || cur[part] === null) cur[part] = {};
    cur = cur[part] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1] as string] = value;
}

class FakeHelm {
  commands: { command: string; sudo: boolean }[] = [];
  routerCommands: string[] = [];
  values: Record<string, unknown> = { routingMode: 'native', kubeProxyReplacement: true };
  upgradeExit = 0;
  /** Keys the fake chart does not render (to prove the re-check after the upgrade). */
  ignored = new Set<string>();
  constructor(readonly config: Record<string, string>) {}

  get upgrades(): string[][] {
    return this.commands.filter((c) => c.command.startsWith('helm upgrade')).map((c) => argv(c.command));
  }

  private upgrade(args: string[]): ExecResult {
    for (let i = 0; i < args.length; i++) {
      if (args[i] !== '--set' && args[i] !== '--set-string') continue;
      const [key, raw] = (args[i + 1] ?? '').split(/=(.*)/s) as [string, string];
      if (this.ignored.has(key)) continue;
      const value: unknown = args[i] === '--set' && /^(true|false)$/.test(raw) ? raw === 'true' : raw;
      setPath(this.values, key, value);
      const m = mappingOf(key);
      if (m) this.config[m.configKey] = String(value);
    }
    return { stdout: 'Release "cilium" has been upgraded. Happy Helming!\n', stderr: '', code: 0, signal: null, durationMs: 5 };
  }

  readonly pool = {
    host: (name: string) => {
      const exec = (command: string, opts: ExecOptions = {}): Promise<ExecResult> => {
        if (name === 'router') {
          // The stale-run sweep (helpers/transport/probes.ts sweepHarnessRoutes): no route of a killed run here.
          this.routerCommands.push(command);
          return Promise.resolve({
            stdout: '',
            stderr: '',
            code: command === 'ip -4 route show proto 173' ? 0 : 127,
            signal: null,
            durationMs: 1,
          });
        }
        this.commands.push({ command, sudo: opts.sudo === true });
        expect(name).toBe('k8s-ctr');
        const args = argv(command);
        const ok = (stdout: string): ExecResult => ({ stdout, stderr: '', code: 0, signal: null, durationMs: 1 });
        if (args[0] === 'helm' && args[1] === 'list')
          return Promise.resolve(
            ok(
              '[{"name":"cilium","namespace":"kube-system","revision":"1","status":"deployed","chart":"cilium-1.18.1","app_version":"1.18.1"}]\n',
            ),
          );
        if (args[0] === 'helm' && args[1] === 'get') return Promise.resolve(ok(JSON.stringify(this.values)));
        if (args[0] === 'helm' && args[1] === 'upgrade') {
          if (this.upgradeExit !== 0)
            return Promise.resolve({
              stdout: '',
              stderr: 'Error: UPGRADE FAILED: template: cilium/templates/cilium-configmap.yaml: ipv4NativeRoutingCIDR must be set',
              code: this.upgradeExit,
              signal: null,
              durationMs: 1,
            });
          return Promise.resolve(this.upgrade(args));
        }
        return Promise.resolve({ stdout: '', stderr: `unexpected command ${command}`, code: 127, signal: null, durationMs: 1 });
      };
      return {
        name,
        exec,
        run: async (command: string, opts?: ExecOptions) => {
          const r = await exec(command, opts);
          if (r.code !== 0) throw new Error(r.stderr);
          return r.stdout;
        },
      };
    },
    close: () => Promise.resolve(),
  };
}

const AGENTS = [
  { pod: 'cilium-2x7kq', node: 'k8s-ctr' },
  { pod: 'cilium-8vbnm', node: 'k8s-w1' },
  { pod: 'cilium-f4lzd', node: 'k8s-w0' },
];

let api: FakeKubeApi;
let helm: FakeHelm;
let config: Record<string, string>;
/** Agent states to answer, per status call, before answering Ok. */
let agentStates: string[];
let lab: Lab;

function agentStatusJson(): string {
  const tunnel = config['routing-mode'] === 'tunnel';
  return JSON.stringify({
    cilium: { state: agentStates.shift() ?? 'Ok', msg: '1.18.1 (v1.18.1-0ff2b6d0)' },
    'kube-proxy-replacement': { mode: config['kube-proxy-replacement'] === 'true' ? 'True' : 'False' },
    routing: {
      'inter-host-routing-mode': tunnel ? 'Tunnel' : 'Native',
      'intra-host-routing-mode': 'BPF',
      'tunnel-protocol': config['tunnel-protocol'],
    },
  });
}

const pod = (name: string, node: string, labels: Record<string, string>, image = 'quay.io/cilium/cilium:v1.18.1@sha256:5e9d4f1c') => ({
  metadata: { name, labels },
  spec: { nodeName: node, containers: [{ name: labels['k8s-app'] === 'cilium' ? 'cilium-agent' : 'c', image }] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

const rolledOut = (kind: string, name: string) =>
  kind === 'DaemonSet'
    ? {
        apiVersion: 'apps/v1',
        kind,
        metadata: { name, generation: 2 },
        status: {
          observedGeneration: 2,
          desiredNumberScheduled: 3,
          updatedNumberScheduled: 3,
          numberAvailable: 3,
          currentNumberScheduled: 3,
          numberMisscheduled: 0,
          numberReady: 3,
        },
      }
    : {
        apiVersion: 'apps/v1',
        kind,
        metadata: { name, generation: 2 },
        spec: { replicas: name === 'webpod' ? 3 : 1 },
        status: {
          observedGeneration: 2,
          replicas: name === 'webpod' ? 3 : 1,
          updatedReplicas: name === 'webpod' ? 3 : 1,
          availableReplicas: name === 'webpod' ? 3 : 1,
          conditions: [{ type: 'Available', status: 'True' }],
        },
      };

beforeEach(async () => {
  config = { ...BASE_CONFIG };
  agentStates = [];
  helm = new FakeHelm(config);
  api = new FakeKubeApi();
  api.routes.push((r: FakeRequest, res) => {
    const p = r.path;
    if (r.method === 'GET' && p === '/api/v1/namespaces/kube-system/configmaps/cilium-config')
      return (sendJson(res, 200, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cilium-config' }, data: config }), true);
    if (r.method === 'GET' && p === '/api/v1/namespaces/kube-system/pods') {
      expect(r.query.get('labelSelector')).toBe('k8s-app=cilium');
      const node = /^spec\.nodeName=(.+)$/.exec(r.query.get('fieldSelector') ?? '')?.[1];
      const items = AGENTS.filter((a) => !node || a.node === node).map((a) => pod(a.pod, a.node, { 'k8s-app': 'cilium' }));
      return (sendJson(res, 200, { apiVersion: 'v1', kind: 'PodList', metadata: {}, items }), true);
    }
    const roll = /^\/apis\/apps\/v1\/namespaces\/(kube-system|clh-[a-z0-9-]+)\/(deployments|daemonsets)\/([a-z-]+)$/.exec(p);
    if (roll) {
      const kind = roll[2] === 'daemonsets' ? 'DaemonSet' : 'Deployment';
      if (r.method === 'PATCH') return (sendJson(res, 200, { ...JSON.parse(r.body), kind }), true);
      if (r.method === 'GET') return (sendJson(res, 200, rolledOut(kind, roll[3] as string)), true);
    }
    if (r.method === 'PATCH' && p.startsWith(`/api/v1/namespaces/${NS}/`)) return (sendJson(res, 200, JSON.parse(r.body)), true);
    if (r.method === 'GET' && p === `/api/v1/namespaces/${NS}/pods`) {
      const sel = r.query.get('labelSelector');
      const items =
        sel === 'app=webpod'
          ? AGENTS.map((a, i) => pod(`webpod-${i}`, a.node, { app: 'webpod' }, 'traefik/whoami'))
          : [pod('curl-pod', 'k8s-ctr', { app: 'curl' }, 'nicolaka/netshoot')];
      return (sendJson(res, 200, { apiVersion: 'v1', kind: 'PodList', metadata: {}, items }), true);
    }
    // stale-object cleanup: every list by label is empty
    if (r.method === 'GET' && r.query.get('labelSelector')?.includes('cilium-lab-harness/run!='))
      return (sendJson(res, 200, { apiVersion: 'v1', kind: 'List', metadata: {}, items: [] }), true);
    return false;
  });
  api.wsRoute = (r) => {
    const cmd = r.query.getAll('command');
    const agent = AGENTS.find((a) => r.path === `/api/v1/namespaces/kube-system/pods/${a.pod}/exec`);
    if (!agent || r.query.get('container') !== 'cilium-agent') return null;
    return (ws) => {
      if (cmd.join(' ') === 'cilium-dbg status -o json') {
        ws.channel(1, agentStatusJson());
        ws.channel(3, JSON.stringify({ metadata: {}, status: 'Success' }));
      } else if (cmd.join(' ') === 'cilium-dbg shell -- db/show --format=json l2-announce') {
        if (agent.node === 'k8s-w0') {
          ws.channel(2, 'Error: table "l2-announce" not found');
          ws.channel(
            3,
            JSON.stringify({
              metadata: {},
              status: 'Failure',
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: '1' }] },
            }),
          );
        } else {
          ws.channel(
            1,
            agent.node === 'k8s-w1' ? '{\n  "IP": "192.168.10.211",\n  "NetworkInterface": "eth1",\n  "Origins": ["x"]\n}\n' : '',
          );
          ws.channel(3, JSON.stringify({ metadata: {}, status: 'Success' }));
        }
      } else {
        ws.channel(3, JSON.stringify(status(500, 'InternalError', `unexpected command ${cmd.join(' ')}`)));
      }
      ws.close();
    };
  };
  await api.start();
  lab = {
    topology: loadTopology(),
    ssh: helm.pool as unknown as SshPool,
    kube: new Kube(api.kubeConfig(), { runId: RUN, retries: 0, clock: fakeClock(), manifestDir: MANIFEST_DIR }),
    runId: RUN,
    namespace: NS,
    cleanups: new Cleanups(),
    suiteFiles: null,
    done: { workloads: new Set(), staleRemoved: false },
    log: () => undefined,
  };
});

afterEach(async () => {
  await api.stop();
});

const restarts = (): string[] =>
  api.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/kube-system/')).map((r) => r.path.split('/').slice(-2).join('/'));

describe('ensureCilium', () => {
  test('already running as wanted: no helm upgrade, no restart, nothing changed', async () => {
    expect(await ensureCilium(lab, { routingMode: 'native', autoDirectNodeRoutes: true, tunnelProtocol: 'vxlan' })).toEqual({
      changed: [],
    });
    expect(helm.upgrades).toEqual([]);
    expect(restarts()).toEqual([]);
  });

  test('different: one helm upgrade at the running chart version with only the changed keys, restarts, waits, returns the changes', async () => {
    const { changed } = await ensureCilium(
      lab,
      { routingMode: 'tunnel', tunnelProtocol: 'vxlan', autoDirectNodeRoutes: false },
      { clock: fakeClock() },
    );
    expect(changed).toEqual([
      { key: 'routingMode', from: 'native', to: 'tunnel', via: 'cilium-config routing-mode' },
      { key: 'autoDirectNodeRoutes', from: true, to: false, via: 'cilium-config auto-direct-node-routes' },
    ]);
    expect(helm.upgrades).toEqual([
      [
        'helm',
        'upgrade',
        'cilium',
        'cilium/cilium',
        '--namespace',
        'kube-system',
        '--kubeconfig',
        '/etc/kubernetes/admin.conf',
        '--version',
        '1.18.1',
        '--reuse-values',
        '--set-string',
        'routingMode=tunnel',
        '--set',
        'autoDirectNodeRoutes=false',
      ],
    ]);
    expect(helm.commands.every((c) => c.sudo)).toBe(true);
    expect(restarts()).toEqual(['deployments/cilium-operator', 'daemonsets/cilium']);
    const patch = api.requests.find((r) => r.method === 'PATCH' && r.path.endsWith('/daemonsets/cilium'));
    expect(patch?.headers['content-type']).toBe('application/merge-patch+json');
    expect(JSON.parse(patch?.body ?? '{}').spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']).toMatch(
      /^\d{4}-\d\d-\d\dT/,
    );
    expect(config['routing-mode']).toBe('tunnel');
  });

  test('waits until every agent reports Ok', async () => {
    // round 1: Warning, Ok, Ok; round 2: Failure, Ok, Ok; round 3: all Ok
    agentStates = ['Warning', 'Ok', 'Ok', 'Failure'];
    await ensureCilium(lab, { 'l2announcements.enabled': true }, { clock: fakeClock() });
    expect(agentStates).toEqual([]);
    const statusCalls = api.requests.filter(
      (r) => r.path.endsWith('/exec') && r.query.getAll('command').join(' ') === 'cilium-dbg status -o json',
    );
    expect(statusCalls).toHaveLength(9);
  });

  test('agents that never become Ok: the wait gives up naming them', async () => {
    agentStates = Array.from({ length: 1000 }, () => 'Failure');
    await expect(ensureCilium(lab, { 'l2announcements.enabled': true }, { clock: fakeClock(), timeoutMs: 30_000 })).rejects.toThrow(
      /waiting for every Cilium agent \(k8s-ctr, k8s-w1, k8s-w0\) to report Ok.*last seen: k8s-ctr: state Failure; k8s-w1: state Failure; k8s-w0: state Failure/,
    );
  });

  test('helm fails: the error carries its message, nothing is restarted', async () => {
    helm.upgradeExit = 1;
    await expect(ensureCilium(lab, { routingMode: 'tunnel' })).rejects.toThrow(/helm upgrade failed \(exit 1\): Error: UPGRADE FAILED/);
    expect(restarts()).toEqual([]);
  });

  test('a setting the chart did not render is caught by the re-check after the upgrade', async () => {
    helm.ignored.add('l2announcements.enabled');
    const err = await ensureCilium(lab, { 'l2announcements.enabled': true }, { clock: fakeClock() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CiliumConvergeError);
    expect((err as Error).message).toBe(
      'after helm upgrade the running settings still differ: l2announcements.enabled=false (wanted true, read from cilium-config enable-l2-announcements (absent))',
    );
  });

  test('an impossible combination is refused before helm runs', async () => {
    delete config['ipv4-native-routing-cidr'];
    config['routing-mode'] = 'tunnel';
    await expect(ensureCilium(lab, { routingMode: 'native' })).rejects.toThrow(/routingMode=native needs ipv4NativeRoutingCIDR/);
    expect(helm.upgrades).toEqual([]);
  });

  test('turning auto-direct-node-routes off also switches direct-routing-skip-unreachable off', async () => {
    config['direct-routing-skip-unreachable'] = 'true';
    const { changed } = await ensureCilium(lab, { autoDirectNodeRoutes: false }, { clock: fakeClock() });
    expect(changed.map((c) => `${c.key}=${String(c.to)}`)).toEqual(['autoDirectNodeRoutes=false', 'directRoutingSkipUnreachable=false']);
  });
});

describe('reading Cilium', () => {
  test('runningConfig: the config, the image and its version, without asking any agent (no exec)', async () => {
    const r = await runningConfig(lab);
    expect(r.config['routing-mode']).toBe('native');
    expect(r).not.toHaveProperty('agents');
    expect(r.version).toBe((await runningCilium(lab)).version);
    const execs = api.requests.filter((q) => q.path.endsWith('/exec'));
    // Only runningCilium's (one per agent) reached the exec endpoint.
    expect(execs).toHaveLength(3);
  });

  test('runningCilium: config, every agent with its parsed status, the image and its version', async () => {
    const r = await runningCilium(lab);
    expect(r.config['routing-mode']).toBe('native');
    expect(r.agents.map((a) => [a.node, a.pod, a.healthy, a.status.routing.network])).toEqual([
      ['k8s-ctr', 'cilium-2x7kq', true, 'Native'],
      ['k8s-w1', 'cilium-8vbnm', true, 'Native'],
      ['k8s-w0', 'cilium-f4lzd', true, 'Native'],
    ]);
    expect(r.image).toBe('quay.io/cilium/cilium:v1.18.1@sha256:5e9d4f1c');
    expect(r.version).toBe('1.18.1');
  });

  test("l2AnnounceTable runs in that node's agent; only the holder has rows; a failing cilium-dbg is an error", async () => {
    expect(await l2AnnounceTable(lab, 'k8s-w1')).toEqual([{ ip: '192.168.10.211', iface: 'eth1' }]);
    expect(await l2AnnounceTable(lab, 'k8s-ctr')).toEqual([]);
    await expect(l2AnnounceTable(lab, 'k8s-w0')).rejects.toThrow(
      /cilium-dbg shell -- db\/show --format=json l2-announce in cilium-f4lzd exited 1: Error: table "l2-announce" not found/,
    );
    await expect(l2AnnounceTable(lab, 'router')).rejects.toThrow(/no running Cilium agent pod \(k8s-app=cilium\) on node router/);
  });
});

describe('prepareSuite', () => {
  const file = (name: string): string => `${SUITES_DIR}/${name}`;

  test('a full run: 20-vxlan makes the one upgrade, folding in what 30 and 60 need; later suites change nothing; workloads deployed once', async () => {
    lab.suiteFiles = [
      '00-lab-health.test.ts',
      '10-native-routing.test.ts',
      '20-vxlan.test.ts',
      '30-lb-ipam.test.ts',
      '60-ingress.test.ts',
    ].map(file);
    for (const f of lab.suiteFiles) await prepareSuite(lab, needsOf(f), { file: f, plan: SUITES });
    expect(helm.upgrades).toHaveLength(1);
    const sets = (helm.upgrades[0] ?? []).filter((_, i, a) => a[i - 1] === '--set' || a[i - 1] === '--set-string');
    expect(sets).toEqual([
      'routingMode=tunnel',
      'autoDirectNodeRoutes=false',
      'l2announcements.enabled=true',
      'ingressController.enabled=true',
      'ingressController.loadbalancerMode=shared',
      'loadBalancer.l7.backend=envoy',
    ]);
    const applies = api.requests.filter((r) => r.method === 'PATCH' && r.path.startsWith(`/api`) && r.path.includes(NS));
    expect(applies.map((r) => r.path.split('/').slice(-2).join('/'))).toEqual(['deployments/webpod', 'services/webpod', 'pods/curl-pod']);
    const curl = JSON.parse(api.requests.find((r) => r.path.endsWith('/pods/curl-pod'))?.body ?? '{}');
    expect(curl.spec.nodeName).toBe('k8s-ctr');
    const staleLists = api.requests.filter(
      (r) => r.query.get('labelSelector') === `app.kubernetes.io/managed-by=cilium-lab-harness,cilium-lab-harness/run!=${RUN}`,
    );
    expect(new Set(staleLists.map((r) => r.path)).size).toBe(staleLists.length);
    // …and the routes a killed run left on the router looked for once, with the objects.
    expect(helm.routerCommands).toEqual(['ip -4 route show proto 173']);
  });

  test('a suite run alone converges to its own needs only', async () => {
    await prepareSuite(lab, needsOf('30-lb-ipam.test.ts'), { file: file('30-lb-ipam.test.ts'), plan: SUITES });
    expect(helm.upgrades).toHaveLength(1);
    expect(helm.upgrades[0]?.join(' ')).not.toMatch(/ingressController/);
    expect(config['enable-l2-announcements']).toBe('true');
  });
});
