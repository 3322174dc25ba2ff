/** Issue 16's network faults (net-faults.ts): the routes and announcers each changes, and nothing when off. */
import { describe, expect, test } from 'vitest';
import { FaultSet } from '../faults.ts';
import {
  directRoutesInstalled,
  extraAnnouncers,
  ingressAnswersUnmatched,
  plaintextTunnelRoute,
  routerFaultCommands,
  routerFaultRoutes,
  tunnelRouteMtu,
  unmatchedFlagFile,
  type FaultNode,
} from './net-faults.ts';

const ctr: FaultNode = {
  name: 'k8s-ctr',
  address: '198.18.10.100',
  subnet: 'lan1',
  podCidr: '198.19.0.0/24',
  hostIp: '198.19.0.1',
  gateway: '198.18.10.200',
};
const w1: FaultNode = {
  name: 'k8s-w1',
  address: '198.18.10.101',
  subnet: 'lan1',
  podCidr: '198.19.1.0/24',
  hostIp: '198.19.1.1',
  gateway: '198.18.10.200',
};
const w0: FaultNode = {
  name: 'k8s-w0',
  address: '198.18.20.100',
  subnet: 'lan2',
  podCidr: '198.19.2.0/24',
  hostIp: '198.19.2.1',
  gateway: '198.18.20.200',
};
const nodes = [ctr, w1, w0];
const none = new FaultSet();
const on = (n: ConstructorParameters<typeof FaultSet>[0]): FaultSet => new FaultSet(n);
const native = { mode: 'native', autoDirectNodeRoutes: true } as const;
const tunnel = { mode: 'tunnel', autoDirectNodeRoutes: false } as const;

describe('network faults', () => {
  test('router-pod-routes: a route per node pod CIDR via the node, in either mode; none when off', () => {
    expect(routerFaultRoutes(on(['router-pod-routes']), native, nodes)).toEqual([
      { dst: '198.19.0.0/24', via: '198.18.10.100' },
      { dst: '198.19.1.0/24', via: '198.18.10.101' },
      { dst: '198.19.2.0/24', via: '198.18.20.100' },
    ]);
    expect(routerFaultRoutes(none, native, nodes)).toEqual([]);
    const cmds = routerFaultCommands([{ dst: '198.19.2.0/24', via: '198.18.20.100' }], nodes);
    expect(cmds.add).toEqual(['route replace 198.19.2.0/24 via 198.18.20.100 proto static']);
    expect(cmds.del).toContain('route del 198.19.0.0/24 via 198.18.10.100 proto static');
  });

  test('no-direct-routes and tunnel-mtu-1500', () => {
    expect(directRoutesInstalled(none)).toBe(true);
    expect(directRoutesInstalled(on(['no-direct-routes']))).toBe(false);
    expect(tunnelRouteMtu(none, 1450)).toBe(1450);
    expect(tunnelRouteMtu(on(['tunnel-mtu-1500']), 1450)).toBe(1500);
  });

  test('tunnel-plaintext: only peers on another subnet go plain via the router, which gets pod routes in tunnel mode only', () => {
    const f = on(['tunnel-plaintext']);
    expect(plaintextTunnelRoute(f, ctr, w0, 100)).toBe('route replace 198.19.2.0/24 via 198.18.10.200 dev eth1 table 100');
    expect(plaintextTunnelRoute(f, ctr, w1, 100)).toBeNull();
    expect(plaintextTunnelRoute(none, ctr, w0, 100)).toBeNull();
    expect(routerFaultRoutes(f, tunnel, nodes)).toHaveLength(3);
    expect(routerFaultRoutes(f, native, nodes)).toEqual([]);
  });

  test('l2-every-node-answers: every other node on the subnet, none without a holder or when off', () => {
    const lan1 = (n: FaultNode): boolean => n.subnet === 'lan1';
    const f = on(['l2-every-node-answers']);
    expect(extraAnnouncers(f, '198.18.10.211', 'k8s-w1', nodes, lan1)).toEqual(['k8s-ctr']);
    expect(extraAnnouncers(f, '198.18.10.211', null, nodes, lan1)).toEqual([]);
    expect(extraAnnouncers(none, '198.18.10.211', 'k8s-w1', nodes, lan1)).toEqual([]);
  });

  test('ingress-unmatched-200: a flag file next to the routes file', () => {
    expect(unmatchedFlagFile('/x/ingress-198.18.10.212.json')).toBe('/x/ingress-198.18.10.212.json.unmatched-200');
    expect(ingressAnswersUnmatched(on(['ingress-unmatched-200']))).toBe(true);
    expect(ingressAnswersUnmatched(undefined)).toBe(false);
  });
});
