/**
 * Running `npm …` against a twin, shared by `npm run test:twin` (test/twin/run.ts) and `npm run test:faults`
 * (test/twin/faults-run.ts): the environment that points `npm test` at a twin, and a child in its own process group
 * (so the whole tree, npm, tsx, vitest and its workers, is signalled and ended by the group's PID).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';

/** The environment `npm test` runs with against a twin: its topology, its version, where the reports go. */
export function twinTestEnv(o: { topologyFile: string; ciliumVersion: string; reportsDir: string; vitestJson: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LAB_TOPOLOGY: o.topologyFile,
    CILIUM_VERSION: o.ciliumVersion,
    CLH_REPORTS_DIR: o.reportsDir,
    CLH_VITEST_JSON: o.vitestJson,
  };
  delete env.KUBECONFIG;
  return env;
}

export interface GroupChild {
  pid: number | undefined;
  /** Exit code (null when ended by a signal) and the signal. */
  done: Promise<{ code: number | null; signal: string | null }>;
  /** Sends a signal to the whole process group (no-op once it has ended). */
  signal(sig: NodeJS.Signals): void;
  running(): boolean;
}

/**
 * Spawns `cmd args` in the repository, in its own process group. With `onOutput`, stdout and stderr are piped to it
 * (each chunk as text); without, they are inherited.
 */
export function spawnGroup(
  cmd: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; onOutput?: (text: string, stream: 'stdout' | 'stderr') => void } = {},
): GroupChild {
  const child: ChildProcess = spawn(cmd, args, {
    cwd: REPO_ROOT,
    env: o.env ?? process.env,
    stdio: o.onOutput ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    detached: true,
  });
  let ended = false;
  if (o.onOutput) {
    const out = o.onOutput;
    child.stdout?.on('data', (c: Buffer) => out(c.toString('utf8'), 'stdout'));
    child.stderr?.on('data', (c: Buffer) => out(c.toString('utf8'), 'stderr'));
  }
  const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    // 'close' waits for the pipes too, so every byte of output has been handed over.
    child.on(o.onOutput ? 'close' : 'exit', (code: number | null, sig: NodeJS.Signals | null) => {
      ended = true;
      resolve({ code, signal: sig });
    });
    child.on('error', (err) => {
      ended = true;
      o.onOutput?.(`${cmd}: ${err.message}\n`, 'stderr');
      resolve({ code: 1, signal: null });
    });
  });
  return {
    pid: child.pid,
    done,
    running: () => !ended,
    signal(sig) {
      if (ended || !child.pid) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    },
  };
}

/** An exit as a number: the code, or 128 when a signal ended it. */
export function exitNumber(r: { code: number | null; signal: string | null }): number {
  return r.code ?? (r.signal ? 128 : 1);
}
