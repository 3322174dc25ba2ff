import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_TOPOLOGY_FILE,
  TopologyError,
  addressesInRange,
  cidrContains,
  controlPlane,
  kubeNodes,
  lbPoolAddresses,
  loadTopology,
  parseTopology,
  primaryAddress,
  routerAddressOn,
  sshEndpoint,
  topologyFile,
  node,
} from '../../../helpers/lab/topology.ts';

const reference = (): Record<string, unknown> => parseYaml(readFileSync(DEFAULT_TOPOLOGY_FILE, 'utf8')) as Record<string, unknown>;

/** Applies `change` to a fresh copy of the reference document and returns the loader's error. */
function errorFor(change: (doc: any) => void): TopologyError {
  const doc = reference();
  change(doc);
  try {
    parseTopology(doc, 'fixture.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyError);
    return err as TopologyError;
  }
  throw new Error('the topology was accepted');
}

describe('reference topology', () => {
  const t = loadTopology(DEFAULT_TOPOLOGY_FILE);

  test('describes the reference lab', () => {
    expect(t.nodes.map((n) => [n.name, n.role, primaryAddress(n)])).toEqual([
      ['router', 'router', '192.168.10.200'],
      ['k8s-ctr', 'control-plane', '192.168.10.100'],
      ['k8s-w1', 'worker', '192.168.10.101'],
      ['k8s-w0', 'worker', '192.168.20.100'],
    ]);
    expect(node(t, 'router').interfaces.map((i) => `${i.name} ${i.address}`)).toEqual([
      'eth1 192.168.10.200/24',
      'eth2 192.168.20.200/24',
      'loop1 10.10.1.200/24',
      'loop2 10.10.2.200/24',
    ]);
    expect(t.podCidr).toBe('172.20.0.0/16');
    expect(t.apiEndpoint).toEqual({ host: '192.168.10.100', port: 6443 });
    expect(controlPlane(t).name).toBe('k8s-ctr');
    expect(kubeNodes(t).map((n) => n.name)).toEqual(['k8s-ctr', 'k8s-w1', 'k8s-w0']);
  });

  test('LB pool is the five addresses .211-.215', () => {
    expect(lbPoolAddresses(t)).toEqual(['192.168.10.211', '192.168.10.212', '192.168.10.213', '192.168.10.214', '192.168.10.215']);
  });

  test('router gateways and SSH endpoints derive from the interfaces', () => {
    expect(routerAddressOn(t, 'lan1')).toBe('192.168.10.200');
    expect(routerAddressOn(t, 'lan2')).toBe('192.168.20.200');
    expect(sshEndpoint(node(t, 'k8s-w0'))).toEqual({ host: '192.168.20.100', port: 22 });
  });
});

describe('choosing the file', () => {
  test('LAB_TOPOLOGY points at another file', () => {
    expect(topologyFile({})).toBe(DEFAULT_TOPOLOGY_FILE);
    expect(topologyFile({ LAB_TOPOLOGY: '/tmp/other.yaml' })).toBe('/tmp/other.yaml');
  });

  test('a missing file is named in the error', () => {
    expect(() => loadTopology('/nonexistent/topology.yaml')).toThrow(/\/nonexistent\/topology\.yaml[\s\S]*cannot be read/);
  });

  test('an empty file says it is empty', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'topo-empty-'));
    const file = path.join(dir, 'empty.yaml');
    writeFileSync(file, '# just a comment\n');
    expect(() => loadTopology(file)).toThrow(`Invalid lab topology ${file}:\n  (file): is empty (no YAML document in it)`);
  });

  test('broken YAML names the file and the syntax problem', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'topology-'));
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, 'name: x\nnodes: [\n');
    expect(() => loadTopology(file)).toThrow(new RegExp(`${file}[\\s\\S]*YAML syntax`));
  });
});

