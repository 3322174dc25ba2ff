/**
 * provision/*.sh, checked without a VM:
 * - shellcheck passes on every script (with provision/.shellcheckrc, following `source lib.sh`);
 * - every script is strict (`set -euo pipefail`), logs to a file on the VM and silences nothing;
 * - everything fetched at provision time comes from the projects' own release hosts, never a personal repository;
 * - lib.sh's versions.env (record/forget) is what helpers/lab/versions.ts reads, and its file writes are idempotent.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, execaSync } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';
import { parseVersionsEnv } from '../../helpers/lab/versions.ts';

const PROVISION = path.join(REPO_ROOT, 'provision');
const scripts = readdirSync(PROVISION)
  .filter((f) => f.endsWith('.sh'))
  .sort();
const has = (tool: string): boolean => execaSync('sh', ['-c', `command -v ${tool}`], { reject: false }).exitCode === 0;
const text = (f: string): string => readFileSync(path.join(PROVISION, f), 'utf8');
/** Script lines without comments (what runs). */
const code = (f: string): string[] =>
  text(f)
    .split('\n')
    .filter((l) => !/^\s*#/.test(l));

describe('provision scripts', () => {
  test('the provisioning scripts are all there', () => {
    expect(scripts).toEqual([
      'control-plane.sh',
      'kubernetes-node.sh',
      'lib.sh',
      'network.sh',
      'render-network.sh',
      'router.sh',
      'worker.sh',
    ]);
  });

  test('shellcheck passes on every script', async (ctx) => {
    if (!has('shellcheck')) ctx.skip('shellcheck is not installed (apt-get install shellcheck)');
    const r = await execa('shellcheck', ['--format=gcc', ...scripts], { cwd: PROVISION, reject: false });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  test.each(scripts.filter((f) => f !== 'lib.sh'))('%s is strict, executable by bash and silences nothing', (f) => {
    expect(text(f).startsWith('#!/usr/bin/env bash\n')).toBe(true);
    expect(code(f)).toContain('set -euo pipefail');
    expect(code(f).join('\n')).not.toMatch(/>\s*\/dev\/null\s+2>&1|&>\s*\/dev\/null/);
  });

  test.each(scripts.filter((f) => !['lib.sh', 'render-network.sh'].includes(f)))(
    '%s logs to a file on the VM and prints the versions in force',
    (f) => {
      const lines = code(f);
      expect(lines).toContain('source "$here/lib.sh"');
      expect(lines).toContain('start_log');
      expect(lines).toContain('print_versions');
      expect(text('lib.sh')).toMatch(/exec > >\(tee -a "\$LAB_LOG_DIR\/\$LAB_SCRIPT\.log"\) 2>&1/);
    },
  );

  test("downloads come only from the projects' own hosts (no personal repositories)", () => {
    const allowed = [
      /^https:\/\/pkgs\.k8s\.io\//,
      /^https:\/\/download\.docker\.com\//,
      /^https:\/\/get\.helm\.sh\//,
      /^https:\/\/helm\.cilium\.io\//,
      /^https:\/\/github\.com\/cilium\/(cilium-cli|hubble)\/releases\/download\//,
      /^http:\/\/127\.0\.0\.1\//,
      /^https:\/\/\$LAB_API_HOST:\$LAB_API_PORT\//, // the lab's own API server
    ];
    const urls = scripts.flatMap(
      (f) =>
        code(f)
          .join('\n')
          .match(/https?:\/\/[^\s"')]+/g) ?? [],
    );
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls)
      expect(
        allowed.some((a) => a.test(url)),
        url,
      ).toBe(true);
    expect(urls.join(' ')).not.toMatch(/raw\.githubusercontent\.com|gist\.github/);
  });

  test('release binaries are checked against their published sha256 before installing', () => {
    const lib = text('lib.sh');
    expect(lib).toMatch(/sha256sum -c -/);
    const cp = code('control-plane.sh').join('\n');
    for (const tool of ['helm', 'cilium', 'hubble']) expect(cp).toMatch(new RegExp(`install_release_binary ${tool} `));
  });
});

describe('lib.sh on a scratch directory', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'clh-lab-lib-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const bash = (script: string, env: Record<string, string> = {}) =>
    execa('bash', ['-c', `set -euo pipefail; source "${path.join(PROVISION, 'lib.sh')}"; ${script}`], {
      env: { PATH: process.env.PATH, LAB_ETC: path.join(dir, 'etc'), LAB_LOG_DIR: path.join(dir, 'log'), ...env },
      extendEnv: false,
      reject: false,
      // Not a socket on stdin: Debian's bash would take that for sshd and read ~/.bashrc.
      stdin: 'ignore',
    });

  test('record_versions / record / forget write a versions.env that helpers/lab/versions.ts reads back', async () => {
    const env = {
      LAB_NODE: 'k8s-w0',
      LAB_ROLE: 'worker',
      LAB_PINS: 'K8S_VERSION CILIUM_VERSION LAB_BOX',
      K8S_VERSION: '1.33.13',
      CILIUM_VERSION: '1.17.18',
      LAB_BOX: 'bento/ubuntu-24.04',
    };
    const r = await bash(
      'record PROVISIONED_OK yesterday; record_versions; record OS "Ubuntu 24.04.3 LTS"; record ODD \'a"b$c`d\'; record KERNEL 6.8.0-85-generic; record KERNEL 6.8.0-86-generic; record_done',
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const file = path.join(dir, 'etc', 'versions.env');
    const parsed = parseVersionsEnv(readFileSync(file, 'utf8'));
    expect(parsed).toMatchObject({
      LAB_NODE: 'k8s-w0',
      LAB_ROLE: 'worker',
      K8S_VERSION: '1.33.13',
      CILIUM_VERSION: '1.17.18',
      LAB_BOX: 'bento/ubuntu-24.04',
      OS: 'Ubuntu 24.04.3 LTS',
      ODD: 'a_b_c_d',
      KERNEL: '6.8.0-86-generic',
    });
    expect(parsed.PROVISIONED_OK).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(readFileSync(file, 'utf8').match(/^KERNEL=/gm)).toHaveLength(1);
    expect(statSync(file).mode & 0o777).toBe(0o644);
    // The same file is valid shell: `source` gives the same values.
    const sourced = await execa('bash', ['-c', `source "${file}"; printf '%s|%s' "$OS" "$CILIUM_VERSION"`], { stdin: 'ignore' });
    expect(sourced.stdout).toBe('Ubuntu 24.04.3 LTS|1.17.18');
    // Provisioning again starts by forgetting the completion mark.
    await bash('record_versions', env);
    expect(parseVersionsEnv(readFileSync(file, 'utf8')).PROVISIONED_OK).toBeUndefined();
  });

  test('write_if_changed writes once, then reports "unchanged" for the same content', async () => {
    const target = path.join(dir, 'conf', 'x.conf');
    const r = await bash(
      `for i in 1 2; do if echo same | write_if_changed "${target}" 600; then echo wrote; else echo kept; fi; done; echo other | write_if_changed "${target}" 600 && echo wrote`,
    );
    expect(r.stdout.split('\n')).toEqual(['wrote', 'kept', 'wrote']);
    expect(statSync(target).mode & 0o777).toBe(0o600);
  });

  test('a failing step is reported with its name, and wait_for gives up naming what it waited for', async () => {
    const failed = await bash('LAB_NODE=n1; start_log; step "install things"; false; echo not-reached');
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stdout + failed.stderr).toMatch(/\[cilium-lab\] FAILED n1 .* step "install things" \(exit 1, line \d+\)/);
    expect(failed.stdout).not.toContain('not-reached');
    expect(readFileSync(path.join(dir, 'log', 'bash.log'), 'utf8')).toContain('install things');

    const waited = await bash('LAB_NODE=n1; step "wait"; wait_for "the moon" 0 false');
    expect(waited.exitCode).toBe(1);
    expect(waited.stderr).toContain('gave up after 0s waiting for the moon');
  });

  test('require names every missing variable', async () => {
    const r = await bash('require LAB_NODE LAB_API_HOST', { LAB_NODE: 'x' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('missing environment: LAB_API_HOST');
  });

  test('render-network refuses bad input instead of writing broken files', async () => {
    const root = path.join(dir, 'render');
    const render = (env: Record<string, string>) =>
      execa('bash', [path.join(PROVISION, 'render-network.sh'), root], {
        env: { PATH: process.env.PATH, ...env },
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
      });
    expect((await render({ LAB_ADDRESSES: '' })).stderr).toContain('LAB_ADDRESSES is empty');
    expect((await render({ LAB_ADDRESSES: 'eth1=garbage' })).stderr).toContain('bad address entry');
    expect((await render({ LAB_ADDRESSES: 'eth1=198.18.10.1/24', LAB_ROUTES: 'eth1:198.18.20.0/24' })).stderr).toContain('bad route entry');
    expect((await render({ LAB_ADDRESSES: 'eth1=198.18.10.1/24', LAB_DUMMIES: 'loop1=x' })).stderr).toContain('bad dummy entry');
    const other = await render({ LAB_ADDRESSES: 'eth1=198.18.10.1/24', LAB_ROUTES: 'eth2:198.18.20.0/24:198.18.10.200' });
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain('on an interface with no lab address');
    expect(existsSync(root)).toBe(false);
    expect((await execa('bash', [path.join(PROVISION, 'render-network.sh')], { reject: false, stdin: 'ignore' })).stderr).toContain(
      'usage: render-network.sh ROOT',
    );
  });
});
