/** The fault catalogue's own consistency (test/twin/fault-cases.ts): names known, one case each, suites that exist. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';
import { FAULT_CASES } from './fault-cases.ts';
import { FAULT_NAMES, isFaultName } from './faults.ts';
import { SUITES } from '../../suites/support/plan.ts';

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

  it('every fault the twin knows has a case (TWIN_FAULTS accepts nothing the catalogue does not prove)', () => {
    const names = new Set(FAULT_CASES.map((c) => c.name));
    expect(FAULT_NAMES.filter((n) => !names.has(n))).toEqual([]);
  });

  it('every planned suite but lab health is proven to catch at least one product fault (issue 16: a fault for every suite)', () => {
    const caught = new Set(FAULT_CASES.flatMap((c) => (c.expect.kind === 'product' ? [c.expect.caughtBy.suite] : [])));
    expect(SUITES.map((s) => s.file).filter((f) => f !== '00-lab-health.test.ts' && !caught.has(f))).toEqual([]);
  });
});
