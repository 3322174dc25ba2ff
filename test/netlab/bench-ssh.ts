/**
 * `npm run bench:ssh`: how much a persistent SSH connection saves per command.
 *
 * Builds the netlab, then runs the same command N times (N >= 200, default 200; `--n 300` or BENCH_SSH_N)
 * against one host, one at a time, two ways:
 *   1. over helpers/ssh's persistent ssh2 connection (connected once before timing starts);
 *   2. as N separate OpenSSH `ssh` processes (what `sshpass ssh …` in the study notes does per command).
 * Every run must print the expected answer, so only real round trips are timed. The last line gives both
 * medians and their ratio; the exit code is 1 when the ratio is below 20.
 *
 * The netlab is torn down at the end, on error and on Ctrl-C.
 */
import { execa } from 'execa';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { SshPool } from '../../helpers/transport/ssh.ts';
import { node, sshEndpoint } from '../../helpers/lab/topology.ts';
import { netlabUnavailable, startNetlab, type Netlab } from './netlab.ts';
import { benchSummary, median, quantile } from './stats.ts';

const MIN_N = 200;
const MIN_RATIO = 20;
const HOST = 'k8s-w0';
const COMMAND = 'echo ok';

function countFromArgs(argv: string[], env: NodeJS.ProcessEnv): number {
  const i = argv.indexOf('--n');
  const raw = i >= 0 ? argv[i + 1] : env.BENCH_SSH_N;
  const n = raw === undefined ? MIN_N : Number(raw);
  if (!Number.isInteger(n) || n < MIN_N) throw new Error(`bench:ssh: N must be an integer >= ${MIN_N} (got ${raw})`);
  return n;
}

function describe(label: string, samples: number[]): string {
  return `${label}: ${samples.length} commands, median ${median(samples).toFixed(2)} ms, p90 ${quantile(samples, 0.9).toFixed(2)} ms, total ${(samples.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s`;
}

async function timed(n: number, once: () => Promise<string>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const out = await once();
    samples.push(performance.now() - t);
    if (out.trim() !== 'ok') throw new Error(`run ${i + 1}: expected "ok", got ${JSON.stringify(out)}`);
  }
  return samples;
}

async function main(): Promise<number> {
  const n = countFromArgs(process.argv.slice(2), process.env);
  const unavailable = netlabUnavailable();
  if (unavailable) throw new Error(`bench:ssh needs the netlab: ${unavailable}`);

  let lab: Netlab | undefined;
  let pool: SshPool | undefined;
  const cleanup = async (): Promise<void> => {
    await pool?.close().catch(() => undefined);
    await lab?.teardown();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    console.error(`bench:ssh: ${sig}, tearing the netlab down`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const started = performance.now();
    lab = await startNetlab();
    const { host, port } = sshEndpoint(node(lab.topology, HOST));
    console.log(
      `netlab ${lab.tag} up in ${Math.round(performance.now() - started)} ms; ${HOST} at ${host}:${port}; command: ${COMMAND}; N = ${n}`,
    );

    pool = new SshPool(lab.topology);
    const h = pool.host(HOST);
    await h.run(COMMAND); // connect before timing
    const persistent = await timed(n, () => h.run(COMMAND));
    console.log(describe('persistent ssh2 connection', persistent));

    const { user, keyFile, knownHostsFile } = lab.topology.ssh;
    const sshArgs = [
      '-F',
      '/dev/null',
      '-i',
      keyFile!,
      '-o',
      `UserKnownHostsFile=${knownHostsFile!}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      '-p',
      String(port),
      `${user}@${host}`,
      COMMAND,
    ];
    const processes = await timed(n, async () => (await execa('ssh', sshArgs, { timeout: 30_000, cwd: path.dirname(keyFile!) })).stdout);
    console.log(describe('separate ssh processes', processes));

    if (pool.stats(HOST).connects !== 1)
      throw new Error(`the persistent connection reconnected (${pool.stats(HOST).connects} connects): timings are not comparable`);
    const { line, ratio } = benchSummary(persistent, processes);
    await cleanup();
    console.log(line);
    return ratio >= MIN_RATIO ? 0 : 1;
  } catch (err) {
    await cleanup().catch((e: Error) => console.error(`bench:ssh: teardown failed: ${e.message}`));
    throw err;
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`bench:ssh failed: ${err.message}`);
    process.exit(2);
  },
);
