import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_TOPOLOGY_FILE, loadTopology } from '../../helpers/lab/topology.ts';
import { DEFAULT_VERSIONS_FILE, loadVersions } from '../../helpers/lab/versions.ts';
import { tempDir } from '../fixtures/report/tmp.ts';
import { describe, expect, test } from 'vitest';
import {
  ciliumVersionFromEnv,
  compareVersions,
  environmentId,
  harnessCommit,
  isValidVersion,
  labProvider,
  normalizeVersion,
  reportHref,
  reportsRoot,
  REPO_ROOT,
  versionPaths,
  versionsWithResults,
  labRunCiliumVersion,
} from '../../reports/run-context.ts';

describe('Cilium version of a run', () => {
  test('comes from CILIUM_VERSION, without a leading v', () => {
    expect(ciliumVersionFromEnv({ CILIUM_VERSION: 'v1.18.6' })).toBe('1.18.6');
    expect(ciliumVersionFromEnv({ CILIUM_VERSION: ' 1.17.8 ' })).toBe('1.17.8');
  });

  test('unset: the version lab:up installs by default for the Vagrant lab, unknown for another lab', () => {
    const pinned = loadVersions().pins.cilium.value;
    expect(ciliumVersionFromEnv({})).toBe(pinned);
    expect(ciliumVersionFromEnv({ CILIUM_VERSION: '' })).toBe(pinned);
    const dir = mkdtempSync(path.join(tmpdir(), 'existing-lab-'));
    const other = path.join(dir, 'topology.yaml');
    writeFileSync(other, readFileSync(DEFAULT_TOPOLOGY_FILE, 'utf8').replace('provider: vagrant', 'provider: existing'));
    expect(ciliumVersionFromEnv({ LAB_TOPOLOGY: other })).toBe('unknown');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a broken topology or versions file stops the run naming the file, never files results under unknown', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'broken-inputs-'));
    const versions = path.join(dir, 'versions.yaml');
    writeFileSync(versions, 'pins:\n  cilium: [unclosed\n');
    expect(() => ciliumVersionFromEnv({ LAB_VERSIONS: versions })).toThrow(
      `Invalid versions file ${versions}: YAML syntax error at line 3, column 1`,
    );
    expect(() => ciliumVersionFromEnv({ LAB_TOPOLOGY: path.join(dir, 'missing.yaml') })).toThrow(/Invalid lab topology .*missing\.yaml/);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a lab run checks CILIUM_VERSION against the pattern of lab/versions.yaml', () => {
    expect(labRunCiliumVersion({ CILIUM_VERSION: '1.18.6' })).toBe('1.18.6');
    expect(labRunCiliumVersion({ CILIUM_VERSION: '1.19.0-rc.1' })).toBe('1.19.0-rc.1');
    const pin = loadVersions().pins.cilium;
    expect(() => labRunCiliumVersion({ CILIUM_VERSION: 'garbage' })).toThrow(
      `CILIUM_VERSION is "garbage", which does not match ${pin.pattern} (pins.cilium.pattern in ${DEFAULT_VERSIONS_FILE}); expected e.g. ${pin.value}`,
    );
  });

  test('refuses what cannot be a folder name or a label', () => {
    for (const bad of ['../etc', '1.18/2', '1.18 2', '.hidden', 'a'.repeat(70), '1..2', '$(id)'])
      expect(() => normalizeVersion(bad), bad).toThrow(/not a usable Cilium version/);
    expect(isValidVersion('1.19.0-rc.1')).toBe(true);
    expect(isValidVersion('9.1.0-fake')).toBe(true);
  });
});

