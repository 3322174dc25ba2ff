import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Clock } from '../../helpers/wait/retry.ts';
import { REPO_ROOT, kubeNodes, loadTopology } from '../../helpers/lab/topology.ts';
import { effectiveVersions, loadVersions, PIN_KEYS, type EffectiveVersions } from '../../helpers/lab/versions.ts';
import {
  LabStepError,
  failedProvisioningStep,
  formatStatus,
  judgeAgentsReady,
  judgeNodesReady,
  labDown,
  labStatus,
  labUp,
  parseVagrantStatus,
  type LabDeps,
  type RunResult,
} from '../../scripts/lab.ts';

const fixture = (name: string): string => readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', name), 'utf8');
const topology = loadTopology();
const NODES = kubeNodes(topology).map((n) => n.name);
const MACHINES = ['router', ...NODES];
const wanted: EffectiveVersions = effectiveVersions(loadVersions(), {});

// ---------------------------------------------------------------------------------------------
// kubectl JSON, shaped like `kubectl get nodes -o json` / `get pods -o json` (trimmed to the fields read)
// ---------------------------------------------------------------------------------------------
const node = (name: string, ready: 'True' | 'False' | 'Unknown') => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'kubernetes.io/hostname': name } },
  status: {
    conditions: [
      { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory' },
      { type: 'Ready', status: ready, reason: ready === 'True' ? 'KubeletReady' : 'KubeletNotReady' },
    ],
    nodeInfo: { kubeletVersion: 'v1.33.13', containerRuntimeVersion: 'containerd://1.7.27' },
  },
});
const list = (items: unknown[]): string => JSON.stringify({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } });
const agent = (nodeName: string, ready: boolean, phase = 'Running') => ({
  metadata: { name: `cilium-${nodeName.replace(/[^a-z0-9]/g, '')}x`, namespace: 'kube-system', labels: { 'k8s-app': 'cilium' } },
  spec: { nodeName },
  status: {
    phase,
    conditions: [
      { type: 'Initialized', status: 'True' },
      { type: 'Ready', status: ready ? 'True' : 'False' },
      { type: 'ContainersReady', status: ready ? 'True' : 'False' },
    ],
  },
});

describe('parseVagrantStatus (real `vagrant status --machine-readable` output)', () => {
  test('VirtualBox, nothing created: every machine, in Vagrantfile order', () => {
    const machines = parseVagrantStatus(fixture('vagrant/status-not-created.virtualbox.txt'));
    expect(machines).toEqual(MACHINES.map((name) => ({ name, state: 'not_created', provider: 'virtualbox' })));
  });

  test('libvirt, nothing created', () => {
    const machines = parseVagrantStatus(fixture('vagrant/status-not-created.libvirt.txt'));
    expect(machines.map((m) => [m.name, m.state, m.provider])).toEqual(MACHINES.map((n) => [n, 'not_created', 'libvirt']));
  });

  test('a running machine and escaped commas', () => {
    const text = fixture('vagrant/status-not-created.virtualbox.txt').replace('router,state,not_created', 'router,state,running');
    expect(parseVagrantStatus(text)[0]).toEqual({ name: 'router', state: 'running', provider: 'virtualbox' });
    expect(parseVagrantStatus('1,a,state,odd%!(VAGRANT_COMMA)state')).toEqual([{ name: 'a', state: 'odd,state', provider: null }]);
  });

  test('empty, garbage and truncated output give no machines', () => {
    expect(parseVagrantStatus('')).toEqual([]);
    expect(parseVagrantStatus('Vagrant failed to initialize\nsomething')).toEqual([]);
    expect(parseVagrantStatus('1795320319,router,meta')).toEqual([]);
  });
});

describe('readiness judges', () => {
  test('nodes: done only when every expected node is registered and Ready', () => {
    expect(judgeNodesReady(list(NODES.map((n) => node(n, 'True'))), NODES)).toEqual({ done: true, value: NODES });
    const partial = judgeNodesReady(list([node('k8s-ctr', 'True'), node('k8s-w1', 'False')]), NODES);
    expect(partial).toEqual({ done: false, seen: 'not registered: k8s-w0; not Ready: k8s-w1' });
    expect(judgeNodesReady(list([...NODES.map((n) => node(n, 'True')), node('extra', 'False')]), NODES).done).toBe(true);
  });

  test('agents: done only with a Ready agent pod on each node', () => {
    expect(judgeAgentsReady(list(NODES.map((n) => agent(n, true))), NODES)).toMatchObject({ done: true, value: { 'k8s-ctr': 'cilium-k8sctrx' } });
    const r = judgeAgentsReady(list([agent('k8s-ctr', true), agent('k8s-w1', false, 'Pending')]), NODES);
    expect(r).toEqual({ done: false, seen: 'k8s-w1: cilium-k8sw1x Pending, not Ready; k8s-w0: no agent pod' });
  });

  test('bad kubectl output is an error naming what was read', () => {
    expect(() => judgeNodesReady('', NODES)).toThrow(/nodes: kubectl did not print JSON: \(nothing\)/);
    expect(() => judgeNodesReady('error: the server doesn\'t have a resource type "nodes"', NODES)).toThrow(/did not print JSON/);
    expect(() => judgeAgentsReady('{"kind":"Status"}', NODES)).toThrow(/cilium agents: kubectl printed JSON without items/);
    expect(() => judgeNodesReady('{"items":[', NODES)).toThrow(/did not print JSON/);
  });
});

