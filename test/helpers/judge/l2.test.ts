import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  exactInterfaceRegex,
  judgeAnnounceTables,
  judgeArpAnswer,
  judgeHttpAnswer,
  judgeLeaseHolder,
  judgeNeighbour,
  l2Candidates,
  l2LeaseName,
  normalizeMac,
  routerOnLbSubnet,
  whoAnswersArp,
} from '../../../helpers/judge/l2.ts';
import { parseArping, parseL2AnnounceTable, parseNeighbours, type ArpingResult } from '../../../helpers/parse/index.ts';
import { loadTopology, parseTopology, REPO_ROOT } from '../../../helpers/lab/topology.ts';

const seed = (file: string): string => readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'seeds', '002-l2', file), 'utf8');

// Seed 002 (test/fixtures/seeds/002-l2/): LB IP 192.168.10.241, lease holder k8s-w1 before the reboot,
// k8s-ctr after it; the router's arping and `arp -a` show MAC 08:00:27:85:32:ca.
const LB_IP = '192.168.10.241';
const SEED_MAC = '08:00:27:85:32:ca';
/** arping-router.txt (Habets: two replies; the summary lines are not in the seed, so it is not `complete`). */
const seedArping: ArpingResult = parseArping(seed('arping-router.txt'));
/** The seed does not say whose MAC that is; here it is the holder k8s-w1's, k8s-ctr has another one. */
const macs = { 'k8s-w1': SEED_MAC, 'k8s-ctr': '08:00:27:11:22:33' };

describe('the seed 002 lines, parsed by the contract parsers', () => {
  test('arping, arp -a and the l2-announce table read as the judges expect', () => {
    expect(seedArping).toMatchObject({
      flavour: 'habets',
      target: LB_IP,
      replies: [
        { ip: LB_IP, mac: SEED_MAC },
        { ip: LB_IP, mac: SEED_MAC },
      ],
    });
    expect(parseNeighbours(seed('arp-a-router.txt'))).toEqual([{ ip: LB_IP, mac: SEED_MAC, iface: 'eth1', state: null }]);
    expect(parseL2AnnounceTable(seed('l2-announce-ctr.txt'))).toEqual([{ ip: LB_IP, iface: 'eth1' }]);
  });
});

describe('names and plans from the topology', () => {
  test('the lease name follows cilium-l2announce-<ns>-<svc> (seed 002: cilium-l2announce-default-webpod)', () => {
    expect(l2LeaseName('default', 'webpod')).toBe('cilium-l2announce-default-webpod');
  });

  test('interface regexes are anchored and escaped', () => {
    expect(exactInterfaceRegex('eth1')).toBe('^eth1$');
    expect(exactInterfaceRegex('vlan.1881')).toBe('^vlan\\.1881$');
    const re = new RegExp(exactInterfaceRegex('eth1'));
    expect(re.test('eth1')).toBe(true);
    expect(re.test('veth1abc')).toBe(false);
    expect(re.test('eth10')).toBe(false);
  });

  test('candidates are the k8s nodes on the LB pool subnet: k8s-ctr and k8s-w1 on eth1, not k8s-w0', () => {
    expect(l2Candidates(loadTopology())).toEqual([
      { node: 'k8s-ctr', role: 'control-plane', iface: 'eth1' },
      { node: 'k8s-w1', role: 'worker', iface: 'eth1' },
    ]);
  });

  test('candidates and the router interface follow the topology, not fixed names', () => {
    const t = loadTopology();
    expect(routerOnLbSubnet(t)).toEqual({ router: 'router', iface: 'eth1' });
    const moved = parseTopology({ ...t, lbPool: { start: '192.168.20.211', stop: '192.168.20.215' } });
    expect(l2Candidates(moved)).toEqual([{ node: 'k8s-w0', role: 'worker', iface: 'eth1' }]);
    expect(routerOnLbSubnet(moved)).toEqual({ router: 'router', iface: 'eth2' });
  });

  test('a lab without a router on the pool subnet is refused with the reason', () => {
    const t = loadTopology();
    const noRouter = parseTopology({ ...t, nodes: t.nodes.filter((n) => n.role !== 'router') });
    expect(() => routerOnLbSubnet(noRouter)).toThrow(/no router on lan1/);
  });
});

describe('normalizeMac', () => {
  test('accepts the forms arping and ip print', () => {
    expect(normalizeMac('08:00:27:85:32:ca')).toBe(SEED_MAC);
    expect(normalizeMac('08:00:27:85:32:CA')).toBe(SEED_MAC);
    expect(normalizeMac('C6-B2-11-9E-6C-21')).toBe('c6:b2:11:9e:6c:21');
    expect(normalizeMac('8:0:27:85:32:ca')).toBe(SEED_MAC);
  });
  test('rejects garbage', () => {
    for (const bad of ['', null, undefined, '08:00:27:85:32', '08:00:27:85:32:ca:ff', 'zz:00:27:85:32:ca', '<incomplete>']) {
      expect(normalizeMac(bad)).toBeNull();
    }
  });
});

