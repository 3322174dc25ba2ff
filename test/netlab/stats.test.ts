import { describe, expect, test } from 'vitest';
import { benchSummary, median, quantile } from './stats.ts';

describe('bench statistics', () => {
  test('median of odd and even counts, input order irrelevant', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/no samples/);
  });

  test('nearest-rank quantiles', () => {
    const xs = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(quantile(xs, 0.9)).toBe(9);
    expect(quantile(xs, 0)).toBe(1);
    expect(quantile(xs, 1)).toBe(10);
    expect(() => quantile(xs, 1.5)).toThrow(/outside/);
  });

  test('summary line carries both medians and the ratio', () => {
    const { line, ratio } = benchSummary([4, 5, 6], [290, 300, 310]);
    expect(ratio).toBe(60);
    expect(line).toBe('persistent connection median 5.00 ms, separate ssh processes median 300.00 ms, ratio 60.0');
  });
});
