/**
 * Lanes of `npm run test:faults` (FAULTS_LANES=N): N workers, each with its own twin, take the catalogue's cases from
 * one queue (a lane takes the next case when it is free), and the results come back in catalogue order. Pure: no
 * twin, no process here; faults-run.ts passes the work.
 */

/** FAULTS_LANES as a lane count: unset or empty is 1; otherwise an integer 1-9 (one digit goes into the prefix). */
export function parseLanes(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 9) throw new Error(`FAULTS_LANES must be an integer 1-9, got "${value}"`);
  return n;
}

/**
 * The namespace prefix of lane `lane` (1-based): the prefix itself with one lane, else prefix + lane number, which
 * must still be a netlab prefix (2-4 characters [a-z0-9], starting with a letter).
 */
export function lanePrefix(prefix: string, lane: number, lanes: number): string {
  const p = lanes === 1 ? prefix : `${prefix}${lane}`;
  if (!/^[a-z][a-z0-9]{1,3}$/.test(p))
    throw new Error(`lane namespace prefix "${p}" is not 2-4 characters [a-z0-9] (FAULTS_PREFIX "${prefix}" is too long for lanes)`);
  return p;
}

/**
 * Runs `work` over `items` on `lanes` workers sharing one queue, in queue order; `onResult` is called in item order
 * (item i once items 0..i are done), so lines print in catalogue order while later items may finish first. Resolves
 * with the results in item order; items never started because `stop()` became true are left out (the results stop
 * at the first of them). `work` must not reject (it turns its failures into results).
 */
export async function runInLanes<T, R>(
  items: readonly T[],
  lanes: number,
  work: (item: T, lane: number, index: number) => Promise<R>,
  o: { onResult?: (result: R, index: number) => void; stop?: () => boolean; first?: (item: T) => boolean } = {},
): Promise<R[]> {
  const results: (R | undefined)[] = new Array<R | undefined>(items.length);
  // Dispatch order: the items `first` picks (the long ones), then the rest, each group in catalogue order; results are
  // still handed back in catalogue order.
  const order = items.map((_, i) => i);
  if (o.first) order.sort((a, b) => Number(o.first?.(items[b] as T)) - Number(o.first?.(items[a] as T)) || a - b);
  const done: boolean[] = items.map(() => false);
  let next = 0;
  let emitted = 0;
  const emit = (): void => {
    while (emitted < items.length && done[emitted]) {
      o.onResult?.(results[emitted] as R, emitted);
      emitted++;
    }
  };
  const worker = async (lane: number): Promise<void> => {
    for (;;) {
      if (o.stop?.()) return;
      if (next >= items.length) return;
      const i = order[next++] as number;
      results[i] = await work(items[i] as T, lane, i);
      done[i] = true;
      emit();
    }
  };
  const n = Math.max(1, Math.min(lanes, items.length));
  await Promise.all(Array.from({ length: n }, (_, k) => worker(k + 1)));
  const out: R[] = [];
  for (let i = 0; i < items.length && done[i]; i++) out.push(results[i] as R);
  return out;
}
