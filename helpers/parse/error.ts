/**
 * The one error every parser throws when text is not what it expects (empty, garbage, cut short).
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
