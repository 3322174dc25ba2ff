/**
 * The agent's service table: `cilium-dbg service list -o json` (a JSON array of the API's `Service` model) and the
 * text table. Pure.
 *
 * JSON (api/v1/models: Service {spec, status.realized}, ServiceSpec {id, frontend-address, backend-addresses, flags},
 * FrontendAddress {ip, port, protocol, scope}, BackendAddress {ip, port, protocol, state}, flags.type ClusterIP |
 * NodePort | ExternalIPs | HostPort | LoadBalancer | LocalRedirect): the realized state is read, the spec when a
 * service has none.
 *
 * Text (cilium-dbg/cmd/service_list.go, tabwriter padding 3): header `ID  Frontend  Service Type  Backend` in
 * 1.17/1.18-era releases, `Frontend  Service Type  Backend` (no ID) on recent main; one row per service with its
 * first backend `1 => 10.0.1.5:80/TCP (active)`, then one row per further backend with empty leading columns.
 * Addresses may carry `/TCP` (and a scope suffix `/i`); both are accepted.
 */

export interface ServiceAddr {
  ip: string;
  port: number;
  protocol: string | null;
}

export interface ServiceBackend extends ServiceAddr {
  state: string | null;
}

export interface ServiceEntry {
  id: number | null;
  frontend: ServiceAddr;
  /** ClusterIP, NodePort, LoadBalancer, … */
  type: string;
  backends: ServiceBackend[];
}

const ADDR = /^\[?([0-9a-fA-F.:]+?)\]?:(\d+)(?:\/([A-Za-z]+))?(?:\/[a-z])?$/;

export function parseServiceAddr(text: string): ServiceAddr {
  const m = ADDR.exec(text.trim());
  if (!m) throw new Error(`service list: "${text}" is not an address:port`);
  return { ip: m[1] as string, port: Number(m[2]), protocol: m[3]?.toUpperCase() ?? null };
}

type Json = Record<string, unknown>;

function addrFromJson(o: unknown, what: string): ServiceAddr {
  const a = (o ?? {}) as Json;
  if (typeof a.ip !== 'string' || typeof a.port !== 'number') throw new Error(`service list JSON: ${what} has no ip/port`);
  return { ip: a.ip, port: a.port, protocol: typeof a.protocol === 'string' && a.protocol !== '' ? a.protocol.toUpperCase() : null };
}

export function parseServiceListJson(text: string): ServiceEntry[] {
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error('service list JSON: not an array');
  return data.map((svc: unknown, i) => {
    const s = (svc ?? {}) as Json;
    const st = ((s.status as Json | undefined)?.realized ?? s.spec) as Json | undefined;
    if (!st) throw new Error(`service list JSON: entry ${i} has neither status.realized nor spec`);
    const flags = (st.flags ?? {}) as Json;
    return {
      id: typeof st.id === 'number' ? st.id : null,
      frontend: addrFromJson(st['frontend-address'], `entry ${i}'s frontend-address`),
      type: typeof flags.type === 'string' ? flags.type : '',
      backends: ((st['backend-addresses'] ?? []) as unknown[]).map((b, j) => ({
        ...addrFromJson(b, `entry ${i}'s backend ${j + 1}`),
        state: typeof (b as Json).state === 'string' ? ((b as Json).state as string) : null,
      })),
    };
  });
}

const BACKEND = /^\d+\s+=>\s+(\S+)(?:\s+\(([^)]+)\))?/;

export function parseServiceListText(text: string): ServiceEntry[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift() ?? '';
  if (!/Frontend\s+Service Type\s+Backend/.test(header)) throw new Error(`service list: unexpected header "${header}"`);
  const hasId = /^\s*ID\s/.test(header);
  const out: ServiceEntry[] = [];
  for (const line of lines) {
    const cols = line.trim().split(/\s{2,}/);
    const backendOnly = /^\s+\S/.test(line) && BACKEND.test(line.trim());
    if (backendOnly) {
      const last = out.at(-1);
      if (!last) throw new Error(`service list: a backend row before any service: "${line}"`);
      last.backends.push(backendFrom(line.trim()));
      continue;
    }
    const id = hasId ? Number(cols.shift()) : null;
    const frontend = parseServiceAddr(cols.shift() ?? '');
    const type = cols.shift() ?? '';
    const rest = cols.join('  ');
    out.push({ id: id !== null && Number.isFinite(id) ? id : null, frontend, type, backends: rest ? [backendFrom(rest)] : [] });
  }
  return out;
}

function backendFrom(text: string): ServiceBackend {
  const m = BACKEND.exec(text);
  if (!m) throw new Error(`service list: "${text}" is not a backend (N => ip:port (state))`);
  return { ...parseServiceAddr(m[1] as string), state: m[2] ?? null };
}
