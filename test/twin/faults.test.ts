import { describe, expect, it } from 'vitest';
import { FAULT_NAMES, FaultSet, parseFaults } from './faults.ts';

describe('TWIN_FAULTS', () => {
  it('reads a comma list, trimmed, without repeats', () => {
    expect(parseFaults(' lease-stuck, api-slow ,lease-stuck')).toEqual(['lease-stuck', 'api-slow']);
    expect(parseFaults(undefined)).toEqual([]);
    expect(parseFaults('')).toEqual([]);
  });

  it('refuses an unknown name and lists the known ones', () => {
    expect(() => parseFaults('lease-stuk')).toThrow(/unknown fault lease-stuk \(known: .*lease-stuck/);
  });

  it('names are unique', () => {
    expect(new Set(FAULT_NAMES).size).toBe(FAULT_NAMES.length);
  });
});

describe('FaultSet', () => {
  it('is changed between runs and tells its listeners', () => {
    const f = new FaultSet(['api-slow']);
    const heard: string[][] = [];
    const off = f.onChange((n) => heard.push(n));
    expect(f.has('api-slow')).toBe(true);
    f.set(['lease-stuck']);
    expect(f.has('api-slow')).toBe(false);
    expect(f.list()).toEqual(['lease-stuck']);
    off();
    f.set([]);
    expect(heard).toEqual([['lease-stuck']]);
  });
});
