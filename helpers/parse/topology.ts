/**
 * The lab topology's schema and queries (pure): parseTopology validates the data of lab/topology.yaml with a schema;
 * every error names the file, the field and what is wrong, in one message. Reading the file is
 * helpers/lab/topology.ts (loadTopology), which re-exports everything here.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

const ipv4 = z.string().refine((s) => ipaddr.IPv4.isValidFourPartDecimal(s), {
  message: 'is not an IPv4 address (expected four decimal parts, e.g. 192.168.10.100)',
});

function isCidr(s: string): boolean {
  const [ip, len, ...rest] = s.split('/');
  if (rest.length > 0 || ip === undefined || len === undefined || !/^\d{1,2}$/.test(len)) return false;
  return ipaddr.IPv4.isValidFourPartDecimal(ip) && Number(len) <= 32;
}
const cidr = z.string().refine(isCidr, {
  message: 'is not an IPv4 address with prefix length (e.g. 192.168.10.0/24)',
});

const name = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lower-case host name (letters, digits, hyphens)');

export const ROLES = ['router', 'control-plane', 'worker'] as const;

const interfaceSchema = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9_.-]{1,15}$/, 'must be a Linux interface name (at most 15 characters)'),
  /** Address with prefix length, e.g. 192.168.10.100/24. */
  address: cidr,
  /** The lab subnet this interface sits on (a name from `subnets`); absent for dummy interfaces. */
  subnet: name.optional(),
  /** `dummy`: a local interface with no link (the router's loop1/loop2). */
  kind: z.enum(['ethernet', 'dummy']).default('ethernet'),
});

const nodeSchema = z.strictObject({
  name,
  role: z.enum(ROLES, { error: `is not a known role (expected one of ${ROLES.join(', ')})` }),
  interfaces: z.array(interfaceSchema).min(1, 'must list at least one interface'),
  /** Where the harness connects over SSH; defaults to the first subnet interface's address, port 22. */
  ssh: z.strictObject({ host: ipv4.optional(), port: z.number().int().min(1).max(65535).optional() }).optional(),
  resources: z.strictObject({ cpus: z.number().int().min(1), memoryMb: z.number().int().min(256) }).default({ cpus: 2, memoryMb: 1536 }),
});

const topologySchema = z.strictObject({
  name: z.string().min(1),
  provider: z.enum(['vagrant', 'existing']).default('vagrant'),
  subnets: z.array(z.strictObject({ name, cidr })).min(1, 'must list at least one subnet'),
  podCidr: cidr,
  serviceCidr: cidr,
  corporateCidr: cidr.optional(),
  apiEndpoint: z.strictObject({ host: ipv4, port: z.number().int().min(1).max(65535) }),
  lbPool: z.strictObject({ start: ipv4, stop: ipv4 }),
  ssh: z.strictObject({
    user: z.string().min(1),
    auth: z.enum(['vagrant', 'password', 'key']),
    passwordEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/)
      .optional(),
    keyFile: z.string().min(1).optional(),
    /** Unset: `known-hosts` for the Vagrant lab (the file lab:up records), `accept` for an existing lab. */
    hostKeys: z.enum(['accept', 'known-hosts']).optional(),
    knownHostsFile: z.string().min(1).optional(),
  }),
  nodes: z.array(nodeSchema).min(1, 'must list at least one node'),
});

export type Topology = z.infer<typeof topologySchema>;
export type LabNode = Topology['nodes'][number];
export type NodeInterface = LabNode['interfaces'][number];
export type Role = (typeof ROLES)[number];

// ---------------------------------------------------------------------------------------------
// Pure address helpers
// ---------------------------------------------------------------------------------------------

/** The address part of "a.b.c.d/len". */
export function addressOf(cidrOrIp: string): string {
  return cidrOrIp.split('/')[0] ?? cidrOrIp;
}

/** True when `ip` (with or without a prefix) lies inside `network` ("a.b.c.d/len"). */
export function cidrContains(network: string, ip: string): boolean {
  const [net, len] = ipaddr.IPv4.parseCIDR(network);
  return ipaddr.IPv4.parse(addressOf(ip)).match(net, len);
}

