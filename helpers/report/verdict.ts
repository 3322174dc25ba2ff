/**
 * The one way a suite asserts a judge's verdict (helpers/judge/types.ts Verdict): a vitest assertion whose
 * failure message is the judge's explanation, and an Allure step that shows the explanation when it passes too
 * (so the report says why, either way). The verdict's notes (things tolerated on purpose) are attached; when it
 * says no, the evidence a person needs (an HTTP answer, arping output…) is attached before the test fails.
 * A verdict that carries `expected` and `actual` shows both as parameters of its step, and on a no as an
 * "expected vs actual" attachment, so the report shows the difference.
 */
import { expect } from 'vitest';
import type { Verdict } from '../judge/types.ts';
import { attach, step, stepWithParameters, type AttachmentType } from './report.ts';

/** An attachment that only matters when the verdict says no. */
export interface Evidence {
  name: string;
  content: string | object;
  type?: AttachmentType;
}

export async function expectVerdict(what: string, v: Verdict, o: { soft?: boolean; evidence?: Evidence[] } = {}): Promise<void> {
  for (const note of v.notes ?? []) await attach('noted (tolerated)', note, 'text');
  if (!v.ok) for (const e of o.evidence ?? []) await attach(e.name, e.content, e.type);
  const compared = 'expected' in v || 'actual' in v;
  if (compared && !v.ok) await attach(`${what}: expected vs actual`, { expected: v.expected ?? null, actual: v.actual ?? null }, 'json');
  const title = `${v.ok ? 'judged' : 'FAILED'}: ${what} — ${v.explanation}`;
  if (compared) await stepWithParameters(title, { expected: show(v.expected), actual: show(v.actual) }, () => Promise.resolve());
  else await step(title, () => Promise.resolve());
  (o.soft ? expect.soft : expect)(v.ok, `${what}: ${v.explanation}`).toBe(true);
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined');
}
