/**
 * Only the lab, never another cluster: an exported KUBECONFIG (a user's work cluster) is never read or contacted;
 * LAB_KUBECONFIG is used only when its server is the topology's API endpoint and its nodes are the topology's.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  checkKubeconfigServer,
  kubeconfigChoice,
  loadKubeConfig,
  nodesMismatch,
  readKubeconfigFile,
} from '../../../helpers/lab/lab-access.ts';
import { connectLab } from '../../../helpers/lab/lab.ts';
import { apiEndpoint, preflight } from '../../../helpers/lab/preflight.ts';
import type { SshPool } from '../../../helpers/transport/ssh.ts';
import { DEFAULT_TOPOLOGY_FILE, kubeNodes, loadTopology, primaryAddress, type Topology } from '../../../helpers/lab/topology.ts';
import { FakeKubeApi, sendJson } from '../kube/fake-kube-api.ts';

const reference = loadTopology(DEFAULT_TOPOLOGY_FILE);
const adminConf = readFileSync(new URL('../../fixtures/kube/admin.conf', import.meta.url), 'utf8');
const dir = mkdtempSync(path.join(tmpdir(), 'lab-access-'));

function kubeconfigFor(server: string, token = 'good-token'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- {name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}`,
    'users:',
    `- {name: u, user: {token: ${token}}}`,
    'contexts:',
    '- {name: ctx, context: {cluster: c, user: u}}',
    'current-context: ctx',
    '',
  ].join('\n');
}

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** An SSH pool that only serves admin.conf (what loadKubeConfig reads from the control plane). */
function adminConfSsh(reads: string[]): SshPool {
  const pool = {
    host: (name: string) => ({
      run: (command: string) => {
        reads.push(`${name}: ${command}`);
        return Promise.resolve(adminConf);
      },
    }),
    close: () => Promise.resolve(),
  };
  return pool as unknown as SshPool;
}

const nodeList = (nodes: { name: string; ip: string }[]): object => ({
  kind: 'NodeList',
  apiVersion: 'v1',
  metadata: {},
  items: nodes.map((n) => ({
    metadata: { name: n.name },
    status: {
      addresses: [
        { type: 'InternalIP', address: n.ip },
        { type: 'Hostname', address: n.name },
      ],
    },
  })),
});

describe('an ambient KUBECONFIG (another cluster) is never contacted', () => {
  const work = new FakeKubeApi(); // the user's work cluster, named by an exported KUBECONFIG
  let lab: net.Server; // the lab's API endpoint: answers nothing
  let t: Topology;
  let ambient: string;

  beforeAll(async () => {
    await work.start();
    work.routes.push((r, res) => (r.path === '/api/v1/nodes' ? (sendJson(res, 200, nodeList([])), true) : false));
    lab = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => lab.listen(0, '127.0.0.1', resolve));
    const port = (lab.address() as net.AddressInfo).port;
    t = { ...reference, provider: 'vagrant', apiEndpoint: { host: '127.0.0.1', port } };
    ambient = write('work-cluster.kubeconfig', kubeconfigFor(work.url));
  });
  afterAll(async () => {
    await work.stop();
    await new Promise<void>((resolve) => lab.close(() => resolve()));
  });

  test('pre-flight, loadKubeConfig and connectLab go to the topology endpoint; zero requests reach the ambient one', async () => {
    const env = { KUBECONFIG: ambient };
    // loadKubeConfig, and one request with what it gave
    const reads: string[] = [];
    const { kc, source } = await loadKubeConfig(t, adminConfSsh(reads), env);
    await kc
      .makeApiClient(CoreV1Api)
      .listNode()
      .catch(() => undefined);
    expect(work.requests.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    // it was admin.conf from the control plane, server set to the topology's endpoint
    expect(reads).toEqual(['k8s-ctr: cat /etc/kubernetes/admin.conf']);
    expect(source).toBe(`/etc/kubernetes/admin.conf on k8s-ctr, server https://127.0.0.1:${t.apiEndpoint.port}`);
    expect(kc.getCurrentCluster()?.server).toBe(`https://127.0.0.1:${t.apiEndpoint.port}`);

    // pre-flight: the API endpoint it probes is the topology's, and it says the ambient one is ignored
    const api = apiEndpoint(t, env);
    expect({ host: api.host, port: api.port }).toEqual({ host: '127.0.0.1', port: t.apiEndpoint.port });
    expect(api.notice).toBe(
      `KUBECONFIG=${ambient} is ignored: the lab's kubeconfig is /etc/kubernetes/admin.conf on k8s-ctr (set LAB_KUBECONFIG to use another kubeconfig of this lab)`,
    );

    // connectLab: the whole connect path (creating the run namespace fails: the stand-in lab answers nothing)
    const log: string[] = [];
    await expect(
      connectLab({ topology: t, env: { ...env, LAB_RUN_ID: 'r-test' }, ssh: adminConfSsh([]), suiteFiles: null, log: (l) => log.push(l) }),
    ).rejects.toThrow();
    expect(log[0]).toMatch(/^KUBECONFIG=.* is ignored/);

    expect(work.requests).toEqual([]);
  });
});

