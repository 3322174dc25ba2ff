/**
 * Label and field selectors as the Kubernetes API server reads them (the `labelSelector` / `fieldSelector` query
 * parameters, and LabelSelector objects in specs: matchLabels + matchExpressions). Pure.
 */

export type Labels = Record<string, string>;

interface Requirement {
  key: string;
  op: 'eq' | 'neq' | 'in' | 'notin' | 'exists' | '!exists';
  values: string[];
}

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim() !== '') out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

export class SelectorError extends Error {}

/** Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`. */
export function parseLabelSelector(text: string | null | undefined): Requirement[] {
  if (!text) return [];
  return splitTop(text).map((part) => {
    let m = /^(\S+?)\s+(in|notin)\s+\((.*)\)$/.exec(part);
    if (m)
      return {
        key: m[1] as string,
        op: m[2] as 'in' | 'notin',
        values: (m[3] as string)
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean),
      };
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (m) return { key: m[1] as string, op: m[2] === '!=' ? 'neq' : 'eq', values: [(m[3] as string).trim()] };
    m = /^!\s*(\S+)$/.exec(part);
    if (m) return { key: m[1] as string, op: '!exists', values: [] };
    if (/^[A-Za-z0-9._/-]+$/.test(part)) return { key: part, op: 'exists', values: [] };
    throw new SelectorError(`unable to parse requirement: "${part}"`);
  });
}

function matchesReq(get: (k: string) => string | undefined, r: Requirement): boolean {
  const v = get(r.key);
  switch (r.op) {
    case 'eq':
      return v === r.values[0];
    case 'neq':
      return v !== r.values[0];
    case 'in':
      return v !== undefined && r.values.includes(v);
    case 'notin':
      return v === undefined || !r.values.includes(v);
    case 'exists':
      return v !== undefined;
    case '!exists':
      return v === undefined;
  }
}

export function matchLabelSelector(text: string | null | undefined, labels: Labels | undefined): boolean {
  const l = labels ?? {};
  return parseLabelSelector(text).every((r) => matchesReq((k) => l[k], r));
}

/** Field selectors: `a.b=c`, `a.b==c`, `a.b!=c`, comma-separated (AND). Values are read by dotted path. */
export function matchFieldSelector(text: string | null | undefined, obj: unknown): boolean {
  if (!text) return true;
  return splitTop(text).every((part) => {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(part);
    if (!m) throw new SelectorError(`invalid field selector: "${part}"`);
    const v = valueAt(obj, (m[1] as string).trim());
    const s = v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : `${v as string}`;
    return m[2] === '!=' ? s !== m[3] : s === m[3];
  });
}

export function valueAt(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const p of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

export interface LabelSelectorObject {
  matchLabels?: Labels | null;
  matchExpressions?: { key: string; operator: string; values?: string[] | null }[] | null;
}

/** A LabelSelector object (metav1.LabelSelector): null/undefined selects everything, as Cilium's pools and policies read it. */
export function matchSelectorObject(sel: LabelSelectorObject | null | undefined, labels: Labels | undefined): boolean {
  if (!sel) return true;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const op = ({ In: 'in', NotIn: 'notin', Exists: 'exists', DoesNotExist: '!exists' } as const)[e.operator as 'In'];
    if (!op) return false;
    if (!matchesReq((k) => l[k], { key: e.key, op, values: e.values ?? [] })) return false;
  }
  return true;
}
