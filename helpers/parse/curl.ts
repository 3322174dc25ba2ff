/**
 * Output of `curl -sS -i -w '\n__CLH_CURL__ %{http_code} %{time_total}\n' URL` (what curlFrom runs):
 * the response head(s), the body, then one marker line curl writes even when the request failed
 * (code 000). Interim responses (100 Continue) and proxy CONNECT heads are skipped: headers and
 * status are the final response's.
 */
import { ParseError } from './common.ts';

export const CURL_MARKER = '__CLH_CURL__';
/** The `-w` argument that makes curl print what parseCurlOutput needs. */
export const CURL_WRITE_OUT = `\\n${CURL_MARKER} %{http_code} %{time_total}\\n`;

export interface CurlOutput {
  /** HTTP status, null when no response came (curl's 000). */
  status: number | null;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
  /** curl's time_total in milliseconds. */
  timeMs: number;
}

const HEAD = /^HTTP\/[\d.]+\s+(\d{3})[^\r\n]*\r?\n/;

export function parseCurlOutput(stdout: string): CurlOutput {
  const at = stdout.lastIndexOf(`${CURL_MARKER} `);
  const trailer = at >= 0 ? stdout.slice(at).match(new RegExp(`^${CURL_MARKER} (\\d{3}) ([\\d.]+)`)) : null;
  if (at < 0 || !trailer) {
    throw new ParseError('parseCurlOutput', `no "${CURL_MARKER} <code> <time>" line: curl did not finish (killed or cut short?)`, stdout);
  }
  const code = Number(trailer[1]);
  // The response is everything before the newline the write-out put in front of the marker.
  let rest = stdout.slice(0, at > 0 && stdout[at - 1] === '\n' ? at - 1 : at);
  let status: number | null = null;
  let headers: Record<string, string> = {};
  for (let m = rest.match(HEAD); m; m = rest.match(HEAD)) {
    const end = rest.search(/\r?\n\r?\n/);
    const block = end < 0 ? rest : rest.slice(0, end);
    rest = end < 0 ? '' : rest.slice(end).replace(/^\r?\n\r?\n/, '');
    status = Number(m[1]);
    headers = parseHeaders(block);
    const interim = status >= 100 && status < 200;
    const connect = /^HTTP\/[\d.]+\s+200\s+Connection established/i.test(block);
    if (!(interim || connect) || !HEAD.test(rest)) break;
  }
  return { status: code === 0 ? null : (status ?? code), headers, body: rest, timeMs: Number(trailer[2]) * 1000 };
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/).slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}
