/**
 * ping output: iputils (Debian/Ubuntu hosts) and BusyBox (small pod images).
 *
 *   2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 201ms      (iputils)
 *   rtt min/avg/max/mdev = 0.068/0.426/0.785/0.358 ms
 *   2 packets transmitted, 2 packets received, 0% packet loss                        (BusyBox)
 *   round-trip min/avg/max = 0.101/0.150/0.200 ms
 *   From 198.18.10.200 icmp_seq=1 Destination Net Unreachable
 *   ping: connect: Network is unreachable                                            (no local route: nothing sent)
 */
import { lines, ParseError } from './common.ts';

export interface PingResult {
  transmitted: number;
  received: number;
  lossPercent: number;
  /** Average round trip, null when nothing came back. */
  rttAvgMs: number | null;
  /** True when the output says the network or host is unreachable (an ICMP error or no local route). */
  unreachable: boolean;
}

const SUMMARY = /(\d+)\s+packets\s+transmitted,\s+(\d+)\s+(?:packets\s+)?received(?:,.*?)?,\s+([\d.]+)%\s+packet\s+loss/;
const RTT = /^(?:rtt|round-trip)\s+min\/avg\/max(?:\/(?:mdev|stddev))?\s+=\s+([\d.]+)\/([\d.]+)\/([\d.]+)(?:\/[\d.]+)?\s*ms/;
const UNREACHABLE =
  /Destination\s+(?:Net|Host|Network|Protocol|Port)?\s*Unreachable|Network is unreachable|No route to host|Host is unreachable|Destination unreachable/i;
const NOTHING_SENT = /^(?:ping:\s+)?(?:connect|sendmsg|sendto):\s+(Network is unreachable|No route to host)/i;

export function parsePing(text: string): PingResult {
  const ls = lines(text);
  if (ls.length === 0) throw new ParseError('parsePing', 'no output', text);
  const unreachable = ls.some((l) => UNREACHABLE.test(l));

  let summary: RegExpMatchArray | null = null;
  let rtt: RegExpMatchArray | null = null;
  for (const l of ls) {
    summary = summary ?? l.match(SUMMARY);
    rtt = rtt ?? l.trim().match(RTT);
  }
  if (summary) {
    const transmitted = Number(summary[1]);
    const received = Number(summary[2]);
    return {
      transmitted,
      received,
      lossPercent: Number(summary[3]),
      rttAvgMs: rtt && received > 0 ? Number(rtt[2]) : null,
      unreachable,
    };
  }
  // ping refused to send at all (no route on the sending host): no statistics are printed.
  if (ls.some((l) => NOTHING_SENT.test(l.trim()))) {
    return { transmitted: 0, received: 0, lossPercent: 100, rttAvgMs: null, unreachable: true };
  }
  throw new ParseError('parsePing', 'no "N packets transmitted, N received" statistics line (cut short, or not ping output)', text);
}
