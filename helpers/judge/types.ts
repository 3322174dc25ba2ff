/**
 * What the judges consume: the parsers' shapes (helpers/parse, fixed by the team contract) and the few
 * shapes of the judges' own.
 */
import type { CiliumDbgStatus, TcpdumpPacket } from '../parse/index.ts';

export type { CiliumDbgStatus, IpRoute, PingResult, TcpdumpPacket } from '../parse/index.ts';

/** The part of a tcpdump line the judges read (where, which way, between which addresses and ports). */
export type Packet = Pick<TcpdumpPacket, 'iface' | 'direction' | 'srcIp' | 'srcPort' | 'dstIp' | 'dstPort'>;

/** The part of an agent's `cilium-dbg status` the routing judges read. */
export type RoutingStatus = Pick<CiliumDbgStatus, 'kubeProxyReplacement' | 'routing'>;

/** What a judge needs of an HTTP probe's result (CurlResult in helpers/probes.ts, without the raw exec). */
export interface HttpAnswer {
  ok: boolean;
  status: number | null;
  body: string;
  error: string | null;
}

/** A judge's answer: the decision and, always, the sentence a person reads to see why. */
export interface Verdict {
  ok: boolean;
  explanation: string;
}
