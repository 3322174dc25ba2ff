/**
 * The L2 judges and the router's probe loop on netlab data (test/netlab: router + nodes in network namespaces
 * with real sshd, arping, curl; addresses from 198.18.0.0/15 only; prefix "tl2", torn down after the file).
 * An LB-IP stand-in moves from k8s-w1 to k8s-ctr, which announces it with one gratuitous ARP reply — what a new
 * Cilium lease holder does (cilium-behaviour.md 2.4). Checked with the suites' own code: arping + judgeArpAnswer,
 * the router's neighbour entry + judgeNeighbour, the background probe loop over SSH + measureOutage.
 */
import { describe, expect, test } from 'vitest';
import { clockOffset, formatFailoverTimeline, measureOutage, steadyAgain, summarizeProbes } from '../../../helpers/judge/failover.ts';
import { judgeArpAnswer, judgeNeighbour, routerOnLbSubnet, whoAnswersArp } from '../../../helpers/judge/l2.ts';
import { routerClock, startRouterProbes, type RouterProbes } from '../../../suites/steps/l2-lab.ts';
import { arpingFrom, macOf, neighbourOf } from '../../../helpers/transport/probes.ts';
import { pollUntil } from '../../../helpers/wait/retry.ts';
import { lbPoolAddresses } from '../../../helpers/lab/topology.ts';
import { useNetlab } from '../../netlab/use.ts';

const netlab = useNetlab({}, { prefix: 'tl2' });

