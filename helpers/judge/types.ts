/**
 * Shapes the judges consume, exactly as the team contract fixes them for helpers/parse/index.ts.
 * They are declared here only until the parsers land on main; then these declarations are replaced by
 * re-exports from ../parse/index.ts (the shapes are the same, so nothing that imports them changes).
 */

/** One line of `tcpdump -i any -nn` (parseTcpdump). */
export interface TcpdumpPacket {
  iface: string | null;
  direction: 'In' | 'Out' | 'P' | 'M' | 'B' | null;
  srcIp: string;
  srcPort: number | null;
  dstIp: string;
  dstPort: number | null;
  protocol: string;
}

/** One line of `ip route` (parseIpRoute). */
export interface IpRoute {
  dst: string;
  via: string | null;
  dev: string | null;
  src: string | null;
  proto: string | null;
  mtu: number | null;
  metric: number | null;
}

/** The summary of `ping` (parsePing). */
export interface PingResult {
  transmitted: number;
  received: number;
  lossPercent: number;
  rttAvgMs: number | null;
  unreachable: boolean;
}

/** `cilium-dbg status` lines that matter for routing (parseCiliumDbgStatus). */
export interface CiliumDbgStatus {
  kubeProxyReplacement: boolean;
  routing: { network: 'Tunnel' | 'Native'; tunnelProtocol: string | null; host: 'BPF' | 'Legacy' };
}

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
