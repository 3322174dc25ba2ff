/**
 * .github/workflows/nightly.yml: valid for GitHub Actions (checked by @action-validator, run as its CLI),
 * its matrix computed from lab/versions.yaml by a job step (no version written in the workflow), one lab at a
 * time, a fresh lab per version, reports with history carried from the previous publication, and the lab torn
 * down at the end whatever happened.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { tempDir } from '../fixtures/report/tmp.ts';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { ciliumMatrix, VERSIONS_FILE } from '../../reports/matrix.ts';
import { REPO_ROOT } from '../../reports/run-context.ts';

const WORKFLOW = path.join(REPO_ROOT, '.github', 'workflows', 'nightly.yml');
const VALIDATOR = path.join(REPO_ROOT, 'node_modules', '.bin', 'action-validator');
const text = readFileSync(WORKFLOW, 'utf8');

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  id?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string | string[];
  if?: string;
  'runs-on': string[];
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  strategy?: { 'max-parallel'?: number; 'fail-fast'?: boolean; matrix: Record<string, unknown> };
  outputs?: Record<string, string>;
  env?: Record<string, string>;
  steps: Step[];
}
const wf = parse(text) as {
  on: { schedule: { cron: string }[]; workflow_dispatch: { inputs: Record<string, { type: string }> } };
  jobs: Record<string, Job>;
};

async function validate(file: string): Promise<{ exitCode: number | undefined; output: string }> {
  const r = await execa(VALIDATOR, [file], { reject: false, all: true, timeout: 30_000 });
  return { exitCode: r.exitCode, output: r.all };
}

describe('the nightly workflow', () => {
  test('passes @action-validator', async () => {
    const r = await validate(WORKFLOW);
    expect(r.output).toBe('');
    expect(r.exitCode).toBe(0);
  });

  test('the validator does reject a broken workflow (so the check above means something)', async () => {
    const dir = tempDir('clh-wf-');
    const broken = path.join(dir, 'nightly.yml');
    writeFileSync(broken, text.replace('needs: matrix\n', 'needs: no-such-job\n'));
    const r = await validate(broken);
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain('unresolved_job');
  });

  test('runs nightly and on demand with a Cilium version input', () => {
    expect(wf.on.schedule[0]?.cron).toMatch(/^\S+ \S+ \* \* \*$/);
    expect(wf.on.workflow_dispatch.inputs.cilium_version?.type).toBe('string');
  });

  test('the matrix comes from lab/versions.yaml through a job step, never written in the workflow', async () => {
    const m = wf.jobs.matrix!;
    const step = m.steps.find((s) => s.id === 'versions');
    expect(step?.run).toContain('reports/matrix.ts');
    expect(step?.run).toContain('$GITHUB_OUTPUT');
    // The dispatch input reaches the script through the environment, never pasted into the shell line.
    expect(step?.env?.CILIUM_VERSION_INPUT).toBe('${{ inputs.cilium_version }}');
    expect(step?.run).not.toContain('${{');
    expect(m.outputs?.versions).toBe('${{ steps.versions.outputs.versions }}');
    expect(wf.jobs.lab?.strategy?.matrix).toEqual({ cilium: '${{ fromJSON(needs.matrix.outputs.versions) }}' });
    const versions = ciliumMatrix(readFileSync(VERSIONS_FILE, 'utf8'));
    for (const v of versions) expect(text, `version ${v} written in the workflow`).not.toContain(v);
    expect(text).not.toMatch(/\b1\.1[0-9]\.\d+\b/);
    // What the step prints is exactly the list in the file.
    const r = await execa(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['reports/matrix.ts'], {
      cwd: REPO_ROOT,
      env: { CILIUM_VERSION_INPUT: '' },
      timeout: 30_000,
    });
    expect(r.stdout.trim()).toBe(`versions=${JSON.stringify(versions)}`);
  });

  test('one lab at a time, on self-hosted runners that can host VMs', () => {
    const lab = wf.jobs.lab!;
    expect(lab['runs-on']).toEqual(expect.arrayContaining(['self-hosted', 'cilium-lab']));
    expect(lab.concurrency).toEqual({ group: 'cilium-lab', 'cancel-in-progress': false });
    expect(lab.strategy?.['max-parallel']).toBe(1);
    expect(lab.strategy?.['fail-fast']).toBe(false);
    expect(lab.env?.CILIUM_VERSION).toBe('${{ matrix.cilium }}');
  });

  test('a fresh lab per version, then suites, reports, artifacts, and lab:down always last', () => {
    const steps = wf.jobs.lab!.steps;
    const at = (pred: (s: Step) => boolean, what: string): number => {
      const i = steps.findIndex(pred);
      expect(i, what).toBeGreaterThanOrEqual(0);
      return i;
    };
    const history = at((s) => s.run?.includes('history.jsonl') === true && s.run.includes('gh-pages'), 'history carried from gh-pages');
    const down = at((s) => s.run === 'npm run lab:down', 'lab:down first');
    const up = at((s) => s.run === 'npm run lab:up', 'lab:up');
    const suites = at((s) => s.run === 'npm test', 'suites');
    const report = at((s) => s.run?.startsWith('npm run report') === true, 'report');
    const upload = at((s) => s.uses?.startsWith('actions/upload-artifact@') === true, 'artifact upload');
    expect(history).toBeLessThan(report);
    expect(down).toBeLessThan(up);
    expect(up).toBeLessThan(suites);
    expect(suites).toBeLessThan(report);
    expect(report).toBeLessThan(upload);
    expect(steps[report]?.if).toBe('${{ !cancelled() }}');
    expect(steps[upload]?.if).toBe('${{ !cancelled() }}');
    expect(steps[upload]?.with?.path).toBe('reports/${{ matrix.cilium }}/');
    const last = steps.at(-1);
    expect(last?.run).toBe('npm run lab:down');
    expect(last?.if).toBe('always()');
  });

  test('publishes every report and the cross-version page, keeping each history', () => {
    const pub = wf.jobs.publish!;
    expect(pub.needs).toEqual(['matrix', 'lab']);
    expect(pub.if).toContain('!cancelled()');
    const script = pub.steps.map((s) => s.run ?? '').join('\n');
    expect(pub.steps.some((s) => s.uses?.startsWith('actions/download-artifact@'))).toBe(true);
    expect(script).toContain('history.jsonl');
    expect(script).toContain('npm run report -- --index-only');
    expect(script).toContain('push origin HEAD:gh-pages');
  });
});