describe('failedProvisioningStep', () => {
  test('finds the last failure line of provision/lib.sh in Vagrant output', () => {
    const out = [
      '    k8s-ctr: [cilium-lab] k8s-ctr control-plane: kubeadm init',
      '    k8s-ctr: [cilium-lab] FAILED k8s-ctr control-plane step "kubeadm init" (exit 1, line 62); log: /var/log/cilium-lab/control-plane.log',
      'The SSH command responded with a non-zero exit status.',
    ].join('\n');
    expect(failedProvisioningStep(out)).toBe('FAILED k8s-ctr control-plane step "kubeadm init" (exit 1, line 62); log: /var/log/cilium-lab/control-plane.log');
    expect(failedProvisioningStep('no marker here')).toBeUndefined();
    expect(failedProvisioningStep('')).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// labUp / labStatus / labDown with a scripted Vagrant
// ---------------------------------------------------------------------------------------------

function fakeClock(): Clock {
  let now = 0;
  return { now: () => now, sleep: (ms) => ((now += ms), Promise.resolve()) };
}

const versionsEnvText = (v: EffectiveVersions, done = true, override: Record<string, string> = {}): string =>
  [
    '# What this VM was built with',
    ...PIN_KEYS.map((k) => `${v[k].env}="${override[v[k].env] ?? v[k].value}"`),
    'KERNEL="6.8.0-85-generic"',
    ...(done ? ['PROVISIONED_OK="2026-11-22T03:00:00Z"'] : []),
  ].join('\n');

interface Scenario {
  states: Record<string, string>;
  recorded?: Record<string, string>;
  upResult?: RunResult;
  nodesJson?: () => string;
  agentsJson?: () => string;
}

function scripted(s: Scenario): { deps: LabDeps; calls: string[][]; logs: string[] } {
  const calls: string[][] = [];
  const logs: string[] = [];
  const ok = (stdout = ''): RunResult => ({ exitCode: 0, stdout, stderr: '' });
  const deps: LabDeps = {
    clock: fakeClock(),
    timeouts: { nodesReadyMs: 60_000, agentsReadyMs: 60_000, pollIntervalMs: 10_000 },
    log: (l) => logs.push(l),
    vagrant: (args) => {
      calls.push(args);
      const [cmd, machine, , command] = args;
      if (cmd === 'status') {
        return Promise.resolve(ok(MACHINES.map((m) => `1,${m},provider-name,virtualbox\n1,${m},state,${s.states[m]}`).join('\n')));
      }
      if (cmd === 'up') {
        for (const m of MACHINES) s.states[m] = 'running';
        return Promise.resolve(s.upResult ?? ok());
      }
      if (cmd === 'ssh' && command?.startsWith('cat /etc/cilium-lab/versions.env')) return Promise.resolve(ok(s.recorded?.[machine!] ?? versionsEnvText(wanted)));
      if (cmd === 'ssh' && command === 'kubectl get nodes -o json') return Promise.resolve(ok(s.nodesJson?.() ?? list(NODES.map((n) => node(n, 'True')))));
      if (cmd === 'ssh' && command?.includes('k8s-app=cilium')) return Promise.resolve(ok(s.agentsJson?.() ?? list(NODES.map((n) => agent(n, true)))));
      if (cmd === 'provision' || cmd === 'destroy') return Promise.resolve(ok());
      return Promise.resolve({ exitCode: 1, stdout: '', stderr: `unexpected vagrant ${args.join(' ')}` });
    },
  };
  return { deps, calls, logs };
}

const allStates = (state: string): Record<string, string> => Object.fromEntries(MACHINES.map((m) => [m, state]));
const changing = (calls: string[][]): string[][] => calls.filter((c) => ['up', 'provision', 'destroy', 'reload', 'halt'].includes(c[0]!));

describe('labUp', () => {
  test('a new lab: vagrant up once (sequentially), then waits for nodes and agents through k8s-ctr', async () => {
    const { deps, calls } = scripted({ states: allStates('not_created') });
    await labUp(topology, wanted, deps);
    expect(changing(calls)).toEqual([['up', '--no-parallel']]);
    expect(calls).toContainEqual(['ssh', 'k8s-ctr', '-c', 'kubectl get nodes -o json']);
    expect(calls).toContainEqual(['ssh', 'k8s-ctr', '-c', 'kubectl -n kube-system get pods -l k8s-app=cilium -o json']);
  });

  test('a re-run on a running lab with the same versions changes nothing', async () => {
    const { deps, calls, logs } = scripted({ states: allStates('running') });
    await labUp(topology, wanted, deps);
    expect(changing(calls)).toEqual([]);
    expect(logs).toContain('all VMs are running: vagrant up skipped');
  });

  test('a running lab built with other versions: fails before changing anything, naming both', async () => {
    const recorded = { 'k8s-ctr': versionsEnvText(wanted, true, { CILIUM_VERSION: '1.17.18' }) };
    const { deps, calls } = scripted({ states: allStates('running'), recorded });
    const err = await labUp(topology, wanted, deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabStepError);
    expect((err as LabStepError).step).toBe('compare versions with the running VMs');
    expect((err as Error).message).toContain(`k8s-ctr was built with CILIUM_VERSION=1.17.18 but CILIUM_VERSION=${wanted.cilium.value} is asked for`);
    expect(changing(calls)).toEqual([]);
  });

  test('a VM whose provisioning never finished is provisioned again, the others are left alone', async () => {
    const recorded = { 'k8s-w0': versionsEnvText(wanted, false) };
    const { deps, calls } = scripted({ states: allStates('running'), recorded });
    await labUp(topology, wanted, deps);
    expect(changing(calls)).toEqual([['provision', 'k8s-w0']]);
  });

  test('vagrant up failing: the error names the provisioning step that failed', async () => {
    const upResult = {
      exitCode: 1,
      stdout: '    k8s-ctr: [cilium-lab] FAILED k8s-ctr control-plane step "install Cilium 1.18.14 with helm" (exit 1, line 99); log: /var/log/cilium-lab/control-plane.log',
      stderr: 'The SSH command responded with a non-zero exit status.',
    };
    const { deps } = scripted({ states: allStates('not_created'), upResult });
    await expect(labUp(topology, wanted, deps)).rejects.toThrow(
      /did not finish step "vagrant up \(router, k8s-ctr, k8s-w1, k8s-w0\)": provisioning failed: FAILED k8s-ctr control-plane step "install Cilium 1\.18\.14 with helm"/,
    );
  });

  test('nodes that never become Ready: fails naming the wait and what it saw last', async () => {
    const nodesJson = () => list([node('k8s-ctr', 'True'), node('k8s-w1', 'True'), node('k8s-w0', 'False')]);
    const { deps } = scripted({ states: allStates('running'), nodesJson });
    const err = (await labUp(topology, wanted, deps).catch((e: unknown) => e)) as LabStepError;
    expect(err.step).toBe('wait until every Kubernetes node is Ready');
    expect(err.message).toMatch(/Timed out after 60 s waiting for nodes k8s-ctr, k8s-w1, k8s-w0 Ready; last seen: not Ready: k8s-w0/);
  });

  test('an agent that never becomes Ready: fails naming the agents wait', async () => {
    const agentsJson = () => list([agent('k8s-ctr', true), agent('k8s-w1', true), agent('k8s-w0', false)]);
    const { deps } = scripted({ states: allStates('running'), agentsJson });
    const err = (await labUp(topology, wanted, deps).catch((e: unknown) => e)) as LabStepError;
    expect(err.step).toBe('wait until a Cilium agent is Ready on every node');
    expect(err.message).toContain('k8s-w0: cilium-k8sw0x Running, not Ready');
  });
});

describe('labStatus and labDown', () => {
  test('status prints each VM\'s state and the versions recorded on the running ones', async () => {
    const states = { ...allStates('running'), 'k8s-w0': 'poweroff' };
    const { deps, calls } = scripted({ states });
    const out = await labStatus(wanted, deps);
    expect(out).toContain('router: running (virtualbox)');
    expect(out).toContain('k8s-w0: poweroff (virtualbox)');
    expect(out).toContain(`  CILIUM_VERSION=${wanted.cilium.value}`);
    expect(out).toContain('  KERNEL=6.8.0-85-generic');
    expect(calls.filter((c) => c[0] === 'ssh').map((c) => c[1])).toEqual(['router', 'k8s-ctr', 'k8s-w1']);
    expect(changing(calls)).toEqual([]);
  });

  test('status of a VM without versions.env says it is not provisioned', () => {
    const out = formatStatus([{ name: 'k8s-w1', state: 'running', provider: 'libvirt' }], new Map([['k8s-w1', {}]]), wanted);
    expect(out).toContain('k8s-w1: running (libvirt)\n  no /etc/cilium-lab/versions.env (not provisioned yet)');
  });

  test('down destroys without asking', async () => {
    const { deps, calls } = scripted({ states: allStates('running') });
    await labDown(deps);
    expect(calls).toEqual([['destroy', '--force']]);
  });
});
