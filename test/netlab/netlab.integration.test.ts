/**
 * The netlab itself: it obeys the network rules (nothing in the root namespace, addresses from
 * 198.18.0.0/15 only), hands back a valid topology, and leaves nothing behind.
 */
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { cidrContains, sshEndpoint } from '../../helpers/lab/topology.ts';
import { netlabUnavailable, startNetlab } from './netlab.ts';

const unavailable = netlabUnavailable();
/** Root-namespace interfaces with a name the netlab uses inside its namespaces (other areas' interfaces may come and go). */
const NETLAB_IFACES = /^(eth[0-2]|lan[12]|loop[12](-peer)?|(router|ctr|w1|w0)-eth[12])(@\S+)?$/;
const rootLinks = async (): Promise<string[]> =>
  (await execa('ip', ['-br', 'link'])).stdout
    .split('\n')
    .map((l) => l.split(/\s+/)[0]!)
    .filter((n) => NETLAB_IFACES.test(n));
const namespaces = async (): Promise<string[]> => (await execa('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!);
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('netlab', () => {
  test('builds without touching the root namespace, uses only 198.18.0.0/15, and tears down every namespace and process', async (ctx) => {
    if (unavailable) ctx.skip(unavailable);
    const linksBefore = await rootLinks();
    const lab = await startNetlab({ prefix: 'tnt' });
    let pids: number[] = [];
    try {
      expect(await rootLinks()).toEqual(linksBefore);
      const mine = (await namespaces()).filter((n) => n.startsWith(`tnt-${lab.tag}-`)).sort();
      expect(mine).toEqual(['k8s-ctr', 'k8s-w0', 'k8s-w1', 'router', 'switch', 'upstream'].map((h) => `tnt-${lab.tag}-${h}`));

      // Every IPv4 address in every namespace is loopback or from 198.18.0.0/15.
      for (const ns of mine) {
        const out = (await execa('ip', ['-n', ns, '-4', '-o', 'addr'])).stdout;
        for (const [, addr] of out.matchAll(/inet (\S+)/g)) {
          expect(addr!.startsWith('127.') || cidrContains('198.18.0.0/15', addr!), `${ns}: ${addr}`).toBe(true);
        }
      }
      // The topology is the real lab's type, reached over loopback only.
      expect(lab.topology.provider).toBe('existing');
      expect(lab.topology.ssh).toMatchObject({ auth: 'key', user: 'vagrant', hostKeys: 'known-hosts' });
      for (const n of lab.topology.nodes) expect(sshEndpoint(n).host).toBe('127.0.0.1');

      pids = lab.pids();
      expect(pids).toHaveLength(8); // per host: the sshd namespace's unshare and the relay
      expect(pids.every(alive)).toBe(true);
    } finally {
      await lab.teardown();
    }
    expect(pids.filter(alive)).toEqual([]);
    expect((await namespaces()).filter((n) => n.startsWith(`tnt-${lab.tag}-`))).toEqual([]);
    expect(await rootLinks()).toEqual(linksBefore);
  });
});
