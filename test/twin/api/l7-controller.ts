/**
 * The twin's reading of L7 CiliumNetworkPolicies (issue 17, 76-l7-policy). Pure: objects in, decisions out.
 *
 *   desiredL7Policies(cnps, pods) -> Map<"ns/pod", L7PodPolicy>   which pod gets which HTTP rules on which port
 *   l7Flows(record, find)        -> HubbleFlowModel[]            what Hubble on the backend's node records
 *
 * Cilium's shape (cilium.io/v2 CiliumNetworkPolicy; seed 004's example): `spec.endpointSelector` selects the pods of
 * the policy's namespace; `spec.ingress[].toPorts[].ports[]` {port, protocol} with `rules.http[]` {method, path}
 * (regular expressions). The twin enforces the HTTP rules of a pod's first port that has some (one port per pod);
 * fromEndpoints is not enforced (simplification: see test/twin/net/l7-policy.ts).
 * Hubble: the request flow (REQUEST, verdict FORWARDED or DROPPED) and, for a forwarded request, the response flow
 * (RESPONSE, FORWARDED, the code), both recorded by the backend's node with traffic direction INGRESS
 * (pkg/hubble/parser/seven; an ingress L7 policy is enforced for the destination endpoint).
 */
import type { HubbleEndpointModel, HubbleFlowModel } from '../cilium/agent-outputs.ts';
import type { L7PodPolicy, L7Record } from '../net/l7-policy.ts';
import { matchSelectorObject, type LabelSelectorObject } from './selectors.ts';

interface Obj {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
  status?: unknown;
}

interface CnpSpec {
  endpointSelector?: LabelSelectorObject;
  ingress?: {
    toPorts?: { ports?: { port?: string | number; protocol?: string }[]; rules?: { http?: { method?: string; path?: string }[] } }[];
  }[];
}

/** The HTTP rules each selected pod gets (pods without L7 rules are not in the map). */
export function desiredL7Policies(cnps: readonly Obj[], pods: readonly Obj[]): Map<string, L7PodPolicy> {
  const out = new Map<string, L7PodPolicy>();
  for (const cnp of cnps) {
    const spec = (cnp.spec ?? {}) as CnpSpec;
    for (const rule of spec.ingress ?? []) {
      for (const tp of rule.toPorts ?? []) {
        const http = tp.rules?.http;
        if (!http) continue;
        const port = Number(tp.ports?.find((p) => (p.protocol ?? 'TCP').toUpperCase() === 'TCP')?.port ?? NaN);
        if (!Number.isInteger(port)) continue;
        for (const pod of pods) {
          if (pod.metadata.namespace !== cnp.metadata.namespace) continue;
          if (!matchSelectorObject(spec.endpointSelector ?? {}, pod.metadata.labels)) continue;
          const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
          const known = out.get(key);
          // Rules of several policies on the same port add up (any rule that matches allows).
          if (known && known.port === port) known.http.push(...http.map((h) => ({ method: h.method, path: h.path })));
          else if (!known) out.set(key, { port, http: http.map((h) => ({ method: h.method, path: h.path })) });
        }
      }
    }
  }
  return out;
}

/** The L7 flows Hubble records for one request the stand-in saw. `find` gives the endpoint of an address. */
export function l7Flows(
  r: L7Record,
  o: { node: string; nowMs: number; endpointOf: (ip: string) => HubbleEndpointModel; backendPort: number },
): HubbleFlowModel[] {
  const client = o.endpointOf(r.srcIp);
  const backend = o.endpointOf(r.pod.ip);
  const base = {
    protocol: 'TCP' as const,
    tcpFlags: [],
    node: o.node,
    trafficDirection: 'INGRESS' as const,
  };
  const request: HubbleFlowModel = {
    ...base,
    timeMs: o.nowMs,
    verdict: r.verdict,
    srcIp: r.srcIp,
    dstIp: r.pod.ip,
    srcPort: r.srcPort,
    dstPort: o.backendPort,
    source: client,
    destination: backend,
    isReply: false,
    l7: { type: 'REQUEST', method: r.method, url: r.url, protocol: r.protocol },
  };
  if (r.verdict !== 'FORWARDED') return [request];
  const response: HubbleFlowModel = {
    ...base,
    timeMs: o.nowMs + 1,
    verdict: 'FORWARDED',
    srcIp: r.pod.ip,
    dstIp: r.srcIp,
    srcPort: o.backendPort,
    dstPort: r.srcPort,
    source: backend,
    destination: client,
    isReply: true,
    l7: { type: 'RESPONSE', method: r.method, url: r.url, protocol: r.protocol, code: r.code, latencyNs: r.latencyMs * 1_000_000 },
  };
  return [request, response];
}
