/**
 * Lab fault `ssh-drop` (issue 16), the network side: every established SSH connection to a twin host is cut at once,
 * as a flapping link, a NAT table flush or an sshd restart cuts a real lab's. The kernel aborts the sshd side of each
 * TCP connection in the host's network namespace (`ss -K`, SOCK_DESTROY: the peer gets a reset), so the relay drops
 * the harness's side and ssh2 sees the connection close; sshd keeps listening, so a new connection is accepted at once.
 * Nothing is killed by name: only the sockets of port 22 in that one namespace.
 */
import type { StartedTwinNetwork } from './twin-network.ts';

/** Cuts every established SSH connection of `host`; returns the local:peer pairs cut (empty when there were none). */
export async function dropSshConnections(net: Pick<StartedTwinNetwork, 'netlab'>, host: string): Promise<string[]> {
  const out = await net.netlab.nsExec(host, ['ss', '-K', '-H', '-t', '-n', 'state', 'established', '( sport = :22 )']);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 4)
    .map((f) => `${f[f.length - 2]} <- ${f[f.length - 1]}`);
}
