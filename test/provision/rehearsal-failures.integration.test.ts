/**
 * The rehearsal (issue 13), (c): injected failures end the provision script non-zero with the
 * `[cilium-lab] FAILED <node> <script> step "<step>"` line naming the step, wherever the failure happens:
 * a pinned version the repository lacks (package_version's die), a command substitution failing at top
 * level (`containerd config default`), a checksum mismatch, curl failing inside a command substitution in
 * a function (the published .sha256sum answering 404) and curl failing in a function (the tarball 404).
 * Before `set -E` in lib.sh (issue 13, defect 3) the last two ended with `curl: (22)` and no FAILED line.
 * Each node is provisioned again after each failure, as `lab:up` re-provisions an unfinished VM: the next
 * run gets past the step that failed, and the last one (no fault left) finishes.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Rehearsal, cannotRun, type RehearsalNode, type RunResult } from './rehearsal/rehearsal.ts';

const reason = await cannotRun();

let rehearsal: Rehearsal;
let worker: RehearsalNode;
let ctr: RehearsalNode;
const results: Record<string, RunResult[]> = {};

const failedLine = (node: string, script: string, step: string): RegExp =>
  new RegExp(`\\[cilium-lab\\] FAILED ${node} ${script} step "${step.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"`);

function last(runs: RunResult[]): RunResult {
  return runs[runs.length - 1]!;
}

describe.skipIf(reason)(`the rehearsal: injected failures name their step${reason ? ` (skipped: ${reason})` : ''}`, () => {
  beforeAll(async () => {
    rehearsal = await Rehearsal.create();
    [worker, ctr] = await Promise.all([rehearsal.node('k8s-w1', 'w1-faults'), rehearsal.node('k8s-ctr', 'ctr-faults')]);
    const env = ctr.machine.provisioners.find((p) => p.name === 'control-plane')!.env!;
    const arch = 'amd64';
    await Promise.all([
      (async () => {
        // A pinned version the repository does not have.
        results.missingVersion = await worker.provision({ CONTAINERD_VERSION: '1.7.99' }, ['network', 'kubernetes-node']);
        // containerd fails inside the command substitution that reads its default configuration.
        worker.setFaults({ programs: ['containerd config default'] });
        results.substitution = await worker.provision({}, ['kubernetes-node']);
        worker.setFaults({});
        results.workerRecovered = await worker.provision({}, ['kubernetes-node', 'worker']);
      })(),
      (async () => {
        // The control plane needs network.sh and kubernetes-node.sh first (as on the VM).
        results.ctrBase = await ctr.provision();
        // Then, one at a time and in script order, each release download fails differently.
        ctr.setFaults({
          replace: {
            [`get.helm.sh/helm-v${env.HELM_VERSION}-linux-${arch}.tar.gz.sha256sum`]: `${'0'.repeat(64)}  helm-v${env.HELM_VERSION}-linux-${arch}.tar.gz\n`,
          },
        });
        await ctr.exec('rm -f /usr/local/bin/helm /usr/local/bin/cilium /usr/local/bin/hubble');
        results.checksum = await ctr.provision({}, ['control-plane']);
        ctr.setFaults({
          notFound: [
            `release-assets.githubusercontent.com/cilium/cilium-cli/releases/download/v${env.CILIUM_CLI_VERSION}/cilium-linux-${arch}.tar.gz.sha256sum`,
          ],
        });
        results.checksumMissing = await ctr.provision({}, ['control-plane']);
        ctr.setFaults({
          notFound: [
            `release-assets.githubusercontent.com/cilium/hubble/releases/download/v${env.HUBBLE_CLI_VERSION}/hubble-linux-${arch}.tar.gz`,
          ],
        });
        results.notFound = await ctr.provision({}, ['control-plane']);
        ctr.setFaults({});
        results.ctrRecovered = await ctr.provision({}, ['control-plane']);
      })(),
    ]);
  }, 900_000);

  afterAll(async () => {
    await worker?.dispose();
    await ctr?.dispose();
    rehearsal?.dispose();
  });

  test('a pinned version missing from the repository: kubernetes-node.sh fails at the install step, naming the package', () => {
    const run = last(results.missingVersion!);
    expect(run.provisioner).toBe('kubernetes-node');
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(failedLine('k8s-w1', 'kubernetes-node', 'install containerd.io 1.7.99, kubelet/kubeadm/kubectl 1.33.13'));
    expect(run.output).toContain('no package containerd.io for version 1.7.99');
  });

  test('a failure inside a command substitution (containerd config default) names its step', () => {
    const run = last(results.substitution!);
    expect(run.provisioner).toBe('kubernetes-node');
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(failedLine('k8s-w1', 'kubernetes-node', 'containerd: systemd cgroups, the pause image kubeadm expects'));
  });

  test('after the failures, provisioning the same worker again finishes', () => {
    expect(results.workerRecovered!.map((r) => [r.provisioner, r.exitCode])).toEqual(
      results.workerRecovered!.map((r) => [r.provisioner, 0]),
    );
    expect(last(results.workerRecovered!).output).toContain('[cilium-lab] k8s-w1 worker: done');
  });

  test('a checksum mismatch: control-plane.sh fails at the helm step and installs nothing', () => {
    expect(last(results.ctrBase!).exitCode).toBe(0);
    const run = last(results.checksum!);
    expect(run.provisioner).toBe('control-plane');
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(failedLine('k8s-ctr', 'control-plane', 'helm 3.21.4'));
  });

  test('a published checksum answering 404 (curl inside a command substitution in a function) names the cilium CLI step', () => {
    const run = last(results.checksumMissing!);
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(failedLine('k8s-ctr', 'control-plane', 'cilium CLI 0.20.0'));
  });

  test('a download answering 404 (curl inside a function) names the hubble step', () => {
    const run = last(results.notFound!);
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(failedLine('k8s-ctr', 'control-plane', 'hubble CLI 1.18.6'));
  });

  test('after the failures, provisioning the control plane again finishes', async () => {
    expect(last(results.ctrRecovered!).output).toContain('[cilium-lab] k8s-ctr control-plane: done');
    expect(last(results.ctrRecovered!).exitCode).toBe(0);
    // A failed download leaves no temporary directory behind (issue 13, item 8).
    const tmp = await ctr.exec('ls -d /tmp/tmp.* 2>/dev/null | wc -l');
    expect(tmp.output.trim()).toBe('0');
  });
});