describe('paths per version', () => {
  test('everything of one version lives in reports/<version>/', () => {
    const p = versionPaths('1.18.6', '/r');
    expect(p).toEqual({
      version: '1.18.6',
      dir: '/r/1.18.6',
      resultsDir: '/r/1.18.6/allure-results',
      junitFile: '/r/1.18.6/junit.xml',
      runsDir: '/r/1.18.6/runs',
      historyFile: '/r/1.18.6/history.jsonl',
      reportDir: '/r/1.18.6/report',
      reportFile: '/r/1.18.6/report/index.html',
      summaryFile: '/r/1.18.6/summary.json',
    });
    expect(reportHref('1.18.6')).toBe('1.18.6/report/index.html');
  });

  test('the reports folder is reports/ unless CLH_REPORTS_DIR says otherwise', () => {
    expect(reportsRoot({})).toBe(path.join(REPO_ROOT, 'reports'));
    expect(reportsRoot({ CLH_REPORTS_DIR: '/tmp/x' })).toBe('/tmp/x');
  });

  test('versionsWithResults lists version folders that hold allure-results, in version order', () => {
    const root = tempDir('clh-rc-');
    for (const v of ['1.18.10', '1.9.1', '1.18.2']) mkdirSync(path.join(root, v, 'allure-results'), { recursive: true });
    mkdirSync(path.join(root, '1.17.0')); // no results
    writeFileSync(path.join(root, 'index.html'), '');
    expect(versionsWithResults(root)).toEqual(['1.9.1', '1.18.2', '1.18.10']);
    expect(versionsWithResults(path.join(root, 'missing'))).toEqual([]);
  });
});

test('Allure environment ids are made valid (^[A-Za-z0-9_-]+$, at most 64)', () => {
  expect(environmentId('1.18.6')).toBe('cilium-1-18-6');
  expect(environmentId('1.19.0+build.7')).toMatch(/^[A-Za-z0-9_-]+$/);
  expect(environmentId('9'.repeat(100)).length).toBe(64);
});

test('compareVersions orders numerically, pre-releases before releases', () => {
  const sorted = ['1.18.10', '1.9.0', '1.18.2', '1.18.2-rc.1', '1.17.8', 'unknown'].sort(compareVersions);
  expect(sorted).toEqual(['1.9.0', '1.17.8', '1.18.2-rc.1', '1.18.2', '1.18.10', 'unknown']);
});

test('harnessCommit prefers GITHUB_SHA, else the checked-out commit', () => {
  expect(harnessCommit({ GITHUB_SHA: 'abc123' })).toBe('abc123');
  expect(harnessCommit({})).toMatch(/^[0-9a-f]{40}$|^unknown$/);
});

describe('provider of the run context (issue 13, defect 6)', () => {
  const vagrantLab = { ...loadTopology(DEFAULT_TOPOLOGY_FILE), provider: 'vagrant' as const };
  const layout = (providers: Record<string, string>): string => {
    const root = mkdtempSync(path.join(tmpdir(), 'clh-provider-'));
    for (const [machine, provider] of Object.entries(providers)) {
      mkdirSync(path.join(root, '.vagrant', 'machines', machine, provider), { recursive: true });
      writeFileSync(path.join(root, '.vagrant', 'machines', machine, provider, 'id'), 'uuid');
    }
    // A machine Vagrant only looked at (status) has a folder but no id: not created with that provider.
    mkdirSync(path.join(root, '.vagrant', 'machines', 'k8s-w0', 'virtualbox'), { recursive: true });
    return root;
  };

  test('the provider the VMs were created with (.vagrant/machines/<name>/<provider>/id), not VAGRANT_DEFAULT_PROVIDER', () => {
    const root = layout({ router: 'libvirt', 'k8s-ctr': 'libvirt' });
    try {
      expect(labProvider(vagrantLab, { VAGRANT_CWD: root })).toBe('vagrant (libvirt)');
      expect(labProvider(vagrantLab, { VAGRANT_CWD: root, VAGRANT_DEFAULT_PROVIDER: 'virtualbox' })).toBe('vagrant (libvirt)');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('mixed providers are both named; no VM created says so; an existing lab is an existing lab', () => {
    const root = layout({ router: 'virtualbox', 'k8s-ctr': 'libvirt' });
    try {
      expect(labProvider(vagrantLab, { VAGRANT_CWD: root })).toBe('vagrant (libvirt: k8s-ctr; virtualbox: router)');
      expect(labProvider(vagrantLab, { VAGRANT_CWD: path.join(root, 'nothing-here') })).toBe('vagrant (no VM created here)');
      expect(labProvider({ ...vagrantLab, provider: 'existing' }, { VAGRANT_CWD: root })).toBe('existing lab');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
