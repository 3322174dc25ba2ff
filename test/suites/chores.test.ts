/**
 * What issue 12 asks the suites to look like once the framework does the chores: no suite file holds an undo variable
 * or a hand-written undo afterAll (the suite's cleanup stack undoes, helpers/lab/suite-scope.ts), no diagnostics call
 * in a test (declared once, in beforeAll), no bare millisecond deadline (helpers/wait/deadlines.ts names them) and no
 * raw setTimeout sleep (the harness's clock). Read from the source text of suites/ and suites/steps/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';

const dir = (d: string): string[] =>
  readdirSync(path.join(REPO_ROOT, d))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(d, f));
const SUITES = dir('suites');
const STEPS = dir('suites/steps');
const text = (f: string): string => readFileSync(path.join(REPO_ROOT, f), 'utf8');
/** The code without comments (a comment may well say "60 s" or "afterAll"). */
const code = (f: string): string =>
  text(f)
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:])\/\/.*$/gm, '$1');

/**
 * Millisecond numbers that are not deadlines, each with why: intervals between checks, and the failover measurement's
 * own probe parameters (they enter the failover bounds the judge computes).
 */
const NOT_DEADLINES = [/intervalMs: [\d_]+/, /pollMs \?\? [\d_]+/, /const PROBE = \{ intervalMs: 300, timeoutMs: 1_000 \}/];

describe('the suites leave the chores to the framework', () => {
  test('suites/ has suite files and steps to check', () => {
    expect(SUITES.filter((f) => f.endsWith('.test.ts')).length).toBeGreaterThanOrEqual(8);
    expect(STEPS.length).toBeGreaterThanOrEqual(5);
  });

  test.each(SUITES)('%s: no undo variable, no afterAll', (f) => {
    expect(code(f)).not.toMatch(/\b(let|var)\s+\w*undo\w*/i);
    expect(code(f)).not.toMatch(/\.afterAll\(|\bafterAll\(/);
  });

  test.each(SUITES)('%s: diagnostics are declared in beforeAll, never in a test', (f) => {
    const c = code(f);
    expect(c).not.toMatch(/\battach\w*OnFailure\(|\bcollectOnFailure\(|\bonTestFailed\(/);
    for (const m of c.matchAll(/\bdiagnose\w*\(/g)) {
      const before = c.slice(0, m.index);
      const hook = before.lastIndexOf('beforeAll(');
      const lastTest = Math.max(...[/\btest\(/g, /\blabTest\(/g].map((re) => [...before.matchAll(re)].at(-1)?.index ?? -1));
      expect(hook, `${f}: ${m[0]} at ${m.index} is not inside a beforeAll`).toBeGreaterThan(lastTest);
    }
  });

  test.each([...SUITES, ...STEPS])('%s: no bare millisecond deadline, no raw setTimeout sleep', (f) => {
    const lines = code(f).split('\n');
    const bare = lines.filter((l) => /\b\d{1,3}(_\d{3})+\b/.test(l) && !NOT_DEADLINES.some((re) => re.test(l)));
    expect(bare).toEqual([]);
    expect(code(f)).not.toMatch(/new Promise\([^)]*=>\s*setTimeout/);
  });
});
