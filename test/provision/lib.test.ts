/**
 * provision/lib.sh run for real in bash, with stand-ins on PATH (a temporary bin directory) for the programs
 * a VM would have (apt-get, apt-cache, dpkg-query, apt-mark, curl): no root, nothing outside a temp dir.
 * - install_pinned hands apt-get the repository's version strings only (never apt-get update's output), and
 *   apt-get update runs once per script (issue 13, defect 1);
 * - a failure inside a function, a command substitution or a subshell prints the FAILED line naming the
 *   node, script and step, exactly once (defect 3);
 * - install_release_binary leaves no temp directory behind when it fails; bento's netplan files are made
 *   private before `netplan apply` (defect 8).
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';

const LIB = path.join(REPO_ROOT, 'provision', 'lib.sh');
const dir = mkdtempSync(path.join(tmpdir(), 'clh-prov-lib-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A fresh scratch area: bin/ with the given stand-ins first on PATH, log/, etc/, tmp/, calls.log. */
function scratch(stubs: Record<string, string>): { root: string; bin: string; calls: () => string[]; env: Record<string, string> } {
  const root = path.join(dir, `s${++n}`);
  const bin = path.join(root, 'bin');
  for (const d of [bin, path.join(root, 'tmp')]) mkdirSync(d, { recursive: true });
  const callLog = path.join(root, 'calls.log');
  writeFileSync(callLog, '');
  for (const [name, body] of Object.entries(stubs)) {
    const file = path.join(bin, name);
    writeFileSync(file, `#!/bin/bash\necho "${name} $*" >>"${callLog}"\n${body}\n`);
    chmodSync(file, 0o755);
  }
  return {
    root,
    bin,
    calls: () => readFileSync(callLog, 'utf8').split('\n').filter(Boolean),
    env: {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      LAB_ETC: path.join(root, 'etc'),
      LAB_LOG_DIR: path.join(root, 'log'),
      TMPDIR: path.join(root, 'tmp'),
      LAB_NODE: 'k8s-w1',
    },
  };
}

/** Runs `script` as a file named <name>.sh that sources lib.sh the way provision/*.sh do. */
async function runScript(name: string, script: string, env: Record<string, string>) {
  const file = path.join(dir, `${name}.sh`);
  writeFileSync(file, `#!/usr/bin/env bash\nset -euo pipefail\nsource "${LIB}"\n${script}\n`);
  return execa('bash', [file], { env, extendEnv: false, reject: false, stdin: 'ignore', all: true, timeout: 20_000 });
}

// apt-get update as Ubuntu prints it (to stdout), and apt-cache madison as pkgs.k8s.io / Docker answer it.
const APT_GET = `if [ "$1" = update ]; then
  echo "Hit:1 http://archive.ubuntu.com/ubuntu noble InRelease"
  echo "Get:2 https://pkgs.k8s.io/core:/stable:/v1.33/deb  InRelease [1,227 B]"
  echo "Reading package lists..."
fi
exit 0`;
const APT_CACHE = `[ "$1" = madison ] || exit 1
case "$2" in
  containerd.io) printf ' containerd.io | 1.7.28-1~ubuntu.24.04~noble | https://download.docker.com/linux/ubuntu noble/stable amd64 Packages\\n containerd.io | 1.7.27-1 | https://download.docker.com/linux/ubuntu noble/stable amd64 Packages\\n' ;;
  kube*) printf '   %s | 1.33.13-1.1 | https://pkgs.k8s.io/core:/stable:/v1.33/deb  Packages\\n   %s | 1.33.12-1.1 | https://pkgs.k8s.io/core:/stable:/v1.33/deb  Packages\\n' "$2" "$2" ;;
esac`;

