import { describe, expect, test } from 'vitest';
import { kubeNodeAddresses, peersOf, routerPathFor, routerSubnets } from '../../../helpers/judge/routing.ts';
import { loadTopology, parseTopology } from '../../../helpers/lab/topology.ts';

const reference = loadTopology();
const clone = (): any => JSON.parse(JSON.stringify(reference));

describe('routing plan from the reference topology', () => {
  test('k8s-ctr -> k8s-w0 crosses the router from eth1 to eth2, gateway 192.168.10.200', () => {
    expect(routerPathFor(reference, 'k8s-ctr', 'k8s-w0')).toEqual({
      arrivalIface: 'eth1',
      towardIface: 'eth2',
      clientGateway: '192.168.10.200',
      towardSubnet: '192.168.20.0/24',
    });
  });

  test('peers of k8s-ctr: k8s-w1 on its subnet, k8s-w0 on the other', () => {
    expect(peersOf(reference, 'k8s-ctr')).toEqual({ sameSubnet: 'k8s-w1', otherSubnet: 'k8s-w0' });
  });

  test('router subnets and node addresses', () => {
    expect(routerSubnets(reference)).toEqual(['192.168.10.0/24', '192.168.20.0/24']);
    expect(kubeNodeAddresses(reference)).toEqual(['192.168.10.100', '192.168.10.101', '192.168.20.100']);
  });

  test('two nodes on one subnet have no router path', () => {
    expect(() => routerPathFor(reference, 'k8s-ctr', 'k8s-w1')).toThrow(/share subnet lan1/);
  });

  test('a lab without a router, or a router missing a leg, is refused with a reason', () => {
    const noRouter = clone();
    noRouter.nodes = noRouter.nodes.filter((n: { role: string }) => n.role !== 'router');
    expect(() => routerPathFor(parseTopology(noRouter), 'k8s-ctr', 'k8s-w0')).toThrow(/has no router/);
    expect(routerSubnets(parseTopology(noRouter))).toEqual([]);

    const oneLeg = clone();
    oneLeg.nodes[0].interfaces = oneLeg.nodes[0].interfaces.filter((i: { name: string }) => i.name !== 'eth2');
    expect(() => routerPathFor(parseTopology(oneLeg), 'k8s-ctr', 'k8s-w0')).toThrow(/no interface on lan2/);
  });

  test('renamed interfaces and nodes come from the topology, not from constants', () => {
    const t = clone();
    t.nodes[0].interfaces[0].name = 'enp0s8';
    t.nodes[0].interfaces[1].name = 'enp0s9';
    t.nodes.find((n: { name: string }) => n.name === 'k8s-w0').name = 'far-1';
    const topo = parseTopology(t);
    expect(routerPathFor(topo, 'k8s-ctr', 'far-1')).toMatchObject({ arrivalIface: 'enp0s8', towardIface: 'enp0s9' });
    expect(peersOf(topo, 'k8s-ctr').otherSubnet).toBe('far-1');
  });
});
