/**
 * `npm test` with no lab must stop within 20 s with one message naming what is missing and the start
 * command. These tests run the real command. Where the default topology is used, it runs inside a
 * network namespace with no interface but loopback, so nothing can leave this machine.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEFAULT_TOPOLOGY_FILE, REPO_ROOT } from '../../../helpers/lab/topology.ts';
import { createNetns, hasCommand, isRoot, type Netns } from '../../support/netns.ts';

const LIMIT_MS = 20_000;

async function npmTest(env: Record<string, string>, prefix: string[] = []) {
  const started = Date.now();
  const [cmd, ...args] = [...prefix, 'npm', 'test', '--silent'];
  const r = await execa(cmd, args, {
    cwd: REPO_ROOT,
    env: { ...env, CI: 'true', FORCE_COLOR: '0', LAB_PREFLIGHT: '' },
    reject: false,
    timeout: 60_000,
    all: true,
  });
  return { code: r.exitCode, output: r.all ?? '', ms: Date.now() - started };
}

function lines(output: string, re: RegExp): string[] {
  return output.split('\n').filter((l) => re.test(l));
}

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

describe('npm test without a lab', () => {
  test('a broken topology file: one message naming the file and the field', async () => {
    const file = path.join(tempDir('topo-'), 'broken.yaml');
    writeFileSync(file, readFileSync(DEFAULT_TOPOLOGY_FILE, 'utf8').replace('podCidr: 172.20.0.0/16', 'podCidr: 172.20.0.0/40'));
    const r = await npmTest({ LAB_TOPOLOGY: file });
    expect(r.code).not.toBe(0);
    expect(r.ms).toBeLessThan(LIMIT_MS);
    expect(r.output).toContain(`Invalid lab topology ${file}`);
    expect(r.output).toMatch(/podCidr: "172\.20\.0\.0\/40" is not an IPv4 address with prefix length/);
  });

  test('another lab on loopback that does not answer: every endpoint named, with the hint', async () => {
    const file = path.join(tempDir('topo-'), 'loopback.yaml');
    let text = readFileSync(DEFAULT_TOPOLOGY_FILE, 'utf8')
      .replace('provider: vagrant', 'provider: existing')
      .replace('  host: 192.168.10.100\n  port: 6443', '  host: 127.0.0.1\n  port: 9');
    for (const n of ['router', 'k8s-ctr', 'k8s-w1', 'k8s-w0']) {
      text = text.replace(`  - name: ${n}\n`, `  - name: ${n}\n    ssh: { host: 127.0.0.1, port: 9 }\n`);
    }
    writeFileSync(file, text);
    const r = await npmTest({ LAB_TOPOLOGY: file });
    expect(r.code).not.toBe(0);
    expect(r.ms).toBeLessThan(LIMIT_MS);
    const msg = lines(r.output, /^No lab:/);
    expect(msg).toHaveLength(1);
    expect(msg[0]).toContain('SSH on k8s-w0 at 127.0.0.1:9 (ECONNREFUSED)');
    expect(msg[0]).toContain('Kubernetes API at 127.0.0.1:9 (ECONNREFUSED)');
    expect(msg[0]).toContain(`Start the lab described by ${file}`);
    expect(r.output).not.toMatch(/Test Files|timed out/i);
  });

  test('a CILIUM_VERSION that does not match its pattern is refused before anything is created', async () => {
    // A lab on loopback that accepts TCP (so the reachability check passes) and closes every connection.
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const file = path.join(tempDir('topo-'), 'loopback.yaml');
      let text = readFileSync(DEFAULT_TOPOLOGY_FILE, 'utf8')
        .replace('provider: vagrant', 'provider: existing')
        .replace('  host: 192.168.10.100\n  port: 6443', `  host: 127.0.0.1\n  port: ${port}`);
      for (const n of ['router', 'k8s-ctr', 'k8s-w1', 'k8s-w0'])
        text = text.replace(`  - name: ${n}\n`, `  - name: ${n}\n    ssh: { host: 127.0.0.1, port: ${port} }\n`);
      writeFileSync(file, text);
      const reports = tempDir('reports-');
      const r = await npmTest({ LAB_TOPOLOGY: file, CILIUM_VERSION: 'garbage', CLH_REPORTS_DIR: reports });
      expect(r.code).not.toBe(0);
      expect(r.output).toContain(
        `CILIUM_VERSION is "garbage", which does not match ^[0-9]+\\.[0-9]+\\.[0-9]+(-(pre|rc)\\.[0-9]+)?$ (pins.cilium.pattern in ${path.join(REPO_ROOT, 'lab', 'versions.yaml')})`,
      );
      expect(readdirSync(reports)).toEqual([]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  describe.skipIf(!isRoot)('the default Vagrant lab, inside a namespace with no route out', () => {
    let ns: Netns | undefined;
    beforeAll(async () => {
      if (!(await hasCommand('ip'))) throw new Error('iproute2 (ip) is required');
      ns = await createNetns(`pf-${process.pid % 100000}`);
    });
    afterAll(async () => {
      await ns?.remove();
    });

    test('VMs never created: stops before any packet, names them and the start command', async () => {
      const r = await npmTest({ VAGRANT_CWD: tempDir('vagrant-cwd-') }, ns!.exec);
      expect(r.code).not.toBe(0);
      expect(r.ms).toBeLessThan(LIMIT_MS);
      const msg = lines(r.output, /^No lab:/);
      expect(msg).toHaveLength(1);
      expect(msg[0]).toMatch(/the Vagrant VMs router, k8s-ctr, k8s-w1, k8s-w0 have not been created/);
      expect(msg[0]).toMatch(/No packet was sent\. Start the lab with: npm run lab:up$/);
    });

    test('VMs created but unreachable: names each endpoint and the start command', async () => {
      const cwd = tempDir('vagrant-cwd-');
      for (const n of ['router', 'k8s-ctr', 'k8s-w1', 'k8s-w0']) {
        mkdirSync(path.join(cwd, '.vagrant', 'machines', n, 'virtualbox'), { recursive: true });
        writeFileSync(path.join(cwd, '.vagrant', 'machines', n, 'virtualbox', 'id'), 'uuid');
      }
      const r = await npmTest({ VAGRANT_CWD: cwd }, ns!.exec);
      expect(r.code).not.toBe(0);
      expect(r.ms).toBeLessThan(LIMIT_MS);
      const msg = lines(r.output, /^No lab:/);
      expect(msg).toHaveLength(1);
      // No interface but loopback in this namespace: the kernel refuses at once, nothing is sent.
      expect(msg[0]).toContain('SSH on router at 192.168.10.200:22 (ENETUNREACH)');
      expect(msg[0]).toContain('Kubernetes API at 192.168.10.100:6443 (ENETUNREACH)');
      expect(msg[0]).toMatch(/Start the lab with: npm run lab:up$/);
    });
  });
});
