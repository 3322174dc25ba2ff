/**
 * `npm run lab:status` and `npm run lab:up` (scripts/lab.ts) with the real Vagrant and no usable provider, as a new
 * user without VirtualBox meets them (issue 13, defects 4 and 6): both print, in one message, the provider they
 * use and why, and Vagrant's own reason (which Vagrant writes to stdout under --machine-readable). Nothing is
 * created: Vagrant stops at `vagrant status`.
 *
 * Runs inside a network namespace of its own with only loopback (no route anywhere), on a copy of the
 * Vagrantfile in a temporary directory (VAGRANT_CWD), with its own VAGRANT_HOME and LAB_STATE_DIR.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';
import { createNetns, hasCommand, isRoot, type Netns } from '../support/netns.ts';

const missing = [
  ...(isRoot ? [] : ['root']),
  ...((await hasCommand('vagrant')) ? [] : ['vagrant']),
  ...((await hasCommand('VBoxManage')) ? ['no VBoxManage (VirtualBox is installed here)'] : []),
];

describe.skipIf(missing.length > 0)(
  `lab:up / lab:status without a usable provider${missing.length ? ` (skipped: ${missing.join(', ')})` : ''}`,
  () => {
    let ns: Netns | undefined;
    let work = '';
    const results: Record<string, { exitCode: number; stdout: string; stderr: string }> = {};

    beforeAll(async () => {
      work = mkdtempSync(path.join(tmpdir(), 'clh-lab-noprov-'));
      const cwd = path.join(work, 'lab');
      mkdirSync(cwd);
      for (const entry of ['Vagrantfile', 'lab', 'provision'])
        cpSync(path.join(REPO_ROOT, entry), path.join(cwd, entry), { recursive: true });
      ns = await createNetns(`clh-lab-${process.pid % 100_000}`, { loopbackUp: true });
      const route = await execa(ns.exec[0]!, [...ns.exec.slice(1), 'ip', '-4', 'route', 'show'], { reject: false });
      if (route.stdout.trim() !== '') throw new Error(`the namespace has routes: ${route.stdout}`);
      const env = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: work,
        VAGRANT_CWD: cwd,
        VAGRANT_HOME: path.join(work, 'vagrant-home'),
        VAGRANT_CHECKPOINT_DISABLE: '1',
        LAB_STATE_DIR: path.join(work, 'state'),
      };
      const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
      const run = async (name: string, args: string[], extra: Record<string, string> = {}): Promise<void> => {
        const r = await execa(ns!.exec[0]!, [...ns!.exec.slice(1), tsx, path.join(REPO_ROOT, 'scripts', 'lab.ts'), ...args], {
          env: { ...env, ...extra },
          extendEnv: false,
          reject: false,
          stdin: 'ignore',
          timeout: 150_000,
        });
        results[name] = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
      };
      await Promise.all([
        run('status', ['status']),
        run('up', ['up']),
        run('status-libvirt-option', ['status', '--provider', 'virtualbox'], { VAGRANT_DEFAULT_PROVIDER: 'libvirt' }),
      ]);
    }, 480_000);

    afterAll(async () => {
      await ns?.remove();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    const reason =
      /Vagrant could not detect VirtualBox! Make sure VirtualBox is properly installed\.\nVagrant uses the `VBoxManage` binary that ships with VirtualBox, and requires/;

    test("lab:status: the provider and why, then Vagrant's own reason, unescaped", () => {
      const r = results.status!;
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(
        /vagrant status failed \(exit 1\): The provider 'virtualbox' that was requested to back the machine\n'router' is reporting that it isn't usable/,
      );
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).not.toMatch(/VAGRANT_COMMA|\\n/);
    });

    test("lab:up: says it uses VirtualBox by default, stops at vagrant status with Vagrant's reason, creates nothing", () => {
      const r = results.up!;
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toContain('provider: virtualbox (the default;');
      expect(r.stderr).toMatch(
        /lab:up did not finish step "read the VMs' state \(vagrant status\)": vagrant status failed \(exit 1\): The provider 'virtualbox'/,
      );
      expect(r.stderr).toMatch(reason);
      expect(existsSync(path.join(work, 'lab', '.vagrant', 'machines', 'router', 'virtualbox', 'id'))).toBe(false);
    });

    test('--provider wins over VAGRANT_DEFAULT_PROVIDER (libvirt is installed here, yet VirtualBox is asked for)', () => {
      const r = results['status-libvirt-option']!;
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(reason);
    });
  },
);
