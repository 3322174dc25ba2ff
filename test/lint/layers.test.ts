/**
 * The layer rules of `npm run lint` (eslint.layers.js) catch what they are meant to catch: fixture files under
 * test/fixtures/lint/ break each rule (an upward import, a cycle, I/O in a parser and in a judge, a judge importing
 * another framework folder) and each break is reported; the fixtures that break nothing, and the project itself,
 * pass.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, test } from 'vitest';
import { layerRules } from '../../eslint.layers.js';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';

const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'lint');

/** ESLint with the layer rules only (no type-aware rules: fast), rooted at `root`. */
function layerLinter(root: string, ignores: string[] = []): ESLint {
  return new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      { ignores: ['node_modules/', 'out/', 'reports/*/', '.vagrant/', ...ignores] },
      // Only the layer rules run here: directives that silence other rules are not "unused".
      { linterOptions: { reportUnusedDisableDirectives: 'off' } },
      // The plugin is loaded (none of its rules on) so a directive naming one of its rules is not an unknown rule.
      { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { '@typescript-eslint': tseslint.plugin } },
      ...layerRules(root),
    ],
  });
}

/** rule ids reported per file, relative to `root`. */
async function reported(root: string, patterns: string[], ignores: string[] = []): Promise<Record<string, string[]>> {
  const results = await layerLinter(root, ignores).lintFiles(patterns);
  const out: Record<string, string[]> = {};
  for (const r of results) {
    const problems = r.messages.map((m) => m.ruleId ?? `fatal: ${m.message}`);
    if (problems.length > 0) out[path.relative(root, r.filePath)] = [...new Set(problems)].sort();
  }
  return out;
}

describe('layer rules (eslint.layers.js)', () => {
  test('each fixture that breaks a rule is reported, under that rule; the others pass', async () => {
    const found = await reported(FIXTURES, ['**/*.ts']);
    expect(found).toEqual({
      'helpers/lab/upward.ts': ['import-x/no-restricted-paths'],
      'helpers/parse/reads-file.ts': ['no-restricted-imports'],
      'helpers/judge/runs-command.ts': ['no-restricted-imports'],
      'helpers/judge/uses-kube.ts': ['import-x/no-restricted-paths'],
      'helpers/wait/cycle-a.ts': ['import-x/no-cycle'],
      'helpers/wait/cycle-b.ts': ['import-x/no-cycle'],
    });
  }, 60_000);

  test('the messages say which layer rule was broken', async () => {
    const [upward] = await layerLinter(FIXTURES).lintFiles(['helpers/lab/upward.ts']);
    expect(upward?.messages[0]?.message).toMatch(/must not import the scenarios/);
    const [io] = await layerLinter(FIXTURES).lintFiles(['helpers/parse/reads-file.ts']);
    expect(io?.messages[0]?.message).toMatch(/'node:fs'.*pure/);
  }, 60_000);

  test('the project keeps its layers', async () => {
    const found = await reported(REPO_ROOT, ['helpers/', 'suites/', 'scripts/', 'reports/', 'test/', '*.ts'], ['test/fixtures/lint/']);
    expect(found).toEqual({});
  }, 120_000);
});
