/**
 * What the judges consume: the parsers' shapes (helpers/parse, fixed by the team contract) and the few
 * shapes of the judges' own; and what every judge returns, a Verdict.
 */
import type { CiliumDbgStatus, TcpdumpPacket } from '../parse/index.ts';

export type { CiliumDbgStatus, IpRoute, PingResult, TcpdumpPacket } from '../parse/index.ts';

/** The part of a tcpdump line the judges read (where, which way, between which addresses and ports). */
export type Packet = Pick<TcpdumpPacket, 'iface' | 'direction' | 'srcIp' | 'srcPort' | 'dstIp' | 'dstPort'>;

/** The part of an agent's `cilium-dbg status` the routing judges read. */
export type RoutingStatus = Pick<CiliumDbgStatus, 'kubeProxyReplacement' | 'routing'>;

/**
 * An HTTP request's answer as the judges read it: the contract's CurlResult (helpers/transport/probes.ts) without the raw
 * exec, so a CurlResult can be passed as it is; so can an answer read from curl run inside a pod (parseCurlOutput).
 */
export interface HttpAnswer {
  /** An HTTP answer came back (any status). */
  ok: boolean;
  status: number | null;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
  /** What curl said when the request did not end cleanly (refused, timeout…), else null. */
  error: string | null;
  /** curl's time_total in ms; absent where nobody timed the request (hand-written fixtures). */
  timeMs?: number;
}

/**
 * What every judge returns: the decision and, pass or fail, the sentence a person reads to see why (what was
 * expected, what was seen). Judges that return more extend it (FailoverVerdict, Spread, `Verdict & { holder }`).
 * The suites assert it with helpers/report/verdict.ts expectVerdict.
 */
export interface Verdict {
  ok: boolean;
  /** One sentence or paragraph a person can act on: what was expected, what was seen. */
  explanation: string;
  /** Things tolerated on purpose (e.g. a known Cilium bug), worth a line in the report. */
  notes?: string[];
  /** What the judge wanted and what it saw, when it has them as values: the report shows them side by side. */
  expected?: unknown;
  actual?: unknown;
}

/** A verdict comparing a value seen with the one wanted: yes when they are equal (deep, JSON-wise). */
export function compare(what: string, actual: unknown, expected: unknown): Verdict {
  const same = JSON.stringify(actual) === JSON.stringify(expected);
  const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
  return {
    ok: same,
    explanation: same ? `${what}: ${show(actual)}` : `${what}: expected ${show(expected)}, saw ${show(actual)}`,
    notes: [],
    expected,
    actual,
  };
}

/** A yes, with what was tolerated on the way. */
export function yes(explanation: string, notes: string[] = []): Verdict {
  return { ok: true, explanation, notes };
}

/** A no. */
export function no(explanation: string, notes: string[] = []): Verdict {
  return { ok: false, explanation, notes };
}