describe('judgeLeaseHolder', () => {
  const leaseName = 'cilium-l2announce-default-webpod';
  test('seed 002: holderIdentity k8s-w1 is one of the selected nodes', () => {
    const v = judgeLeaseHolder({
      leaseName,
      lease: { holder: 'k8s-w1', renewTime: null, transitions: 0 },
      candidates: ['k8s-ctr', 'k8s-w1'],
    });
    expect(v.ok).toBe(true);
    expect(v.holder).toBe('k8s-w1');
  });
  test('no lease: says nobody took part in the election', () => {
    const v = judgeLeaseHolder({ leaseName, lease: null, candidates: ['k8s-ctr', 'k8s-w1'] });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('does not exist');
  });
  test('an empty holder (released lease) is no holder', () => {
    const v = judgeLeaseHolder({
      leaseName,
      lease: { holder: '', renewTime: '2025-08-09T10:00:00.000000Z', transitions: 3 },
      candidates: ['k8s-w1'],
    });
    expect(v.ok).toBe(false);
    expect(v.holder).toBeNull();
    expect(v.explanation).toContain('no holder');
  });
  test('a holder the policy does not select is a failure', () => {
    const v = judgeLeaseHolder({
      leaseName,
      lease: { holder: 'k8s-w0', renewTime: null, transitions: 1 },
      candidates: ['k8s-ctr', 'k8s-w1'],
    });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('k8s-w0');
  });
});

describe('judgeArpAnswer: which node answers ARP', () => {
  test("seed 002: both replies carry the holder k8s-w1's MAC", () => {
    const v = judgeArpAnswer({ ip: LB_IP, arping: seedArping, holder: 'k8s-w1', nodeMacs: macs });
    expect(v.ok).toBe(true);
    expect(v.answerers).toEqual([{ mac: SEED_MAC, node: 'k8s-w1', replies: 2 }]);
  });

  test('the same replies judged against the other holder say no', () => {
    const v = judgeArpAnswer({ ip: LB_IP, arping: seedArping, holder: 'k8s-ctr', nodeMacs: macs });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('k8s-w1');
  });

  test('upper-case MACs (iputils) are matched case-insensitively', () => {
    const arping: ArpingResult = {
      ...seedArping,
      flavour: 'iputils',
      replies: seedArping.replies.map((r) => ({ ...r, mac: r.mac.toUpperCase() })),
    };
    expect(judgeArpAnswer({ ip: LB_IP, arping, holder: 'k8s-w1', nodeMacs: macs }).ok).toBe(true);
  });

  test('two nodes answering (the address moved mid-arping, or split brain) is a failure naming both', () => {
    const arping: ArpingResult = {
      ...seedArping,
      sent: 2,
      received: 2,
      replies: [seedArping.replies[0]!, { ip: LB_IP, mac: macs['k8s-ctr'], timeMs: 0.2 }],
    };
    const v = judgeArpAnswer({ ip: LB_IP, arping, holder: 'k8s-w1', nodeMacs: macs });
    expect(v.ok).toBe(false);
    expect(whoAnswersArp(arping, LB_IP, macs).map((a) => a.node)).toEqual(['k8s-w1', 'k8s-ctr']);
    expect(v.explanation).toContain('k8s-ctr');
  });

  test('a MAC no candidate owns is reported as such', () => {
    const arping: ArpingResult = { ...seedArping, replies: [{ ip: LB_IP, mac: '52:54:00:aa:bb:cc', timeMs: 0.3 }] };
    const v = judgeArpAnswer({ ip: LB_IP, arping, holder: 'k8s-w1', nodeMacs: macs });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('no candidate node');
  });

  test('no reply at all is a failure', () => {
    const arping: ArpingResult = { flavour: 'habets', target: LB_IP, sent: 2, received: 0, replies: [], complete: true };
    const v = judgeArpAnswer({ ip: LB_IP, arping, holder: 'k8s-w1', nodeMacs: macs });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('nobody answered');
  });

  test('partial loss with only holder replies is accepted and reported', () => {
    const arping: ArpingResult = { ...seedArping, sent: 3, received: 2 };
    const v = judgeArpAnswer({ ip: LB_IP, arping, holder: 'k8s-w1', nodeMacs: macs });
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('3 sent, 2 received');
  });

  test('arping of another address, or an unknown holder MAC, cannot pass', () => {
    expect(judgeArpAnswer({ ip: '192.168.10.242', arping: seedArping, holder: 'k8s-w1', nodeMacs: macs }).ok).toBe(false);
    expect(judgeArpAnswer({ ip: LB_IP, arping: seedArping, holder: 'k8s-w1', nodeMacs: { 'k8s-ctr': macs['k8s-ctr'] } }).ok).toBe(false);
  });
});

