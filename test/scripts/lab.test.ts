import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { Clock } from '../../helpers/wait/retry.ts';
import { REPO_ROOT, kubeNodes, loadTopology } from '../../helpers/lab/topology.ts';
import { effectiveVersions, loadVersions, PIN_KEYS, type EffectiveVersions } from '../../helpers/lab/versions.ts';
import {
  LabStepError,
  VIRTUALBOX_NEEDS_VAGRANT,
  bringUpOrder,
  checkProviderVersions,
  chooseProvider,
  failedProvisioningStep,
  knownHostsText,
  parseRecorded,
  vagrantMessage,
  vagrantRunner,
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
    expect(judgeAgentsReady(list(NODES.map((n) => agent(n, true))), NODES)).toMatchObject({
      done: true,
      value: { 'k8s-ctr': 'cilium-k8sctrx' },
    });
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
  test('finds the failure lines of provision/lib.sh in Vagrant output, each once', () => {
    const out = [
      '    k8s-ctr: [cilium-lab] k8s-ctr control-plane: kubeadm init',
      '    k8s-ctr: [cilium-lab] FAILED k8s-ctr control-plane step "kubeadm init" (exit 1, line 62); log: /var/log/cilium-lab/control-plane.log',
      'The SSH command responded with a non-zero exit status.',
    ].join('\n');
    expect(failedProvisioningStep(out)).toBe(
      'FAILED k8s-ctr control-plane step "kubeadm init" (exit 1, line 62); log: /var/log/cilium-lab/control-plane.log',
    );
    expect(failedProvisioningStep('no marker here')).toBeUndefined();
    // die inside a command substitution: its reason, then the step's exit and line from the script's shell.
    const twice = [
      '    k8s-ctr: [cilium-lab] FAILED k8s-ctr control-plane step "helm 3.21.4": checksum mismatch for https://get.helm.sh/x',
      '    k8s-ctr: [cilium-lab] FAILED k8s-ctr control-plane step "helm 3.21.4" (exit 1, line 88); log: /var/log/cilium-lab/control-plane.log',
      '    k8s-ctr: [cilium-lab] FAILED k8s-ctr control-plane step "helm 3.21.4" (exit 1, line 88); log: /var/log/cilium-lab/control-plane.log',
    ].join('\n');
    expect(failedProvisioningStep(twice)).toBe(
      'FAILED k8s-ctr control-plane step "helm 3.21.4": checksum mismatch for https://get.helm.sh/x\n  FAILED k8s-ctr control-plane step "helm 3.21.4" (exit 1, line 88); log: /var/log/cilium-lab/control-plane.log',
    );
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

const HOST_KEYS = (m: string) =>
  `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${m.replace(/[^a-z0-9]/g, '')}key root@${m}\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ${m.replace(/[^a-z0-9]/g, '')} root@${m}`;

interface Scenario {
  states: Record<string, string>;
  recorded?: Record<string, string>;
  /** `vagrant up NAME` results by machine (default: success, provisioned). */
  upResult?: Record<string, RunResult>;
  provisionResult?: Record<string, RunResult>;
  statusResult?: RunResult;
  nodesJson?: () => string;
  agentsJson?: () => string;
  versions?: { vagrant?: string; virtualbox?: string };
  provider?: string;
}

function scripted(s: Scenario): { deps: LabDeps; calls: string[][]; logs: string[]; kubectl: string[]; saved: string[] } {
  const calls: string[][] = [];
  const logs: string[] = [];
  const kubectl: string[] = [];
  const saved: string[] = [];
  const ok = (stdout = ''): RunResult => ({ exitCode: 0, stdout, stderr: '' });
  const recordedText = (m: string): string => `${s.recorded?.[m] ?? versionsEnvText(wanted)}\n# --- ssh host keys\n${HOST_KEYS(m)}`;
  const deps: LabDeps = {
    clock: fakeClock(),
    timeouts: { nodesReadyMs: 60_000, agentsReadyMs: 60_000, pollIntervalMs: 10_000 },
    provider: { provider: s.provider ?? 'virtualbox', why: 'the default' },
    log: (l) => logs.push(l),
    exec: (cmd) => {
      calls.push([cmd, '--version']);
      if (cmd === 'vagrant') return Promise.resolve(ok(`Vagrant ${s.versions?.vagrant ?? '2.4.9'}\n`));
      if (s.versions?.virtualbox === undefined && s.versions)
        return Promise.resolve({ exitCode: 127, stdout: '', stderr: 'VBoxManage: not found' });
      return Promise.resolve(ok(`${s.versions?.virtualbox ?? '7.2.4r170995'}\n`));
    },
    kubectl: (command) => {
      kubectl.push(command);
      if (command === 'true') return Promise.resolve(ok());
      if (command === 'kubectl get nodes -o json') return Promise.resolve(ok(s.nodesJson?.() ?? list(NODES.map((n) => node(n, 'True')))));
      if (command.includes('k8s-app=cilium')) return Promise.resolve(ok(s.agentsJson?.() ?? list(NODES.map((n) => agent(n, true)))));
      return Promise.resolve({ exitCode: 1, stdout: '', stderr: `unexpected kubectl ${command}` });
    },
    saveKnownHosts: (text) => saved.push(text),
    vagrant: (args) => {
      calls.push(args);
      const [cmd, machine, , command] = args;
      if (cmd === 'status') {
        return Promise.resolve(
          s.statusResult ?? ok(MACHINES.map((m) => `1,${m},provider-name,virtualbox\n1,${m},state,${s.states[m]}`).join('\n')),
        );
      }
      if (cmd === 'up') {
        const r = s.upResult?.[machine!] ?? ok();
        s.states[machine!] = 'running';
        return Promise.resolve(r);
      }
      if (cmd === 'provision') return Promise.resolve(s.provisionResult?.[machine!] ?? ok());
      if (cmd === 'ssh' && command?.startsWith('cat /etc/cilium-lab/versions.env')) return Promise.resolve(ok(recordedText(machine!)));
      if (cmd === 'destroy') return Promise.resolve(ok());
      return Promise.resolve({ exitCode: 1, stdout: '', stderr: `unexpected vagrant ${args.join(' ')}` });
    },
  };
  return { deps, calls, logs, kubectl, saved };
}

const allStates = (state: string): Record<string, string> => Object.fromEntries(MACHINES.map((m) => [m, state]));
const changing = (calls: string[][]): string[][] => calls.filter((c) => ['up', 'provision', 'destroy', 'reload', 'halt'].includes(c[0]!));
const upCalls = (names: string[]): string[][] => names.map((n) => ['up', n, '--provider', 'virtualbox']);

describe('labUp', () => {
  test('a new lab: one `vagrant up NAME` per VM in topology order, then waits for nodes and agents over SSH to k8s-ctr', async () => {
    const { deps, calls, kubectl } = scripted({ states: allStates('not_created') });
    await labUp(topology, wanted, deps);
    expect(changing(calls)).toEqual(upCalls(MACHINES));
    expect(kubectl).toEqual(['true', 'kubectl get nodes -o json', 'kubectl -n kube-system get pods -l k8s-app=cilium -o json']);
    // No `vagrant ssh` per poll: Vagrant is asked once per VM (versions and host keys), the waits go over the pool.
    expect(calls.filter((c) => c[0] === 'ssh').map((c) => c[1])).toEqual(MACHINES);
  });

  test('a re-run on a running lab with the same versions changes nothing', async () => {
    const { deps, calls, logs } = scripted({ states: allStates('running') });
    await labUp(topology, wanted, deps);
    expect(changing(calls)).toEqual([]);
    expect(logs).toContain('all VMs are running and provisioned: nothing to bring up');
  });

  test('a running lab built with other versions: fails before changing anything, naming both', async () => {
    const recorded = { 'k8s-ctr': versionsEnvText(wanted, true, { CILIUM_VERSION: '1.17.18' }) };
    const { deps, calls } = scripted({ states: allStates('running'), recorded });
    const err = await labUp(topology, wanted, deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabStepError);
    expect((err as LabStepError).step).toBe('compare versions with the running VMs');
    expect((err as Error).message).toContain(
      `k8s-ctr was built with CILIUM_VERSION=1.17.18 but CILIUM_VERSION=${wanted.cilium.value} is asked for`,
    );
    expect(changing(calls)).toEqual([]);
  });

  test('a VM whose provisioning never finished is provisioned again, the others are left alone', async () => {
    const recorded = { 'k8s-w0': versionsEnvText(wanted, false) };
    const { deps, calls } = scripted({ states: allStates('running'), recorded });
    await labUp(topology, wanted, deps);
    expect(changing(calls)).toEqual([['provision', 'k8s-w0']]);
  });

  test('defect 2: control plane running but unfinished, workers not created: k8s-ctr is provisioned before any worker is created', async () => {
    const states = { router: 'running', 'k8s-ctr': 'running', 'k8s-w1': 'not_created', 'k8s-w0': 'not_created' };
    const recorded = { 'k8s-ctr': versionsEnvText(wanted, false) };
    const { deps, calls } = scripted({ states, recorded });
    await labUp(topology, wanted, deps);
    expect(changing(calls)).toEqual([['provision', 'k8s-ctr'], ...upCalls(['k8s-w1', 'k8s-w0'])]);
  });

  test('defect 2: when the control plane fails again, no worker is created and the error names its step', async () => {
    const states = { router: 'running', 'k8s-ctr': 'running', 'k8s-w1': 'not_created', 'k8s-w0': 'not_created' };
    const provisionResult = {
      'k8s-ctr': {
        exitCode: 1,
        stdout: '    k8s-ctr: [cilium-lab] k8s-ctr control-plane: kubeadm init\n',
        stderr:
          '    k8s-ctr: [cilium-lab] FAILED k8s-ctr control-plane step "kubeadm init" (exit 1, line 62); log: /var/log/cilium-lab/control-plane.log\nThe SSH command responded with a non-zero exit status.',
      },
    };
    const { deps, calls } = scripted({ states, recorded: { 'k8s-ctr': versionsEnvText(wanted, false) }, provisionResult });
    const err = (await labUp(topology, wanted, deps).catch((e: unknown) => e)) as LabStepError;
    expect(err.step).toBe('provision k8s-ctr (its provisioning had not finished)');
    expect(err.message).toContain('FAILED k8s-ctr control-plane step "kubeadm init" (exit 1, line 62)');
    expect(changing(calls)).toEqual([['provision', 'k8s-ctr']]);
  });

  test('a VM that was powered off is booted and, its provisioning being complete, not provisioned again', async () => {
    const { deps, calls } = scripted({ states: { ...allStates('running'), 'k8s-w1': 'poweroff' } });
    await labUp(topology, wanted, deps);
    expect(changing(calls)).toEqual(upCalls(['k8s-w1']));
  });

  test('vagrant up failing: the error names the provisioning step that failed, and later VMs are not touched', async () => {
    const upResult = {
      'k8s-ctr': {
        exitCode: 1,
        stdout:
          '    k8s-ctr: [cilium-lab] FAILED k8s-ctr control-plane step "install Cilium 1.18.14 with helm" (exit 1, line 99); log: /var/log/cilium-lab/control-plane.log',
        stderr: 'The SSH command responded with a non-zero exit status.',
      },
    };
    const { deps, calls } = scripted({ states: allStates('not_created'), upResult });
    await expect(labUp(topology, wanted, deps)).rejects.toThrow(
      /did not finish step "vagrant up k8s-ctr": provisioning failed: FAILED k8s-ctr control-plane step "install Cilium 1\.18\.14 with helm"/,
    );
    expect(changing(calls)).toEqual(upCalls(['router', 'k8s-ctr']));
  });

  test("defect 4: vagrant up failing without a FAILED line shows Vagrant's own message", async () => {
    const upResult = {
      router: {
        exitCode: 1,
        stdout: '',
        stderr: 'Error while connecting to Libvirt: Error making a connection to libvirt URI qemu:///system',
      },
    };
    const { deps } = scripted({ states: allStates('not_created'), upResult });
    await expect(labUp(topology, wanted, deps)).rejects.toThrow(/vagrant up router failed \(exit 1\): Error while connecting to Libvirt/);
  });

  test("defect 4: a provider Vagrant cannot use: lab:up and lab:status print Vagrant's reason, unescaped", async () => {
    const statusResult = { exitCode: 1, stdout: fixture('vagrant/status-virtualbox-not-usable.txt'), stderr: '' };
    for (const run of [(d: LabDeps) => labUp(topology, wanted, d), (d: LabDeps) => labStatus(wanted, d)]) {
      const { deps, calls } = scripted({ states: allStates('not_created'), statusResult });
      const err = (await run(deps).catch((e: unknown) => e)) as Error;
      expect(err.message).toContain(
        "vagrant status failed (exit 1): The provider 'virtualbox' that was requested to back the machine\n'router'",
      );
      expect(err.message).toContain('Vagrant could not detect VirtualBox! Make sure VirtualBox is properly installed.');
      expect(err.message).toContain('ships with VirtualBox, and requires');
      expect(err.message).not.toMatch(/VAGRANT_COMMA|\\n/);
      expect(changing(calls)).toEqual([]);
    }
  });

  test('defect 5: VirtualBox 7.2 with Vagrant 2.3.4 stops before anything is created, saying what to upgrade', async () => {
    const { deps, calls } = scripted({ states: allStates('not_created'), versions: { vagrant: '2.3.4', virtualbox: '7.2.4r170995' } });
    const err = (await labUp(topology, wanted, deps).catch((e: unknown) => e)) as LabStepError;
    expect(err.step).toBe('check the Vagrant and VirtualBox versions');
    expect(err.message).toContain('VirtualBox 7.2.4 needs Vagrant 2.4.9 or newer, and this is Vagrant 2.3.4: upgrade Vagrant');
    expect(calls.filter((c) => c[0] !== 'vagrant' && c[0] !== 'VBoxManage')).toEqual([]);
  });

  test('defect 5: no version check for another provider; a missing VBoxManage is left to Vagrant to explain', async () => {
    const libvirt = scripted({ states: allStates('running'), provider: 'libvirt' });
    await labUp(topology, wanted, libvirt.deps);
    expect(libvirt.calls.filter((c) => c[1] === '--version')).toEqual([]);
    const none = scripted({ states: allStates('running'), versions: { vagrant: '2.3.4' } });
    await labUp(topology, wanted, none.deps);
  });

  test('defect 6: lab:up and lab:status say which provider and why', async () => {
    const { deps, logs } = scripted({ states: allStates('running') });
    await labUp(topology, wanted, deps);
    expect(logs).toContain('provider: virtualbox (the default)');
    const st = scripted({ states: allStates('running') });
    expect(await labStatus(wanted, st.deps)).toContain('provider: virtualbox (the default)');
  });

  test('defect 7: every step prints its duration, and the total at the end', async () => {
    const { deps, logs } = scripted({ states: allStates('not_created') });
    await labUp(topology, wanted, deps);
    expect(logs).toContainEqual(expect.stringMatching(/^<== vagrant up k8s-ctr: \d+(\.\d)? s$/));
    expect(logs).toContainEqual(expect.stringMatching(/^<== wait until every Kubernetes node is Ready: \d+(\.\d)? s$/));
    expect(logs.at(-1)).toMatch(/^lab:up took \d+(\.\d)? s in all:/);
  });

  test('defect 7: the waits are minutes, sized to the work left once every VM is provisioned', async () => {
    const nodesJson = () => list([node('k8s-ctr', 'True'), node('k8s-w1', 'True'), node('k8s-w0', 'False')]);
    const { deps } = scripted({ states: allStates('running'), nodesJson });
    delete deps.timeouts;
    const err = (await labUp(topology, wanted, deps).catch((e: unknown) => e)) as LabStepError;
    expect(err.message).toMatch(/Timed out after 300 s waiting for nodes/);
  });

  test("host keys: recorded from each VM through vagrant ssh into the lab's known-hosts file", async () => {
    const { deps, saved } = scripted({ states: allStates('not_created') });
    await labUp(topology, wanted, deps);
    expect(saved).toHaveLength(1);
    const lines = saved[0]!.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines).toContain(`192.168.10.100 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIk8sctrkey`);
    expect(lines).toHaveLength(MACHINES.length * 2);
  });

  test('host keys: a control plane whose SSH connection is refused fails at once, before the waits', async () => {
    const { deps, kubectl } = scripted({ states: allStates('running') });
    deps.kubectl = (command) => {
      kubectl.push(command);
      return Promise.reject(
        new Error('ssh k8s-ctr: `true`: connect to 192.168.10.100:22: host key check: 192.168.10.100 offered a key that differs'),
      );
    };
    const err = (await labUp(topology, wanted, deps).catch((e: unknown) => e)) as LabStepError;
    expect(err.step).toBe("connect to k8s-ctr over SSH (the harness's pool)");
    expect(err.message).toContain('host key check: 192.168.10.100 offered a key that differs');
    expect(kubectl).toEqual(['true']);
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

describe('pure decisions', () => {
  test('vagrantMessage: error-exit / ui,error lines of --machine-readable output, unescaped; else stderr', () => {
    const text = vagrantMessage({ exitCode: 1, stdout: fixture('vagrant/status-virtualbox-not-usable.txt'), stderr: '' });
    expect(text.split('\n')[0]).toBe("The provider 'virtualbox' that was requested to back the machine");
    expect(text).toContain('Vagrant uses the `VBoxManage` binary that ships with VirtualBox, and requires');
    expect(vagrantMessage({ exitCode: 1, stdout: '1,,ui,error,only ui%!(VAGRANT_COMMA) no exit\\nline 2', stderr: '' })).toBe(
      'only ui, no exit\nline 2',
    );
    expect(vagrantMessage({ exitCode: 1, stdout: '', stderr: '  plain error  \n' })).toBe('plain error');
    expect(vagrantMessage({ exitCode: 1, stdout: 'some\nhuman output\n', stderr: '' })).toBe('some\nhuman output');
    expect(vagrantMessage({ exitCode: 1, stdout: '', stderr: '' })).toBe('(Vagrant printed nothing)');
  });

  test('checkProviderVersions follows the table', () => {
    expect(VIRTUALBOX_NEEDS_VAGRANT).toEqual([
      { virtualbox: '7.0', vagrant: '2.3.2' },
      { virtualbox: '7.1', vagrant: '2.4.2' },
      { virtualbox: '7.2', vagrant: '2.4.9' },
    ]);
    expect(checkProviderVersions('Vagrant 2.4.9', '7.2.0r170228')).toEqual({ ok: true });
    expect(checkProviderVersions('Vagrant 2.4.8', '7.2.0r170228')).toMatchObject({
      ok: false,
      message: expect.stringContaining('upgrade Vagrant'),
    });
    expect(checkProviderVersions('Vagrant 2.4.1', '7.1.6r167084')).toMatchObject({
      ok: false,
      message: expect.stringContaining('VirtualBox 7.1.6 needs Vagrant 2.4.2 or newer'),
    });
    expect(checkProviderVersions('Vagrant 2.3.4', '7.0.20r163906')).toEqual({ ok: true });
    expect(checkProviderVersions('Vagrant 2.3.4', '6.1.50r161033')).toEqual({ ok: true });
    expect(checkProviderVersions('Vagrant 2.4.9', '7.3.0r171000')).toMatchObject({
      ok: true,
      warning: expect.stringContaining('newer than the table'),
    });
    expect(checkProviderVersions('Vagrant 2.10.0', '7.2.0')).toEqual({ ok: true });
    expect(checkProviderVersions(undefined, '7.2.0')).toEqual({ ok: true });
  });

  test('README and docs/lab.md carry the same table', () => {
    for (const doc of ['README.md', 'docs/lab.md']) {
      const text = readFileSync(path.join(REPO_ROOT, doc), 'utf8');
      for (const row of VIRTUALBOX_NEEDS_VAGRANT)
        expect(text, doc).toMatch(
          new RegExp(`\\|\\s*${row.virtualbox.replace('.', '\\.')}\\S*\\s*\\|\\s*${row.vagrant.replace(/\./g, '\\.')} or newer\\s*\\|`),
        );
    }
  });

  test('chooseProvider: VirtualBox unless the user chose another; says why', () => {
    expect(chooseProvider({ env: {}, created: {} })).toEqual({ provider: 'virtualbox', why: expect.stringContaining('the default') });
    expect(chooseProvider({ env: { VAGRANT_DEFAULT_PROVIDER: 'libvirt' }, created: {} })).toEqual({
      provider: 'libvirt',
      why: 'VAGRANT_DEFAULT_PROVIDER=libvirt',
    });
    expect(chooseProvider({ option: 'libvirt', env: { VAGRANT_DEFAULT_PROVIDER: 'virtualbox' }, created: {} })).toEqual({
      provider: 'libvirt',
      why: '--provider libvirt',
    });
    expect(chooseProvider({ env: {}, created: { router: 'libvirt', 'k8s-ctr': 'libvirt' } })).toEqual({
      provider: 'libvirt',
      why: expect.stringContaining('created with it'),
    });
  });

  test('bringUpOrder: router, control plane, workers, as the topology lists them', () => {
    const shuffled = [...MACHINES].reverse().map((name) => ({ name, state: 'not_created', provider: null }));
    expect(bringUpOrder(topology, shuffled).map((m) => m.name)).toEqual(MACHINES);
  });

  test('parseRecorded splits versions.env from the host keys', () => {
    const r = parseRecorded(`${versionsEnvText(wanted)}\n# --- ssh host keys\n${HOST_KEYS('router')}\n`);
    expect(r.versions.CILIUM_VERSION).toBe(wanted.cilium.value);
    expect(r.hostKeys).toEqual(
      HOST_KEYS('router')
        .split('\n')
        .map((l) => l.split(' ').slice(0, 2).join(' ')),
    );
  });

  test('knownHostsText: one line per key at the address the harness dials, other hosts kept', () => {
    const old = '# cilium-lab\n192.168.10.100 ssh-ed25519 OLD\n198.18.0.9 ssh-ed25519 KEEP\n';
    const text = knownHostsText(topology, { 'k8s-ctr': ['ssh-ed25519 NEW'] }, old);
    expect(text).toContain('192.168.10.100 ssh-ed25519 NEW');
    expect(text).not.toContain('OLD');
    expect(text).toContain('198.18.0.9 ssh-ed25519 KEEP');
  });
});

describe('lab:up through a stand-in `vagrant` executable on PATH (defects 2, 4, 6)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'clh-lab-vagrant-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // Records each call with the provider in its environment; keeps each machine's state in a file; a machine
  // that is "running" answers `vagrant ssh -c 'cat versions.env…'` with versions.env, finished or not.
  const stub = (
    name: string,
    states: Record<string, string>,
    done: Record<string, boolean>,
  ): { env: NodeJS.ProcessEnv; calls: () => string[] } => {
    const root = path.join(dir, name);
    mkdirSync(path.join(root, 'bin'), { recursive: true });
    mkdirSync(path.join(root, 'state'));
    for (const [m, st] of Object.entries(states)) writeFileSync(path.join(root, 'state', m), st);
    for (const [m, d] of Object.entries(done)) writeFileSync(path.join(root, 'state', `${m}.env`), versionsEnvText(wanted, d));
    writeFileSync(path.join(root, 'done.env'), versionsEnvText(wanted, true));
    const script = `#!/bin/bash
S=${root}/state
echo "$VAGRANT_DEFAULT_PROVIDER|$*" >>${root}/calls.log
case "$1" in
  status) for m in ${MACHINES.join(' ')}; do echo "1,$m,provider-name,$VAGRANT_DEFAULT_PROVIDER"; echo "1,$m,state,$(cat $S/$m)"; done ;;
  up) echo running >$S/$2; echo "==> $2: Running provisioner: kubernetes-node (shell)..."; cp ${root}/done.env $S/$2.env ;;
  provision) sed -i '/PROVISIONED_OK/d' $S/$2.env; echo 'PROVISIONED_OK="now"' >>$S/$2.env ;;
  ssh) cat $S/$2.env; echo "# --- ssh host keys"; echo "ssh-ed25519 AAAA\${2//-/} root@$2" ;;
  *) echo "1,,error-exit,Vagrant::Errors::CLIInvalidUsage,unexpected: $*" ; exit 1 ;;
esac
`;
    writeFileSync(path.join(root, 'bin', 'vagrant'), script);
    chmodSync(path.join(root, 'bin', 'vagrant'), 0o755);
    return {
      env: { PATH: `${path.join(root, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}` },
      calls: () => readFileSync(path.join(root, 'calls.log'), 'utf8').split('\n').filter(Boolean),
    };
  };

  test('control plane running and unfinished, workers not created: provisioned first, then each worker, all on the chosen provider', async () => {
    const s = stub(
      'mixed',
      { router: 'running', 'k8s-ctr': 'running', 'k8s-w1': 'not_created', 'k8s-w0': 'not_created' },
      { router: true, 'k8s-ctr': false },
    );
    const provider = { provider: 'virtualbox', why: 'the default' };
    const { deps } = scripted({ states: {} });
    const logs: string[] = [];
    await labUp(topology, wanted, {
      ...deps,
      provider,
      log: (l) => logs.push(l),
      vagrant: vagrantRunner(wanted, provider, { ...process.env, ...s.env }, { quiet: true }),
    });
    const calls = s.calls().filter((c) => /\|(up|provision|destroy)/.test(c));
    expect(calls).toEqual([
      'virtualbox|provision k8s-ctr',
      'virtualbox|up k8s-w1 --provider virtualbox',
      'virtualbox|up k8s-w0 --provider virtualbox',
    ]);
    expect(s.calls().every((c) => c.startsWith('virtualbox|'))).toBe(true);
  });

  test('an error Vagrant reports on stdout (--machine-readable) reaches the user', async () => {
    const s = stub('error', {}, {});
    const provider = { provider: 'libvirt', why: 'VAGRANT_DEFAULT_PROVIDER=libvirt' };
    const r = await vagrantRunner(wanted, provider, { ...process.env, ...s.env }, { quiet: true })(['bogus', '--machine-readable']);
    expect(vagrantMessage(r)).toBe('unexpected: bogus --machine-readable');
  });
});

describe('labStatus and labDown', () => {
  test("status prints each VM's state and the versions recorded on the running ones", async () => {
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
