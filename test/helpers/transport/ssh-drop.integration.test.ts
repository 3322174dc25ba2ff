/**
 * Issue 16, lab fault ssh-drop, against real sshd on the netlab: every established SSH connection to a host is cut
 * (the twin's dropSshConnections, `ss -K` in the host's namespace) while a command runs. A command that only reads
 * (`idempotent`) runs again on a fresh connection and returns its answer; a command that may change the host is run
 * once only and fails with "connection lost". Root only (network namespaces, sshd).
 */
import { describe, expect, test } from 'vitest';
import { SshError } from '../../../helpers/transport/ssh.ts';
import { dropSshConnections } from '../../twin/net/ssh-drop.ts';
import { useNetlab } from '../../netlab/use.ts';

const logged: string[] = [];
const netlab = useNetlab(
  { reconnect: { retries: 10, minTimeoutMs: 100, maxTimeoutMs: 1000 }, log: (l) => logged.push(l) },
  { prefix: 'tsd' },
);

/** Cuts the host's SSH connections once `ms` have passed; resolves with what was cut. */
async function cutAfter(lab: Parameters<typeof dropSshConnections>[0]['netlab'], host: string, ms: number): Promise<string[]> {
  await new Promise((r) => setTimeout(r, ms));
  return dropSshConnections({ netlab: lab }, host);
}

describe('an SSH connection cut while a command runs (ssh-drop)', () => {
  test('a command that only reads runs again on a fresh connection and answers', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const host = ssh.host('k8s-w1');
    await host.run('true');
    const before = ssh.stats('k8s-w1');
    const [r, cut] = await Promise.all([
      host.exec('sleep 1.5; cat /run/tn-boot', { idempotent: true, timeoutMs: 20_000 }),
      cutAfter(lab, 'k8s-w1', 400),
    ]);
    expect(cut.length).toBeGreaterThan(0);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('1');
    expect(ssh.stats('k8s-w1').connects).toBe(before.connects + 1);
    expect(ssh.stats('k8s-w1').rerunAfterLoss).toBe(before.rerunAfterLoss + 1);
    expect(logged).toContain('ssh k8s-w1: connection lost while `sleep 1.5; cat /run/tn-boot` ran; running it again (it only reads)');
  });

  test('a command that changes the host is not run twice: it fails with "connection lost", and ran once', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const host = ssh.host('k8s-w0');
    await host.run('rm -f /run/ssh-drop-count', { sudo: true });
    const [res, cut] = await Promise.all([
      host.exec('echo ran >> /run/ssh-drop-count; sleep 1.5', { sudo: true, timeoutMs: 20_000 }).catch((e: unknown) => e),
      cutAfter(lab, 'k8s-w0', 400),
    ]);
    expect(cut.length).toBeGreaterThan(0);
    expect(res).toBeInstanceOf(SshError);
    expect((res as Error).message).toMatch(/connection lost while the command ran$/);
    // The next command reconnects by itself; the file shows the command ran exactly once.
    expect((await host.run('cat /run/ssh-drop-count', { sudo: true, timeoutMs: 20_000 })).trim().split('\n')).toEqual(['ran']);
  });
});
