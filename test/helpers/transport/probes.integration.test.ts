/**
 * helpers/probes from the netlab router (and nodes), against real arping, ping, tcpdump, curl and ip.
 * The scenarios are the ones the lab suites judge: who answers ARP for an LB IP, where pod traffic goes
 * with and without router routes, and what VXLAN looks like on the wire.
 */
import { describe, expect, test } from 'vitest';
import {
  HARNESS_ROUTE_PROTO,
  sweepHarnessRoutes,
  addRoutes,
  arpingFlavourOn,
  arpingFrom,
  captureOn,
  curlFrom,
  macOf,
  neighbourOf,
  pingFrom,
  routesOn,
  withCapture,
} from '../../../helpers/transport/probes.ts';
import { lbPoolAddresses, node, primaryAddress } from '../../../helpers/lab/topology.ts';
import { useNetlab } from '../../netlab/use.ts';
import { closeSuiteScope, openSuiteScope } from '../../../helpers/lab/suite-scope.ts';

const netlab = useNetlab();

describe('arping from the router: who answers for an address', () => {
  test('an LB IP stand-in on k8s-w1 answers with its MAC; moved to k8s-ctr, the MAC changes', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const lbIp = lbPoolAddresses(lab.topology)[0]!;
    const [w1Mac, ctrMac] = await Promise.all([macOf(ssh, 'k8s-w1', 'eth1'), macOf(ssh, 'k8s-ctr', 'eth1')]);
    expect(w1Mac).not.toBe(ctrMac);
    expect(await arpingFlavourOn(ssh, 'router')).toBe('habets');
    const w1 = ssh.host('k8s-w1');
    const ctr = ssh.host('k8s-ctr');
    try {
      await w1.run(`ip addr add ${lbIp}/32 dev eth1`, { sudo: true });
      const first = await arpingFrom(ssh, { iface: 'eth1', target: lbIp, count: 2, intervalSec: 0.2 });
      expect(first.result).toMatchObject({ flavour: 'habets', target: lbIp, sent: 2, received: 2, complete: true });
      expect(first.result.replies.map((r) => r.mac)).toEqual([w1Mac, w1Mac]);

      await w1.run(`ip addr del ${lbIp}/32 dev eth1`, { sudo: true });
      await ctr.run(`ip addr add ${lbIp}/32 dev eth1`, { sudo: true });
      const second = await arpingFrom(ssh, { iface: 'eth1', target: lbIp, count: 2, intervalSec: 0.2 });
      expect(second.result.replies.map((r) => r.mac)).toEqual([ctrMac, ctrMac]);

      await ctr.run(`ip addr del ${lbIp}/32 dev eth1`, { sudo: true });
      const nobody = await arpingFrom(ssh, { iface: 'eth1', target: lbIp, count: 1, intervalSec: 0.5 });
      expect(nobody.result).toMatchObject({ sent: 1, received: 0, replies: [] });
      expect(nobody.raw.code).toBe(1);
    } finally {
      await w1.exec(`ip addr del ${lbIp}/32 dev eth1`, { sudo: true });
      await ctr.exec(`ip addr del ${lbIp}/32 dev eth1`, { sudo: true });
    }
  });

  test("the router's neighbour table: the entry a ping made, and none for an unknown address", async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const w1 = primaryAddress(node(lab.topology, 'k8s-w1'));
    await pingFrom(ssh, { target: w1, count: 1 });
    expect(await neighbourOf(ssh, 'router', w1)).toEqual({
      ip: w1,
      mac: await macOf(ssh, 'k8s-w1', 'eth1'),
      state: expect.stringMatching(/REACHABLE|STALE|DELAY/),
    });
    expect(await neighbourOf(ssh, 'router', '198.18.10.77')).toBeNull();
  });
});