/** True when two networks share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const [na, la] = ipaddr.IPv4.parseCIDR(a);
  const [nb, lb] = ipaddr.IPv4.parseCIDR(b);
  const shorter = Math.min(la, lb);
  return na.match(nb, shorter);
}

export function ipToNumber(ip: string): number {
  return ipaddr.IPv4.parse(ip).octets.reduce((acc, o) => acc * 256 + o, 0);
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** Every address of an inclusive start/stop block, in order. */
export function addressesInRange(start: string, stop: string): string[] {
  const a = ipToNumber(start);
  const b = ipToNumber(stop);
  const out: string[] = [];
  for (let n = a; n <= b; n++) out.push(numberToIp(n));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cross-field rules (what a schema of single fields cannot say)
// ---------------------------------------------------------------------------------------------

interface Problem {
  path: (string | number)[];
  message: string;
}

function crossCheck(t: Topology): Problem[] {
  const problems: Problem[] = [];
  const subnetByName = new Map<string, string>();
  t.subnets.forEach((s, i) => {
    if (subnetByName.has(s.name)) problems.push({ path: ['subnets', i, 'name'], message: `duplicate subnet name "${s.name}"` });
    subnetByName.set(s.name, s.cidr);
  });

  const seenNodes = new Map<string, number>();
  const seenAddresses = new Map<string, string>();
  t.nodes.forEach((node, i) => {
    const first = seenNodes.get(node.name);
    if (first !== undefined) {
      problems.push({ path: ['nodes', i, 'name'], message: `duplicate node name "${node.name}" (also nodes[${first}])` });
    } else seenNodes.set(node.name, i);

    node.interfaces.forEach((iface, j) => {
      const where = ['nodes', i, 'interfaces', j];
      const ip = addressOf(iface.address);
      const owner = seenAddresses.get(ip);
      if (owner) problems.push({ path: [...where, 'address'], message: `${ip} is already used by ${owner}` });
      seenAddresses.set(ip, `${node.name}/${iface.name}`);
      if (iface.kind === 'dummy') return;
      if (iface.subnet === undefined) {
        problems.push({ path: [...where, 'subnet'], message: 'is required for an ethernet interface (a name from subnets)' });
        return;
      }
      const net = subnetByName.get(iface.subnet);
      if (net === undefined) {
        problems.push({
          path: [...where, 'subnet'],
          message: `names unknown subnet "${iface.subnet}" (known: ${[...subnetByName.keys()].join(', ')})`,
        });
      } else if (!cidrContains(net, ip)) {
        problems.push({ path: [...where, 'address'], message: `${ip} is outside its subnet ${iface.subnet} (${net})` });
      }
    });
    if (!node.interfaces.some((iface) => iface.subnet !== undefined) && !node.ssh?.host) {
      problems.push({
        path: ['nodes', i, 'interfaces'],
        message: 'has no interface on a lab subnet, so no SSH address can be derived (add one, or set ssh.host)',
      });
    }
  });

  const controlPlanes = t.nodes.filter((n) => n.role === 'control-plane');
  if (controlPlanes.length !== 1) {
    problems.push({ path: ['nodes'], message: `must have exactly one control-plane node, found ${controlPlanes.length}` });
  }
  if (t.nodes.filter((n) => n.role === 'router').length > 1) {
    problems.push({ path: ['nodes'], message: 'must have at most one router node' });
  }

  const start = ipToNumber(t.lbPool.start);
  const stop = ipToNumber(t.lbPool.stop);
  if (start > stop) problems.push({ path: ['lbPool', 'stop'], message: `${t.lbPool.stop} comes before start ${t.lbPool.start}` });
  const poolSubnet = t.subnets.find((s) => cidrContains(s.cidr, t.lbPool.start) && cidrContains(s.cidr, t.lbPool.stop));
  if (!poolSubnet)
    problems.push({
      path: ['lbPool'],
      message: `${t.lbPool.start}-${t.lbPool.stop} must lie inside one lab subnet (for L2 announcements)`,
    });
  const taken = [...seenAddresses.entries()].find(([ip]) => {
    const n = ipToNumber(ip);
    return n >= start && n <= stop;
  });
  if (taken) problems.push({ path: ['lbPool'], message: `contains ${taken[0]}, already used by ${taken[1]}` });

  for (const s of t.subnets) {
    if (cidrsOverlap(s.cidr, t.podCidr))
      problems.push({ path: ['podCidr'], message: `${t.podCidr} overlaps subnet ${s.name} (${s.cidr})` });
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

export class TopologyError extends Error {
  constructor(
    readonly file: string,
    readonly problems: { field: string; message: string }[],
  ) {
    const lines = problems.map((p) => `  ${p.field}: ${p.message}`);
    super(`Invalid lab topology ${file}:\n${lines.join('\n')}`);
    this.name = 'TopologyError';
  }
}

function fieldName(p: readonly PropertyKey[]): string {
  return (
    p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '') || '(top level)'
  );
}

/** Validates an already-parsed document; `file` is only used in messages. */
export function parseTopology(data: unknown, file = '<topology>'): Topology {
  const parsed = topologySchema.safeParse(data);
  if (!parsed.success) {
    throw new TopologyError(
      file,
      parsed.error.issues.map((i) => ({ field: fieldName(i.path), message: describeIssue(i, data) })),
    );
  }
  const problems = crossCheck(parsed.data);
  if (problems.length > 0) {
    throw new TopologyError(
      file,
      problems.map((p) => ({ field: fieldName(p.path), message: p.message })),
    );
  }
  return parsed.data;
}

/** The value at a zod issue's path in the parsed document, or undefined where the path leaves it. */
export function valueAt(data: unknown, p: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

function describeIssue(issue: z.core.$ZodIssue, data: unknown): string {
  if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.join(', ')}`;
  const value = valueAt(data, issue.path);
  if (value === undefined) return 'is missing';
  const shown = typeof value === 'string' ? `"${value}" ` : '';
  return `${shown}${issue.message}`;
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

export function node(t: Topology, nodeName: string): LabNode {
  const found = t.nodes.find((n) => n.name === nodeName);
  if (!found) throw new Error(`No node "${nodeName}" in topology ${t.name} (nodes: ${t.nodes.map((n) => n.name).join(', ')})`);
  return found;
}

export function nodesWithRole(t: Topology, role: Role): LabNode[] {
  return t.nodes.filter((n) => n.role === role);
}

/** Kubernetes nodes (control plane first, then workers in file order). */
export function kubeNodes(t: Topology): LabNode[] {
  return [...nodesWithRole(t, 'control-plane'), ...nodesWithRole(t, 'worker')];
}

export function controlPlane(t: Topology): LabNode {
  const [cp] = nodesWithRole(t, 'control-plane');
  if (!cp) throw new Error(`Topology ${t.name} has no control-plane node`);
  return cp;
}

export function router(t: Topology): LabNode | undefined {
  return nodesWithRole(t, 'router')[0];
}

/** The node's address on its first lab subnet (its Kubernetes InternalIP for k8s nodes). */
export function primaryAddress(n: LabNode): string {
  const iface = n.interfaces.find((i) => i.subnet !== undefined);
  if (!iface) throw new Error(`Node ${n.name} has no interface on a lab subnet`);
  return addressOf(iface.address);
}

export function interfaceOn(n: LabNode, subnetName: string): NodeInterface | undefined {
  return n.interfaces.find((i) => i.subnet === subnetName);
}

export function sshEndpoint(n: LabNode): { host: string; port: number } {
  return { host: n.ssh?.host ?? primaryAddress(n), port: n.ssh?.port ?? 22 };
}

/** The subnet a node's primary interface sits on. */
export function subnetOf(t: Topology, n: LabNode): Topology['subnets'][number] {
  const iface = n.interfaces.find((i) => i.subnet !== undefined);
  const s = t.subnets.find((x) => x.name === iface?.subnet);
  if (!s) throw new Error(`Node ${n.name} is on no known subnet`);
  return s;
}

/** The router's address on a given subnet: the gateway nodes on that subnet use for lab routes. */
export function routerAddressOn(t: Topology, subnetName: string): string | undefined {
  const r = router(t);
  const iface = r && interfaceOn(r, subnetName);
  return iface ? addressOf(iface.address) : undefined;
}

/** All addresses of the LB-IPAM block, in order. */
export function lbPoolAddresses(t: Topology): string[] {
  return addressesInRange(t.lbPool.start, t.lbPool.stop);
}