describe('install_pinned / package_version (defect 1)', () => {
  test('apt-get install receives NAME=VERSION tokens from the repository, and apt-get update runs once', async () => {
    const s = scratch({ 'apt-get': APT_GET, 'apt-cache': APT_CACHE, 'dpkg-query': 'exit 1', 'apt-mark': 'exit 0' });
    // As kubernetes-node.sh does: repositories were just added, so the next apt use must update once.
    const r = await runScript(
      'kubernetes-node',
      'apt_install ca-certificates; LAB_APT_UPDATED=; install_pinned containerd.io=1.7.27 kubelet=1.33.13 kubeadm=1.33.13; apt_install jq',
      s.env,
    );
    expect(r.all).not.toContain('FAILED');
    expect(r.exitCode).toBe(0);
    const installs = s.calls().filter((c) => c.startsWith('apt-get install'));
    expect(installs).toContain(
      'apt-get install -y -q --no-install-recommends containerd.io=1.7.27-1 kubelet=1.33.13-1.1 kubeadm=1.33.13-1.1',
    );
    expect(s.calls().filter((c) => c.startsWith('apt-get update'))).toHaveLength(2); // once before, once after the repositories changed
    expect(s.calls().filter((c) => c.startsWith('apt-mark hold'))).toEqual([
      'apt-mark hold containerd.io',
      'apt-mark hold kubelet',
      'apt-mark hold kubeadm',
    ]);
  });

  test('a pinned version the repository does not have fails naming package and version', async () => {
    const s = scratch({ 'apt-get': APT_GET, 'apt-cache': APT_CACHE, 'dpkg-query': 'exit 1', 'apt-mark': 'exit 0' });
    const r = await runScript('kubernetes-node', 'start_log; step "install kubeadm"; install_pinned kubeadm=1.33.99', s.env);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain('FAILED k8s-w1 kubernetes-node step "install kubeadm": no package kubeadm for version 1.33.99');
    expect(s.calls().filter((c) => c.startsWith('apt-get install'))).toEqual([]);
  });
});

describe('the FAILED line, wherever the failure happens (defect 3)', () => {
  const cases: Record<string, string> = {
    'a command in a function': 'fetch() { curl -fsSL https://get.helm.sh/x; }; fetch',
    'a command substitution': 'sum=$(curl -fsSL https://get.helm.sh/x.sha256sum | awk "{print \\$1}"); echo "$sum"',
    'a command substitution in a function': 'fetch() { local sum; sum=$(curl -fsSL https://get.helm.sh/x); echo "$sum"; }; fetch',
    'a subshell': '( cd / && curl -fsSL https://get.helm.sh/x )',
    'a pipeline': 'curl -fsSL https://get.helm.sh/x | tee /dev/null',
  };
  for (const [where, code] of Object.entries(cases)) {
    test(`a failure in ${where} prints one FAILED line with node, script and step`, async () => {
      const s = scratch({ curl: 'exit 22' });
      const r = await runScript('control-plane', `start_log; step "helm 3.18.6"; ${code}; echo not-reached`, s.env);
      expect(r.exitCode).not.toBe(0);
      expect(r.all).not.toContain('not-reached');
      const failed = r.all.split('\n').filter((l) => l.includes('[cilium-lab] FAILED'));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatch(/^\[cilium-lab\] FAILED k8s-w1 control-plane step "helm 3\.18\.6" \(exit 22, line \d+\); log: /);
    });
  }

  test('die inside a command substitution still names the step and the reason', async () => {
    const s = scratch({});
    const r = await runScript('worker', 'start_log; step "pick"; x=$(die "nothing to pick"); echo "$x not-reached"', s.env);
    expect(r.exitCode).not.toBe(0);
    expect(r.all).not.toContain('not-reached');
    expect(r.all).toContain('[cilium-lab] FAILED k8s-w1 worker step "pick": nothing to pick');
  });
});

