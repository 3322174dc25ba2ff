/**
 * Reading a YAML file the harness depends on (topology, versions, a kubeconfig) so that every problem names the
 * file and what is wrong with it: missing, a directory, empty, or a syntax error with its line and column.
 */
import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';

/** A problem with an input file; `file` and `problem` are kept apart so callers can phrase their own message. */
export class InputFileError extends Error {
  constructor(
    readonly what: string,
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${what} ${file}: ${problem}`);
    this.name = 'InputFileError';
  }
}

/** The text of `file`, or an InputFileError saying it is missing, a directory or unreadable. */
export function readInputFile(file: string, what: string): string {
  let isDir = false;
  try {
    isDir = statSync(file).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputFileError(what, file, code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`);
  }
  if (isDir) throw new InputFileError(what, file, 'is a directory, not a file');
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputFileError(what, file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** First YAML syntax error of `text` as "line L, column C: reason", or null when it parses. */
export function yamlSyntaxError(text: string): string | null {
  const doc = parseDocument(text, { prettyErrors: true });
  const [e] = doc.errors;
  if (!e) return null;
  const pos = e.linePos?.[0];
  const reason = e.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? e.message;
  return pos ? `YAML syntax error at line ${pos.line}, column ${pos.col}: ${reason}` : `YAML syntax error: ${reason}`;
}

/**
 * The parsed content of a YAML text; throws an InputFileError naming `file` with line and column on a syntax error,
 * and saying the file is empty when it holds no document.
 */
export function parseYamlText(text: string, file: string, what: string): unknown {
  const doc = parseDocument(text);
  const syntax = yamlSyntaxError(text);
  if (syntax) throw new InputFileError(what, file, syntax);
  if (doc.contents === null) throw new InputFileError(what, file, 'is empty (no YAML document in it)');
  return doc.toJS();
}

export function readYamlFile(file: string, what: string): unknown {
  return parseYamlText(readInputFile(file, what), file, what);
}
