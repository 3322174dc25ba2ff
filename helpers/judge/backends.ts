/**
 * Who answered an HTTP request? The lab's backends run traefik/whoami, which prints who it is (its body is
 * read by helpers/parse/whoami.ts parseWhoami). Pure: answers in, verdicts out.
 */
import { parseWhoami } from '../parse/index.ts';
import { no, yes, type HttpAnswer, type Verdict } from './types.ts';

function preview(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty body)';
  return flat.length > 100 ? `"${flat.slice(0, 100)}…"` : `"${flat}"`;
}

export function describeAnswer(a: HttpAnswer): string {
  if (!a.ok || a.status === null) return `no HTTP answer (${a.error ?? 'no error reported'})`;
  const who = parseWhoami(a.body);
  const from = who ? `from ${who.hostname}${who.name ? ` (Name ${who.name})` : ''}` : `body ${preview(a.body)}`;
  return `HTTP ${a.status} ${from}`;
}

export interface BackendExpectation {
  /** How a person names the backend in a message ("webpod", "the /details backend"). */
  label: string;
  /** The whoami `Name:` the backend was started with (WHOAMI_NAME), when it has one. */
  name?: string;
  /** The pods that may answer (whoami's Hostname is the pod name). */
  hostnames?: readonly string[];
}

/**
 * The request was answered with `status` (200 by default) by the expected backend, and (when `path` is given)
 * the backend received that path unchanged.
 */
export function judgeAnsweredBy(a: HttpAnswer, want: BackendExpectation & { path?: string; status?: number }): Verdict {
  const status = want.status ?? 200;
  const seen = describeAnswer(a);
  if (!a.ok || a.status === null) return no(`expected HTTP ${status} from ${want.label}; got ${seen}`);
  if (a.status !== status) return no(`expected HTTP ${status} from ${want.label}; got ${seen}`);
  const who = parseWhoami(a.body);
  if (!who) return no(`expected a whoami answer from ${want.label}; got ${seen}`);
  if (want.name !== undefined && who.name !== want.name) {
    return no(
      `expected ${want.label} (Name ${want.name}); answered by ${who.name === null ? 'a backend with no Name' : `Name ${who.name}`} (Hostname ${who.hostname})`,
    );
  }
  if (want.hostnames && !want.hostnames.includes(who.hostname)) {
    return no(`expected one of ${want.label}'s pods (${want.hostnames.join(', ') || 'none listed'}); answered by ${who.hostname}`);
  }
  if (want.path !== undefined && who.path !== want.path) {
    return no(`expected ${want.label} to receive ${want.path}; it received ${who.path ?? '(no request line)'}`);
  }
  return yes(`${seen}${who.path ? ` for ${who.method ?? 'GET'} ${who.path}` : ''}`);
}

export interface Spread extends Verdict {
  /** Answers per pod (the seed's `sort | uniq -c`). */
  counts: Record<string, number>;
  failed: number;
}

/**
 * Every request of a burst was answered 200 by one of `hostnames`, and at least `minDistinct` different pods
 * answered (load is spread over backends).
 */
export function judgeSpread(
  answers: readonly HttpAnswer[],
  want: { label: string; hostnames: readonly string[]; minDistinct: number },
): Spread {
  const counts: Record<string, number> = {};
  const failures: string[] = [];
  answers.forEach((a, i) => {
    const v = judgeAnsweredBy(a, { label: want.label, hostnames: want.hostnames });
    if (!v.ok) {
      failures.push(`#${i + 1}: ${v.explanation}`);
      return;
    }
    const host = parseWhoami(a.body)?.hostname ?? '?';
    counts[host] = (counts[host] ?? 0) + 1;
  });
  const tally = Object.entries(counts)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([h, n]) => `${h} ×${n}`)
    .join(', ');
  const distinct = Object.keys(counts).length;
  const summary = `${answers.length} requests: ${tally || 'no backend answered'}; ${failures.length} failed`;
  if (answers.length === 0) return { ok: false, explanation: 'no requests were made', notes: [], counts, failed: 0 };
  if (failures.length > 0) {
    const shown = failures.slice(0, 3).join('; ');
    return {
      ok: false,
      explanation: `${summary} (${shown}${failures.length > 3 ? '; …' : ''})`,
      notes: [],
      counts,
      failed: failures.length,
    };
  }
  if (distinct < want.minDistinct) {
    return {
      ok: false,
      explanation: `${summary}: expected at least ${want.minDistinct} different ${want.label} pods to answer`,
      notes: [],
      counts,
      failed: 0,
    };
  }
  return { ok: true, explanation: summary, notes: [], counts, failed: 0 };
}
