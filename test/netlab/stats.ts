/** Small pure statistics for the SSH benchmark. */

/** The q-quantile (0..1) of `samples`, nearest-rank; throws on an empty list. */
export function quantile(samples: number[], q: number): number {
  if (samples.length === 0) throw new Error('quantile of no samples');
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile ${q} is outside 0..1`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

export function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) throw new Error('median of no samples');
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The benchmark's last line: both medians and how many times faster the persistent connection is. */
export function benchSummary(persistentMs: number[], processMs: number[]): { line: string; ratio: number } {
  const p = median(persistentMs);
  const s = median(processMs);
  const ratio = s / p;
  return {
    ratio,
    line: `persistent connection median ${p.toFixed(2)} ms, separate ssh processes median ${s.toFixed(2)} ms, ratio ${ratio.toFixed(1)}`,
  };
}
