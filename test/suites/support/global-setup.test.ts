import { describe, expect, test } from 'vitest';
import { isListCommand } from '../../../suites/support/global-setup.ts';

describe('vitest list needs no lab', () => {
  test('recognises `vitest list` however vitest was started', () => {
    expect(isListCommand(['/usr/bin/node', '/r/node_modules/.bin/vitest', 'list', '--project', 'lab'])).toBe(true);
    expect(isListCommand(['node', '/r/node_modules/vitest/vitest.mjs', 'list'])).toBe(true);
    expect(isListCommand(['node', 'vitest', '--project', 'lab', 'list'])).toBe(true);
  });

  test('a run is not a listing', () => {
    expect(isListCommand(['node', '/r/node_modules/.bin/vitest', 'run', '--project', 'lab'])).toBe(false);
    expect(isListCommand(['node', '/r/node_modules/.bin/vitest', 'run', 'suites/list.test.ts'])).toBe(false);
    expect(isListCommand(['node', '/r/node_modules/.bin/vitest'])).toBe(false);
    expect(isListCommand(['node', 'other.js', 'list'])).toBe(false);
    expect(isListCommand(['node', '/r/node_modules/.bin/vitest', 'run', 'list'])).toBe(false); // a filter named "list"
    expect(isListCommand(['node', '/r/node_modules/.bin/vitest', '--project', 'lab'])).toBe(false);
  });
});
