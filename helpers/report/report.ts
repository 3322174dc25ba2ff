/**
 * Allure helpers for the lab suites. Everything that reaches the report goes through `redact` first.
 *
 *   await describeScenario({ epic: 'Load balancing', feature: 'L2 announcements', story: 'failover', severity: 'critical' });
 *   const ip = await step('Wait for the LoadBalancer IP of webpod', () => lab.kube.waitServiceLbIp(ns, 'webpod', 60_000));
 *   attachOnFailure('webpod service', () => lab.kube.core.readNamespacedService({ name: 'webpod', namespace: ns }), { type: 'yaml' });
 *   await attach('arping from router', raw.stdout);
 *   await recordMeasurement('failover time', 3.2, 's');   // read by reports/index.html
 *
 * Outside a lab run (no Allure runtime) every call still runs its body and is otherwise a quiet no-op, so
 * the helpers are safe in self-tests and in scripts. The reporter side (labels, run id, results folder) is in
 * reports/lab-reporters.ts; the run's environment facts are written by `recordLabEnvironment`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { onTestFailed } from 'vitest';
import { stringify, parseAllDocuments } from 'yaml';
import { measurementParameter } from '../../reports/measurements.ts';
import { parseProperties, toProperties } from '../../reports/properties.ts';
import { RESULTS_DIR_ENV, RUN_ID_ENV } from '../../reports/run-context.ts';
import { isSecretKey, redact as redactText, redactValue, type RedactOptions } from './redact.ts';
import { withDeadline } from '../wait/retry.ts';

export { isSecretKey, redactValue, REDACTED } from './redact.ts';
export { parseProperties, toProperties } from '../../reports/properties.ts';

export type AttachmentType = 'text' | 'json' | 'yaml';
export type Severity = 'blocker' | 'critical' | 'normal' | 'minor';

/** Attachments larger than this keep their head and tail: a single-file report must stay openable. */
export const MAX_ATTACHMENT_CHARS = 1_000_000;

/** Values of environment variables whose names say they are secret (LAB_SSH_PASSWORD, GITHUB_TOKEN…). */
export function secretsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([k, v]) => isSecretKey(k) && typeof v === 'string' && v.length >= 4)
    .map(([, v]) => v as string);
}

function redactOptions(): RedactOptions {
  return { extraSecrets: secretsFromEnv() };
}

/** Tokens, keys, passwords, kubeconfig client-key/cert data and bearer tokens replaced by [REDACTED]. */
export function redact(text: string): string {
  return redactText(text, redactOptions());
}

function truncate(text: string, max = MAX_ATTACHMENT_CHARS): string {
  if (text.length <= max) return text;
  const half = Math.floor(max / 2);
  return `${text.slice(0, half)}\n… [${text.length - 2 * half} characters cut by the harness] …\n${text.slice(-half)}`;
}

const CONTENT: Record<AttachmentType, { contentType: string; fileExtension: string }> = {
  text: { contentType: 'text/plain', fileExtension: '.txt' },
  json: { contentType: 'application/json', fileExtension: '.json' },
  yaml: { contentType: 'text/yaml', fileExtension: '.yaml' },
};

/** A redacted, serialised attachment body and its content type. Pure; exported for tests. */
export function renderAttachment(
  content: string | object,
  type?: AttachmentType,
): { body: string; contentType: string; fileExtension: string } {
  const opts = redactOptions();
  const kind: AttachmentType = type ?? (typeof content === 'string' ? 'text' : 'json');
  let body: string;
  if (typeof content !== 'string') {
    const clean = redactValue(content, opts);
    body = kind === 'yaml' ? stringify(clean) : JSON.stringify(clean, null, 2);
  } else if (kind === 'json') {
    try {
      body = JSON.stringify(redactValue(JSON.parse(content) as unknown, opts), null, 2);
    } catch {
      body = redactText(content, opts);
    }
  } else if (kind === 'yaml') {
    const docs = parseAllDocuments(content);
    const ok = docs.length > 0 && docs.every((d) => d.errors.length === 0);
    body = ok ? docs.map((d) => stringify(redactValue(d.toJS(), opts))).join('---\n') : redactText(content, opts);
  } else {
    body = redactText(content, opts);
  }
  // Serialising can reassemble text (a YAML folded line), so the text pass runs once more on the result.
  body = truncate(redactText(body, opts));
  return { body, ...CONTENT[kind] };
}

/**
 * True inside a test run with an Allure runtime (allure-vitest's setup file, or a test's own). Outside one
 * (scripts such as lab:up using the same helpers) the calls below stay quiet instead of warning on each call.
 */
export function allureActive(): boolean {
  return typeof (globalThis as Record<string, unknown>).allureTestRuntime === 'function';
}

/** An Allure step named for what a person does ("Ping webpod from the router"). */
export async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  if (!allureActive()) return fn();
  return allure.step(redact(name), () => fn());
}

/** A step that shows parameters (e.g. expected and actual), redacted; a plain call outside a lab run. */
export async function stepWithParameters<T>(name: string, parameters: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  if (!allureActive()) return fn();
  return allure.step(redact(name), async (ctx) => {
    for (const [k, v] of Object.entries(parameters)) await ctx.parameter(k, redact(v));
    return fn();
  });
}

