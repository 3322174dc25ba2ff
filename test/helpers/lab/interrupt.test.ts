import { describe, expect, test } from 'vitest';
import { Cleanups } from '../../../helpers/lab/cleanups.ts';
import { formatInterruptReport, runCleanupsBounded } from '../../../helpers/lab/interrupt.ts';

describe('an interrupted run (issue 16: interrupt)', () => {
  test('every cleanup runs, newest first, even after one fails; what failed is named', async () => {
    const c = new Cleanups();
    const ran: string[] = [];
    c.add('delete the objects of run r1', () => void ran.push('objects'));
    c.add('undo what 20-vxlan.test.ts left', () => {
      ran.push('scope');
      throw new Error('tcpdump on router did not stop');
    });
    c.add('stop the capture on router', () => void ran.push('capture'));
    const r = await runCleanupsBounded(c, 5_000);
    expect(ran).toEqual(['capture', 'scope', 'objects']);
    expect(r.failed).toEqual(['"undo what 20-vxlan.test.ts left" failed: tcpdump on router did not stop']);
    expect(r.done).toEqual(['stop the capture on router', 'delete the objects of run r1']);
    expect(r.unfinished).toEqual([]);
  });

  test('cleanups still running at the deadline are reported as not finished', async () => {
    const c = new Cleanups();
    c.add('close SSH connections', () => undefined);
    c.add('delete the objects of run r1', () => new Promise<void>(() => undefined)); // hangs
    const r = await runCleanupsBounded(c, 200);
    expect(r.unfinished).toEqual(['delete the objects of run r1', 'close SSH connections']);
    expect(r.done).toEqual([]);
  });

  test('the report says what was left undone', () => {
    const text = formatInterruptReport({
      signal: 'SIGINT',
      running: '20-vxlan.test.ts "the router sees only UDP 8472"',
      notStarted: ['30-lb-ipam.test.ts', '90-l2-failover.test.ts'],
      failed: ['"undo what 20-vxlan.test.ts left" failed: x'],
      unfinished: [],
      done: ['a', 'b'],
    });
    expect(text.split('\n').filter(Boolean)).toEqual([
      '[lab] SIGINT: the run was interrupted; every cleanup ran (2 done)',
      '[lab] left undone (3):',
      '[lab]   - the scenario that was running did not finish: 20-vxlan.test.ts "the router sees only UDP 8472"',
      '[lab]   - suites not started: 30-lb-ipam.test.ts, 90-l2-failover.test.ts',
      '[lab]   - cleanup failed: "undo what 20-vxlan.test.ts left" failed: x',
    ]);
  });
});
