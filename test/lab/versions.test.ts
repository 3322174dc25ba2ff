/**
 * Every pinned version comes from lab/versions.yaml: no version literal of a pin (nor any x.y.z literal)
 * is written in the code that builds or drives the lab. Documentation (*.md) may quote versions; tests
 * may too (as fixtures).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';
import { PIN_KEYS, loadVersions } from '../../helpers/lab/versions.ts';

const SKIP_DIRS = new Set(['node_modules', '.git', '.vagrant', 'out', 'test', 'reports']);
const SKIP_FILES = new Set(['lab/versions.yaml', 'package.json', 'package-lock.json']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    const rel = path.relative(REPO_ROOT, full);
    if (statSync(full).isDirectory()) return SKIP_DIRS.has(name) ? [] : files(full);
    if (SKIP_FILES.has(rel) || name.endsWith('.md')) return [];
    return [rel];
  });
}

const sources = files(REPO_ROOT).filter((f) => !/\.(png|jpg|gz|zip)$/.test(f));

describe('pinned versions live in lab/versions.yaml only', () => {
  test("the scan sees the lab's code", () => {
    for (const f of [
      'Vagrantfile',
      'provision/control-plane.sh',
      'provision/values/cilium-base.yaml',
      'scripts/lab.ts',
      'helpers/lab/versions.ts',
    ]) {
      expect(sources).toContain(f);
    }
  });

  test('no pin value or matrix version appears anywhere else', () => {
    const v = loadVersions();
    const literals = [...PIN_KEYS.map((k) => v.pins[k].value), ...v.ciliumMatrix];
    const hits: string[] = [];
    for (const f of sources) {
      const text = readFileSync(path.join(REPO_ROOT, f), 'utf8');
      for (const lit of literals) {
        const re = new RegExp(`(?<![0-9A-Za-z.])${lit.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![0-9A-Za-z])`);
        if (re.test(text)) hits.push(`${f}: ${lit}`);
      }
    }
    expect(hits).toEqual([]);
  });

  test('the Vagrantfile and provision/ hold no x.y.z version literal at all (IPv4 addresses aside)', () => {
    const hits: string[] = [];
    for (const f of sources.filter((x) => x === 'Vagrantfile' || x.startsWith('provision/'))) {
      readFileSync(path.join(REPO_ROOT, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // The minimum Vagrant on the host is a requirement of the Vagrantfile, not a lab pin.
          if (line.startsWith('Vagrant.require_version')) return;
          const m = /(?<![\d.])v?\d+\.\d+\.\d+(?![\d.])/.exec(line);
          if (m) hits.push(`${f}:${i + 1}: ${m[0]}`);
        });
    }
    expect(hits).toEqual([]);
  });
});
