/**
 * The lab's pinned versions (lab/versions.yaml), the one place every version lives.
 *
 * The Vagrantfile reads the same file and applies the same rule: a pin's environment variable, when set
 * and not empty, overrides its value, and must match the pin's pattern. `effectiveVersions()` is that rule
 * in TypeScript (pure, given the document and an environment), so scripts/lab.ts can print and check what
 * a run will build, and the nightly workflow can read `ciliumMatrix`.
 *
 * On every VM the versions in force are recorded in /etc/cilium-lab/versions.env (`VM_VERSIONS_FILE`),
 * `KEY="value"` lines; `parseVersionsEnv()` reads it.
 */
import path from 'node:path';
import { isScalar, parseDocument } from 'yaml';
import { z } from 'zod';
import { valueAt } from '../parse/topology.ts';
import { parseLabYaml, REPO_ROOT } from './topology.ts';
import { parseYamlText, readInputFile } from './yaml-file.ts';

export const DEFAULT_VERSIONS_FILE = path.join(REPO_ROOT, 'lab', 'versions.yaml');
/** Environment variable that points the harness (and the Vagrantfile) at another versions file. */
export const VERSIONS_ENV = 'LAB_VERSIONS';

/** The versions file in force: $LAB_VERSIONS, or lab/versions.yaml in this repository. */
export function versionsFile(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[VERSIONS_ENV];
  return fromEnv ? path.resolve(fromEnv) : DEFAULT_VERSIONS_FILE;
}
/** Where provisioning records, on each VM, what it was built with. */
export const VM_VERSIONS_FILE = '/etc/cilium-lab/versions.env';

const pinSchema = z.strictObject({
  value: z.string().min(1),
  env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
  pattern: z.string().min(1),
});

export const PIN_KEYS = ['kubernetes', 'containerd', 'cilium', 'helm', 'ciliumCli', 'hubbleCli', 'box', 'boxVersion'] as const;
export type PinKey = (typeof PIN_KEYS)[number];

const versionsSchema = z.strictObject({
  pins: z.strictObject(Object.fromEntries(PIN_KEYS.map((k) => [k, pinSchema])) as Record<PinKey, typeof pinSchema>),
  ciliumMatrix: z.array(z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a Cilium version (major.minor.patch)')).min(1),
});

export type VersionsFile = z.infer<typeof versionsSchema>;
export type Pin = z.infer<typeof pinSchema>;

export interface EffectivePin {
  key: PinKey;
  value: string;
  /** The environment variable that overrides it (and that provisioning receives). */
  env: string;
  /** Where the value came from. */
  source: 'file' | 'env';
}
export type EffectiveVersions = Record<PinKey, EffectivePin>;

/**
 * Validates a parsed versions document (pure). `sourceAt` gives a value's text as written in the file, so a version
 * YAML read as a number (an unquoted 1.10 is the number 1.1) is shown as written, with the advice to quote it.
 */
export function parseVersions(
  data: unknown,
  file = '<versions>',
  sourceAt: (p: readonly PropertyKey[]) => string | undefined = () => undefined,
): VersionsFile {
  const parsed = versionsSchema.safeParse(data);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const value = valueAt(data, i.path);
      const where = i.path.map(String).join('.') || '(top level)';
      if (typeof value === 'number') {
        const written = sourceAt(i.path) ?? String(value);
        return `  ${where}: ${written} is read by YAML as the number ${value}, not a version: quote it ("${written}")`;
      }
      return `  ${where}: ${i.message}`;
    });
    throw new Error(`Invalid versions file ${file}:\n${lines.join('\n')}`);
  }
  for (const key of PIN_KEYS) {
    const pin = parsed.data.pins[key];
    if (!new RegExp(pin.pattern).test(pin.value)) {
      throw new Error(`Invalid versions file ${file}: pins.${key}.value "${pin.value}" does not match ${pin.pattern}`);
    }
  }
  return parsed.data;
}

/**
 * Reads and validates a versions file; every problem names the file: missing, a directory, empty, a YAML syntax
 * error (line and column), YAML the Vagrantfile would not read the same way (helpers/lab/topology.ts parseLabYaml).
 */
export function loadVersions(file: string = versionsFile()): VersionsFile {
  const what = 'Invalid versions file';
  const text = readInputFile(file, what);
  parseYamlText(text, file, what);
  const { value, problems } = parseLabYaml(text);
  if (problems.length > 0) throw new Error(`${what} ${file}:\n${problems.map((p) => `  (YAML syntax): ${p}`).join('\n')}`);
  const doc = parseDocument(text);
  const sourceAt = (p: readonly PropertyKey[]): string | undefined => {
    const node = doc.getIn(p as unknown[], true);
    return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  };
  return parseVersions(value, file, sourceAt);
}

/** The pins in force: each pin's environment variable (if set and not blank) over the file's value. */
export function effectiveVersions(doc: VersionsFile, env: NodeJS.ProcessEnv = process.env): EffectiveVersions {
  const out = {} as EffectiveVersions;
  for (const key of PIN_KEYS) {
    const pin = doc.pins[key];
    const fromEnv = env[pin.env]?.trim();
    const value = fromEnv ? fromEnv : pin.value;
    if (!new RegExp(pin.pattern).test(value)) {
      throw new Error(`Environment variable ${pin.env} is "${value}", which does not match ${pin.pattern}`);
    }
    out[key] = { key, value, env: pin.env, source: fromEnv ? 'env' : 'file' };
  }
  return out;
}

/** The environment that carries the pins in force to Vagrant (and from there to provisioning). */
export function versionsEnv(v: EffectiveVersions): Record<string, string> {
  return Object.fromEntries(PIN_KEYS.map((k) => [v[k].env, v[k].value]));
}

/** Reads a VM's versions.env (`KEY="value"` or `KEY=value` lines; `#` comments). Pure. */
export function parseVersionsEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const value = m[2]!.replace(/^"(.*)"$/, '$1');
    out[m[1]!] = value;
  }
  return out;
}

export interface VersionMismatch {
  env: string;
  wanted: string;
  recorded: string | undefined;
}

/** Pins whose recorded value on a VM differs from the one in force now (a VM built with other versions). */
export function versionMismatches(wanted: EffectiveVersions, recorded: Record<string, string>): VersionMismatch[] {
  return PIN_KEYS.map((k) => ({ env: wanted[k].env, wanted: wanted[k].value, recorded: recorded[wanted[k].env] })).filter(
    (m) => m.recorded !== m.wanted,
  );
}
