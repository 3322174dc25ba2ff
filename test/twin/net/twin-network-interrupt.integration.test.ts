/**
 * A twin network's owning process is interrupted (SIGINT, as Ctrl-C does): every namespace, process and the
 * scratch directory must be gone, without any help from a later run's sweep.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { REPO_ROOT } from '../../../helpers/lab/topology.ts';
import { twinNetworkUnavailable } from './twin-network.ts';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'interrupt-child.ts');
const unavailable = twinNetworkUnavailable();

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('SIGINT to the owning process leaves no namespace, process or scratch directory behind', async (ctx) => {
  if (unavailable) ctx.skip(unavailable);
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'twi'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  try {
    await expect.poll(() => out.includes('\n') || child.exitCode !== null, { timeout: 90_000, interval: 200 }).toBe(true);
    expect(child.exitCode, `the child failed: ${err}`).toBeNull();
    const { tag, dir, pids } = JSON.parse(out.split('\n')[0]!) as { tag: string; dir: string; pids: number[] };
    const mine = async (): Promise<string[]> =>
      (await execa('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`twi-${tag}-`));
    // router, three nodes, switch, upstream and the pod
    expect((await mine()).length).toBe(7);
    expect(pids.length).toBeGreaterThanOrEqual(10);
    expect(pids.every(alive)).toBe(true);

    child.kill('SIGINT');
    const end = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
    expect(end, 'the child did not end within 15 s of SIGINT').toEqual({ code: null, signal: 'SIGINT' });
    await expect.poll(() => pids.filter(alive), { timeout: 5_000, interval: 100 }).toEqual([]);
    expect(await mine()).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}, 120_000);
