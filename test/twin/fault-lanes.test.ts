import { describe, expect, it } from 'vitest';
import { lanePrefix, parseLanes, runInLanes } from './fault-lanes.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('parseLanes', () => {
  it('defaults to 1 and takes 1-9', () => {
    expect(parseLanes(undefined)).toBe(1);
    expect(parseLanes('')).toBe(1);
    expect(parseLanes('2')).toBe(2);
    expect(parseLanes('9')).toBe(9);
  });
  it('rejects anything else', () => {
    for (const v of ['0', '10', '1.5', 'two', '-1']) expect(() => parseLanes(v)).toThrow(/FAULTS_LANES/);
  });
});

describe('lanePrefix', () => {
  it('keeps the prefix with one lane and appends the lane number with more', () => {
    expect(lanePrefix('tf', 1, 1)).toBe('tf');
    expect(lanePrefix('tf', 1, 2)).toBe('tf1');
    expect(lanePrefix('tf', 2, 2)).toBe('tf2');
  });
  it('refuses a prefix that would break the netlab rule', () => {
    expect(() => lanePrefix('tflt', 1, 2)).toThrow(/too long/);
    expect(lanePrefix('tflt', 1, 1)).toBe('tflt');
  });
});

describe('runInLanes', () => {
  it('a free lane takes the next item; results and onResult come in item order', async () => {
    const durations = [50, 5, 5, 5, 30];
    const started: [number, number][] = [];
    const emitted: number[] = [];
    const results = await runInLanes(
      durations,
      2,
      async (ms, lane, i) => {
        started.push([i, lane]);
        await sleep(ms);
        return `r${i}`;
      },
      { onResult: (_r, i) => emitted.push(i) },
    );
    expect(results).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
    expect(emitted).toEqual([0, 1, 2, 3, 4]);
    // Lane 1 is busy with item 0 (50 ms) while lane 2 runs 1, 2, 3 and then 4.
    expect(started).toEqual([
      [0, 1],
      [1, 2],
      [2, 2],
      [3, 2],
      [4, 2],
    ]);
  });

  it('runs items at the same time on different lanes, never two on one lane', async () => {
    let running = 0;
    let peak = 0;
    const busy = new Set<number>();
    await runInLanes([1, 2, 3, 4, 5, 6], 3, async (_x, lane) => {
      expect(busy.has(lane)).toBe(false);
      busy.add(lane);
      running++;
      peak = Math.max(peak, running);
      await sleep(10);
      running--;
      busy.delete(lane);
    });
    expect(peak).toBe(3);
  });

  it('first(): those items start before the rest (each group in item order); results still come in item order', async () => {
    const started: string[] = [];
    const seen: string[] = [];
    const out = await runInLanes(['a', 'long', 'b', 'c'], 1, (x) => Promise.resolve(void started.push(x)).then(() => x.toUpperCase()), {
      first: (x) => x === 'long',
      onResult: (r) => seen.push(r),
    });
    expect(started).toEqual(['long', 'a', 'b', 'c']);
    expect(out).toEqual(['A', 'LONG', 'B', 'C']);
    expect(seen).toEqual(['A', 'LONG', 'B', 'C']);
  });

  it('starts no more lanes than items, and one lane is sequential', async () => {
    const lanes = new Set<number>();
    await runInLanes([1], 4, (_x, lane) => Promise.resolve(void lanes.add(lane)));
    expect([...lanes]).toEqual([1]);
    const order: number[] = [];
    await runInLanes([1, 2, 3], 1, (x) => Promise.resolve(void order.push(x)));
    expect(order).toEqual([1, 2, 3]);
  });

  it('stop(): no new item starts; the results end at the first item not run', async () => {
    let stop = false;
    const results = await runInLanes(
      [1, 2, 3, 4],
      2,
      async (x) => {
        await sleep(x === 1 ? 5 : 20);
        if (x === 1) stop = true; // while item 2 is still running on lane 2
        return x;
      },
      { stop: () => stop },
    );
    expect(results).toEqual([1, 2]);
  });
});
