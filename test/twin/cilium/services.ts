/**
 * What kube-proxy replacement serves, as a pure model: the frontends every agent programs from Services and their
 * ready pods (ClusterIP on every node; NodePort on every node's address, with externalTrafficPolicy Local only the
 * node's own backends), and `cilium-dbg service list` (text and `-o json`) printed from them.
 *
 *   const fes = serviceFrontends({ services, pods, nodes });          // every frontend with its backends
 *   frontendsOn(fes, 'k8s-w1');                                       // what k8s-w1 programs (NodePort Local filtered)
 *   renderServiceList(frontendsOn(fes, 'k8s-w1'), 'json');
 *
 * Sources: Kubernetes Service semantics (NodePort, externalTrafficPolicy); Cilium kubeproxy-free.rst (Local: a node
 * without a local backend drops); cilium-dbg/cmd/service_list.go (header `ID  Frontend  Service Type  Backend`,
 * tabwriter minwidth 5 padding 3, backends `N => ip:port/TCP (active)`); api/v1/models Service / FrontendAddress /
 * BackendAddress (JSON keys `frontend-address`, `backend-addresses`, `flags.type`). The ID column and `/TCP`
 * suffix follow the 1.17/1.18-era printer as read in the code index (unverified against a 1.18 capture).
 */

export interface SvcInput {
  namespace: string;
  name: string;
  type: string;
  clusterIP: string | null;
  externalTrafficPolicy: 'Cluster' | 'Local';
  selector: Record<string, string> | null;
  ports: { port: number; targetPort: number; nodePort: number | null; protocol: 'TCP' | 'UDP' }[];
}

export interface PodInput {
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  node: string;
  ready: boolean;
}

export interface BackendModel {
  ip: string;
  port: number;
  node: string;
}

export interface FrontendModel {
  id: number;
  service: string;
  type: 'ClusterIP' | 'NodePort';
  ip: string;
  port: number;
  protocol: 'TCP' | 'UDP';
  /** NodePort: the node whose address this is. */
  node: string | null;
  local: boolean;
  backends: BackendModel[];
}

const matches = (sel: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(sel).every(([k, v]) => labels[k] === v);

export function serviceFrontends(o: {
  services: readonly SvcInput[];
  pods: readonly PodInput[];
  nodes: readonly { name: string; address: string }[];
}): FrontendModel[] {
  const out: FrontendModel[] = [];
  let id = 1;
  const sorted = [...o.services].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  for (const s of sorted) {
    if (!s.clusterIP || s.clusterIP === 'None') continue;
    const sel = s.selector;
    const chosen =
      sel && Object.keys(sel).length > 0
        ? o.pods.filter((p) => p.namespace === s.namespace && p.ready && p.ip && matches(sel, p.labels))
        : [];
    for (const port of s.ports) {
      const backends = chosen.map((p) => ({ ip: p.ip, port: port.targetPort, node: p.node }));
      const svc = `${s.namespace}/${s.name}`;
      out.push({
        id: id++,
        service: svc,
        type: 'ClusterIP',
        ip: s.clusterIP,
        port: port.port,
        protocol: port.protocol,
        node: null,
        local: false,
        backends,
      });
      if ((s.type === 'NodePort' || s.type === 'LoadBalancer') && port.nodePort) {
        const local = s.externalTrafficPolicy === 'Local';
        for (const n of o.nodes)
          out.push({
            id: id++,
            service: svc,
            type: 'NodePort',
            ip: n.address,
            port: port.nodePort,
            protocol: port.protocol,
            node: n.name,
            local,
            backends: local ? backends.filter((b) => b.node === n.name) : backends,
          });
      }
    }
  }
  return out;
}

/** What one node programs: every ClusterIP frontend and the NodePort frontends of its own address. */
export function frontendsOn(all: readonly FrontendModel[], node: string): FrontendModel[] {
  return all.filter((f) => f.type === 'ClusterIP' || f.node === node);
}

const addr = (ip: string, port: number, proto: string): string => `${ip}:${port}/${proto}`;

/** Go's text/tabwriter with minwidth 5, padding 3, padchar ' ', cells ending in `\t` (trailing cell kept). */
function tabwrite(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, Math.max(5, c.length + 3))));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export function renderServiceList(fes: readonly FrontendModel[], format: 'table' | 'json'): string {
  if (format === 'json') {
    const list = fes.map((f) => {
      const spec = {
        id: f.id,
        'frontend-address': { ip: f.ip, port: f.port, protocol: f.protocol, scope: 'external' },
        'backend-addresses': f.backends.map((b) => ({ ip: b.ip, port: b.port, protocol: f.protocol, state: 'active', nodeName: b.node })),
        flags: {
          type: f.type,
          name: f.service.split('/')[1],
          namespace: f.service.split('/')[0],
          ...(f.local ? { extTrafficPolicy: 'Local' } : {}),
        },
      };
      return { spec, status: { realized: spec } };
    });
    return `${JSON.stringify(list, null, 2)}\n`;
  }
  const rows: string[][] = [['ID', 'Frontend', 'Service Type', 'Backend', '']];
  for (const f of [...fes].sort((a, b) => a.id - b.id)) {
    const first = f.backends[0];
    rows.push([
      String(f.id),
      addr(f.ip, f.port, f.protocol),
      f.type,
      first ? `1 => ${addr(first.ip, first.port, f.protocol)} (active)` : '',
      '',
    ]);
    f.backends.slice(1).forEach((b, i) => rows.push(['', '', '', `${i + 2} => ${addr(b.ip, b.port, f.protocol)} (active)`, '']));
  }
  return tabwrite(rows);
}
