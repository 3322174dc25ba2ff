/**
 * The seam between the lab twin's two halves, so they can be built side by side:
 *
 *   test/twin/net/   the network side (owner: TwinNetwork): hosts and pods in network namespaces on top of
 *                    test/netlab, routing modes as the agents program them, ARP for L2-announced IPs, traffic
 *                    to LB IPs, the Envoy stand-in, reboots, and the stand-in programs (helm, systemctl, reboot,
 *                    shutdown, kubectl) that each twin host runs instead of the machine's own.
 *   test/twin/api/   the Kubernetes side: an in-memory API server on 127.0.0.1 (HTTPS, real HTTP/watch/exec
 *                    protocols) and the controllers that behave as Kubernetes and Cilium do (Deployments and
 *                    DaemonSets to pods, nodes Ready, CiliumNodes, cilium-config, LB-IPAM, L2 leases, ingress),
 *                    answering `cilium-dbg` / `hubble` in agent pods in the seeds' formats, and `helm` calls.
 *
 * The API side drives the network side only through `TwinNetwork`; the network side reaches the API side only
 * through the `StandInHandler` it is given (the stand-in programs on twin hosts call it over a unix socket).
 * Neither imports the other's internals. The twin's glue (test/twin/twin.ts) builds both and wires them.
 * Additive changes only; say in the commit message why a member was added.
 */

/** A pod as the network sees it. */
export interface PodNet {
  namespace: string;
  name: string;
  node: string;
  /** The pod's address, from its node's pod CIDR. */
  ip: string;
}

/** What a pod serves, if anything (the pod's process, started in the pod's network namespace). */
export type PodServer =
  /** traefik/whoami: answers every path with its `Hostname:` (the pod name), `IP:` lines, `RemoteAddr:` and the
   *  request, and a `Name:` line when WHOAMI_NAME is set (the shape the seeds show for webpod). */
  | { kind: 'whoami'; port: number; name?: string }
  /** a plain TCP listener that accepts and closes (for port reachability checks). */
  | { kind: 'tcp'; port: number };

export interface ExecIo {
  stdout: (chunk: Buffer) => void;
  stderr: (chunk: Buffer) => void;
  /** Aborted when the exec's client goes away: the process is ended by PID. */
  signal: AbortSignal;
}

export interface Backend {
  ip: string;
  port: number;
}

/** One L4 frontend of an announced IP (a LoadBalancer Service port). */
export interface Frontend {
  port: number;
  protocol: 'TCP';
  backends: Backend[];
}

/** Envoy stand-in routes for the shared ingress (from Ingress objects): first match wins, exact before prefix. */
/** A Service frontend as kube-proxy replacement programs it on one node (issue 17): a ClusterIP on every node, a
 *  NodePort on the node's own address (externalTrafficPolicy Local: only its local backends; none: dropped). */
export interface ServiceFrontendNet {
  kind: 'ClusterIP' | 'NodePort';
  ip: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  backends: Backend[];
}

export interface IngressRoute {
  host?: string;
  path: string;
  pathType: 'Prefix' | 'Exact';
  backend: Backend;
}

import type { L7PodPolicy, L7Record } from './net/l7-policy.ts';
export type { L7PodPolicy, L7Record } from './net/l7-policy.ts';

export interface RoutingSettings {
  mode: 'native' | 'tunnel';
  /** native mode only: direct routes to peers on the same L2 segment. */
  autoDirectNodeRoutes: boolean;
  /** Issue 17: WireGuard (encryption.enabled + type wireguard): cilium_wg0 on every node carries pod traffic between nodes. */
  wireguard?: boolean;
}

export type NodeState = 'down' | 'up';

export interface TwinNetwork {
  /** Kubernetes node names (control plane and workers), topology order. */
  readonly nodes: readonly string[];
  /** The node's address on its LAN interface (eth1). */
  nodeAddress(node: string): string;
  /** MAC of an interface of a host (e.g. the node's eth1). */
  mac(host: string, iface: string): Promise<string>;
  /** The pod CIDR this node's "agent" allocates from (as CiliumNode spec.ipam.podCIDRs). */
  podCidr(node: string): string;
  /** The IP of the node's cilium_host (the router IP in its pod CIDR). */
  ciliumHostIp(node: string): string;

