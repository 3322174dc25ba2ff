/**
 * `hubble observe -o json` → flows. Pure.
 *
 * The CLI prints one GetFlowsResponse per line, with protobuf field names:
 * `{"flow":{"verdict":"FORWARDED","IP":{"source":…,"destination":…},"source":{"namespace":…,"pod_name":…},
 *   "event_type":{"type":4,"sub_type":4},"trace_observation_point":"TO_OVERLAY",…},"node_name":…,"time":…}`.
 * Responses that are not flows (node status, lost events) are counted and skipped; lines that are not
 * JSON objects are returned in `unparsed` so a caller can show them.
 *
 * The observation point is given the name the compact output prints (`to-overlay`, `to-endpoint`, …):
 * for trace events (event_type.type 4) hubble's printer names the event_type.sub_type with Cilium's
 * TraceObservationPoints table (pkg/monitor/api/types.go: TraceToLxc=0 "to-endpoint" … TraceToOverlay=4
 * "to-overlay" …), so that is what is used here; `trace_observation_point` (TO_OVERLAY) is the fallback.
 */
import { z } from 'zod';

/** Cilium's monitor message type for trace events (pkg/monitor/api/types.go MessageTypeTrace). */
export const HUBBLE_TRACE_EVENT = 4;

/** pkg/monitor/api/types.go TraceObservationPoints, by sub_type. */
const TRACE_POINTS: Record<number, string> = {
  0: 'to-endpoint',
  1: 'to-proxy',
  2: 'to-host',
  3: 'to-stack',
  4: 'to-overlay',
  5: 'from-endpoint',
  6: 'from-proxy',
  7: 'from-host',
  8: 'from-stack',
  9: 'from-overlay',
  10: 'from-network',
  11: 'to-network',
  12: 'from-crypto',
  13: 'to-crypto',
};

export interface HubbleEndpoint {
  namespace: string | null;
  podName: string | null;
  identity: number | null;
}

export interface HubbleFlow {
  time: string | null;
  /** FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED, TRANSLATED. */
  verdict: string;
  sourceIp: string | null;
  destinationIp: string | null;
  source: HubbleEndpoint;
  destination: HubbleEndpoint;
  /** As the compact output prints it: `to-overlay`, `to-endpoint`, …; null when not a trace event. */
  observationPoint: string | null;
  isReply: boolean | null;
  nodeName: string | null;
  summary: string | null;
  dropReason: string | null;
  /**
   * The L7 record of an L7 flow (Envoy's access log turned into a flow: `Type: "L7"`, `l7.type` REQUEST|RESPONSE,
   * `l7.http` {method, url, protocol, code}; cilium pkg/hubble/parser/seven/http.go decodeHTTP: a request sets method,
   * protocol and url, a response also code), else null.
   */
  l7: HubbleL7 | null;
}

export interface HubbleL7 {
  /** REQUEST, RESPONSE, SAMPLE. */
  type: string;
  http: { method: string | null; url: string | null; code: number | null; protocol: string | null } | null;
}

export interface HubbleFlows {
  flows: HubbleFlow[];
  /** JSON responses that carry no flow (node_status, lost_events…). */
  otherResponses: number;
  /** Lines that are not JSON objects, as they were. */
  unparsed: string[];
}

const endpointSchema = z
  .object({
    namespace: z.string().optional(),
    pod_name: z.string().optional(),
    identity: z.number().optional(),
  })
  .optional();

const flowSchema = z.object({
  time: z.string().optional(),
  verdict: z.string().optional(),
  IP: z.object({ source: z.string().optional(), destination: z.string().optional() }).optional(),
  source: endpointSchema,
  destination: endpointSchema,
  event_type: z.object({ type: z.number().optional(), sub_type: z.number().optional() }).optional(),
  trace_observation_point: z.string().optional(),
  is_reply: z.boolean().optional(),
  node_name: z.string().optional(),
  Summary: z.string().optional(),
  drop_reason_desc: z.string().optional(),
  l7: z
    .object({
      type: z.string().optional(),
      http: z
        .object({
          method: z.string().optional(),
          url: z.string().optional(),
          code: z.number().optional(),
          protocol: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
});

const responseSchema = z.object({
  flow: flowSchema.optional(),
  node_name: z.string().optional(),
  time: z.string().optional(),
});

function endpoint(e: z.infer<typeof endpointSchema>): HubbleEndpoint {
  return { namespace: e?.namespace ?? null, podName: e?.pod_name ?? null, identity: e?.identity ?? null };
}

function observationPoint(f: z.infer<typeof flowSchema>): string | null {
  const type = f.event_type?.type;
  const sub = f.event_type?.sub_type ?? 0;
  if (type === HUBBLE_TRACE_EVENT) return TRACE_POINTS[sub] ?? String(sub);
  const point = f.trace_observation_point;
  if (point && point !== 'UNKNOWN_POINT') return point.toLowerCase().replace(/_/g, '-');
  return null;
}

function toFlow(f: z.infer<typeof flowSchema>, outer: z.infer<typeof responseSchema>): HubbleFlow {
  return {
    time: f.time ?? outer.time ?? null,
    verdict: f.verdict ?? 'VERDICT_UNKNOWN',
    sourceIp: f.IP?.source ?? null,
    destinationIp: f.IP?.destination ?? null,
    source: endpoint(f.source),
    destination: endpoint(f.destination),
    observationPoint: observationPoint(f),
    isReply: f.is_reply ?? null,
    nodeName: f.node_name ?? outer.node_name ?? null,
    summary: f.Summary ?? null,
    dropReason: f.drop_reason_desc ?? null,
    l7: f.l7
      ? {
          type: f.l7.type ?? 'UNKNOWN_L7_TYPE',
          http: f.l7.http
            ? {
                method: f.l7.http.method ?? null,
                url: f.l7.http.url ?? null,
                code: f.l7.http.code ?? null,
                protocol: f.l7.http.protocol ?? null,
              }
            : null,
        }
      : null,
  };
}

export function parseHubbleFlows(text: string): HubbleFlows {
  const out: HubbleFlows = { flows: [], otherResponses: 0, unparsed: [] };
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      out.unparsed.push(line);
      continue;
    }
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) {
      out.unparsed.push(line);
      continue;
    }
    if (parsed.data.flow) out.flows.push(toFlow(parsed.data.flow, parsed.data));
    else out.otherResponses++;
  }
  return out;
}

/** `default/curl-pod (172.20.0.204) -> default/webpod-x (172.20.2.6) to-overlay FORWARDED`, for reports. */
export function describeFlow(f: HubbleFlow): string {
  const side = (e: HubbleEndpoint, ip: string | null): string =>
    `${e.podName ? `${e.namespace ?? '?'}/${e.podName}` : '(no pod)'} (${ip ?? '?'})`;
  return `${side(f.source, f.sourceIp)} -> ${side(f.destination, f.destinationIp)} ${f.observationPoint ?? '-'} ${f.verdict}${f.isReply ? ' reply' : ''}`;
}
