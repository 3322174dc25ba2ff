/**
 * What the parsers share: the one error every parser throws when text is not what it expects (empty, garbage, cut short).
 * The message names the parser, what was wrong and shows the start of the text, so a failed
 * probe explains itself without the raw output at hand.
 */
export class ParseError extends Error {
  constructor(
    readonly parser: string,
    readonly reason: string,
    readonly input: string,
  ) {
    super(`${parser}: ${reason}${describeInput(input)}`);
    this.name = 'ParseError';
  }
}

function describeInput(input: string): string {
  const trimmed = input.trim();
  if (trimmed === '') return ' (input was empty)';
  const head = trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
  return `; input began: ${JSON.stringify(head)}`;
}

/** Lines without trailing whitespace or carriage returns; blank lines dropped. */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '');
}

/** Lower-case colon-separated MAC, or null when `s` is not a 6-octet MAC. */
export function normalizeMac(s: string): string | null {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) return null;
  return parts.map((p) => p.padStart(2, '0').toLowerCase()).join(':');
}

/** The array in `json` (output of an `ip -j …` command), or a ParseError saying why not. */
export function jsonList(parser: string, json: string, text: string, what: string): unknown[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw new ParseError(parser, `JSON does not parse (${(err as Error).message})`, text);
  }
  if (!Array.isArray(data)) throw new ParseError(parser, `JSON is not a list of ${what}`, text);
  return data;
}
