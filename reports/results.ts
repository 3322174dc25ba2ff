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
export type ResultStatus = (typeof STATUSES)[number];

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
  status: z.enum(STATUSES),
  /** Why it did not pass (reports/categories.ts), null when it passed or was skipped. */
  category: z.object({ id: z.string(), name: z.string(), short: z.string() }).nullable(),
  durationMs: z.number().nullable(),
  /** First line of the failure message or skip reason (already redacted by the reporter). */
  message: z.string().nullable(),
  measurements: z.array(measurementSchema),
  /** The status the night before, when this scenario ran then too. */
  previousStatus: z.enum(STATUSES).nullable(),
});
export type ScenarioSummary = z.infer<typeof scenarioSchema>;

const countsSchema = z.object({
  total: z.number(),
  passed: z.number(),
  failed: z.number(),
  broken: z.number(),
  skipped: z.number(),
  unknown: z.number(),
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

export interface ReadResults {
  results: AllureResult[];
  environment: Record<string, string>;
  /** Files that are not valid result JSON (named in the report's log, never fatal). */
  unreadable: string[];
  fingerprint: string;
}

/** Reads every *-result.json of a results folder, plus environment.properties. */
export function readResults(dir: string): ReadResults {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('-result.json')).sort() : [];
  const results: AllureResult[] = [];
  const unreadable: string[] = [];
  const hash = createHash('sha256');
  for (const f of files) {
    const file = path.join(dir, f);
    hash.update(`${f}:${statSync(file).size}\n`);
    try {
      const r = resultSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (r.success) results.push(r.data);
      else unreadable.push(f);
    } catch {
      unreadable.push(f);
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
  const line = s?.split('\n').find((l) => l.trim() !== '')?.trim();
  if (!line) return null;
  return line.length > 300 ? `${line.slice(0, 297)}…` : line;
}

export function emptyCounts(): Counts {
  return { total: 0, passed: 0, failed: 0, broken: 0, skipped: 0, unknown: 0 };
}

export interface SummarizeInput {
  version: string;
  reportHref: string;
  generatedAt: string;
  read: Pick<ReadResults, 'results' | 'environment' | 'fingerprint'>;
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
    return { summary: null, problem: r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).slice(0, 3).join('; ') };
  } catch (err) {
    return { summary: null, problem: (err as Error).message };
  }
}
