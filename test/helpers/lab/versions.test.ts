import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  DEFAULT_VERSIONS_FILE,
  PIN_KEYS,
  effectiveVersions,
  loadVersions,
  parseVersions,
  parseVersionsEnv,
  versionMismatches,
  versionsEnv,
  versionsFile,
} from '../../../helpers/lab/versions.ts';

const raw = (): any => parseYaml(readFileSync(DEFAULT_VERSIONS_FILE, 'utf8'));

describe('lab/versions.yaml', () => {
  test('loads, with every pin and a matrix', () => {
    const v = loadVersions();
    expect(Object.keys(v.pins)).toEqual([...PIN_KEYS]);
    expect(v.ciliumMatrix.length).toBeGreaterThanOrEqual(2);
  });

  test('the matrix has a 1.17 and a 1.18 patch, and the lab default is its newest 1.18', () => {
    const v = loadVersions();
    const minors = v.ciliumMatrix.map((x) => x.split('.').slice(0, 2).join('.'));
    expect(minors).toContain('1.17');
    expect(minors).toContain('1.18');
    const newest118 = v.ciliumMatrix
      .filter((x) => x.startsWith('1.18.'))
      .sort((a, b) => Number(a.split('.')[2]) - Number(b.split('.')[2]))
      .at(-1);
    expect(v.pins.cilium.value).toBe(newest118);
  });

  test('every pin names its own environment variable', () => {
    const envs = PIN_KEYS.map((k) => loadVersions().pins[k].env);
    expect(new Set(envs).size).toBe(envs.length);
    expect(envs).toContain('CILIUM_VERSION');
  });

  test('bad documents are refused with the field named', () => {
    const missingPin = raw();
    delete missingPin.pins.helm;
    expect(() => parseVersions(missingPin, 'v.yaml')).toThrow(/Invalid versions file v\.yaml:\n {2}pins\.helm/);
    const badValue = raw();
    badValue.pins.cilium.value = 'latest';
    expect(() => parseVersions(badValue, 'v.yaml')).toThrow(/pins\.cilium\.value "latest" does not match/);
    const badMatrix = raw();
    badMatrix.ciliumMatrix = ['1.18'];
    expect(() => parseVersions(badMatrix, 'v.yaml')).toThrow(/ciliumMatrix\.0/);
    expect(() => parseVersions(null)).toThrow(/Invalid versions file/);
  });
});

describe('effectiveVersions', () => {
  test("the file's values without overrides", () => {
    const v = effectiveVersions(loadVersions(), {});
    expect(v.cilium).toEqual({ key: 'cilium', value: loadVersions().pins.cilium.value, env: 'CILIUM_VERSION', source: 'file' });
  });

  test('an environment variable overrides its pin; a blank one does not', () => {
    const v = effectiveVersions(loadVersions(), { CILIUM_VERSION: '1.17.18', K8S_VERSION: '  ' });
    expect(v.cilium).toMatchObject({ value: '1.17.18', source: 'env' });
    expect(v.kubernetes.source).toBe('file');
    expect(versionsEnv(v).CILIUM_VERSION).toBe('1.17.18');
    expect(Object.keys(versionsEnv(v))).toHaveLength(PIN_KEYS.length);
  });

  test('an override that is not a version is refused, naming the variable', () => {
    expect(() => effectiveVersions(loadVersions(), { CILIUM_VERSION: 'v1.18' })).toThrow(/CILIUM_VERSION is "v1.18", which does not match/);
    expect(() => effectiveVersions(loadVersions(), { LAB_BOX: 'bento/ubuntu 24.04; rm -rf /' })).toThrow(/LAB_BOX/);
  });
});

describe('versions.env on a VM', () => {
  const text = [
    '# What this VM was built with (written by cilium-lab provisioning; KEY="value" lines).',
    'LAB_NODE="k8s-ctr"',
    'K8S_VERSION="1.33.13"',
    'OS="Ubuntu 24.04.3 LTS"',
    'PLAIN=1.2.3',
    '',
    'not a line',
    'lower=x',
  ].join('\n');

  test('parses KEY="value" lines, skips comments and garbage', () => {
    expect(parseVersionsEnv(text)).toEqual({ LAB_NODE: 'k8s-ctr', K8S_VERSION: '1.33.13', OS: 'Ubuntu 24.04.3 LTS', PLAIN: '1.2.3' });
    expect(parseVersionsEnv('')).toEqual({});
    expect(parseVersionsEnv('K8S_VERSION="1.33')).toEqual({ K8S_VERSION: '"1.33' });
  });

  test('mismatches list every pin that differs or is missing', () => {
    const wanted = effectiveVersions(loadVersions(), {});
    const recorded = Object.fromEntries(PIN_KEYS.map((k) => [wanted[k].env, wanted[k].value]));
    expect(versionMismatches(wanted, recorded)).toEqual([]);
    const { HELM_VERSION: _drop, ...withoutHelm } = recorded;
    expect(versionMismatches(wanted, { ...withoutHelm, CILIUM_VERSION: '1.17.18' })).toEqual([
      { env: 'CILIUM_VERSION', wanted: wanted.cilium.value, recorded: '1.17.18' },
      { env: 'HELM_VERSION', wanted: wanted.helm.value, recorded: undefined },
    ]);
  });
});

describe('a broken versions file is named with what is wrong', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'versions-'));
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const good = readFileSync(DEFAULT_VERSIONS_FILE, 'utf8');

  test('a YAML syntax error: file, line and column', () => {
    const file = write('syntax.yaml', good.replace('ciliumMatrix:', 'ciliumMatrix: [oops'));
    expect(() => loadVersions(file)).toThrow(new RegExp(`^Invalid versions file ${file}: YAML syntax error at line \\d+, column \\d+: `));
  });

  test('an unquoted version read as a number: shown as written, with the advice to quote it', () => {
    const file = write('number.yaml', good.replace(/ciliumMatrix:\n(\s+- )"[^"]+"/, 'ciliumMatrix:\n$11.10'));
    expect(() => loadVersions(file)).toThrow('ciliumMatrix.0: 1.10 is read by YAML as the number 1.1, not a version: quote it ("1.10")');
    const pin = write('pin.yaml', good.replace('value: "1.18.14"', 'value: 1.18'));
    expect(() => loadVersions(pin)).toThrow('pins.cilium.value: 1.18 is read by YAML as the number 1.18, not a version: quote it ("1.18")');
  });

  test('empty, missing, a directory', () => {
    expect(() => loadVersions(write('empty.yaml', '# nothing\n'))).toThrow(/^Invalid versions file .*empty\.yaml: is empty/);
    expect(() => loadVersions(path.join(dir, 'missing.yaml'))).toThrow(/^Invalid versions file .*missing\.yaml: does not exist$/);
    expect(() => loadVersions(dir)).toThrow(/: is a directory, not a file$/);
  });

  test('LAB_VERSIONS names another versions file', () => {
    expect(versionsFile({ LAB_VERSIONS: 'x/v.yaml' })).toBe(path.resolve('x/v.yaml'));
    expect(versionsFile({})).toBe(DEFAULT_VERSIONS_FILE);
  });
});
