/**
 * Parser for the output of the router's HTTP probe loop (helpers/transport/probe-loop.ts writes the script).
 * Pure: text in, samples out. Whether a probe succeeded is the judge's call (helpers/judge/failover.ts).
 *
 * Output format, one record per line, fields separated by single spaces, times in ms since the epoch
 * on the router's clock (`date +%s%3N`):
 *   clhp B <at> <maxProbes> <intervalMs> <deadlineAt>      loop started
 *   clhp S <seq> <at>                                      probe <seq> started
 *   clhp R <seq> <at> <curlExit> <httpCode> <totalSeconds> probe <seq> finished (httpCode 000 = no answer)
 *   clhp E <at> <count|deadline>                           loop ended (all probes finished)
 * Probes run in the background, so R lines come in any order; a probe whose R line never came
 * (the loop was stopped while it was in flight) is "lost". Lines that do not fit (noise on stdout,
 * a truncated last line) are kept in `ignored` and otherwise skipped.
 */

export const PROBE_LOG_TAG = 'clhp';

export interface HttpProbeSample {
  seq: number;
  /** Router clock (ms since epoch) when the probe started. */
  startedAt: number;
  /** Router clock when its result was printed; null when the probe was lost in flight. */
  endedAt: number | null;
  /** curl's exit code (0 = an HTTP answer came back, 7 = refused, 28 = timed out...); null when lost. */
  curlExit: number | null;
  /** HTTP status; null when curl got no HTTP answer (it prints 000) or the probe was lost. */
  httpCode: number | null;
  /** curl's %{time_total} in ms; null when lost. */
  totalMs: number | null;
}

export interface HttpProbeLog {
  begin: { at: number; maxProbes: number; intervalMs: number; deadlineAt: number } | null;
  end: { at: number; reason: 'count' | 'deadline' } | null;
  /** One per probe, in seq order. */
  samples: HttpProbeSample[];
  /** Lines that are not probe records (and are not blank). */
  ignored: string[];
}

const INT = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

function ints(fields: string[]): number[] | null {
  return fields.every((f) => INT.test(f)) ? fields.map(Number) : null;
}

export function parseHttpProbeLog(text: string): HttpProbeLog {
  const log: HttpProbeLog = { begin: null, end: null, samples: [], ignored: [] };
  const started = new Map<number, number>();
  const finished = new Map<number, Omit<HttpProbeSample, 'seq' | 'startedAt'>>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    const [tag, kind, ...rest] = line.split(/\s+/);
    let ok = false;
    if (tag === PROBE_LOG_TAG) {
      if (kind === 'B' && rest.length === 4) {
        const n = ints(rest);
        if (n) {
          log.begin = { at: n[0]!, maxProbes: n[1]!, intervalMs: n[2]!, deadlineAt: n[3]! };
          ok = true;
        }
      } else if (kind === 'S' && rest.length === 2) {
        const n = ints(rest);
        if (n && !started.has(n[0]!)) {
          started.set(n[0]!, n[1]!);
          ok = true;
        }
      } else if (kind === 'R' && rest.length === 5 && DECIMAL.test(rest[4]!)) {
        const n = ints(rest.slice(0, 4));
        // curl ended by a signal (exit 128+N, e.g. 130 when stopping the loop interrupts it) never finished its
        // request: that probe was lost in flight, not answered or refused.
        if (n && n[2]! > 128) {
          ok = true;
        } else if (n && !finished.has(n[0]!)) {
          const code = n[3]!;
          finished.set(n[0]!, {
            endedAt: n[1]!,
            curlExit: n[2]!,
            httpCode: code === 0 ? null : code,
            totalMs: Math.round(Number(rest[4]) * 1000),
          });
          ok = true;
        }
      } else if (kind === 'E' && rest.length === 2 && INT.test(rest[0]!) && (rest[1] === 'count' || rest[1] === 'deadline')) {
        log.end = { at: Number(rest[0]), reason: rest[1] };
        ok = true;
      }
    }
    if (!ok) log.ignored.push(raw);
  }
  const seqs = [...new Set([...started.keys(), ...finished.keys()])].sort((a, b) => a - b);
  for (const seq of seqs) {
    const r = finished.get(seq);
    // A result without its start line (the start scrolled off, or a truncated copy): date it from its duration.
    const startedAt = started.get(seq) ?? (r ? (r.endedAt ?? 0) - (r.totalMs ?? 0) : 0);
    log.samples.push(r ? { seq, startedAt, ...r } : { seq, startedAt, endedAt: null, curlExit: null, httpCode: null, totalMs: null });
  }
  return log;
}
