import { describe, expect, test } from 'vitest';
import { parseTcpdump } from '../../../helpers/parse/tcpdump.ts';
import { fixture } from '../../fixtures/load.ts';

/** Compact view: what a person reads off a capture. */
const view = (text: string): string[] =>
  parseTcpdump(text).map(
    (p) =>
      `${p.iface ?? '-'} ${p.direction ?? '-'} ${p.protocol} ${p.srcIp}${p.srcPort === null ? '' : `:${p.srcPort}`} > ${p.dstIp}${p.dstPort === null ? '' : `:${p.dstPort}`}`,
  );

describe('parseTcpdump: -i any (interface and direction columns)', () => {
  test('seed: the study router sends pod traffic out eth0 (misrouted)', () => {
    expect(view(fixture('tcpdump/seed-any-misrouted.txt'))).toEqual([
      'eth1 In ICMP 172.20.0.124 > 172.20.2.178',
      'eth0 Out ICMP 172.20.0.124 > 172.20.2.178',
      'eth1 In ICMP 172.20.0.124 > 172.20.2.178',
      'eth0 Out ICMP 172.20.0.124 > 172.20.2.178',
    ]);
  });

  test('seed: with static routes, in on eth1 and out on eth2, replies back', () => {
    const packets = parseTcpdump(fixture('tcpdump/seed-any-routed.txt'));
    expect(packets).toHaveLength(8);
    expect(packets.slice(0, 4).map((p) => `${p.iface} ${p.direction} ${p.srcIp} > ${p.dstIp}`)).toEqual([
      'eth1 In 172.20.0.204 > 172.20.2.6',
      'eth2 Out 172.20.0.204 > 172.20.2.6',
      'eth2 In 172.20.2.6 > 172.20.0.204',
      'eth1 Out 172.20.2.6 > 172.20.0.204',
    ]);
    expect(packets[0]).toMatchObject({ time: '23:34:33.877801', info: 'ICMP echo request, id 24, seq 1, length 64' });
  });

  test('seed: VXLAN node view, P direction and a long lxc interface name', () => {
    expect(view(fixture('tcpdump/seed-any-vxlan-node.txt')).slice(0, 3)).toEqual([
      'cilium_vxlan P ICMP 172.20.0.204 > 172.20.2.6',
      'lxca2047e9fb417 In ICMP 172.20.2.6 > 172.20.0.204',
      'cilium_vxlan Out ICMP 172.20.2.6 > 172.20.0.204',
    ]);
  });

  test('netlab: router answers "net unreachable" back out the way the request came', () => {
    expect(view(fixture('tcpdump/netlab-any-net-unreachable.txt'))).toEqual([
      'eth1 In ICMP 198.18.10.100 > 198.19.5.10',
      'eth1 Out ICMP 198.18.10.200 > 198.18.10.100',
    ]);
  });
});

describe('parseTcpdump: one interface (no columns)', () => {
  test('netlab eth1: IPv6, ARP request and reply, TCP with ports, UDP decoded by port, ICMP port unreachable', () => {
    const packets = parseTcpdump(fixture('tcpdump/netlab-eth1-tcp-udp-arp.txt'));
    expect(packets.map((p) => [p.iface, p.direction, p.protocol, p.srcIp, p.srcPort, p.dstIp, p.dstPort])).toEqual([
      [null, null, 'ICMP6', 'fe80::1889:86ff:fea6:a51d', null, 'ff02::16', null],
      [null, null, 'ARP', '198.18.10.100', null, '198.18.10.200', null],
      [null, null, 'ARP', '198.18.10.200', null, '', null],
      [null, null, 'TCP', '198.18.10.100', 40448, '198.18.20.100', 80],
      [null, null, 'TCP', '198.18.20.100', 80, '198.18.10.100', 40448],
      [null, null, 'UDP', '198.18.10.100', 33993, '198.18.20.100', 5353],
      [null, null, 'ICMP', '198.18.20.100', null, '198.18.10.100', null],
    ]);
    expect(packets[1]!.arp).toEqual({ op: 'request', mac: null });
    expect(packets[2]!.arp).toEqual({ op: 'reply', mac: '6e:dd:6e:a9:9e:b5' });
  });
});

