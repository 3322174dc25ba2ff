import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { parseIpLink } from '../../../helpers/parse/index.ts';

test('the seed 002 cilium_vxlan line (copied without its index)', () => {
  const text = readFileSync(new URL('../../fixtures/seeds/002/k8s-ctr-ip-link-cilium_vxlan.txt', import.meta.url), 'utf8');
  expect(parseIpLink(text)).toEqual([
    { name: 'cilium_vxlan', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1500, state: null },
  ]);
});

test('full `ip link show` output with continuation lines and a veth peer', () => {
  const text = [
    '7: cilium_vxlan: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000',
    '    link/ether 5e:0d:3c:2a:11:9f brd ff:ff:ff:ff:ff:ff',
    '12: lxca2047e9fb417@if11: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000',
    '    link/ether 3a:bb:01:02:03:04 brd ff:ff:ff:ff:ff:ff link-netns cni-1234',
  ].join('\n');
  expect(parseIpLink(text)).toEqual([
    { name: 'cilium_vxlan', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1500, state: 'UNKNOWN' },
    { name: 'lxca2047e9fb417', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1500, state: 'UP' },
  ]);
});

test('empty, garbage and the error of a missing device give nothing', () => {
  expect(parseIpLink('')).toEqual([]);
  expect(parseIpLink('Device "cilium_vxlan" does not exist.')).toEqual([]);
  expect(parseIpLink('7: cilium_vxlan: <BROADCAST,MULT')).toEqual([]);
});
