/**
 * The Vagrantfile (Ruby, Psych) and helpers/topology.ts (the `yaml` package) accept and refuse the same topology
 * files, with the same kind of message (issue 13, defect 8): anchors, aliases and merge keys are accepted by both;
 * values YAML 1.1 would turn into dates, times or yes/no booleans stay strings in both (YAML 1.2); explicit tags
 * outside the core types, duplicate keys and syntax errors are refused by both as "Invalid lab topology FILE:
 * (YAML syntax): ...". Ruby runs the real Vagrantfile (test/vagrant/lab-yaml.rb, a stand-in Vagrant module).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, execaSync } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO_ROOT, TopologyError, loadTopology, parseLabYaml } from '../../helpers/lab/topology.ts';

const hasRuby = execaSync('sh', ['-c', 'command -v ruby'], { reject: false }).exitCode === 0;

const reference = readFileSync(path.join(REPO_ROOT, 'lab', 'topology.yaml'), 'utf8');
// The reference topology with the workers' resources written once: an anchor on k8s-w1's, merged into k8s-w0's.
const workerResources = '    resources: { cpus: 2, memoryMb: 1536 }\n';
const anchored = reference
  .replace(workerResources, '    resources: &worker { cpus: 2, memoryMb: 1536 }\n')
  .replace(workerResources, '    resources:\n      <<: *worker\n      memoryMb: 2048\n');
const FILES: Record<string, string> = {
  anchored,
  dates: 'name: 2026-12-05\nwhen: 2026-12-05 10:00:00\nflag: yes\nother: off\nport: 6443\nsym: :lab\n',
  tagged: 'name: lab\nbad: !ruby/object:OpenStruct { a: 1 }\n',
  timestamp: 'name: !!timestamp 2026-12-05\n',
  duplicate: 'name: a\nname: b\n',
  syntax: 'name: [unclosed\n',
};

describe.skipIf(!hasRuby)(
  `topology YAML: the Vagrantfile and helpers/topology.ts agree${hasRuby ? '' : ' (skipped: ruby not installed)'}`,
  () => {
    let work = '';
    const ruby: Record<string, { value?: unknown; error?: string }> = {};
    const file = (name: string): string => path.join(work, `${name}.yaml`);

    beforeAll(async () => {
      work = mkdtempSync(path.join(tmpdir(), 'clh-lab-yaml-'));
      for (const entry of ['Vagrantfile', 'lab', 'provision'])
        cpSync(path.join(REPO_ROOT, entry), path.join(work, entry), { recursive: true });
      for (const [name, text] of Object.entries(FILES)) writeFileSync(file(name), text);
      await Promise.all(
        Object.keys(FILES).map(async (name) => {
          const r = await execa('ruby', [path.join(REPO_ROOT, 'test', 'vagrant', 'lab-yaml.rb'), file(name)], {
            cwd: work,
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, LAB_STATE_DIR: path.join(work, 'state') },
            extendEnv: false,
            reject: false,
            stdin: 'ignore',
            timeout: 60_000,
          });
          const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
          ruby[name] = line
            ? (JSON.parse(line) as { value?: unknown; error?: string })
            : { error: `ruby printed no JSON (exit ${r.exitCode}): ${r.stderr}` };
        }),
      );
    }, 120_000);

    afterAll(() => {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test('anchors, aliases and merge keys: both accept, with the same values', () => {
      expect(anchored).toContain('<<: *worker');
      const ts = parseLabYaml(FILES.anchored!);
      expect(ts.problems).toEqual([]);
      expect(ruby.anchored).toEqual({ value: ts.value });
      const t = loadTopology(file('anchored'));
      expect(t.nodes.find((n) => n.name === 'k8s-w1')!.resources).toEqual({ cpus: 2, memoryMb: 1536 });
      expect(t.nodes.find((n) => n.name === 'k8s-w0')!.resources).toEqual({ cpus: 2, memoryMb: 2048 });
    });

    test('dates, times, yes/no and :symbols stay strings in both (YAML 1.2)', () => {
      const ts = parseLabYaml(FILES.dates!);
      expect(ts).toEqual({
        value: { name: '2026-12-05', when: '2026-12-05 10:00:00', flag: 'yes', other: 'off', port: 6443, sym: ':lab' },
        problems: [],
      });
      expect(ruby.dates).toEqual({ value: ts.value });
    });

    for (const name of ['tagged', 'timestamp', 'duplicate', 'syntax']) {
      test(`${name}: both refuse, each saying "Invalid lab topology FILE:\\n  (YAML syntax): ..."`, () => {
        const prefix = `Invalid lab topology ${file(name)}:\n  (YAML syntax): `;
        expect(ruby[name]!.value).toBeUndefined();
        expect(ruby[name]!.error).toContain(prefix);
        let tsError: unknown;
        try {
          loadTopology(file(name));
        } catch (err) {
          tsError = err;
        }
        expect(tsError).toBeInstanceOf(TopologyError);
        expect((tsError as Error).message).toContain(prefix);
      });
    }
  },
);
