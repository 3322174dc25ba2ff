/**
 * arping output, both flavours found on lab machines:
 *
 * - iputils (`arping -c 3 -I IFACE IP`):
 *     ARPING 198.18.10.211 from 198.18.10.200 eth1
 *     Unicast reply from 198.18.10.211 [A2:D3:49:B2:4F:04]  0.535ms
 *     Sent 3 probes (1 broadcast(s))
 *     Received 3 response(s)
 * - Thomas Habets (`arping -c 3 -i IFACE IP`, the lab router's):
 *     ARPING 198.18.10.211
 *     42 bytes from a2:d3:49:b2:4f:04 (198.18.10.211): index=0 time=11.397 usec
 *     Timeout
 *     --- 198.18.10.211 statistics ---
 *     3 packets transmitted, 2 packets received,  33% unanswered (0 extra)
 *
 * MACs come back lower case, times in milliseconds whatever unit the tool printed.
 */
import { lines, normalizeMac, ParseError } from './common.ts';

export type ArpingFlavour = 'iputils' | 'habets';

export interface ArpingReply {
  ip: string;
  /** Lower case, colon separated. */
  mac: string;
  timeMs: number;
}

export interface ArpingResult {
  flavour: ArpingFlavour;
  /** The address arping asked for (from its `ARPING x` header). */
  target: string;
  sent: number;
  received: number;
  replies: ArpingReply[];
  /**
   * False when the closing statistics were missing (output cut short): `sent` and `received` are then
   * counted from the probe lines shown (replies and Timeout lines), not taken from arping's summary.
   */
  complete: boolean;
}

const HEADER = /^ARPING\s+(\S+)(?:\s+from\s+(\S+)\s+(\S+))?/;
const IPUTILS_REPLY = /^(?:Unicast|Broadcast)\s+reply\s+from\s+(\S+)\s+\[([0-9A-Fa-f:]+)\]\s+([\d.]+)\s*ms\b/;
const IPUTILS_SENT = /^Sent\s+(\d+)\s+probes?\b/;
const IPUTILS_RECEIVED = /^Received\s+(\d+)\s+response/;
const HABETS_REPLY = /^\d+\s+bytes\s+from\s+([0-9A-Fa-f:]+)\s+\(([^)]+)\):\s+index=\d+\s+time=([\d.]+)\s*(nsec|usec|msec|sec)\b/;
const HABETS_TIMEOUT = /^Timeout\b/;
const HABETS_SUMMARY = /^(\d+)\s+packets\s+transmitted,\s+(\d+)\s+packets\s+received/;

const UNIT_TO_MS: Record<string, number> = { nsec: 1e-6, usec: 1e-3, msec: 1, sec: 1000 };

/** Which arping a host has, from the text of `arping --help` / `arping -V` (both, 2>&1). Null when neither. */
export function detectArpingFlavour(helpText: string): ArpingFlavour | null {
  if (/Habets/i.test(helpText) || /^ARPing \d/m.test(helpText)) return 'habets';
  if (/iputils/i.test(helpText) || /-I\s+<?device>?/.test(helpText)) return 'iputils';
  return null;
}

export function parseArping(text: string): ArpingResult {
  const ls = lines(text);
  if (ls.length === 0) throw new ParseError('parseArping', 'no output', text);

  let target: string | null = null;
  let headerHasFrom = false;
  const replies: ArpingReply[] = [];
  let iputilsLines = 0;
  let habetsLines = 0;
  let timeouts = 0;
  let sent: number | null = null;
  let received: number | null = null;

  for (const line of ls) {
    const l = line.trim();
    let m: RegExpMatchArray | null;
    if ((m = l.match(HEADER)) && target === null) {
      target = m[1] ?? null;
      headerHasFrom = m[2] !== undefined;
    } else if ((m = l.match(IPUTILS_REPLY))) {
      iputilsLines++;
      replies.push({ ip: m[1]!, mac: mac(m[2]!, text), timeMs: Number(m[3]) });
    } else if ((m = l.match(HABETS_REPLY))) {
      habetsLines++;
      replies.push({ ip: m[2]!, mac: mac(m[1]!, text), timeMs: Number(m[3]) * UNIT_TO_MS[m[4]!]! });
    } else if (HABETS_TIMEOUT.test(l)) {
      habetsLines++;
      timeouts++;
    } else if ((m = l.match(IPUTILS_SENT))) {
      iputilsLines++;
      sent = Number(m[1]);
    } else if ((m = l.match(IPUTILS_RECEIVED))) {
      iputilsLines++;
      received = Number(m[1]);
    } else if ((m = l.match(HABETS_SUMMARY))) {
      habetsLines++;
      sent = Number(m[1]);
      received = Number(m[2]);
    }
  }

  if (target === null) {
    throw new ParseError('parseArping', 'no "ARPING <address>" header line: not arping output, or cut short at the start', text);
  }
  if (iputilsLines > 0 && habetsLines > 0) {
    throw new ParseError('parseArping', 'output mixes iputils and Habets arping lines', text);
  }
  // iputils always names the source and interface in its header; Habets never does.
  const flavour: ArpingFlavour = iputilsLines > 0 || (habetsLines === 0 && headerHasFrom) ? 'iputils' : 'habets';

  if (sent !== null && received !== null) {
    return { flavour, target, sent, received, replies, complete: true };
  }
  if (flavour === 'iputils') {
    // iputils prints nothing for an unanswered probe: without its summary the number sent is unknown.
    throw new ParseError(
      'parseArping',
      'iputils arping output has no "Sent N probes" / "Received N response(s)" summary (cut short?)',
      text,
    );
  }
  return { flavour, target, sent: replies.length + timeouts, received: replies.length, replies, complete: false };
}

function mac(raw: string, text: string): string {
  const m = normalizeMac(raw);
  if (m === null) throw new ParseError('parseArping', `"${raw}" is not a MAC address`, text);
  return m;
}