describe('parseTcpdump: VXLAN', () => {
  test('-T vxlan: outer node addresses and UDP 8472, inner pod packet attached', () => {
    const packets = parseTcpdump(fixture('tcpdump/netlab-any-vxlan-decoded.txt'));
    expect(packets).toHaveLength(12);
    expect(packets.every((p) => p.protocol === 'VXLAN' && p.dstPort === 8472)).toBe(true);
    const echo = packets.find((p) => p.inner?.protocol === 'ICMP');
    expect(echo).toMatchObject({
      iface: 'eth1',
      direction: 'In',
      srcIp: '198.18.10.100',
      dstIp: '198.18.20.100',
      srcPort: 38586,
      inner: { srcIp: '198.19.0.10', dstIp: '198.19.2.10', protocol: 'ICMP', srcPort: null, dstPort: null },
    });
    expect(packets[0]!.inner).toEqual({ srcIp: '198.19.0.10', srcPort: null, dstIp: '198.19.2.10', dstPort: null, protocol: 'ARP' });
  });

  test('without -T vxlan tcpdump says OTV: reported as the UDP it is, inner packet still attached', () => {
    const packets = parseTcpdump(fixture('tcpdump/netlab-any-vxlan-as-otv.txt'));
    expect(packets).toHaveLength(4);
    expect(
      packets.map((p) => `${p.protocol} ${p.srcIp}:${p.srcPort} > ${p.dstIp}:${p.dstPort} [${p.inner?.srcIp} > ${p.inner?.dstIp}]`),
    ).toEqual([
      'UDP 198.18.10.100:38586 > 198.18.20.100:8472 [198.19.0.10 > 198.19.2.10]',
      'UDP 198.18.10.100:38586 > 198.18.20.100:8472 [198.19.0.10 > 198.19.2.10]',
      'UDP 198.18.20.100:38586 > 198.18.10.100:8472 [198.19.2.10 > 198.19.0.10]',
      'UDP 198.18.20.100:38586 > 198.18.10.100:8472 [198.19.2.10 > 198.19.0.10]',
    ]);
  });
});

describe('parseTcpdump: what is not a packet', () => {
  test('banner and footer lines are skipped', () => {
    const text = [
      'tcpdump: data link type LINUX_SLL2',
      'tcpdump: verbose output suppressed, use -v[v]... for full protocol decode',
      'listening on any, link-type LINUX_SLL2 (Linux cooked v2), snapshot length 262144 bytes',
      '22:20:27.654000 eth1  In  IP 172.20.0.124 > 172.20.2.178: ICMP echo request, id 31, seq 1, length 64',
      '1 packet captured',
      '2 packets received by filter',
      '0 packets dropped by kernel',
      '',
    ].join('\n');
    expect(view(text)).toEqual(['eth1 In ICMP 172.20.0.124 > 172.20.2.178']);
  });

  test.each([
    ['empty', ''],
    ['garbage', 'tcpdump: eth9: No such device exists\n(SIOCGIFHWADDR: No such device)\n'],
    ['binary noise', '\u0000\u0001\u00ff IP > :'],
    ['an address that is not one', '22:20:27.654000 IP 172.20.0 > 172.20.2.178: ICMP echo request, id 31, seq 1, length 64\n'],
  ])('%s → no packets', (_name, text) => {
    expect(parseTcpdump(text)).toEqual([]);
  });

  test('a last line cut off mid-way is dropped; a complete one without final newline is kept', () => {
    const full = fixture('tcpdump/seed-any-routed.txt').trimEnd();
    expect(parseTcpdump(full)).toHaveLength(8);
    expect(parseTcpdump(full.slice(0, full.length - 30))).toHaveLength(7);
    expect(parseTcpdump(full.slice(0, full.length - 2))).toHaveLength(7);
  });

  test('inner line without an encapsulating packet before it is not a packet', () => {
    expect(parseTcpdump('IP 198.19.0.10 > 198.19.2.10: ICMP echo request, id 15, seq 1, length 64\n')).toEqual([]);
  });
});