describe('bad input is rejected with the field named', () => {
  test('missing field', () => {
    const err = errorFor((d) => delete d.podCidr);
    expect(err.message).toContain('fixture.yaml');
    expect(err.problems).toEqual([{ field: 'podCidr', message: 'is missing' }]);
  });

  test('missing field inside a node', () => {
    const err = errorFor((d) => delete d.nodes[1].role);
    expect(err.problems[0]?.field).toBe('nodes[1].role');
    expect(err.problems[0]?.message).toBe('is missing');
  });

  test('bad IP', () => {
    const err = errorFor((d) => (d.nodes[2].interfaces[0].address = '192.168.10.300/24'));
    expect(err.problems[0]?.field).toBe('nodes[2].interfaces[0].address');
    expect(err.problems[0]?.message).toMatch(/"192\.168\.10\.300\/24" is not an IPv4 address/);
  });

  test('bad API endpoint address', () => {
    const err = errorFor((d) => (d.apiEndpoint.host = 'k8s-ctr'));
    expect(err.problems[0]?.field).toBe('apiEndpoint.host');
  });

  test('IP outside its subnet', () => {
    const err = errorFor((d) => (d.nodes[3].interfaces[0].address = '192.168.10.150/24'));
    expect(err.problems).toEqual([
      { field: 'nodes[3].interfaces[0].address', message: '192.168.10.150 is outside its subnet lan2 (192.168.20.0/24)' },
    ]);
  });

  test('duplicate node name', () => {
    const err = errorFor((d) => (d.nodes[3].name = 'k8s-w1'));
    expect(err.problems.map((p) => p.field)).toContain('nodes[3].name');
    expect(err.message).toMatch(/duplicate node name "k8s-w1" \(also nodes\[2\]\)/);
  });

  test('unknown role', () => {
    const err = errorFor((d) => (d.nodes[2].role = 'master'));
    expect(err.problems[0]?.field).toBe('nodes[2].role');
    expect(err.problems[0]?.message).toBe('"master" is not a known role (expected one of router, control-plane, worker)');
  });

  test('unknown subnet name', () => {
    const err = errorFor((d) => (d.nodes[2].interfaces[0].subnet = 'lan9'));
    expect(err.problems[0]).toEqual({ field: 'nodes[2].interfaces[0].subnet', message: 'names unknown subnet "lan9" (known: lan1, lan2)' });
  });

  test('duplicate address', () => {
    const err = errorFor((d) => (d.nodes[2].interfaces[0].address = '192.168.10.100/24'));
    expect(err.message).toContain('192.168.10.100 is already used by k8s-ctr/eth1');
  });

  test('unknown field (typo)', () => {
    const err = errorFor((d) => (d.nodes[0].interfaces[0].adress = '1.2.3.4'));
    expect(err.problems[0]).toEqual({ field: 'nodes[0].interfaces[0]', message: 'unknown field(s) adress' });
  });

  test('LB pool outside the lab subnets, reversed, or overlapping a node', () => {
    expect(errorFor((d) => (d.lbPool = { start: '10.1.0.1', stop: '10.1.0.5' })).problems[0]?.field).toBe('lbPool');
    expect(errorFor((d) => (d.lbPool = { start: '192.168.10.215', stop: '192.168.10.211' })).problems[0]?.field).toBe('lbPool.stop');
    expect(errorFor((d) => (d.lbPool = { start: '192.168.10.99', stop: '192.168.10.101' })).message).toMatch(
      /lbPool: contains 192\.168\.10\.100/,
    );
  });

  test('two control planes', () => {
    expect(errorFor((d) => (d.nodes[2].role = 'control-plane')).message).toMatch(/exactly one control-plane node, found 2/);
  });

  test('every problem is reported at once', () => {
    const err = errorFor((d) => {
      delete d.podCidr;
      d.nodes[2].role = 'boss';
    });
    expect(err.problems.map((p) => p.field).sort()).toEqual(['nodes[2].role', 'podCidr']);
  });
});

describe('address helpers', () => {
  test('cidrContains and ranges', () => {
    expect(cidrContains('192.168.10.0/24', '192.168.10.255')).toBe(true);
    expect(cidrContains('192.168.10.0/24', '192.168.11.0/24')).toBe(false);
    expect(addressesInRange('10.0.0.254', '10.0.1.1')).toEqual(['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1']);
  });
});