describe('pod traffic across the router', () => {
  test('no router route: the request arrives on eth1 and leaves by the default route (eth0); with the route it is answered; the undo removes it', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const pod = lab.pod('k8s-w0');
    const w0 = primaryAddress(node(lab.topology, 'k8s-w0'));
    const ctr = primaryAddress(node(lab.topology, 'k8s-ctr'));
    const ping = () => pingFrom(ssh, { from: 'k8s-ctr', target: pod.address, count: 2, timeoutSec: 1, intervalSec: 0.2 });
    const seen = (packets: { iface: string | null; direction: string | null; srcIp: string; dstIp: string; protocol: string }[]) =>
      packets.filter((p) => p.protocol === 'ICMP').map((p) => `${p.iface} ${p.direction} ${p.srcIp} > ${p.dstIp}`);

    expect((await routesOn(ssh, 'router')).routes.filter((r) => r.dst === pod.cidr)).toEqual([]);
    const lost = await withCapture(ssh, { filter: `icmp and host ${pod.address}` }, ping);
    expect(lost.value.result).toMatchObject({ transmitted: 2, received: 0 });
    expect([...new Set(seen(lost.packets))]).toEqual([`eth1 In ${ctr} > ${pod.address}`, `eth0 Out ${ctr} > ${pod.address}`]);

    const undo = await addRoutes(ssh, 'router', [{ dst: pod.cidr, via: w0 }]);
    let undone = false;
    try {
      const routed = (await routesOn(ssh, 'router')).routes.find((r) => r.dst === pod.cidr);
      expect(routed).toMatchObject({ via: w0, dev: 'eth2' });
      const ok = await withCapture(ssh, { filter: `icmp and host ${pod.address}` }, ping);
      expect(ok.value.result).toMatchObject({ transmitted: 2, received: 2, lossPercent: 0, unreachable: false });
      expect([...new Set(seen(ok.packets))]).toEqual([
        `eth1 In ${ctr} > ${pod.address}`,
        `eth2 Out ${ctr} > ${pod.address}`,
        `eth2 In ${pod.address} > ${ctr}`,
        `eth1 Out ${pod.address} > ${ctr}`,
      ]);
      await undo();
      undone = true;
    } finally {
      if (!undone) await undo();
    }
    expect((await routesOn(ssh, 'router')).routes.filter((r) => r.dst === pod.cidr)).toEqual([]);
    await undo(); // idempotent
    expect((await ping()).result.received).toBe(0);
  });

  test('addRoutes refuses a route that already exists and takes back what it had added', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const w0 = primaryAddress(node(lab.topology, 'k8s-w0'));
    const before = (await routesOn(ssh, 'router')).routes;
    const undoFirst = await addRoutes(ssh, 'router', [{ dst: '198.19.2.0/24', via: w0 }]);
    try {
      await expect(
        addRoutes(ssh, 'router', [
          { dst: '198.19.3.0/24', via: w0 },
          { dst: '198.19.2.0/24', via: w0 },
        ]),
      ).rejects.toThrow(
        /ssh router: `ip route add '198\.19\.2\.0\/24' via '198\.18\.20\.100' proto 173`: exited with code 2: RTNETLINK answers: File exists/,
      );
      const dsts = (await routesOn(ssh, 'router')).routes.map((r) => r.dst);
      expect(dsts).toContain('198.19.2.0/24');
      expect(dsts).not.toContain('198.19.3.0/24');
    } finally {
      await undoFirst();
    }
    expect((await routesOn(ssh, 'router')).routes).toEqual(before);
  });

  test("a test that fails after adding routes still removes them when the suite's stack runs (no undo variable, no afterAll)", async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const w0 = primaryAddress(node(lab.topology, 'k8s-w0'));
    const before = (await routesOn(ssh, 'router')).routes;
    const scope = openSuiteScope('routing');
    try {
      const failingTest = async (): Promise<void> => {
        await addRoutes(ssh, 'router', [{ dst: '198.19.4.0/24', via: w0 }]);
        throw new Error('the scenario failed');
      };
      await expect(failingTest()).rejects.toThrow('the scenario failed');
      const shown = await ssh.host('router').run(`ip -4 route show proto ${HARNESS_ROUTE_PROTO}`);
      expect(shown.trim()).toBe(`198.19.4.0/24 via ${w0} dev eth2`);
    } finally {
      await closeSuiteScope(scope);
    }
    expect((await routesOn(ssh, 'router')).routes).toEqual(before);
  });

  test("the reaper removes a killed run's routes (proto 173) and leaves every other route alone", async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const w0 = primaryAddress(node(lab.topology, 'k8s-w0'));
    const router = ssh.host('router');
    // A killed run: its routes were added with the harness's proto and never undone; a route of someone else beside them.
    await router.run(
      `ip route add 198.19.5.0/24 via ${w0} proto ${HARNESS_ROUTE_PROTO} && ip route add 198.19.6.0/24 via ${w0} proto ${HARNESS_ROUTE_PROTO}`,
      { sudo: true },
    );
    await router.run(`ip route add 198.19.7.0/24 via ${w0}`, { sudo: true });
    try {
      const swept = await sweepHarnessRoutes(ssh, ['router']);
      expect(swept).toEqual([{ host: 'router', routes: [`198.19.5.0/24 via ${w0} dev eth2`, `198.19.6.0/24 via ${w0} dev eth2`] }]);
      const dsts = (await routesOn(ssh, 'router')).routes.map((r) => r.dst);
      expect(dsts).not.toContain('198.19.5.0/24');
      expect(dsts).not.toContain('198.19.6.0/24');
      expect(dsts).toContain('198.19.7.0/24');
      expect(await sweepHarnessRoutes(ssh, ['router'])).toEqual([]);
    } finally {
      await router.run('ip route del 198.19.7.0/24', { sudo: true });
    }
  });

  test('VXLAN between k8s-ctr and k8s-w0 carries pod traffic with no router routes: the router sees only UDP 8472 between node addresses', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const ctrPod = lab.pod('k8s-ctr');
    const w0Pod = lab.pod('k8s-w0');
    const ctr = primaryAddress(node(lab.topology, 'k8s-ctr'));
    const w0 = primaryAddress(node(lab.topology, 'k8s-w0'));
    const podPing = () =>
      pingFrom(ssh, { from: 'k8s-ctr', source: ctrPod.address, target: w0Pod.address, count: 2, timeoutSec: 1, intervalSec: 0.2 });
    const vxlan = (local: string, remote: string, peerPods: string, src: string) =>
      `ip link add tnvx0 type vxlan id 42 local ${local} remote ${remote} dstport 8472 dev eth1 && ip link set tnvx0 up && ip route add ${peerPods} dev tnvx0 src ${src}`;

    expect((await podPing()).result.received).toBe(0); // pod to pod without a tunnel: lost at the router
    try {
      await ssh.host('k8s-ctr').run(vxlan(ctr, w0, w0Pod.cidr, ctrPod.address), { sudo: true });
      await ssh.host('k8s-w0').run(vxlan(w0, ctr, ctrPod.cidr, w0Pod.address), { sudo: true });
      const { value, packets } = await withCapture(ssh, { filter: 'udp port 8472', vxlan: true }, podPing);
      expect(value.result).toMatchObject({ transmitted: 2, received: 2 });
      expect(packets.length).toBeGreaterThan(0);
      for (const p of packets) {
        expect(p.protocol).toBe('VXLAN');
        expect([`${p.srcIp} > ${p.dstIp}:${p.dstPort}`]).toEqual([
          expect.stringMatching(new RegExp(`^(${ctr} > ${w0}|${w0} > ${ctr}):8472$`)),
        ]);
      }
      const inner = packets
        .filter((p) => p.inner?.protocol === 'ICMP')
        .map((p) => `${p.iface} ${p.direction} ${p.srcIp} > ${p.dstIp} [${p.inner!.srcIp} > ${p.inner!.dstIp}]`);
      expect(inner).toContain(`eth1 In ${ctr} > ${w0} [${ctrPod.address} > ${w0Pod.address}]`);
      expect(inner).toContain(`eth2 In ${w0} > ${ctr} [${w0Pod.address} > ${ctrPod.address}]`);
      expect((await routesOn(ssh, 'router')).routes.filter((r) => r.dst.startsWith('198.19.'))).toEqual([]);
    } finally {
      await ssh.host('k8s-ctr').exec('ip link del tnvx0', { sudo: true });
      await ssh.host('k8s-w0').exec('ip link del tnvx0', { sudo: true });
    }
  });
});

