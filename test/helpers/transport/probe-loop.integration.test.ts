/**
 * Runs the router's HTTP probe loop for real (bash, GNU date/sleep, curl) against a loopback HTTP
 * server that stops answering for a while, then parses its output and measures the outage with the
 * failover judge: the script, the parser and the judge agree on real program output.
 * Loopback only (127.0.0.1); every process started here is ended by its process-group id.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { execa } from 'execa';
import { afterEach, describe, expect, test } from 'vitest';
import { measureOutage, probeTimeline } from '../../../helpers/judge/failover.ts';
import { parseHttpProbeLog } from '../../../helpers/parse/http-probe-loop.ts';
import { httpProbeLoopCommand, httpProbeLoopScript } from '../../../helpers/transport/probe-loop.ts';

function missingTool(): string | null {
  for (const [tool, args] of [
    ['bash', ['--version']],
    ['curl', ['--version']],
    ['date', ['+%s%3N']],
  ] as const) {
    try {
      const out = execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      if (tool === 'date' && !/^\d{13}$/.test(out.trim())) return 'date does not support %3N (GNU coreutils needed)';
    } catch {
      return `${tool} is not installed (apt-get install ${tool === 'date' ? 'coreutils' : tool})`;
    }
  }
  return null;
}
const missing = missingTool();

/** A loopback HTTP server; while `hang` is true it accepts connections and never answers. */
async function flakyServer(): Promise<{ url: string; setHang(h: boolean): void; close(): Promise<void> }> {
  let hang = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    if (hang) return; // no answer: curl times out
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('Hostname: loopback\n');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    setHang: (h) => {
      hang = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe.skipIf(missing !== null)(`HTTP probe loop on real bash + curl${missing ? ` (skipped: ${missing})` : ''}`, () => {
  test("an outage of about 1.5 s is measured from the loop's own output", async () => {
    const srv = await flakyServer();
    cleanups.push(() => srv.close());
    const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
    const loop = execa(
      'bash',
      ['-c', httpProbeLoopScript({ url: srv.url, intervalMs: 200, timeoutMs: 400, maxProbes: 40, maxDurationMs: 4_000 })],
      {
        detached: true,
        reject: false,
        timeout: 15_000,
      },
    );
    cleanups.push(() => {
      if (loop.pid !== undefined && loop.exitCode === null) {
        try {
          process.kill(-loop.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
    await sleep(1_000);
    const hangAt = Date.now(); // same clock as the loop's `date +%s%3N`
    srv.setHang(true);
    await sleep(1_500);
    srv.setHang(false);
    const result = await loop;
    expect(result.exitCode).toBe(0);

    const log = parseHttpProbeLog(result.stdout);
    expect(log.ignored).toEqual([]);
    expect(log.begin).toMatchObject({ maxProbes: 40, intervalMs: 200 });
    expect(log.end?.reason).toBe('deadline');
    // bounded: about 4 s / 200 ms probes, never more than maxProbes
    expect(log.samples.length).toBeGreaterThan(10);
    expect(log.samples.length).toBeLessThanOrEqual(40);
    expect(log.samples.every((s) => s.endedAt !== null)).toBe(true); // the loop waited for every probe
    const r = measureOutage(log.samples, hangAt);
    expect(r.kind).toBe('recovered');
    expect(r.before.ok).toBeGreaterThan(0);
    expect(r.after.last).toBe('ok');
    // hang 1.5 s; resolution: one interval (200 ms) + one timeout (400 ms) either side, plus scheduling slack
    expect(r.outageMs!).toBeGreaterThan(800);
    expect(r.outageMs!).toBeLessThan(2_500);
    const failed = probeTimeline(log.samples).filter((p) => p.outcome === 'failed');
    expect(failed.every((p) => p.sample.curlExit === 28 && p.sample.httpCode === null)).toBe(true);
  });

  test('stopped while probes are in flight: the lost probes have no result and the end line is missing', async () => {
    const srv = await flakyServer();
    cleanups.push(() => srv.close());
    srv.setHang(true);
    // through `bash -c '<quoted script>'`, as SshHost.background will run it
    const loop = execa(
      'sh',
      ['-c', httpProbeLoopCommand({ url: srv.url, intervalMs: 200, timeoutMs: 2_000, maxProbes: 100, maxDurationMs: 20_000 })],
      {
        detached: true,
        reject: false,
      },
    );
    const pid = loop.pid!;
    cleanups.push(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    });
    await new Promise((r) => setTimeout(r, 1_000));
    process.kill(-pid, 'SIGTERM'); // the whole group: sh, bash, the curls
    const result = await loop;
    const log = parseHttpProbeLog(result.stdout);
    expect(log.end).toBeNull();
    expect(log.samples.length).toBeGreaterThanOrEqual(2);
    expect(log.samples.every((s) => s.endedAt === null)).toBe(true);
    const r = measureOutage(log.samples, 0);
    expect(r.kind).toBe('no-data');
    expect(r.after.lost).toBe(log.samples.length);
  });

  test('options outside the documented bounds are refused before anything runs', () => {
    const ok = { url: 'http://192.168.10.211/', intervalMs: 300, timeoutMs: 1_000, maxProbes: 200, maxDurationMs: 60_000 };
    expect(() => httpProbeLoopScript(ok)).not.toThrow();
    expect(() => httpProbeLoopScript({ ...ok, intervalMs: 100 })).toThrow(/intervalMs 100/);
    expect(() => httpProbeLoopScript({ ...ok, maxProbes: 0 })).toThrow(/maxProbes/);
    expect(() => httpProbeLoopScript({ ...ok, maxDurationMs: 3_600_000 })).toThrow(/maxDurationMs/);
    expect(() => httpProbeLoopScript({ ...ok, url: "http://192.168.10.211/'; reboot; '" })).toThrow(/url/);
    expect(() => httpProbeLoopScript({ ...ok, url: 'https://example.com/' })).toThrow(/url/);
  });
});