describe('LAB_KUBECONFIG: used only for this lab', () => {
  const api = new FakeKubeApi();
  let t: Topology;
  let nodes: { name: string; ip: string }[] = [];

  beforeAll(async () => {
    await api.start();
    api.routes.push((r, res) => (r.path === '/api/v1/nodes' ? (sendJson(res, 200, nodeList(nodes)), true) : false));
    t = { ...reference, apiEndpoint: { host: '127.0.0.1', port: Number(new URL(api.url).port) } };
  });
  afterAll(() => api.stop());

  test('a server that is not the topology endpoint is refused, naming both, before any request', async () => {
    const other = new FakeKubeApi();
    await other.start();
    try {
      const file = write('other.kubeconfig', kubeconfigFor(other.url));
      const env = { LAB_KUBECONFIG: file, KUBECONFIG: file };
      const message = `Refusing LAB_KUBECONFIG ${file}: its server ${other.url} is not the API endpoint of topology cilium-lab (127.0.0.1:${t.apiEndpoint.port}); the suites would create and delete objects in another cluster.`;
      expect(() => apiEndpoint(t, env)).toThrow(message);
      await expect(loadKubeConfig(t, adminConfSsh([]), env)).rejects.toThrow(message);
      const r = await preflight(t, { topologyFile: 'lab.yaml', env, probe: () => Promise.resolve(undefined) });
      expect(r).toEqual({ ok: false, message });
      expect(other.requests).toEqual([]);
    } finally {
      await other.stop();
    }
  });

  test("the right server with other nodes is refused naming both node lists; the lab's nodes are accepted", async () => {
    const file = write('lab.kubeconfig', kubeconfigFor(api.url));
    const env = { LAB_KUBECONFIG: file };
    nodes = [
      { name: 'prod-a', ip: '198.18.5.1' },
      { name: 'prod-b', ip: '198.18.5.2' },
    ];
    await expect(loadKubeConfig(t, adminConfSsh([]), env)).rejects.toThrow(
      `Refusing LAB_KUBECONFIG ${file}: the cluster's nodes are prod-a (198.18.5.1), prod-b (198.18.5.2), but topology cilium-lab names k8s-ctr (192.168.10.100), k8s-w0 (192.168.20.100), k8s-w1 (192.168.10.101)`,
    );
    nodes = kubeNodes(t).map((n) => ({ name: n.name, ip: primaryAddress(n) }));
    const reads: string[] = [];
    const { kc, source } = await loadKubeConfig(t, adminConfSsh(reads), env);
    expect(reads).toEqual([]);
    expect(kc.getCurrentCluster()?.server).toBe(api.url);
    expect(source).toBe(`LAB_KUBECONFIG ${file} (server ${api.url}; nodes match topology cilium-lab)`);
  });

  test('with LAB_KUBECONFIG, an admin.conf read before is not used: the file is checked as always', async () => {
    const file = write('other-server.kubeconfig', kubeconfigFor('https://198.18.0.9:6443'));
    const readBefore = { node: 'k8s-ctr', server: `https://127.0.0.1:${t.apiEndpoint.port}`, text: adminConf };
    await expect(loadKubeConfig(t, adminConfSsh([]), { LAB_KUBECONFIG: file }, readBefore)).rejects.toThrow(
      `Refusing LAB_KUBECONFIG ${file}`,
    );
  });

  test('same names at other addresses are another cluster', () => {
    const wanted = kubeNodes(t).map((n) => ({ name: n.name, internalIp: primaryAddress(n) }));
    expect(nodesMismatch(t, wanted, 'x')).toBeNull();
    expect(
      nodesMismatch(
        t,
        wanted.map((n) => ({ ...n, internalIp: '198.18.9.9' })),
        'x',
      ),
    ).toMatch(/^Refusing x: the cluster's nodes are k8s-ctr \(198\.18\.9\.9\)/);
    expect(nodesMismatch(t, wanted.slice(1), 'x')).not.toBeNull();
  });

  test('kubeconfigChoice: the same rule for provider existing', () => {
    const existing: Topology = { ...t, provider: 'existing' };
    expect(kubeconfigChoice(existing, { KUBECONFIG: '/home/u/.kube/config' })).toMatchObject({ kind: 'control-plane', node: 'k8s-ctr' });
    expect(kubeconfigChoice(existing, { LAB_KUBECONFIG: '/x/lab.conf' })).toEqual({ kind: 'explicit', file: '/x/lab.conf', notice: null });
  });
});

describe('admin.conf is fetched once per run (global setup, then the lab fixture)', () => {
  let lab: net.Server; // the lab's API endpoint: answers nothing (connectLab stops at creating the run namespace)
  let t: Topology;

  beforeAll(async () => {
    lab = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => lab.listen(0, '127.0.0.1', resolve));
    t = { ...reference, apiEndpoint: { host: '127.0.0.1', port: (lab.address() as net.AddressInfo).port } };
  });
  afterAll(() => new Promise<void>((resolve) => lab.close(() => resolve())));

  const fetches = (reads: string[]): number => reads.filter((r) => r.endsWith('cat /etc/kubernetes/admin.conf')).length;

  test('the fixture uses what the global setup read: one `cat /etc/kubernetes/admin.conf` in the run', async () => {
    const reads: string[] = []; // both SSH pools of a run (global setup's and the worker's) log here
    const env = { KUBECONFIG: '/home/u/.kube/work-cluster', LAB_RUN_ID: 'r-once' };
    // global setup (suites/support/global-setup.ts lookAtLab), which provides adminConf as labAdminConf
    const first = await loadKubeConfig(t, adminConfSsh(reads), env);
    expect(first.adminConf).toMatchObject({ node: 'k8s-ctr', server: `https://127.0.0.1:${t.apiEndpoint.port}` });
    // the lab fixture, given it (as inject('labAdminConf') does in the worker)
    const log: string[] = [];
    await expect(
      connectLab({ topology: t, env, ssh: adminConfSsh(reads), adminConf: first.adminConf, suiteFiles: null, log: (l) => log.push(l) }),
    ).rejects.toThrow();
    expect(log).toContain(
      `run r-once: Kubernetes API from /etc/kubernetes/admin.conf on k8s-ctr, server https://127.0.0.1:${t.apiEndpoint.port}`,
    );
    expect(log[0]).toMatch(/^KUBECONFIG=.* is ignored/); // the same choice, made again by the fixture
    expect(fetches(reads)).toBe(1);
  });

  test('without global setup (or for another node or server) the fixture reads it itself', async () => {
    const reads: string[] = [];
    const env = { LAB_RUN_ID: 'r-once' };
    await expect(
      connectLab({ topology: t, env, ssh: adminConfSsh(reads), adminConf: null, suiteFiles: null, log: () => undefined }),
    ).rejects.toThrow();
    expect(fetches(reads)).toBe(1);
    const other = { node: 'k8s-ctr', server: 'https://198.18.0.9:6443', text: 'not used' };
    const { kc } = await loadKubeConfig(t, adminConfSsh(reads), env, other);
    expect(kc.getCurrentCluster()?.server).toBe(`https://127.0.0.1:${t.apiEndpoint.port}`);
    expect(fetches(reads)).toBe(2);
  });
});