describe("judgeNeighbour: the router's neighbour table", () => {
  test("seed 002 (`arp -a`): the LB IP maps to the holder's MAC", () => {
    const v = judgeNeighbour({ ip: LB_IP, entry: { ip: LB_IP, mac: SEED_MAC, state: 'REACHABLE' }, holder: 'k8s-w1', holderMac: SEED_MAC });
    expect(v.ok).toBe(true);
  });
  test('seed 002 as `arp -a` prints it (no state) is usable', () => {
    const [entry] = parseNeighbours(seed('arp-a-router.txt'));
    expect(judgeNeighbour({ ip: LB_IP, entry: entry!, holder: 'k8s-w1', holderMac: SEED_MAC }).ok).toBe(true);
  });
  test('STALE still names a usable MAC', () => {
    expect(
      judgeNeighbour({ ip: LB_IP, entry: { ip: LB_IP, mac: SEED_MAC, state: 'stale' }, holder: 'k8s-w1', holderMac: SEED_MAC }).ok,
    ).toBe(true);
  });
  test("the old holder's MAC after a failover is a failure", () => {
    const v = judgeNeighbour({
      ip: LB_IP,
      entry: { ip: LB_IP, mac: SEED_MAC, state: 'REACHABLE' },
      holder: 'k8s-ctr',
      holderMac: macs['k8s-ctr'],
    });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('not to the holder');
  });
  test('missing, FAILED and INCOMPLETE entries are failures', () => {
    expect(judgeNeighbour({ ip: LB_IP, entry: null, holder: 'k8s-w1', holderMac: SEED_MAC }).ok).toBe(false);
    expect(judgeNeighbour({ ip: LB_IP, entry: { ip: LB_IP, mac: null, state: 'FAILED' }, holder: 'k8s-w1', holderMac: SEED_MAC }).ok).toBe(
      false,
    );
    expect(
      judgeNeighbour({ ip: LB_IP, entry: { ip: LB_IP, mac: null, state: 'INCOMPLETE' }, holder: 'k8s-w1', holderMac: SEED_MAC }).ok,
    ).toBe(false);
  });
});

describe('judgeAnnounceTables: only the holder lists the IP', () => {
  // Seed 002's row (l2-announce-ctr.txt): "192.168.10.241   eth1".
  const [row] = parseL2AnnounceTable(seed('l2-announce-ctr.txt')) as [{ ip: string; iface: string }];
  test('the holder lists the IP on eth1 and the other agent has no row', () => {
    const v = judgeAnnounceTables({
      ip: LB_IP,
      iface: 'eth1',
      holder: 'k8s-ctr',
      tables: [
        { node: 'k8s-ctr', entries: [row] },
        { node: 'k8s-w1', entries: [] },
      ],
    });
    expect(v.ok).toBe(true);
  });
  test('seed 002 as printed (row on k8s-ctr, lease on k8s-w1) is judged a failure on both counts', () => {
    const v = judgeAnnounceTables({
      ip: LB_IP,
      iface: 'eth1',
      holder: 'k8s-w1',
      tables: [
        { node: 'k8s-ctr', entries: [row] },
        { node: 'k8s-w1', entries: [] },
      ],
    });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('k8s-ctr is not the holder');
    expect(v.explanation).toContain('does not list');
  });
  test('a row on another interface of the holder (regex too wide) is a failure', () => {
    const v = judgeAnnounceTables({
      ip: LB_IP,
      iface: 'eth1',
      holder: 'k8s-ctr',
      tables: [{ node: 'k8s-ctr', entries: [row, { ip: LB_IP, iface: 'eth0' }] }],
    });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('eth0');
  });
  test('rows for other IPs do not count; a missing holder table is a failure', () => {
    const other = { ip: '192.168.10.212', iface: 'eth1' };
    expect(
      judgeAnnounceTables({
        ip: LB_IP,
        iface: 'eth1',
        holder: 'k8s-ctr',
        tables: [
          { node: 'k8s-ctr', entries: [row] },
          { node: 'k8s-w1', entries: [other] },
        ],
      }).ok,
    ).toBe(true);
    expect(judgeAnnounceTables({ ip: LB_IP, iface: 'eth1', holder: 'k8s-ctr', tables: [{ node: 'k8s-w1', entries: [] }] }).ok).toBe(false);
  });
});

describe('judgeHttpAnswer', () => {
  const url = `http://${LB_IP}/`;
  test('200 passes; other statuses and no answer fail', () => {
    expect(judgeHttpAnswer({ url, answer: { ok: true, status: 200, headers: {}, body: '', error: null, timeMs: 3 } }).ok).toBe(true);
    expect(judgeHttpAnswer({ url, answer: { ok: true, status: 503, headers: {}, body: '', error: null, timeMs: 3 } }).ok).toBe(false);
    const v = judgeHttpAnswer({
      url,
      answer: { ok: false, status: null, headers: {}, body: '', error: 'Connection timed out', timeMs: 1000 },
    });
    expect(v.ok).toBe(false);
    expect(v.explanation).toContain('Connection timed out');
  });
});
