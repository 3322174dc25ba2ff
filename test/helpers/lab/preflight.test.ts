import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { endpointsToCheck, kubeconfigServer, machinesNotCreated, preflight } from '../../../helpers/lab/preflight.ts';
import { DEFAULT_TOPOLOGY_FILE, loadTopology } from '../../../helpers/lab/topology.ts';

const t = loadTopology(DEFAULT_TOPOLOGY_FILE);

function fakeFs(ids: string[]): { listDir(p: string): string[]; exists(p: string): boolean } {
  return {
    listDir: (p) => (ids.some((id) => id.startsWith(`${p}/`)) ? ['virtualbox'] : []),
    exists: (p) => ids.includes(p),
  };
}

describe('Vagrant state', () => {
  test('every machine without an id file is reported', () => {
    const fsx = fakeFs(['/s/machines/router/virtualbox/id', '/s/machines/k8s-ctr/virtualbox/id']);
    expect(machinesNotCreated(t, '/s', fsx)).toEqual(['k8s-w1', 'k8s-w0']);
  });

  test('a created lab has nothing missing', () => {
    const fsx = fakeFs(t.nodes.map((n) => `/s/machines/${n.name}/virtualbox/id`));
    expect(machinesNotCreated(t, '/s', fsx)).toEqual([]);
  });

  test('no network is touched when the VMs do not exist', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'vagrant-cwd-'));
    let probes = 0;
    const r = await preflight(t, {
      topologyFile: DEFAULT_TOPOLOGY_FILE,
      env: { VAGRANT_CWD: empty },
      probe: () => {
        probes++;
        return Promise.resolve(undefined);
      },
    });
    expect(probes).toBe(0);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.message).toMatch(
        /router, k8s-ctr, k8s-w1, k8s-w0 have not been created.*No packet was sent\. Start the lab with: npm run lab:up/,
      );
  });
});

describe('endpoints', () => {
  test('SSH on every node and the API server from the topology', () => {
    expect(endpointsToCheck(t, {})).toEqual([
      { what: 'SSH on router', host: '192.168.10.200', port: 22 },
      { what: 'SSH on k8s-ctr', host: '192.168.10.100', port: 22 },
      { what: 'SSH on k8s-w1', host: '192.168.10.101', port: 22 },
      { what: 'SSH on k8s-w0', host: '192.168.20.100', port: 22 },
      { what: 'Kubernetes API', host: '192.168.10.100', port: 6443 },
    ]);
  });

  test('LAB_KUBECONFIG is checked against the topology; an exported KUBECONFIG is not read', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kc-'));
    const file = path.join(dir, 'config');
    const kubeconfig = (server: string): string =>
      [
        'apiVersion: v1',
        'clusters:',
        `- cluster: {server: "${server}"}`,
        '  name: lab',
        'contexts:',
        '- context: {cluster: lab, user: admin}',
        '  name: lab',
        'current-context: lab',
        '',
      ].join('\n');
    writeFileSync(file, kubeconfig('https://192.168.10.100:6443'));
    expect(endpointsToCheck(t, { LAB_KUBECONFIG: file }).at(-1)).toEqual({ what: 'Kubernetes API', host: '192.168.10.100', port: 6443 });
    writeFileSync(file, kubeconfig('https://198.18.0.10:16443'));
    expect(() => endpointsToCheck(t, { LAB_KUBECONFIG: file })).toThrow(
      /^Refusing LAB_KUBECONFIG .*: its server https:\/\/198\.18\.0\.10:16443 is not the API endpoint of topology cilium-lab \(192\.168\.10\.100:6443\)/,
    );
    expect(endpointsToCheck(t, { KUBECONFIG: file }).at(-1)).toEqual({ what: 'Kubernetes API', host: '192.168.10.100', port: 6443 });
    expect(endpointsToCheck(t, { KUBECONFIG: path.join(dir, 'missing') }).at(-1)).toMatchObject({ host: '192.168.10.100' });
  });

  test('kubeconfig server parsing follows the current context', () => {
    const text = [
      'clusters:',
      '- {name: a, cluster: {server: "https://10.1.1.1:6443"}}',
      '- {name: b, cluster: {server: "https://[fd00::1]"}}',
      'contexts:',
      '- {name: ca, context: {cluster: a}}',
      '- {name: cb, context: {cluster: b}}',
      'current-context: cb',
    ].join('\n');
    expect(kubeconfigServer(text)).toEqual({ host: 'fd00::1', port: 443 });
    expect(kubeconfigServer('')).toBeUndefined();
    expect(kubeconfigServer('clusters: []')).toBeUndefined();
  });
});

describe('reachability', () => {
  test('names every unreachable endpoint and the start command, in one message', async () => {
    const fsx = mkdtempSync(path.join(tmpdir(), 'vagrant-cwd-'));
    for (const n of t.nodes) {
      const d = path.join(fsx, '.vagrant', 'machines', n.name, 'virtualbox');
      mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, 'id'), 'uuid');
    }
    const r = await preflight(t, {
      topologyFile: DEFAULT_TOPOLOGY_FILE,
      env: { VAGRANT_CWD: fsx },
      probe: (host, port) => Promise.resolve(host === '192.168.20.100' || port === 6443 ? 'ETIMEDOUT' : undefined),
    });
    expect(r).toEqual({
      ok: false,
      message:
        'No lab: unreachable: SSH on k8s-w0 at 192.168.20.100:22 (ETIMEDOUT); Kubernetes API at 192.168.10.100:6443 (ETIMEDOUT). Start the lab with: npm run lab:up',
    });
  });

  test('a lab that answers passes', async () => {
    const other = { ...t, provider: 'existing' as const };
    const r = await preflight(other, { topologyFile: 'x.yaml', env: {}, probe: () => Promise.resolve(undefined) });
    expect(r.ok).toBe(true);
  });
});
