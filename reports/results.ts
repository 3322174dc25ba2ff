/**
 * From one version's Allure results to the small summary the cross-version page is built from
 * (reports/<version>/summary.json, published next to the report so later pages can be rebuilt without
 * the raw results). `summarize` and `withChanges` are pure; `readResults` reads the folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { classifyResult } from './categories.ts';
import { parseMeasurementParameter, type Measurement } from './measurements.ts';
import { parseProperties } from './properties.ts';

const STATUSES = ['passed', 'failed', 'broken', 'skipped', 'unknown'] as const;
/** What a scenario's cell can say: an Allure status, or that its result file could not be read. */
const SCENARIO_STATUSES = [...STATUSES, 'unreadable'] as const;
export type ResultStatus = (typeof SCENARIO_STATUSES)[number];

/** The part of an Allure result file this page reads (everything else is ignored). */
const resultSchema = z.looseObject({
  name: z.string(),
  fullName: z.string().optional(),
  status: z.enum(STATUSES).optional(),
  start: z.number().optional(),
  stop: z.number().optional(),
  statusDetails: z.looseObject({ message: z.string().optional(), trace: z.string().optional() }).optional(),
  labels: z.array(z.looseObject({ name: z.string(), value: z.string().optional() })).default([]),
  parameters: z.array(z.looseObject({ name: z.string(), value: z.string().optional() })).default([]),
});
export type AllureResult = z.infer<typeof resultSchema>;

const measurementSchema = z.object({ name: z.string(), value: z.number(), unit: z.string() });

const scenarioSchema = z.object({
  /** Identity across versions and nights: Allure's fullName (file + describe + test name). */
  id: z.string(),
  title: z.string(),
  file: z.string(),
  /** Position in the run (by start time), to show rows in run order. */
  order: z.number(),
  epic: z.string().nullable(),
  feature: z.string().nullable(),
  story: z.string().nullable(),
  severity: z.string().nullable(),
  status: z.enum(SCENARIO_STATUSES),
  /** Why it did not pass (reports/categories.ts), null when it passed or was skipped. */
  category: z.object({ id: z.string(), name: z.string(), short: z.string() }).nullable(),
  durationMs: z.number().nullable(),
  /** First line of the failure message or skip reason (already redacted by the reporter). */
  message: z.string().nullable(),
  measurements: z.array(measurementSchema),
  /** The status the night before, when this scenario ran then too. */
  previousStatus: z.enum(SCENARIO_STATUSES).nullable(),
});
export type ScenarioSummary = z.infer<typeof scenarioSchema>;

const countsSchema = z.object({
  total: z.number(),
  passed: z.number(),
  failed: z.number(),
  broken: z.number(),
  skipped: z.number(),
  unknown: z.number(),
  /** Result files that could not be read (absent in summaries written before it was counted). */
  unreadable: z.number().default(0),
});
export type Counts = z.infer<typeof countsSchema>;

export const SUMMARY_SCHEMA_VERSION = 1;

export const versionSummarySchema = z.object({
  schema: z.literal(SUMMARY_SCHEMA_VERSION),
  version: z.string(),
  generatedAt: z.string(),
  /** When the lab run started (earliest result start), ISO; null when unknown. */
  runStartedAt: z.string().nullable(),
  resultsFingerprint: z.string(),
  /** Relative to the reports folder. */
  reportHref: z.string(),
  environment: z.record(z.string(), z.string()),
  counts: countsSchema,
  scenarios: z.array(scenarioSchema),
  previousGeneratedAt: z.string().nullable(),
});
export type VersionSummary = z.infer<typeof versionSummarySchema>;

/** A result file that could not be read: its name, why, and which scenario it was when that can be recovered. */
export interface UnreadableResult {
  file: string;
  reason: string;
  /** fullName and name found in the text, so the scenario's cell says "unreadable result" and not "not run". */
  id: string | null;
  title: string | null;
}