describe('an LB IP moves between nodes: who answers ARP, what the router sees', () => {
  test(
    'held by k8s-w1, then by k8s-ctr after a gratuitous ARP: the judges follow, the probe loop measures the gap',
    { timeout: 60_000 },
    async (ctx) => {
      const { lab, ssh } = netlab.need(ctx);
      const t = lab.topology;
      const ip = lbPoolAddresses(t)[0]!;
      const { iface } = routerOnLbSubnet(t);
      const nodeMacs = { 'k8s-w1': await macOf(ssh, 'k8s-w1', 'eth1'), 'k8s-ctr': await macOf(ssh, 'k8s-ctr', 'eth1') };
      const servers = await Promise.all(
        ['k8s-w1', 'k8s-ctr'].map((n) =>
          ssh
            .host(n)
            .background(
              `${process.execPath} -e "require('http').createServer((q, s) => s.end(require('os').hostname())).listen(8080, () => console.log('ready'))"`,
            ),
        ),
      );
      let probes: RouterProbes | undefined;
      try {
        await Promise.all(servers.map((s) => s.waitFor(/ready/, 10_000)));
        await ssh.host('k8s-w1').run(`ip addr add ${ip}/32 dev eth1`, { sudo: true });

        const before = await arpingFrom(ssh, { iface, target: ip, count: 2, intervalSec: 0.2 });
        expect(judgeArpAnswer({ ip, arping: before.result, holder: 'k8s-w1', nodeMacs })).toMatchObject({ ok: true });
        expect(judgeArpAnswer({ ip, arping: before.result, holder: 'k8s-ctr', nodeMacs }).ok).toBe(false);

        const offset = clockOffset(await routerClock({ ssh, topology: t }));
        expect(Math.abs(offset.offsetMs)).toBeLessThan(1_000); // one machine, one clock
        // One request first, so the router has resolved the address before the loop starts; probes get 1 s each, since
        // on a loaded two-core CI machine a 300 ms curl timed out once before the move (the loop measured the machine).
        await ssh.host('router').run(`curl -s -m 5 -o /dev/null http://${ip}:8080/`, { timeoutMs: 10_000 });
        probes = await startRouterProbes(
          { ssh, topology: t },
          { url: `http://${ip}:8080/`, intervalMs: 200, timeoutMs: 1_000, maxProbes: 150, maxDurationMs: 30_000 },
        );
        const pr = probes;
        const steady = (from: number, what: string) =>
          pollUntil(
            what,
            () =>
              Promise.resolve(
                steadyAgain(pr.now().samples, from, 5)
                  ? { done: true, value: undefined }
                  : { done: false, seen: summarizeProbes(pr.now().samples, from) },
              ),
            {
              timeoutMs: 15_000,
              intervalMs: 200,
            },
          );
        await steady(0, "the router's probes to answer before the move");

        const movedAt = Date.now();
        await ssh.host('k8s-w1').run(`ip addr del ${ip}/32 dev eth1`, { sudo: true });
        await new Promise((r) => setTimeout(r, 1_500));
        await ssh.host('k8s-ctr').run(`ip addr add ${ip}/32 dev eth1 && arping -q -U -P -S ${ip} -i eth1 -c 1 ${ip}; true`, { sudo: true });
        const from = movedAt + offset.offsetMs;
        await steady(from, "the router's probes to answer again after the move");
        const { log, raw } = await pr.stop();

        const outage = measureOutage(log.samples, from);
        const timeline = formatFailoverTimeline({
          rebootAt: movedAt,
          oldHolder: 'k8s-w1',
          events: [],
          samples: log.samples,
          probeClockOffsetMs: offset.offsetMs,
        });
        expect(log.ignored, raw.stderr).toEqual([]);
        expect(outage.kind, timeline).toBe('recovered');
        expect(outage.before).toMatchObject({ failed: 0, last: 'ok' });
        // 1.5 s without the address; the probes resolve it to within one interval + one timeout (plus SSH latency)
        expect(outage.outageMs!, timeline).toBeGreaterThan(800);
        expect(outage.outageMs!, timeline).toBeLessThan(3_500);
        expect(outage.windows, timeline).toHaveLength(1);

        const after = await arpingFrom(ssh, { iface, target: ip, count: 2, intervalSec: 0.2 });
        expect(judgeArpAnswer({ ip, arping: after.result, holder: 'k8s-ctr', nodeMacs })).toMatchObject({ ok: true });
        const stale = judgeArpAnswer({ ip, arping: after.result, holder: 'k8s-w1', nodeMacs });
        expect(stale.ok).toBe(false);
        expect(stale.explanation).toContain('k8s-ctr');
        const entry = await neighbourOf(ssh, 'router', ip);
        expect(judgeNeighbour({ ip, entry, holder: 'k8s-ctr', holderMac: nodeMacs['k8s-ctr'] })).toMatchObject({ ok: true });
        expect(judgeNeighbour({ ip, entry, holder: 'k8s-w1', holderMac: nodeMacs['k8s-w1'] }).ok).toBe(false);
      } finally {
        await probes?.stop();
        for (const n of ['k8s-w1', 'k8s-ctr']) await ssh.host(n).exec(`ip addr del ${ip}/32 dev eth1`, { sudo: true });
        await Promise.all(servers.map((s) => s.stop()));
      }
    },
  );

  test('held by two nodes at once: both MACs answer and the judge says no for either holder', async (ctx) => {
    const { lab, ssh } = netlab.need(ctx);
    const ip = lbPoolAddresses(lab.topology)[1]!;
    const { iface } = routerOnLbSubnet(lab.topology);
    const nodeMacs = { 'k8s-w1': await macOf(ssh, 'k8s-w1', 'eth1'), 'k8s-ctr': await macOf(ssh, 'k8s-ctr', 'eth1') };
    try {
      for (const n of ['k8s-w1', 'k8s-ctr']) await ssh.host(n).run(`ip addr add ${ip}/32 dev eth1`, { sudo: true });
      const both = await arpingFrom(ssh, { iface, target: ip, count: 2, intervalSec: 0.3 });
      expect(new Set(whoAnswersArp(both.result, ip, nodeMacs).map((a) => a.node))).toEqual(new Set(['k8s-w1', 'k8s-ctr']));
      for (const holder of ['k8s-w1', 'k8s-ctr']) {
        const v = judgeArpAnswer({ ip, arping: both.result, holder, nodeMacs });
        expect(v.ok, both.raw.stdout).toBe(false);
        expect(v.explanation).toContain('not only by the holder');
      }
    } finally {
      for (const n of ['k8s-w1', 'k8s-ctr']) await ssh.host(n).exec(`ip addr del ${ip}/32 dev eth1`, { sudo: true });
    }
  });
});