describe('every kubeconfig problem names the kubeconfig and the problem', () => {
  const sub = path.join(dir, 'a-directory');
  mkdirSync(sub, { recursive: true });
  test.each([
    ['a missing file', path.join(dir, 'missing.conf'), /^kubeconfig .*missing\.conf: does not exist$/],
    ['a directory', sub, /^kubeconfig .*a-directory: is a directory, not a file$/],
    ['not YAML', write('not-yaml.conf', 'clusters: [unclosed\n'), /^kubeconfig .*not-yaml\.conf: YAML syntax error at line 2, column 1: /],
    ['empty', write('empty.conf', ''), /^kubeconfig .*empty\.conf: is empty/],
    ['a YAML list', write('list.conf', '- a\n- b\n'), /^kubeconfig .*list\.conf: is not a kubeconfig \(expected a mapping/],
    [
      'no current context',
      write('no-ctx.conf', kubeconfigFor('https://127.0.0.1:6443').replace('current-context: ctx', '')),
      /^kubeconfig .*no-ctx\.conf: has no current-context$/,
    ],
    [
      'a current context that is not there',
      write('bad-ctx.conf', kubeconfigFor('https://127.0.0.1:6443').replace('current-context: ctx', 'current-context: gone')),
      /current-context "gone" is not among its contexts \(ctx\)$/,
    ],
    [
      'a server that is not a URL',
      write('bad-url.conf', kubeconfigFor('192.168.10.100:6443')),
      /^kubeconfig .*bad-url\.conf: the server of cluster "c" is "192\.168\.10\.100:6443", which is not a URL \(expected https:\/\/host:port\)$/,
    ],
  ])('%s', (_name, file, message) => {
    expect(() => readKubeconfigFile(file)).toThrow(message);
  });

  test('a good one gives host and port', () => {
    const k = readKubeconfigFile(write('good.conf', kubeconfigFor('https://198.18.0.10:16443')));
    expect([k.host, k.port]).toEqual(['198.18.0.10', 16443]);
    expect(() => checkKubeconfigServer(k, reference)).toThrow(
      /its server https:\/\/198\.18\.0\.10:16443 is not the API endpoint of topology cilium-lab \(192\.168\.10\.100:6443\)/,
    );
  });
});
