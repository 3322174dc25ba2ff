/**
 * The Cilium versions the nightly workflow tests, read from the one version list: lab/versions.yaml,
 * key `ciliumMatrix`. The workflow's matrix job runs this and passes its output to the lab job's matrix,
 * so no version is written in the workflow itself.
 *
 *   tsx reports/matrix.ts            -> versions=["1.17.8","1.18.6"]   (appended to $GITHUB_OUTPUT by the job)
 *   CILIUM_VERSION_INPUT=1.18.2 tsx reports/matrix.ts -> versions=["1.18.2"]   (workflow_dispatch input)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { normalizeVersion, REPO_ROOT } from './run-context.ts';

export const VERSIONS_FILE = path.join(REPO_ROOT, 'lab', 'versions.yaml');
export const MATRIX_KEY = 'ciliumMatrix';
export const INPUT_ENV = 'CILIUM_VERSION_INPUT';

const fileSchema = z.looseObject({
  [MATRIX_KEY]: z
    .array(z.string({ error: 'each Cilium version must be a quoted string, e.g. "1.18.6" (1.10 unquoted is the number 1.1)' }))
    .min(1, 'lists no Cilium version'),
});

/** The versions listed under `ciliumMatrix`, normalised, in file order; throws with the file's name on bad input. */
export function ciliumMatrix(yamlText: string, file = 'lab/versions.yaml'): string[] {
  let data: unknown;
  try {
    data = parse(yamlText);
  } catch (err) {
    throw new Error(`${file}: not YAML: ${(err as Error).message}`);
  }
  const r = fileSchema.safeParse(data ?? {});
  if (!r.success) throw new Error(`${file}: ${MATRIX_KEY}: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  const versions = r.data[MATRIX_KEY].map((v) => normalizeVersion(v));
  const dup = versions.find((v, i) => versions.indexOf(v) !== i);
  if (dup) throw new Error(`${file}: ${MATRIX_KEY} lists ${dup} twice`);
  return versions;
}

/** A non-empty dispatch input replaces the list with that one version. */
export function matrixFor(input: string | undefined, yamlText: string, file?: string): string[] {
  if (input !== undefined && input.trim() !== '') return [normalizeVersion(input)];
  return ciliumMatrix(yamlText, file);
}

/** The line for $GITHUB_OUTPUT. */
export function outputLine(versions: string[]): string {
  return `versions=${JSON.stringify(versions)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const file = process.argv[2] ?? VERSIONS_FILE;
    console.log(outputLine(matrixFor(process.env[INPUT_ENV], readFileSync(file, 'utf8'), path.relative(REPO_ROOT, file))));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
