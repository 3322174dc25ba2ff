/**
 * helpers/ssh against real sshd on the netlab hosts (network namespaces, root only).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import path from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { WaitTimeoutError } from '../../../helpers/wait/retry.ts';
import { SshError, SshPool } from '../../../helpers/transport/ssh.ts';
import { knownHostsText } from '../../../scripts/lab.ts';
import { useNetlab } from '../../netlab/use.ts';

const netlab = useNetlab({ maxConcurrentPerHost: 4, reconnect: { retries: 10, minTimeoutMs: 100, maxTimeoutMs: 1000 } });

describe('exec over the persistent connection', () => {
  test('on every host at once: each answers with its own name, exit code and stderr intact', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const names = lab.topology.nodes.map((n) => n.name);
    const results = await Promise.all(
      names.map((name, i) => ssh.host(name).exec(`hostname; printf 'é\\n' >&2; echo "to stderr" >&2; exit ${10 + i}`)),
    );
    results.forEach((r, i) => {
      expect(r.stdout).toBe(`${names[i]}\n`);
      expect(r.stderr).toBe('é\nto stderr\n');
      expect(r.code).toBe(10 + i);
      expect(r.signal).toBeNull();
    });
    names.forEach((n) => expect(ssh.stats(n).connects).toBe(1));
  });

  test('large output, stdin and a long command line come through byte for byte', async (ctx) => {
    const { ssh } = netlab.need(ctx);
    const big = await ssh.host('k8s-w1').exec('head -c 3000000 /dev/zero | tr "\\0" "x"; echo');
    expect(big.stdout.length).toBe(3_000_001);
    expect(big.stdout.replace(/x/g, '')).toBe('\n');
    const input = 'line one\nzweite Zeile ü\n'.repeat(1000);
    const echoed = await ssh.host('k8s-w1').exec('cat', { stdin: input });
    expect(echoed.stdout).toBe(input);
    const arg = 'a'.repeat(20_000);
    expect((await ssh.host('k8s-w1').run(`printf %s ${arg} | wc -c`)).trim()).toBe('20000');
  });

  test('many commands share one connection, at most maxConcurrentPerHost at a time (seen from the host)', async (ctx) => {
    const { ssh } = netlab.need(ctx);
    const host = ssh.host('k8s-ctr');
    const spans = await Promise.all(
      Array.from({ length: 12 }, () =>
        host.run('date +%s.%N; sleep 0.3; date +%s.%N').then((out) => out.trim().split('\n').map(Number) as [number, number]),
      ),
    );
    // Most commands running at the same moment, by the host's own clock.
    const events = spans.flatMap(([s, e]): [number, number][] => [
      [s, 1],
      [e, -1],
    ]);
    events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let peak = 0;
    for (const [, d] of events) peak = Math.max(peak, (now += d));
    expect(peak).toBe(4);
    expect(ssh.stats('k8s-ctr')).toMatchObject({ connects: 1, peakRunning: 4, running: 0, waiting: 0 });
  });

  test('sudo: commands run as the lab user, or as root when asked (sudo -n, quoting intact)', async (ctx) => {
    const { ssh } = netlab.need(ctx);
    const host = ssh.host('k8s-w0');
    expect((await host.run('id -un')).trim()).toBe('vagrant');
    expect((await host.run(`id -un; echo "it's $((6*7))"`, { sudo: true })).trim().split('\n')).toEqual(['root', "it's 42"]);
    expect((await host.exec('ip route add 198.19.99.0/24 via 198.18.20.200')).stderr).toMatch(/Operation not permitted/);
  });

  test('run() throws SshError with host, command and stderr on a non-zero exit', async (ctx) => {
    const { ssh } = netlab.need(ctx);
    const err = await ssh
      .host('k8s-w0')
      .run('ip route add 198.18.10.0/24 via 198.18.20.200', { sudo: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SshError);
    expect((err as SshError).message).toBe(
      'ssh k8s-w0: `ip route add 198.18.10.0/24 via 198.18.20.200`: exited with code 2: RTNETLINK answers: File exists',
    );
    expect((err as SshError).result?.code).toBe(2);
  });

  test('a deadline ends the command on the host and throws naming host, command and timeout', async (ctx) => {
    const { ssh } = netlab.need(ctx);
    const host = ssh.host('k8s-w0');
    const started = Date.now();
    const err = await host.exec('sleep 7; echo finished', { timeoutMs: 400 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err).toBeInstanceOf(SshError);
    expect((err as Error).message).toMatch(/^ssh k8s-w0: `sleep 7; echo finished`: timed out after 400 ms$/);
    // sshd signalled the session: nothing is left sleeping.
    await expect.poll(async () => (await host.exec('pgrep -x sleep')).stdout, { timeout: 3_000 }).toBe('');
  });

  test('an AbortSignal cancels a running command', async (ctx) => {
    const { ssh } = netlab.need(ctx);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('test gave up')), 200);
    await expect(ssh.host('k8s-w1').exec('sleep 7', { signal: ac.signal })).rejects.toThrow(
      /^ssh k8s-w1: `sleep 7`: aborted \(test gave up\)$/,
    );
  });
});

describe('background commands', () => {
  test.for([
    ['as the lab user', false],
    ['with sudo', true],
  ] as const)('returns once started, output arrives while it runs, stop() interrupts the whole pipeline (%s)', async ([, sudo], ctx) => {
    const { ssh } = netlab.need(ctx);
    const host = ssh.host('router');
    const bg = await host.background('i=0; while [ $i -lt 100 ]; do echo tick $i; i=$((i+1)); sleep 0.05; done | cat', { sudo });
    expect(bg.pid).toBeGreaterThan(1);
    await bg.waitFor(/tick 3/, 5_000);
    expect(bg.output).toMatch(/^tick 0\ntick 1\n/);
    const r = await bg.stop();
    expect(r.stdout).toMatch(/^tick 0\n/);
    expect(r.stdout).not.toMatch(/tick 99/);
    expect(r.code === 130 || r.signal === 'SIGINT').toBe(true);
    // Nothing of the pipeline survives in the host's process list.
    expect((await host.exec(`pgrep -s ${bg.pid}`)).stdout).toBe('');
    expect(await bg.stop()).toBe(r);
  });

  test('a command that fails at once is reported, not waited for', async (ctx) => {
    const { ssh } = netlab.need(ctx);
    const bg = await ssh.host('router').background('tcpdump -i nosuchif0 -nn');
    await expect(bg.waitFor(/listening on/, 5_000)).rejects.toThrow(/ended before output matching.*nosuchif0/s);
  });
});

describe('reboots and reachability', () => {
  test('a host "reboots" (sshd killed, back after a pause): the running command fails, the next one reconnects by itself', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const host = ssh.host('k8s-w1');
    expect((await host.run('cat /run/tn-boot')).trim()).toBe('1');
    const before = ssh.stats('k8s-w1').connects;

    const running = host.exec('sleep 20').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    await lab.stopSshd('k8s-w1');
    const lost = await running;
    expect(lost).toBeInstanceOf(SshError);
    expect((lost as Error).message).toMatch(/^ssh k8s-w1: `sleep 20`: connection lost while the command ran$/);

    // Asked while the host is down: it waits, retrying with backoff, and answers from the new boot.
    const next = host.run('cat /run/tn-boot; hostname', { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1_500));
    await lab.startSshd('k8s-w1');
    expect((await next).trim().split('\n')).toEqual(['2', 'k8s-w1']);
    expect(ssh.stats('k8s-w1').connects).toBe(before + 1);
  });

  test('waitReachable gives up at its deadline naming the host, and returns once sshd is back', async (ctx) => {
    const { lab } = netlab.need(ctx);
    const pool = new SshPool(lab.topology, { reconnect: { retries: 0 }, connectTimeoutMs: 1_000 });
    try {
      await lab.stopSshd('k8s-ctr');
      const err = await pool
        .host('k8s-ctr')
        .waitReachable(1_500)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WaitTimeoutError);
      expect((err as Error).message).toMatch(/waiting for SSH on k8s-ctr to accept a login.*last seen: ssh k8s-ctr/);
      await lab.startSshd('k8s-ctr');
      await pool.host('k8s-ctr').waitReachable(10_000);
      expect((await pool.host('k8s-ctr').run('cat /run/tn-boot')).trim()).toBe('2');
    } finally {
      await pool.close();
    }
  });
});

describe('credentials and host keys', () => {
  test('known-hosts: a host key that differs is refused at once, with the reason; "accept" lets it through', async (ctx) => {
    const { lab } = netlab.need(ctx);
    const wrong = path.join(lab.dir, 'known_hosts.wrong');
    // Every host's port paired with the router's key: only the router matches.
    const routerPort = lab.topology.nodes.find((n) => n.name === 'router')!.ssh!.port!;
    const good = readFileSync(path.join(lab.dir, 'known_hosts'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`[127.0.0.1]:${routerPort} `))!;
    const key = good.split(' ').slice(1).join(' ');
    writeFileSync(wrong, lab.topology.nodes.map((n) => `[127.0.0.1]:${n.ssh!.port} ${key}`).join('\n') + '\n');
    const strict = new SshPool({ ...lab.topology, ssh: { ...lab.topology.ssh, knownHostsFile: wrong } });
    const lax = new SshPool({ ...lab.topology, ssh: { ...lab.topology.ssh, hostKeys: 'accept', knownHostsFile: wrong } });
    try {
      expect((await strict.host('router').run('hostname')).trim()).toBe('router');
      const started = Date.now();
      await expect(strict.host('k8s-w0').exec('hostname')).rejects.toThrow(
        /^ssh k8s-w0: `hostname`: connect to 127\.0\.0\.1:\d+: host key check: \[127\.0\.0\.1\]:\d+ offered a key that differs from the one in .*known_hosts\.wrong/,
      );
      expect(Date.now() - started).toBeLessThan(2_000); // not retried
      expect((await lax.host('k8s-w0').run('hostname')).trim()).toBe('k8s-w0');
    } finally {
      await strict.close();
      await lax.close();
    }
  });

  test('the Vagrant lab checks host keys by default against the file lab:up writes; a mismatch fails before any command, naming the host and npm run lab:up', async (ctx) => {
    const { lab } = netlab.need(ctx);
    // The topology as the Vagrant lab's: provider vagrant, no hostKeys, no knownHostsFile (the defaults apply).
    const vagrantLab = {
      ...lab.topology,
      provider: 'vagrant' as const,
      ssh: { user: lab.topology.ssh.user, auth: lab.topology.ssh.auth, keyFile: lab.topology.ssh.keyFile },
    };
    const cwd = path.join(lab.dir, 'vagrant-cwd');
    const file = path.join(cwd, '.vagrant', 'cilium-lab', 'known_hosts');
    mkdirSync(path.dirname(file), { recursive: true });
    // Each VM's keys as lab:up reads them (`type base64`), written by lab:up's own function.
    const keyOf = (port: number): string[] =>
      readFileSync(path.join(lab.dir, 'known_hosts'), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith(`[127.0.0.1]:${port} `))
        .map((l) => l.split(' ').slice(1, 3).join(' '));
    const keys = Object.fromEntries(lab.topology.nodes.map((n) => [n.name, keyOf(n.ssh!.port!)]));
    vi.stubEnv('VAGRANT_CWD', cwd);
    const right = new SshPool(vagrantLab);
    const wrongPool = new SshPool(vagrantLab);
    try {
      writeFileSync(file, knownHostsText(vagrantLab, keys));
      expect((await right.host('k8s-w0').run('hostname')).trim()).toBe('k8s-w0');
      // k8s-w1 re-created behind lab:up's back: the file still has another host's key for it.
      writeFileSync(file, knownHostsText(vagrantLab, { ...keys, 'k8s-w1': keys.router! }));
      const marker = path.join(lab.dir, 'ran-on-k8s-w1');
      const started = Date.now();
      await expect(wrongPool.host('k8s-w1').exec(`touch ${marker}`)).rejects.toThrow(
        /^ssh k8s-w1: `touch .*`: connect to 127\.0\.0\.1:\d+: host key check: \[127\.0\.0\.1\]:\d+ offered a key that differs from the one in .*vagrant-cwd\/\.vagrant\/cilium-lab\/known_hosts .*; `npm run lab:up` records the lab VMs' host keys again/,
      );
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(existsSync(marker)).toBe(false);
    } finally {
      vi.unstubAllEnvs();
      await right.close();
      await wrongPool.close();
    }
  });

  test('a key the host does not know: authentication failure says who and which key, and is not retried', async (ctx) => {
    const { lab } = netlab.need(ctx);
    const other = path.join(lab.dir, 'other_key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const pool = new SshPool({ ...lab.topology, ssh: { ...lab.topology.ssh, keyFile: other } });
    try {
      await expect(pool.host('router').exec('true')).rejects.toThrow(
        `ssh router: \`true\`: connect to 127.0.0.1:${lab.topology.nodes[0]!.ssh!.port}: authentication failed as vagrant (key file ${other})`,
      );
      expect(pool.stats('router').connects).toBe(0);
    } finally {
      await pool.close();
    }
  });
});