describe('smaller (defect 8)', () => {
  test('install_release_binary removes its temp directory when a download fails', async () => {
    const s = scratch({ curl: 'exit 22' });
    const r = await runScript(
      'control-plane',
      'start_log; step "helm"; install_release_binary helm https://get.helm.sh/h.tgz https://get.helm.sh/h.tgz.sha256sum linux-amd64/helm',
      s.env,
    );
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain('FAILED k8s-w1 control-plane step "helm"');
    expect(readdirSync(s.env.TMPDIR!)).toEqual([]);
  });

  test('install_release_binary removes its temp directory on a checksum mismatch', async () => {
    const s = scratch({
      curl: 'out=; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done; if [ -n "$out" ]; then echo tarball >"$out"; else echo "0000  h.tgz"; fi',
    });
    const r = await runScript(
      'control-plane',
      'start_log; step "helm"; install_release_binary helm https://get.helm.sh/h.tgz https://get.helm.sh/h.tgz.sha256sum linux-amd64/helm',
      s.env,
    );
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain('checksum mismatch for https://get.helm.sh/h.tgz');
    expect(readdirSync(s.env.TMPDIR!)).toEqual([]);
  });

  test('netplan files readable by others (as bento ships them) are made private before netplan apply', async () => {
    const s = scratch({});
    const netplanDir = path.join(s.root, 'netplan');
    mkdirSync(netplanDir);
    writeFileSync(path.join(netplanDir, '50-vagrant.yaml'), 'network: {}\n', { mode: 0o644 });
    writeFileSync(path.join(netplanDir, '01-netcfg.yaml'), 'network: {}\n', { mode: 0o600 });
    const r = await runScript('network', 'private_netplan_files', { ...s.env, LAB_NETPLAN_DIR: netplanDir });
    expect(r.all).toBe('');
    expect(r.exitCode).toBe(0);
    for (const f of ['50-vagrant.yaml', '01-netcfg.yaml']) expect(statSync(path.join(netplanDir, f)).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(REPO_ROOT, 'provision', 'network.sh'), 'utf8')).toMatch(/private_netplan_files\n\s*netplan apply/);
  });
});

describe('work done once, waits sized to what they wait for (defect 7, provisioning side)', () => {
  const script = (name: string): string =>
    readFileSync(path.join(REPO_ROOT, 'provision', name), 'utf8')
      .split('\n')
      .filter((l) => !/^\s*#/.test(l))
      .join('\n');

  test('apt_install_missing installs (and updates apt) only when a package is missing', async () => {
    const installed = scratch({ 'apt-get': APT_GET, 'dpkg-query': 'echo "install ok installed"' });
    expect((await runScript('kubernetes-node', 'apt_install_missing ca-certificates curl gpg', installed.env)).exitCode).toBe(0);
    expect(installed.calls().filter((c) => c.startsWith('apt-get'))).toEqual([]);
    const missing = scratch({ 'apt-get': APT_GET, 'dpkg-query': '[ "${*: -1}" = gpg ] && exit 1; echo "install ok installed"' });
    expect((await runScript('kubernetes-node', 'apt_install_missing ca-certificates curl gpg', missing.env)).exitCode).toBe(0);
    expect(missing.calls().filter((c) => c.startsWith('apt-get'))).toEqual([
      'apt-get update -q',
      'apt-get install -y -q --no-install-recommends gpg',
    ]);
  });

  test('kubernetes-node.sh updates apt once on a box that has curl and gpg: before the repositories, only if one is missing', () => {
    const s = script('kubernetes-node.sh');
    expect(s).toMatch(/apt_install_missing ca-certificates curl gpg/);
    expect(s).not.toMatch(/^apt_install ca-certificates/m);
  });

  test('worker.sh waits minutes, not 20, for an API server that is up before workers are provisioned', () => {
    const wait = script('worker.sh').match(/wait_for "the API server[^"]*" (\d+)/);
    expect(wait).not.toBeNull();
    expect(Number(wait![1])).toBeLessThanOrEqual(180);
  });

  test('control-plane.sh fetches the helm.cilium.io index once, and leaves waiting for agents to lab:up', () => {
    const s = script('control-plane.sh');
    expect(s.match(/helm repo add/g)).toHaveLength(1);
    expect(s).not.toMatch(/helm repo update/);
    expect(s).not.toMatch(/Ready Cilium agent/);
  });
});
