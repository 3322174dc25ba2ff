/**
 * The twin's network side, for real (root, network namespaces): one shared twin network for the whole file.
 * What the harness will do against the twin is done here the same way (SSH with helpers/ssh, the parsers and
 * judges of helpers/), so a green file means the harness reads the twin as it reads the lab's seeds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { judgeEncapsulated, judgeLinkUp, judgeNextHop, judgeOverlayOnNode, judgeTunnelRoutes } from '../../../helpers/judge/routing.ts';
import { parseArping } from '../../../helpers/parse/arping.ts';
import { parseIpLink } from '../../../helpers/parse/iplink.ts';
import { parseIpRoute } from '../../../helpers/parse/iproute.ts';
import { parseTcpdump, type TcpdumpPacket } from '../../../helpers/parse/tcpdump.ts';
import { parseWhoami } from '../../../helpers/parse/whoami.ts';
import { SshPool } from '../../../helpers/transport/ssh.ts';
import { loadTopology } from '../../../helpers/lab/topology.ts';
import type { NodeState, StandInCall } from '../contract.ts';
import { startTwinNetwork, twinNetworkUnavailable, type StartedTwinNetwork } from './twin-network.ts';

const unavailable = twinNetworkUnavailable();
const LB_IP = '198.18.10.211';
const INGRESS_IP = '198.18.10.212';
const REBOOT_MS = 1_500;

let twin: StartedTwinNetwork | undefined;
let ssh: SshPool | undefined;
const calls: StandInCall[] = [];
const states: [string, NodeState][] = [];

beforeAll(async () => {
  if (unavailable) return;
  twin = await startTwinNetwork({ apiEndpoint: { host: '127.0.0.1', port: 16443 }, prefix: 'twt' });
  twin.standIns(async (call) => {
    calls.push(call);
    const name = call.argv[0];
    if ((name === 'systemctl' && call.argv[1] === 'reboot') || name === 'reboot') {
      // As the API side will: the node goes away (this very call's SSH session with it).
      await twin!.reboot(call.host, { downMs: REBOOT_MS });
      return { stdout: '', stderr: '', code: 0 };
    }
    return {
      stdout: `${name} on ${call.host}: ${call.argv.slice(1).join(' ')}\n`,
      stderr: call.stdin ? `stdin: ${call.stdin}` : '',
      code: name === 'helm' ? 0 : 3,
    };
  });
  twin.onNodeState((node, state) => states.push([node, state]));
  ssh = new SshPool(twin.topology);
  await twin.addPod({ namespace: 'default', name: 'curl-pod', node: 'k8s-ctr' });
  await twin.addPod({ namespace: 'default', name: 'webpod-w1', node: 'k8s-w1', serve: { kind: 'whoami', port: 80 } });
  await twin.addPod({ namespace: 'default', name: 'webpod-w0', node: 'k8s-w0', serve: { kind: 'whoami', port: 80, name: 'far' } });
}, 120_000);

afterAll(async () => {
  await ssh?.close();
  if (!twin) return;
  const prefix = `twt-${twin.netlab.tag}-`;
  const pids = twin.pids();
  await twin.teardown();
  const left = (await execa('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(prefix));
  expect(left).toEqual([]);
  expect(pids.filter(alive)).toEqual([]);
});

function need(ctx: TestContext): { net: StartedTwinNetwork; ssh: SshPool } {
  if (unavailable) ctx.skip(unavailable);
  if (!twin || !ssh) throw new Error('the twin network was not built (see the beforeAll error)');
  return { net: twin, ssh };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs in a pod, collecting output. */
async function inPod(net: StartedTwinNetwork, pod: string, argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await net.execInPod('default', pod, argv, {
    stdout: (c) => (out += c.toString()),
    stderr: (c) => (out += c.toString()),
    signal: new AbortController().signal,
  });
  return { code, out };
}

