/**
 * The body of traefik/whoami (the lab's webpod and ingress backends), which prints who it is:
 *
 *   Name: <WHOAMI_NAME, only when set>
 *   Hostname: <pod name>
 *   IP: ...            (one line per address)
 *   RemoteAddr: <client ip:port as the pod saw it>
 *   GET /details/1 HTTP/1.1
 *   Host: ...          (the request headers as received)
 *
 * (traefik/whoami app.go whoamiHandler; seed 002 line 219: `Hostname: webpod-697b545f57-xxxxx`, the seeds
 * grep `Hostname:` from it.) Pure.
 */
export interface WhoamiReply {
  name: string | null;
  hostname: string;
  ips: string[];
  remoteAddr: string | null;
  method: string | null;
  /** The request path the backend received (after any proxy). */
  path: string | null;
  /** The request headers the backend received, lower-case names. */
  headers: Record<string, string>;
}

/** Reads a whoami body; null when the body is not one (no `Hostname:` line with a value). */
export function parseWhoami(body: string): WhoamiReply | null {
  const lines = body.split(/\r?\n/);
  let name: string | null = null;
  let hostname: string | null = null;
  let remoteAddr: string | null = null;
  let method: string | null = null;
  let path: string | null = null;
  const ips: string[] = [];
  const headers: Record<string, string> = {};
  for (const line of lines) {
    if (method === null) {
      const field = /^(Name|Hostname|IP|RemoteAddr): ?(.*)$/.exec(line);
      if (field) {
        const [, key, value = ''] = field;
        if (key === 'Name') name = value.trim();
        else if (key === 'Hostname') hostname = value.trim();
        else if (key === 'IP') ips.push(value.trim());
        else remoteAddr = value.trim();
        continue;
      }
      const req = /^([A-Z]+) (\S+) HTTP\/\d(?:\.\d)?$/.exec(line.trim());
      if (req && hostname !== null) {
        method = req[1] ?? null;
        path = req[2] ?? null;
      }
      continue;
    }
    const h = /^([A-Za-z0-9-]+): ?(.*)$/.exec(line);
    if (h?.[1]) headers[h[1].toLowerCase()] = (h[2] ?? '').trim();
  }
  if (hostname === null || hostname === '') return null;
  return { name, hostname, ips, remoteAddr, method, path, headers };
}