describe('curl and captures', () => {
  test("curl from the router: status, lower-case headers, body and time; a refused connection is no answer with curl's reason", async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const w0 = primaryAddress(node(lab.topology, 'k8s-w0'));
    const server = await ssh
      .host('k8s-w0')
      .background(
        `${process.execPath} -e "require('http').createServer((q, s) => { s.setHeader('X-Served-By', require('os').hostname()); s.statusCode = q.url === '/missing' ? 404 : 200; s.end('hello ' + q.headers['x-probe']) }).listen(8080, () => console.log('ready'))"`,
      );
    try {
      await server.waitFor(/ready/, 10_000);
      const ok = await curlFrom(ssh, { url: `http://${w0}:8080/`, headers: { 'X-Probe': 'from router' } });
      expect(ok).toMatchObject({ ok: true, status: 200, body: 'hello from router', error: null });
      expect(ok.headers['x-served-by']).toBe('k8s-w0');
      expect(ok.timeMs).toBeGreaterThan(0);
      expect((await curlFrom(ssh, { url: `http://${w0}:8080/missing` })).status).toBe(404);
    } finally {
      await server.stop();
    }
    const refused = await curlFrom(ssh, { url: `http://${w0}:8080/`, timeoutMs: 3_000 });
    expect(refused).toMatchObject({ ok: false, status: null, body: '' });
    expect(refused.error).toMatch(/Failed to connect|Couldn't connect/);
  });

  test('a capture is stopped even when the act throws, and a bad filter fails instead of hanging', async (ctx) => {
    const { ssh } = netlab.need(ctx);
    await expect(withCapture(ssh, { filter: 'icmp' }, () => Promise.reject(new Error('the act failed')))).rejects.toThrow('the act failed');
    await expect(captureOn(ssh, { filter: 'no such filter ((' })).rejects.toThrow(/tcpdump.*ended before output matching .*syntax error/s);
    await expect.poll(async () => (await ssh.host('router').exec('pgrep -x tcpdump')).stdout, { timeout: 5_000 }).toBe('');
  });
});