/** tcpdump in a host's namespace while `action` runs. */
async function capture<T>(
  net: StartedTwinNetwork,
  host: string,
  args: string[],
  action: () => Promise<T>,
): Promise<{ packets: TcpdumpPacket[]; text: string; value: T }> {
  const p: ChildProcess = spawn('ip', ['netns', 'exec', net.netlab.ns(host), 'tcpdump', '-nn', '-l', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  p.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 3_000);
    p.stderr!.on('data', (c: Buffer) => {
      if (/listening on/.test(c.toString())) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  try {
    const value = await action();
    await new Promise((r) => setTimeout(r, 300));
    return { packets: parseTcpdump(text), text, value };
  } finally {
    const exited = new Promise((r) => p.once('exit', r));
    process.kill(p.pid!, 'SIGINT');
    await exited;
  }
}

const arpingFromRouter = async (net: StartedTwinNetwork, ip: string, count = 2): Promise<ReturnType<typeof parseArping>> =>
  parseArping(
    (
      await execa(
        'ip',
        [
          'netns',
          'exec',
          net.netlab.ns('router'),
          'arping',
          '-c',
          String(count),
          '-W',
          '0.2',
          '-w',
          String(count * 0.2 + 0.3),
          '-i',
          'eth1',
          ip,
        ],
        { reject: false, timeout: 15_000 },
      )
    ).stdout,
  );

const curlFromRouter = (net: StartedTwinNetwork, url: string): Promise<{ stdout: string; exitCode?: number }> =>
  execa('ip', ['netns', 'exec', net.netlab.ns('router'), 'curl', '-sS', '-i', '--max-time', '3', url], {
    reject: false,
    timeout: 15_000,
  }).then((r) => ({ stdout: String(r.stdout), exitCode: r.exitCode }));

describe('twin network', () => {
  test('hosts: a loadable topology file, SSH as vagrant with sudo, only 198.18.0.0/15 and loopback', async (ctx) => {
    const { net, ssh } = need(ctx);
    const t = loadTopology(net.topologyFile);
    expect(t.provider).toBe('existing');
    expect(t.apiEndpoint).toEqual({ host: '127.0.0.1', port: 16443 });
    expect(t.nodes.map((n) => n.name)).toEqual(['router', 'k8s-ctr', 'k8s-w1', 'k8s-w0']);
    expect(t.subnets).toHaveLength(2);
    expect(t.nodes.find((n) => n.role === 'router')!.interfaces.map((i) => i.name)).toEqual(['eth1', 'eth2', 'loop1', 'loop2']);
    expect(net.nodes).toEqual(['k8s-ctr', 'k8s-w1', 'k8s-w0']);
    const who = await ssh.host('k8s-w1').run('hostname; id -un; sudo -n id -u', { timeoutMs: 20_000 });
    expect(who.trim().split('\n')).toEqual(['k8s-w1', 'vagrant', '0']);
    await net.checkContained();
    // The router's default route goes to the sink (lab: the NAT), and no route leaves the twin.
    const routes = parseIpRoute(await ssh.host('router').run('ip route', { timeoutMs: 20_000 }));
    expect(routes.find((r) => r.dst === 'default')?.via).toBe('198.18.0.2');
  });

  test('host files: each host its own /etc/kubernetes and /etc/cilium-lab, read over SSH with sudo; the machine untouched', async (ctx) => {
    const { net, ssh } = need(ctx);
    await net.writeHostFile('k8s-ctr', '/etc/kubernetes/admin.conf', 'apiVersion: v1\nkind: Config\n');
    for (const h of ['router', ...net.nodes]) await net.writeHostFile(h, '/etc/cilium-lab/versions.env', `HOST=${h}\n`);
    expect(await ssh.host('k8s-ctr').run('cat /etc/kubernetes/admin.conf', { sudo: true, timeoutMs: 20_000 })).toBe(
      'apiVersion: v1\nkind: Config\n',
    );
    // Only root reads admin.conf, as kubeadm leaves it.
    expect((await ssh.host('k8s-ctr').exec('cat /etc/kubernetes/admin.conf', { timeoutMs: 20_000 })).code).not.toBe(0);
    expect((await ssh.host('k8s-w1').exec('cat /etc/kubernetes/admin.conf', { sudo: true, timeoutMs: 20_000 })).code).not.toBe(0);
    for (const h of ['router', ...net.nodes])
      expect(await ssh.host(h).run('cat /etc/cilium-lab/versions.env', { timeoutMs: 20_000 })).toBe(`HOST=${h}\n`);
    expect(existsSync('/etc/kubernetes')).toBe(false);
    expect(existsSync('/etc/cilium-lab')).toBe(false);
    await expect(net.writeHostFile('k8s-ctr', '/etc/passwd', 'x')).rejects.toThrow(/host files live under/);
    await expect(net.writeHostFile('k8s-ctr', '/etc/kubernetes/../passwd', 'x')).rejects.toThrow(/host files live under/);
  });

  test('stand-ins: helm, kubectl, systemctl on a twin host reach the handler with host, argv and stdin, never the machine', async (ctx) => {
    const { net, ssh } = need(ctx);
    const helm = await ssh
      .host('k8s-ctr')
      .exec("helm upgrade cilium cilium/cilium --set 'a=b c' -f -", { sudo: true, stdin: 'x: 1\n', timeoutMs: 20_000 });
    expect(helm).toMatchObject({
      code: 0,
      stdout: 'helm on k8s-ctr: upgrade cilium cilium/cilium --set a=b c -f -\n',
      stderr: 'stdin: x: 1\n',
    });
    expect(calls.at(-1)).toEqual({
      host: 'k8s-ctr',
      argv: ['helm', 'upgrade', 'cilium', 'cilium/cilium', '--set', 'a=b c', '-f', '-'],
      stdin: 'x: 1\n',
    });
    const kubectl = await ssh.host('k8s-w0').exec('kubectl get nodes', { timeoutMs: 20_000 });
    expect(kubectl).toMatchObject({ code: 3, stdout: 'kubectl on k8s-w0: get nodes\n' });
    const status = await ssh.host('router').exec('systemctl status sshd', { sudo: true, timeoutMs: 20_000 });
    expect(status.code).toBe(3);
    expect(net.standInCalls.at(-1)).toEqual({ host: 'router', argv: ['systemctl', 'status', 'sshd'], stdin: '' });
  });

  test('`sudo systemctl reboot` and `sudo reboot` over SSH reboot only the twin node: new boot id there, the machine unchanged', async (ctx) => {
    const { ssh } = need(ctx);
    const machineBoot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8');
    for (const [host, command] of [
      ['k8s-w1', 'systemctl reboot'],
      ['k8s-w0', 'reboot'],
    ] as const) {
      const before = await ssh.host(host).run('cat /proc/sys/kernel/random/boot_id', { timeoutMs: 20_000 });
      expect(before).not.toBe(machineBoot);
      states.length = 0;
      // The session dies with the node, as with a real reboot: a lost connection or a signal, not an answer.
      await ssh
        .host(host)
        .exec(command, { sudo: true, timeoutMs: 20_000 })
        .catch(() => undefined);
      expect(calls.at(-1)).toMatchObject({ host, argv: command.split(' ') });
      await expect.poll(() => states.map((s) => s.join(':')), { timeout: 15_000, interval: 200 }).toEqual([`${host}:down`, `${host}:up`]);
      const after = await ssh.host(host).run('cat /proc/sys/kernel/random/boot_id', { timeoutMs: 30_000 });
      expect(after).not.toBe(before);
      expect(after).toMatch(/^[0-9a-f-]{36}\n$/);
    }
    expect(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')).toBe(machineBoot);
  });

  test('native routing with autoDirectNodeRoutes: same-segment pods reach each other; the other subnet is misrouted out the router’s eth0', async (ctx) => {
    const { net, ssh } = need(ctx);
    await net.setRouting({ mode: 'native', autoDirectNodeRoutes: true });
    const routes = parseIpRoute(await ssh.host('k8s-ctr').run('ip route', { timeoutMs: 20_000 }));
    expect(routes).toContainEqual(expect.objectContaining({ dst: net.podCidr('k8s-w1'), via: net.nodeAddress('k8s-w1'), dev: 'eth1' }));
    expect(routes.find((r) => r.dst === net.podCidr('k8s-w0'))).toBeUndefined();
    const w1 = await net.addPod({ namespace: 'default', name: 'webpod-w1', node: 'k8s-w1', serve: { kind: 'whoami', port: 80 } });
    const near = await inPod(net, 'curl-pod', ['curl', '-sS', '--max-time', '3', `http://${w1.ip}/`]);
    expect(near.code).toBe(0);
    const who = parseWhoami(near.out);
    expect(who).toMatchObject({ hostname: 'webpod-w1', method: 'GET', path: '/' });
    expect(who!.ips).toContain(w1.ip);
    expect(who!.remoteAddr).toMatch(/^198\.19\.0\.\d+:\d+$/);
    const w0 = await net.addPod({
      namespace: 'default',
      name: 'webpod-w0',
      node: 'k8s-w0',
      serve: { kind: 'whoami', port: 80, name: 'far' },
    });
    const far = await capture(net, 'router', ['-i', 'any', 'icmp'], () => inPod(net, 'curl-pod', ['ping', '-c', '1', '-W', '1', w0.ip]));
    expect(far.value.code).not.toBe(0);
    expect(far.packets.some((p) => p.iface === 'eth0' && p.direction === 'Out' && p.dstIp === w0.ip)).toBe(true);
    expect(far.packets.some((p) => p.iface === 'eth2' && p.dstIp === w0.ip)).toBe(false);
    expect(judgeNextHop(routes, w0.ip, { via: '198.18.10.200' })).toMatchObject({ ok: true });
    // Seed 002's workaround: static pod routes on the router make the other subnet reachable, through eth2.
    const workaround = net.nodes.map((n) => `${net.podCidr(n)} via ${net.nodeAddress(n)}`);
    for (const r of workaround) await ssh.host('router').run(`ip route add ${r}`, { sudo: true, timeoutMs: 20_000 });
    try {
      const across = await capture(net, 'router', ['-i', 'any', 'icmp'], () =>
        inPod(net, 'curl-pod', ['ping', '-c', '1', '-W', '2', w0.ip]),
      );
      expect(across.value.code).toBe(0);
      expect(across.packets.some((p) => p.iface === 'eth2' && p.direction === 'Out' && p.dstIp === w0.ip)).toBe(true);
      expect(parseWhoami((await inPod(net, 'curl-pod', ['curl', '-sS', '--max-time', '3', `http://${w0.ip}/`])).out)).toMatchObject({
        hostname: 'webpod-w0',
      });
    } finally {
      for (const r of workaround) await ssh.host('router').run(`ip route del ${r}`, { sudo: true, timeoutMs: 20_000 });
    }
  });

  test('tunnel mode: cilium_vxlan and the seeds’ routes on every node; pods across the router; the router sees only UDP 8472 between nodes', async (ctx) => {
    const { net, ssh } = need(ctx);
    await net.setRouting({ mode: 'tunnel', autoDirectNodeRoutes: false });
    await net.setRouting({ mode: 'tunnel', autoDirectNodeRoutes: false }); // idempotent
    for (const n of net.nodes) {
      const link = await ssh.host(n).exec('ip -d link show cilium_vxlan', { timeoutMs: 20_000 });
      expect(judgeLinkUp(parseIpLink(link.stdout), 'cilium_vxlan')).toMatchObject({ ok: true });
      expect(link.stdout).toMatch(/vxlan id 2 .*dstport 8472/);
      const routes = parseIpRoute(await ssh.host(n).run('ip route', { timeoutMs: 20_000 }));
      const others = net.nodes.filter((o) => o !== n).map((o) => net.podCidr(o));
      const verdict = judgeTunnelRoutes(routes, { ownPodCidrs: [net.podCidr(n)], otherPodCidrs: others });
      expect(verdict.explanation).toContain('every other node');
      expect(routes).toContainEqual({
        dst: net.ciliumHostIp(n),
        via: null,
        dev: 'cilium_host',
        src: null,
        proto: 'kernel',
        mtu: null,
        metric: null,
        scope: 'link',
      });
    }
    const w0 = await net.addPod({
      namespace: 'default',
      name: 'webpod-w0',
      node: 'k8s-w0',
      serve: { kind: 'whoami', port: 80, name: 'far' },
    });
    const seen = await capture(net, 'router', ['-i', 'any', `udp port 8472 or net 198.19.0.0/17`], () =>
      inPod(net, 'curl-pod', ['ping', '-c', '2', '-i', '0.2', '-W', '2', w0.ip]),
    );
    expect(seen.value.code).toBe(0);
    const verdict = judgeEncapsulated(seen.packets, {
      fromNode: net.nodeAddress('k8s-ctr'),
      toNode: net.nodeAddress('k8s-w0'),
      nodeAddresses: net.nodes.map((n) => net.nodeAddress(n)),
      podCidr: '198.19.0.0/17',
    });
    expect(verdict.explanation).toMatch(/^encapsulated/);
    // On the target node the ping comes in and goes out through cilium_vxlan (seed 002 lines 242-247).
    const curlIp = (await net.addPod({ namespace: 'default', name: 'curl-pod', node: 'k8s-ctr' })).ip;
    const onNode = await capture(net, 'k8s-w0', ['-i', 'any', 'icmp'], () => inPod(net, 'curl-pod', ['ping', '-c', '1', '-W', '2', w0.ip]));
    expect(judgeOverlayOnNode(onNode.packets, { client: curlIp, target: w0.ip }).explanation).toMatch(/^through cilium_vxlan/);
    const http = await inPod(net, 'curl-pod', ['curl', '-sS', '--max-time', '3', `http://${w0.ip}/`]);
    expect(parseWhoami(http.out)).toMatchObject({ name: 'far', hostname: 'webpod-w0' });
    // The router has no pod route in either mode.
    expect(
      parseIpRoute(await ssh.host('router').run('ip route', { timeoutMs: 20_000 })).filter((r) => r.dst.startsWith('198.19.')),
    ).toEqual([]);
  });

  test('L2 announcement: only the holder answers ARP with its own MAC, a gratuitous ARP when it moves, ip:port reaches the backends', async (ctx) => {
    const { net } = need(ctx);
    await net.setRouting({ mode: 'tunnel', autoDirectNodeRoutes: false });
    const backends = [
      { ip: (await net.addPod({ namespace: 'default', name: 'webpod-w1', node: 'k8s-w1' })).ip, port: 80 },
      { ip: (await net.addPod({ namespace: 'default', name: 'webpod-w0', node: 'k8s-w0' })).ip, port: 80 },
    ];
    const frontends = [{ port: 80, protocol: 'TCP' as const, backends }];
    expect((await arpingFromRouter(net, LB_IP, 1)).received).toBe(0);
    await net.announce(LB_IP, 'k8s-w1', { iface: 'eth1', frontends });
    const arp = await arpingFromRouter(net, LB_IP);
    expect(arp.received).toBe(2);
    expect(new Set(arp.replies.map((r) => r.mac))).toEqual(new Set([await net.mac('k8s-w1', 'eth1')]));
    const hosts = new Set<string>();
    for (let i = 0; i < 12 && hosts.size < 2; i++) {
      const r = await curlFromRouter(net, `http://${LB_IP}/`);
      const who = parseWhoami(r.stdout.split('\r\n\r\n').slice(1).join('\r\n\r\n'));
      if (who) hosts.add(who.hostname);
    }
    expect(hosts).toEqual(new Set(['webpod-w1', 'webpod-w0']));
    // From the holder itself and from a pod elsewhere, too.
    expect(
      (
        await execa('ip', ['netns', 'exec', net.netlab.ns('k8s-w1'), 'curl', '-sS', '--max-time', '3', `http://${LB_IP}/`], {
          reject: false,
        })
      ).stdout,
    ).toMatch(/Hostname: webpod-w[01]/);
    expect((await inPod(net, 'curl-pod', ['curl', '-sS', '--max-time', '3', `http://${LB_IP}/`])).out).toMatch(/Hostname: webpod-w[01]/);

    const moved = await capture(net, 'router', ['-i', 'eth1', 'arp'], () => net.announce(LB_IP, 'k8s-ctr', { iface: 'eth1', frontends }));
    const ctrMac = await net.mac('k8s-ctr', 'eth1');
    expect(moved.packets.some((p) => p.arp?.op === 'reply' && p.srcIp === LB_IP && p.arp.mac === ctrMac)).toBe(true);
    const after = await arpingFromRouter(net, LB_IP);
    expect(new Set(after.replies.map((r) => r.mac))).toEqual(new Set([ctrMac]));
    expect((await curlFromRouter(net, `http://${LB_IP}/`)).stdout).toMatch(/Hostname: webpod-w[01]/);
    await net.announce(LB_IP, null, { iface: 'eth1', frontends });
    expect((await arpingFromRouter(net, LB_IP, 1)).received).toBe(0);
  });

  test('ingress: the Envoy stand-in on the holder routes by host and path, 404 with server: envoy where nothing matches', async (ctx) => {
    const { net } = need(ctx);
    await net.setRouting({ mode: 'tunnel', autoDirectNodeRoutes: false });
    const w1 = await net.addPod({ namespace: 'default', name: 'webpod-w1', node: 'k8s-w1' });
    const w0 = await net.addPod({ namespace: 'default', name: 'webpod-w0', node: 'k8s-w0' });
    await net.setIngress(INGRESS_IP, [
      { path: '/details', pathType: 'Prefix', backend: { ip: w1.ip, port: 80 } },
      { host: 'far.example', path: '/', pathType: 'Prefix', backend: { ip: w0.ip, port: 80 } },
    ]);
    await net.announce(INGRESS_IP, 'k8s-w1', {
      iface: 'eth1',
      frontends: [{ port: 80, protocol: 'TCP', backends: [{ ip: '192.192.192.192', port: 9999 }] }],
    });
    const details = await curlFromRouter(net, `http://${INGRESS_IP}/details/1`);
    expect(details.stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(details.stdout).toMatch(/\r\nserver: envoy\r\n/i);
    expect(details.stdout).toMatch(/x-envoy-upstream-service-time: \d+/);
    expect(details.stdout).toContain('Hostname: webpod-w1');
    expect(details.stdout).toContain('GET /details/1 HTTP/1.1');
    const miss = await curlFromRouter(net, `http://${INGRESS_IP}/detailsX`);
    expect(miss.stdout).toMatch(/^HTTP\/1\.1 404/);
    expect(miss.stdout).toMatch(/\r\nserver: envoy\r\n/i);
    expect(miss.stdout).toMatch(/\r\ncontent-length: 0\r\n/i);
    expect(miss.stdout).not.toMatch(/x-envoy-upstream-service-time/i);
    const far = await execa(
      'ip',
      [
        'netns',
        'exec',
        net.netlab.ns('router'),
        'curl',
        '-sS',
        '--max-time',
        '3',
        '-H',
        'Host: far.example',
        `http://${INGRESS_IP}/anything`,
      ],
      { reject: false },
    );
    expect(far.stdout).toContain('Name: far');
    // The holder moves (to a node on the LB IP's segment: k8s-w0 on lan2 could answer no ARP on lan1): Envoy moves with it.
    await net.announce(INGRESS_IP, 'k8s-ctr', { iface: 'eth1', frontends: [] });
    // The router may keep the old MAC for a moment (a gratuitous ARP inside the neighbour locktime is ignored).
    await expect
      .poll(async () => (await curlFromRouter(net, `http://${INGRESS_IP}/details/2`)).stdout, { timeout: 15_000, interval: 500 })
      .toContain('Hostname: webpod-w1');
  });

  test('reboot(): the node goes away (SSH, ARP, its announced IP, its pods) and comes back with a new boot id', async (ctx) => {
    const { net, ssh } = need(ctx);
    await net.setRouting({ mode: 'tunnel', autoDirectNodeRoutes: false });
    const w1 = await net.addPod({ namespace: 'default', name: 'webpod-w1', node: 'k8s-w1' });
    await net.announce(LB_IP, 'k8s-w1', { iface: 'eth1', frontends: [{ port: 80, protocol: 'TCP', backends: [{ ip: w1.ip, port: 80 }] }] });
    expect((await arpingFromRouter(net, LB_IP, 1)).received).toBe(1);
    const before = await ssh.host('k8s-w1').run('cat /proc/sys/kernel/random/boot_id', { timeoutMs: 20_000 });
    states.length = 0;
    await net.reboot('k8s-w1', { downMs: 4_000 });
    expect(states).toEqual([['k8s-w1', 'down']]);
    // Named holder while down (its lease has not moved yet): silent now, answering once it is back.
    await net.announce('198.18.10.213', 'k8s-w1', { iface: 'eth1', frontends: [] });
    expect((await arpingFromRouter(net, '198.18.10.213', 1)).received).toBe(0);
    await expect(ssh.host('k8s-w1').run('true', { timeoutMs: 1_000 })).rejects.toThrow();
    expect((await arpingFromRouter(net, LB_IP, 1)).received).toBe(0);
    expect((await arpingFromRouter(net, net.nodeAddress('k8s-w1'), 1)).received).toBe(0);
    expect((await inPod(net, 'curl-pod', ['ping', '-c', '1', '-W', '1', w1.ip])).code).not.toBe(0);
    // A holder can be anyone at any time: the API side moves the lease to k8s-ctr.
    await net.announce(LB_IP, 'k8s-ctr', {
      iface: 'eth1',
      frontends: [{ port: 80, protocol: 'TCP', backends: [{ ip: w1.ip, port: 80 }] }],
    });
    expect(new Set((await arpingFromRouter(net, LB_IP, 1)).replies.map((r) => r.mac))).toEqual(new Set([await net.mac('k8s-ctr', 'eth1')]));
    await expect.poll(() => states.length, { timeout: 15_000, interval: 200 }).toBe(2);
    expect(new Set((await arpingFromRouter(net, '198.18.10.213', 1)).replies.map((r) => r.mac))).toEqual(
      new Set([await net.mac('k8s-w1', 'eth1')]),
    );
    expect(states[1]).toEqual(['k8s-w1', 'up']);
    expect(await ssh.host('k8s-w1').run('cat /proc/sys/kernel/random/boot_id', { timeoutMs: 30_000 })).not.toBe(before);
    expect((await inPod(net, 'curl-pod', ['curl', '-sS', '--max-time', '3', `http://${w1.ip}/`])).out).toContain('Hostname: webpod-w1');
    expect((await curlFromRouter(net, `http://${LB_IP}/`)).stdout).toContain('Hostname: webpod-w1');
  });

  test('execInPod streams output and ends the process by PID on abort; pods come and go', async (ctx) => {
    const { net } = need(ctx);
    const ac = new AbortController();
    let out = '';
    const started = Date.now();
    const done = net.execInPod('default', 'curl-pod', ['sh', '-c', 'echo started; exec sleep 30'], {
      stdout: (c) => (out += c.toString()),
      stderr: () => undefined,
      signal: ac.signal,
    });
    await expect.poll(() => out, { timeout: 5_000, interval: 50 }).toBe('started\n');
    ac.abort();
    expect(await done).toBe(128 + 15);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The machine's programs are refused inside a pod.
    const reboot = await inPod(net, 'curl-pod', ['reboot']);
    expect(reboot).toEqual({ code: 127, out: 'reboot: not available in a lab twin pod\n' });
    const tmp = await net.addPod({ namespace: 'default', name: 'tmp', node: 'k8s-w0', serve: { kind: 'tcp', port: 9000 } });
    expect(tmp.ip.startsWith('198.19.2.')).toBe(true);
    expect((await inPod(net, 'curl-pod', ['bash', '-c', `exec 3<>/dev/tcp/${tmp.ip}/9000 && echo open`])).code).toBe(0);
    const ns = net.podNs('default', 'tmp');
    await net.removePod('default', 'tmp');
    expect((await execa('ip', ['netns', 'list'])).stdout).not.toContain(ns);
  });
});
