import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { arpingCommand, curlArgv, curlCommand, pingCommand, probeHost, tcpdumpCommand } from '../../../helpers/transport/probes.ts';
import { shellQuote, SshError, SshPool } from '../../../helpers/transport/ssh.ts';
import { loadTopology } from '../../../helpers/lab/topology.ts';

/** What a POSIX shell makes of a command line: its argv. */
const argv = (command: string): string[] =>
  JSON.parse(
    execFileSync('sh', [
      '-c',
      `exec node -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- ${command.replace(/^\S+/, '')}`,
    ]).toString(),
  ) as string[];

describe('command lines', () => {
  test('arping: iputils takes -I, Habets -i', () => {
    expect(arpingCommand('iputils', { iface: 'eth1', target: '198.18.10.211', count: 2 })).toBe("arping -c 2 -I 'eth1' '198.18.10.211'");
    expect(arpingCommand('habets', { iface: 'eth1', target: '198.18.10.211', count: 3 })).toBe("arping -c 3 -i 'eth1' '198.18.10.211'");
    expect(arpingCommand('habets', { iface: 'eth1', target: '198.18.10.211', count: 3, intervalSec: 0.2 })).toBe(
      "arping -c 3 -W 0.2 -i 'eth1' '198.18.10.211'",
    );
    expect(arpingCommand('iputils', { iface: 'eth1', target: '198.18.10.211', count: 3, intervalSec: 0.2 })).toBe(
      "arping -c 3 -i 0.2 -I 'eth1' '198.18.10.211'",
    );
  });

  test('ping: count, per-reply timeout, optional interval and source', () => {
    expect(pingCommand({ target: '198.19.2.10', count: 2, timeoutSec: 1 })).toBe("ping -n -c 2 -W 1 '198.19.2.10'");
    expect(pingCommand({ target: '198.19.2.10', count: 2, timeoutSec: 1, intervalSec: 0.2, source: '198.19.0.10' })).toBe(
      "ping -n -c 2 -W 1 -i 0.2 -I '198.19.0.10' '198.19.2.10'",
    );
  });

  test('curl: headers and URL reach curl as single arguments, whatever they contain', () => {
    const cmd = curlCommand({
      url: "http://198.18.10.211/a b?x='1'",
      timeoutMs: 2500,
      headers: { Host: 'bookinfo.example', 'X-Q': "it's" },
    });
    expect(argv(cmd)).toEqual([
      '-sS',
      '-i',
      '--max-time',
      '2.500',
      '-w',
      '\\n__CLH_CURL__ %{http_code} %{time_total}\\n',
      '-H',
      'Host: bookinfo.example',
      '-H',
      "X-Q: it's",
      '--',
      "http://198.18.10.211/a b?x='1'",
    ]);
  });

  test('curl argv (exec in a pod, no shell): the whole deadline in seconds, the marker write-out, headers and URL as single arguments', () => {
    expect(curlArgv({ url: 'http://198.18.10.211/details/1', timeoutMs: 5_000, headers: { Host: 'r1.clh.test', 'X-Q': "it's" } })).toEqual([
      'curl',
      '-sS',
      '-i',
      '--max-time',
      '5.000',
      '-w',
      '\\n__CLH_CURL__ %{http_code} %{time_total}\\n',
      '-H',
      'Host: r1.clh.test',
      '-H',
      "X-Q: it's",
      '--',
      'http://198.18.10.211/details/1',
    ]);
    expect(curlArgv({ url: 'http://198.18.10.211/', timeoutMs: 2_500 })).toEqual([
      'curl',
      '-sS',
      '-i',
      '--max-time',
      '2.500',
      '-w',
      '\\n__CLH_CURL__ %{http_code} %{time_total}\\n',
      '--',
      'http://198.18.10.211/',
    ]);
  });

  test('curl over SSH is the same argv, quoted for the shell', () => {
    const o = { url: "http://198.18.10.211/a b?x='1'", timeoutMs: 2500, headers: { Host: 'bookinfo.example' } };
    expect(['curl', ...argv(curlCommand(o))]).toEqual(curlArgv(o));
  });

  test('tcpdump: line-buffered, immediate, bounded in time; -T vxlan only when asked', () => {
    expect(tcpdumpCommand({ iface: 'any', filter: 'udp port 8472', vxlan: true, maxSeconds: 60 })).toBe(
      "timeout -s INT 60 tcpdump -nn -l --immediate-mode -i 'any' -T vxlan 'udp port 8472'",
    );
    expect(tcpdumpCommand({ iface: 'eth1', filter: 'icmp', vxlan: false, maxSeconds: 600 })).not.toMatch(/-T/);
  });

  test('shellQuote survives quotes', () => {
    expect(argv(`x ${shellQuote('a\'b"c $HOME `x`')}`)).toEqual(['a\'b"c $HOME `x`']);
  });
});

describe('probe host and errors', () => {
  test('probes run from the router unless told otherwise', () => {
    const ssh = new SshPool(loadTopology());
    expect(probeHost(ssh, undefined)).toBe('router');
    expect(probeHost(ssh, 'k8s-w1')).toBe('k8s-w1');
    const noRouter = loadTopology();
    noRouter.nodes = noRouter.nodes.filter((n) => n.role !== 'router');
    expect(() => probeHost(new SshPool(noRouter), undefined)).toThrow(/has no router: name the host/);
  });

  test('SshError names host, command and cause', () => {
    const e = new SshError('k8s-w0', 'ip route add 198.19.2.0/24 via 198.18.20.100', 'exited with code 2: RTNETLINK answers: File exists');
    expect(e.message).toBe(
      'ssh k8s-w0: `ip route add 198.19.2.0/24 via 198.18.20.100`: exited with code 2: RTNETLINK answers: File exists',
    );
    expect(e).toMatchObject({ host: 'k8s-w0', command: 'ip route add 198.19.2.0/24 via 198.18.20.100' });
  });

  test('an unknown host name is refused at once, listing the known ones', () => {
    expect(() => new SshPool(loadTopology()).host('k8s-w9')).toThrow(/No node "k8s-w9".*router, k8s-ctr, k8s-w1, k8s-w0/);
  });
});
