/**
 * A bounded HTTP probe loop that runs ON the router (or any lab host) while the lab is disturbed, so
 * the outage is measured where a client sits. Every `intervalMs` a curl starts in the background, so a
 * hanging probe never delays the next one; each start and each result is one line (format and parser:
 * helpers/parse/http-probe-loop.ts). The loop ends on its own after `maxProbes` probes or `maxDurationMs`,
 * whichever comes first, even if nobody stops it.
 *
 * `httpProbeLoopScript` is pure (tested by running it against a loopback server); the suite starts it
 * with SshHost.background and always stops it.
 */
import { PROBE_LOG_TAG } from '../parse/http-probe-loop.ts';

export interface HttpProbeLoopOptions {
  /** http://<IPv4>[:port][/path] — nothing else, so the script stays trivially safe to quote. */
  url: string;
  /** Time between probe starts: 200–500 ms. */
  intervalMs: number;
  /** curl --connect-timeout and --max-time, 100–5000 ms. */
  timeoutMs: number;
  /** Hard cap on the number of probes, 1–10 000. */
  maxProbes: number;
  /** Hard cap on the loop's run time, 1 s–15 min. */
  maxDurationMs: number;
}

const URL_RE = /^http:\/\/(\d{1,3}\.){3}\d{1,3}(:\d{1,5})?(\/[A-Za-z0-9._~/-]*)?$/;

function check(o: HttpProbeLoopOptions): void {
  const problems: string[] = [];
  if (!URL_RE.test(o.url)) problems.push(`url ${JSON.stringify(o.url)} is not http://<IPv4>[:port][/path]`);
  const range = (name: keyof HttpProbeLoopOptions, v: number, lo: number, hi: number): void => {
    if (!Number.isInteger(v) || v < lo || v > hi) problems.push(`${name} ${v} is not an integer in ${lo}..${hi}`);
  };
  range('intervalMs', o.intervalMs, 200, 500);
  range('timeoutMs', o.timeoutMs, 100, 5_000);
  range('maxProbes', o.maxProbes, 1, 10_000);
  range('maxDurationMs', o.maxDurationMs, 1_000, 900_000);
  if (problems.length) throw new Error(`HTTP probe loop: ${problems.join('; ')}`);
}

/** The bash script of the loop (needs bash, GNU date for %3N, GNU sleep for fractions, curl). */
export function httpProbeLoopScript(o: HttpProbeLoopOptions): string {
  check(o);
  const timeoutS = (o.timeoutMs / 1000).toFixed(3);
  const sleepS = (o.intervalMs / 1000).toFixed(3);
  const t = PROBE_LOG_TAG;
  return [
    'set -u',
    `url='${o.url}'`,
    'ms() { date +%s%3N; }',
    'start=$(ms)',
    `deadline=$((start + ${o.maxDurationMs}))`,
    `echo "${t} B $start ${o.maxProbes} ${o.intervalMs} $deadline"`,
    'reason=count',
    'i=0',
    `while [ "$i" -lt ${o.maxProbes} ]; do`,
    '  now=$(ms)',
    '  if [ "$now" -ge "$deadline" ]; then reason=deadline; break; fi',
    '  i=$((i + 1))',
    `  echo "${t} S $i $now"`,
    `  ( out=$(curl -s -o /dev/null --connect-timeout ${timeoutS} --max-time ${timeoutS} -w '%{http_code} %{time_total}' "$url" 2>/dev/null); rc=$?; echo "${t} R $i $(ms) $rc \${out:-000 0}" ) &`,
    `  sleep ${sleepS}`,
    'done',
    'wait',
    `echo "${t} E $(ms) $reason"`,
  ].join('\n');
}

/** The loop as one shell command line (`bash -c '<script>'`), for SshHost.background. */
export function httpProbeLoopCommand(o: HttpProbeLoopOptions): string {
  return `bash -c '${httpProbeLoopScript(o).replace(/'/g, `'\\''`)}'`;
}
