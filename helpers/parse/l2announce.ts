/**
 * The agent's l2-announce table (cilium-behaviour.md 2.5):
 * - `cilium-dbg shell -- db/show l2-announce`: tabwriter text with the header `IP  NetworkInterface`
 *   (1.17/1.18 print no leading `#`; the older `cilium-dbg statedb` format and the docs sample have `# IP ...`);
 * - `cilium-dbg shell -- db/show --format=json l2-announce`: an object stream (concatenated pretty-printed JSON
 *   objects, not an array) with the row fields `IP`, `NetworkInterface`, `Origins`.
 * Only the lease holder has rows for a service, so an empty table is a normal answer.
 *
 * Pure. Empty input is an empty table; anything else that is not one of those shapes is an error.
 */
import ipaddr from 'ipaddr.js';

export interface L2AnnounceEntry {
  ip: string;
  iface: string;
}

export class L2AnnounceParseError extends Error {
  constructor(message: string) {
    super(`l2-announce table: ${message}`);
    this.name = 'L2AnnounceParseError';
  }
}

export function parseL2AnnounceTable(text: string): L2AnnounceEntry[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  return trimmed.startsWith('{') ? parseJsonStream(trimmed) : parseTable(trimmed);
}

function checkIp(ip: string, where: string): string {
  if (!ipaddr.isValid(ip)) throw new L2AnnounceParseError(`${where}: "${ip}" is not an IP address`);
  return ip;
}

function parseTable(text: string): L2AnnounceEntry[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const [headerLine, ...rows] = lines;
  const header = (headerLine ?? '')
    .replace(/^\s*#\s*/, '')
    .trim()
    .split(/\s+/);
  const ipCol = header.indexOf('IP');
  const ifCol = header.indexOf('NetworkInterface');
  if (ipCol < 0 || ifCol < 0) {
    throw new L2AnnounceParseError(`first line is not the "IP  NetworkInterface" header: ${(headerLine ?? '').trim().slice(0, 120)}`);
  }
  return rows.map((line, i) => {
    const cells = line.trim().split(/\s+/);
    const ip = cells[ipCol];
    const iface = cells[ifCol];
    if (ip === undefined || iface === undefined) {
      throw new L2AnnounceParseError(
        `row ${i + 1} has ${cells.length} column(s), expected at least ${Math.max(ipCol, ifCol) + 1}: ${line.trim()}`,
      );
    }
    return { ip: checkIp(ip, `row ${i + 1}`), iface };
  });
}

/** Splits concatenated JSON values (`{...}{...}` with any whitespace between) into their texts. */
export function splitJsonObjectStream(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      if (depth === 0) throw new L2AnnounceParseError(`unexpected text between JSON objects at offset ${i}`);
      inString = true;
    } else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth < 0) throw new L2AnnounceParseError(`unbalanced "}" at offset ${i}`);
      if (depth === 0) out.push(text.slice(start, i + 1));
    } else if (depth === 0 && !/\s/.test(c ?? '')) {
      throw new L2AnnounceParseError(`unexpected text between JSON objects at offset ${i}: ${text.slice(i, i + 40)}`);
    }
  }
  if (depth !== 0 || inString) throw new L2AnnounceParseError('JSON object stream ends inside an object (truncated output?)');
  return out;
}

function parseJsonStream(text: string): L2AnnounceEntry[] {
  return splitJsonObjectStream(text).map((chunk, i) => {
    let row: unknown;
    try {
      row = JSON.parse(chunk);
    } catch (err) {
      throw new L2AnnounceParseError(`object ${i + 1} is not valid JSON: ${(err as Error).message}`);
    }
    const r = row as { IP?: unknown; NetworkInterface?: unknown };
    if (typeof r.IP !== 'string' || typeof r.NetworkInterface !== 'string' || r.NetworkInterface === '') {
      throw new L2AnnounceParseError(`object ${i + 1} lacks string fields "IP" and "NetworkInterface": ${chunk.slice(0, 120)}`);
    }
    return { ip: checkIp(r.IP, `object ${i + 1}`), iface: r.NetworkInterface };
  });
}
