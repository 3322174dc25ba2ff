/**
 * The body of traefik/whoami (the webpod image): `Hostname: webpod-697b545f57-xxxxx`, then `IP: …`
 * lines and the request (seed 002 line 219: `Hostname: webpod-697b545f57-xxxxx`). Pure.
 */
export interface WhoamiAnswer {
  hostname: string | null;
  ips: string[];
}

export function parseWhoami(body: string): WhoamiAnswer {
  let hostname: string | null = null;
  const ips: string[] = [];
  for (const raw of body.split('\n')) {
    const line = raw.trim();
    const h = /^Hostname:\s*(\S+)$/.exec(line);
    if (h && hostname === null) hostname = h[1] ?? null;
    const ip = /^IP:\s*(\S+)$/.exec(line);
    if (ip?.[1]) ips.push(ip[1]);
  }
  return { hostname, ips };
}