/** Attaches text or an object (JSON by default, or YAML), always redacted. */
export async function attach(name: string, content: string | object, type?: AttachmentType): Promise<void> {
  if (!allureActive()) return;
  const { body, contentType, fileExtension } = renderAttachment(content, type);
  await allure.attachment(redact(name), body, { contentType, fileExtension });
}

export interface AttachOnFailureOptions {
  type?: AttachmentType;
  /** How long collecting may take before the attachment says so instead (default 30 s). */
  timeoutMs?: number;
}

/**
 * Registers, inside a running test, something to collect and attach only if the test fails (object YAML,
 * events, agent logs, a capture). A collector that throws or hangs attaches its error instead, so it never
 * hides the test's own failure.
 */
export function attachOnFailure(
  name: string,
  collect: () => Promise<string | object> | string | object,
  opts: AttachOnFailureOptions = {},
): void {
  onTestFailed(async () => {
    await attachCollected(name, collect, opts);
  });
}

/** The body of `attachOnFailure`, usable from a suite's own onTestFailed/afterEach handler. */
export async function attachCollected(
  name: string,
  collect: () => Promise<string | object> | string | object,
  opts: AttachOnFailureOptions = {},
): Promise<void> {
  try {
    const content = await withDeadline(`collecting "${name}" for a failed test`, opts.timeoutMs ?? 30_000, Promise.resolve().then(collect));
    await attach(name, content, opts.type);
  } catch (err) {
    await attach(`${name} (could not collect)`, `${(err as Error).name}: ${(err as Error).message}`, 'text');
  }
}

/** Attaches an error's name, message, extra fields (WaitTimeoutError.lastSeen, SshError.host/command) and stack. */
export async function attachError(name: string, err: unknown): Promise<void> {
  if (!(err instanceof Error)) {
    await attach(name, String(err));
    return;
  }
  const fields = Object.entries(err as unknown as Record<string, unknown>)
    .filter(([k, v]) => !['message', 'stack', 'name'].includes(k) && v !== undefined && typeof v !== 'function')
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  await attach(name, [`${err.name}: ${err.message}`, ...fields, '', err.stack ?? ''].join('\n'));
}

/**
 * A measured number (failover time, outage, packets lost). Shown on the test as a parameter (excluded from
 * history identity) and a step, and collected per Cilium version by the cross-version page.
 */
export async function recordMeasurement(name: string, value: number, unit: string): Promise<void> {
  const p = measurementParameter(name, value, unit);
  if (!allureActive()) return;
  await allure.parameter(p.name, p.value, { excluded: true });
  await allure.logStep(`Measured ${name}: ${p.value}`);
}

export interface ScenarioDescription {
  /** Scenario family, e.g. 'Routing', 'Load balancing', 'Ingress'. */
  epic: string;
  /** The capability, e.g. 'Native routing', 'L2 announcements'. */
  feature: string;
  /** The scenario, e.g. 'failover when the lease holder goes down'. */
  story?: string;
  severity?: Severity;
  /** The lab run id; shown, never part of history identity. Defaults to CLH_RUN_ID. */
  runId?: string;
  /** Markdown. */
  description?: string;
}

/** Labels that group the report by scenario family (epic / feature / story) and mark the core scenarios. */
export async function describeScenario(o: ScenarioDescription): Promise<void> {
  if (!allureActive()) return;
  await allure.epic(o.epic);
  await allure.feature(o.feature);
  if (o.story) await allure.story(o.story);
  if (o.severity) await allure.severity(o.severity);
  if (o.description) await allure.description(redact(o.description));
  const runId = o.runId ?? process.env[RUN_ID_ENV];
  if (runId) await allure.parameter('run id', runId, { excluded: true });
}

/** What the global setup learns about the running lab, shown as the report's environment. */
export interface LabEnvironment {
  ciliumVersion: string;
  kubernetesVersion?: string;
  kernel?: string;
  box?: string;
  provider?: string;
  routingMode?: string;
  runId?: string;
  [key: string]: string | undefined;
}

function snake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * Merges what the global setup found into this run's environment.properties (the reporter wrote the static
 * part when the run started). Call it from the vitest global setup, after connecting to the lab.
 * Returns the file written, or null when no lab reporter is active (self-tests, --reporter overrides).
 */
export function recordLabEnvironment(info: LabEnvironment, resultsDir: string | undefined = process.env[RESULTS_DIR_ENV]): string | null {
  if (!resultsDir) return null;
  const file = path.join(resultsDir, 'environment.properties');
  const current = existsSync(file) ? parseProperties(readFileSync(file, 'utf8')) : {};
  for (const [k, v] of Object.entries(info)) if (v !== undefined) current[snake(k)] = redact(v);
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(file, toProperties(current));
  return file;
}

/**
 * Results are filed under the version CI asked for (CILIUM_VERSION); the global setup must stop the run when
 * the lab runs another version, or the cross-version page would show one version's behaviour under
 * another's name. Returns the problem, or null. 'unknown' (no CILIUM_VERSION) accepts any running version.
 */
export function versionMismatch(expected: string, running: string): string | null {
  const norm = (v: string): string => v.trim().replace(/^v(?=\d)/, '');
  if (expected === 'unknown' || norm(expected) === norm(running)) return null;
  return `CILIUM_VERSION=${expected} but the lab runs Cilium ${running}: run \`npm run lab:up\` with CILIUM_VERSION=${expected}, or set CILIUM_VERSION=${norm(running)}`;
}
