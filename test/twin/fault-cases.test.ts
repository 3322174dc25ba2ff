/** The fault catalogue's own consistency (test/twin/fault-cases.ts): names known, one case each, suites that exist. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';
import { FAULT_CASES } from './fault-cases.ts';
import { isFaultName } from './faults.ts';

describe('the fault catalogue', () => {
  it('every case names a known fault, once', () => {
    const names = FAULT_CASES.map((c) => c.name);
    expect(names.filter((n) => !isFaultName(n))).toEqual([]);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('every suite a case runs exists; a product case runs its catching suite and its unaffected one, which differ', () => {
    for (const c of FAULT_CASES) {
      expect(
        c.suites.filter((s) => !existsSync(path.join(REPO_ROOT, s))),
        c.name,
      ).toEqual([]);
      if (c.expect.kind !== 'product') continue;
      const base = c.suites.map((s) => path.basename(s));
      expect(base, c.name).toContain(c.expect.caughtBy.suite);
      expect(base, c.name).toContain(c.expect.unaffected);
      expect(c.expect.unaffected, c.name).not.toBe(c.expect.caughtBy.suite);
      expect(c.expect.explains.length, c.name).toBeGreaterThan(0);
    }
  });
});
