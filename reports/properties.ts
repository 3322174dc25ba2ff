/**
 * Java-style `.properties` text, as Allure reads environment.properties (Allure 2 format, still read by
 * Allure 3). Pure.
 */

/** `key=value` lines, keys and values escaped the Java way. */
export function toProperties(values: Record<string, string>): string {
  const esc = (s: string, key: boolean): string =>
    s
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(key ? /[=: ]/g : /^ /, (c) => `\\${c}`);
  return Object.entries(values)
    .map(([k, v]) => `${esc(k, true)}=${esc(v, false)}`)
    .join('\n')
    .concat('\n');
}

/** Parses what `toProperties` writes, comments and blank lines skipped; a line without `=`/`:` is a key with an empty value. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const unesc = (s: string): string => s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || /^\s*[#!]/.test(line)) continue;
    const m = /^\s*((?:\\.|[^=:\\])*?)\s*[=:]\s?(.*)$/.exec(line);
    if (m) out[unesc((m[1] ?? '').trim())] = unesc(m[2] ?? '');
    else out[unesc(line.trim())] = '';
  }
  return out;
}