  /** Creates the pod's network namespace with a veth into its node, an address from the node's pod CIDR and
   *  routes; starts its server. Idempotent by namespace/name. */
  addPod(p: { namespace: string; name: string; node: string; serve?: PodServer }): Promise<PodNet>;
  removePod(namespace: string, name: string): Promise<void>;
  /** Runs argv inside the pod's network namespace (real curl, ping); resolves with the exit code. */
  execInPod(namespace: string, name: string, argv: string[], io: ExecIo): Promise<number>;

  /** Programs every node as the agents would for these settings (routes, cilium_vxlan, cilium_host). */
  setRouting(s: RoutingSettings): Promise<void>;
  /** Issue 17: the node's WireGuard public key while its cilium_wg0 runs, else null (optional for fakes). */
  wireguardPublicKey?(node: string): string | null;
  /** Issue 17: an L7 HTTP policy's rules in front of the pod's port, or none (null) (optional for fakes). */
  setL7Policy?(namespace: string, name: string, policy: L7PodPolicy | null): Promise<void>;
  /** Issue 17: every request the L7 policy stand-ins see (Hubble's L7 flows are made from them). */
  onL7Record?(listener: (r: L7Record) => void): void;

  /** L2 announcement of `ip`: only `holder` answers ARP for it on `iface` (with its own MAC), with a gratuitous
   *  ARP when the holder changes; traffic to ip:port reaches the frontends' backends. holder null: nobody. */
  announce(ip: string, holder: string | null, o: { iface: string; frontends: Frontend[] }): Promise<void>;
  /** The shared ingress: traffic to this IP:80 goes to the Envoy stand-in on the holder, which routes by host and
   *  path and answers 404 with `server: envoy` where no route matches. */
  setIngress(ip: string, routes: IngressRoute[]): Promise<void>;

  /** Issue 17 (optional: fakes may leave them out). Every node's Service frontends (kube-proxy replacement). */
  setServices?(perNode: ReadonlyMap<string, readonly ServiceFrontendNet[]>): Promise<void>;
  /** Cluster DNS: `dnsIp` (the kube-dns ClusterIP) answers these A records on every node; pods resolve through it. */
  setDnsRecords?(dnsIp: string, records: readonly { name: string; ip: string }[]): Promise<void>;
  /** A pod's network policy ruleset (nftables text for its namespace; test/twin/cilium/policy.ts renderPodFirewall). */
  setPodFirewall?(namespace: string, name: string, nftText: string): Promise<void>;
  /** kube-proxy's iptables chains on every node (fault kube-proxy-left) or none. */
  setKubeProxyChains?(on: boolean): Promise<void>;

  /** `systemctl reboot` / `reboot`: the node goes away (SSH, ARP, its pods), and comes back after `downMs` with a
   *  new boot id. Resolves when the node is gone; listeners hear 'down' and later 'up'. */
  reboot(node: string, o: { downMs: number }): Promise<void>;
  onNodeState(listener: (node: string, state: NodeState) => void): void;

  /** Writes a file as the host sees it (e.g. /etc/kubernetes/admin.conf on the control plane, which the harness
   *  reads over SSH with sudo; /etc/cilium-lab/versions.env on every host). Only paths under /etc/kubernetes and
   *  /etc/cilium-lab: each host has its own copies (bind-mounted in its mount namespace), never the machine's. */
  writeHostFile(host: string, path: string, content: string): Promise<void>;

  teardown(): Promise<void>;
}

/** A stand-in program run on a twin host (argv[0] is the program's name: helm, systemctl, reboot, shutdown, kubectl). */
export interface StandInCall {
  host: string;
  argv: string[];
  stdin: string;
}

export interface StandInResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Answers the stand-in programs (the network side serves the unix socket and installs the programs). */
export type StandInHandler = (call: StandInCall) => Promise<StandInResult>;
