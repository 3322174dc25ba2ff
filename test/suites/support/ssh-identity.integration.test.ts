/**
 * Before the first suite, every host must answer as the node the topology names: a topology whose SSH addresses are
 * swapped or stale would send reboots and helm to the wrong machine. Real sshd per host (test/netlab, hostname =
 * node name in each host's UTS namespace); the global setup itself is run with the swapped topology.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { stringify } from 'yaml';
import { sshIdentityProblems } from '../../../helpers/lab/lab-access.ts';
import type { Topology } from '../../../helpers/lab/topology.ts';
import setup from '../../../suites/support/global-setup.ts';
import { useNetlab } from '../../netlab/use.ts';

const netlab = useNetlab({}, { prefix: 'tsi' });

/** The netlab's topology with the SSH endpoints of two nodes swapped (host keys then differ: accept them). */
function swapped(t: Topology, a: string, b: string): Topology {
  const copy = structuredClone(t);
  const na = copy.nodes.find((n) => n.name === a)!;
  const nb = copy.nodes.find((n) => n.name === b)!;
  [na.ssh, nb.ssh] = [nb.ssh, na.ssh];
  copy.ssh.hostKeys = 'accept';
  return copy;
}

describe('SSH identity before the first suite', () => {
  const saved = { ...process.env };
  afterEach(() => {
    vi.restoreAllMocks();
    for (const k of ['LAB_TOPOLOGY', 'LAB_PREFLIGHT', 'LAB_RUN_ID', 'CLH_RUN_ID', 'CILIUM_VERSION']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  test('every netlab host answers as its node', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    expect(await sshIdentityProblems(lab.topology, ssh)).toEqual([]);
  });

  test('the global setup stops, naming each host that answers as another node, before touching the cluster', async (ctx) => {
    const { lab } = netlab.need(ctx);
    const t = swapped(lab.topology, 'k8s-w1', 'k8s-w0');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tsi-')), 'swapped.yaml');
    writeFileSync(file, stringify(t));
    Object.assign(process.env, { LAB_TOPOLOGY: file, LAB_PREFLIGHT: 'passed', CILIUM_VERSION: '1.18.14' });
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    vi.spyOn(process, 'exit').mockImplementation((code?: string | number | null) => {
      throw new Error(`process.exit(${String(code)})`);
    });
    await expect(setup()).rejects.toThrow('process.exit(2)');
    const out = written.join('');
    const port = (name: string): number => t.nodes.find((n) => n.name === name)!.ssh!.port!;
    expect(out).toContain(`Not the lab ${file} describes: `);
    expect(out).toContain(`node k8s-w1 (SSH 127.0.0.1:${port('k8s-w1')}) answers as "k8s-w0"`);
    expect(out).toContain(`node k8s-w0 (SSH 127.0.0.1:${port('k8s-w0')}) answers as "k8s-w1"`);
    expect(out).not.toContain('k8s-ctr (SSH');
    expect(out).not.toContain('Kubernetes API');
  });
});