export interface ReadResults {
  results: AllureResult[];
  environment: Record<string, string>;
  /** Files that are not valid result JSON, with the reason (reports/report.ts names them and exits non-zero). */
  unreadable: UnreadableResult[];
  fingerprint: string;
}

/** The first JSON string value of `key` in a possibly broken JSON text. */
function stringField(text: string, key: string): string | null {
  const m = new RegExp(`"${key}"\\s*:\\s*("(?:[^"\\\\]|\\\\.)*")`).exec(text);
  if (!m?.[1]) return null;
  try {
    return JSON.parse(m[1]) as string;
  } catch {
    return null;
  }
}

/** Why `text` is not an Allure result, or null with the result. Pure. */
export function parseResult(text: string): { result: AllureResult; problem: null } | { result: null; problem: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { result: null, problem: `not JSON (${(err as Error).message})${text.length === 0 ? ': the file is empty' : ''}` };
  }
  const r = resultSchema.safeParse(data);
  if (r.success) return { result: r.data, problem: null };
  const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
  return { result: null, problem: `not an Allure result (${issues.join('; ')})` };
}

/** Reads every *-result.json of a results folder, plus environment.properties. */
export function readResults(dir: string): ReadResults {
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('-result.json'))
        .sort()
    : [];
  const results: AllureResult[] = [];
  const unreadable: UnreadableResult[] = [];
  const hash = createHash('sha256');
  for (const f of files) {
    const file = path.join(dir, f);
    hash.update(`${f}:${statSync(file).size}\n`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      unreadable.push({
        file: f,
        reason: `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        id: null,
        title: null,
      });
      continue;
    }
    const parsed = parseResult(text);
    if (parsed.result) results.push(parsed.result);
    else {
      const title = stringField(text, 'name');
      unreadable.push({ file: f, reason: parsed.problem, id: stringField(text, 'fullName'), title });
    }
  }
  const envFile = path.join(dir, 'environment.properties');
  const environment = existsSync(envFile) ? parseProperties(readFileSync(envFile, 'utf8')) : {};
  return { results, environment, unreadable, fingerprint: hash.digest('hex').slice(0, 32) };
}

function label(r: AllureResult, name: string): string | null {
  const found = r.labels.filter((l) => l.name === name);
  return found.at(-1)?.value ?? null;
}

/** `cilium-lab-harness:suites/50-l2.test.ts#L2 failover` -> `suites/50-l2.test.ts`. */
export function fileOf(fullName: string | undefined): string {
  if (!fullName) return '';
  const noProject = fullName.includes(':') ? fullName.slice(fullName.indexOf(':') + 1) : fullName;
  const hash = noProject.indexOf('#');
  return hash >= 0 ? noProject.slice(0, hash) : '';
}

function firstLine(s: string | undefined): string | null {
  const line = s
    ?.split('\n')
    .find((l) => l.trim() !== '')
    ?.trim();
  if (!line) return null;
  return line.length > 300 ? `${line.slice(0, 297)}…` : line;
}

export function emptyCounts(): Counts {
  return { total: 0, passed: 0, failed: 0, broken: 0, skipped: 0, unknown: 0, unreadable: 0 };
}

export interface SummarizeInput {
  version: string;
  reportHref: string;
  generatedAt: string;
  read: Pick<ReadResults, 'results' | 'environment' | 'fingerprint'> & { unreadable?: UnreadableResult[] };
  /** Scenarios known from earlier summaries (any version): an unreadable file that lost its fullName but kept its
   * name is matched to its scenario by title, when exactly one has that title. */
  knownScenarios?: Pick<ScenarioSummary, 'id' | 'title'>[];
}

/** One version's summary from its results. When a test has several results (retries), the latest counts. */
export function summarize(i: SummarizeInput): VersionSummary {
  const latest = new Map<string, AllureResult>();
  for (const r of i.read.results) {
    const id = r.fullName ?? r.name;
    const prev = latest.get(id);
    if (!prev || (r.start ?? 0) >= (prev.start ?? 0)) latest.set(id, r);
  }
  const ordered = [...latest.entries()].sort(([, a], [, b]) => (a.start ?? 0) - (b.start ?? 0));
  const counts = emptyCounts();
  const scenarios: ScenarioSummary[] = ordered.map(([id, r], order) => {
    const status: ResultStatus = r.status ?? 'unknown';
    counts.total++;
    counts[status]++;
    const category = classifyResult({ status, message: r.statusDetails?.message, trace: r.statusDetails?.trace });
    const measurements: Measurement[] = r.parameters.map((p) => parseMeasurementParameter(p)).filter((m): m is Measurement => m !== null);
    return {
      id,
      title: r.name,
      file: fileOf(r.fullName),
      order,
      epic: label(r, 'epic'),
      feature: label(r, 'feature'),
      story: label(r, 'story'),
      severity: label(r, 'severity'),
      status,
      category: category ? { id: category.id, name: category.name, short: category.short } : null,
      durationMs: r.start !== undefined && r.stop !== undefined ? Math.max(0, r.stop - r.start) : null,
      message: firstLine(r.statusDetails?.message),
      measurements,
      previousStatus: null,
    };
  });
  // A scenario with an unreadable result file says so (it ran; what it did is unknown), never "not run".
  const byTitle = (title: string | null): string | null => {
    if (!title) return null;
    const ids = new Set([...scenarios, ...(i.knownScenarios ?? [])].filter((x) => x.title === title).map((x) => x.id));
    return ids.size === 1 ? [...ids][0]! : null;
  };
  for (const u of i.read.unreadable ?? []) {
    const id = u.id ?? byTitle(u.title) ?? `unreadable result ${u.file}`;
    const message = `unreadable result ${u.file}: ${u.reason}`;
    const existing = scenarios.find((x) => x.id === id);
    if (existing) {
      counts[existing.status]--;
      counts.unreadable++;
      Object.assign(existing, { status: 'unreadable', category: null, message });
      continue;
    }
    counts.total++;
    counts.unreadable++;
    scenarios.push({
      id,
      title: u.title ?? `(result file ${u.file})`,
      file: fileOf(id),
      order: scenarios.length,
      epic: null,
      feature: null,
      story: null,
      severity: null,
      status: 'unreadable',
      category: null,
      durationMs: null,
      message,
      measurements: [],
      previousStatus: null,
    });
  }
  const starts = ordered.map(([, r]) => r.start).filter((s): s is number => typeof s === 'number');
  return {
    schema: SUMMARY_SCHEMA_VERSION,
    version: i.version,
    generatedAt: i.generatedAt,
    runStartedAt: starts.length > 0 ? new Date(Math.min(...starts)).toISOString() : null,
    resultsFingerprint: i.read.fingerprint,
    reportHref: i.reportHref,
    environment: i.read.environment,
    counts,
    scenarios,
    previousGeneratedAt: null,
  };
}

/** Marks what changed since the previous summary of the same version ("what changed since last night"). */
export function withChanges(current: VersionSummary, previous: VersionSummary | null): VersionSummary {
  if (!previous || previous.version !== current.version) return current;
  const before = new Map(previous.scenarios.map((s) => [s.id, s.status]));
  return {
    ...current,
    previousGeneratedAt: previous.generatedAt,
    scenarios: current.scenarios.map((s) => ({ ...s, previousStatus: before.get(s.id) ?? null })),
  };
}

/** Parses a summary.json; null (and the reason) when it is missing or not one this code can read. */
export function parseSummary(text: string): { summary: VersionSummary | null; problem: string | null } {
  try {
    const r = versionSummarySchema.safeParse(JSON.parse(text));
    if (r.success) return { summary: r.data, problem: null };
    return {
      summary: null,
      problem: r.error.issues
        .map((x) => `${x.path.join('.')}: ${x.message}`)
        .slice(0, 3)
        .join('; '),
    };
  } catch (err) {
    return { summary: null, problem: (err as Error).message };
  }
}
