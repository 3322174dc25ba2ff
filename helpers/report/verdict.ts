/**
 * The one way a suite asserts a judge's verdict (helpers/judge/types.ts Verdict): a vitest assertion whose
 * failure message is the judge's explanation, and an Allure step that shows the explanation when it passes too
 * (so the report says why, either way). The verdict's notes (things tolerated on purpose) are attached; when it
 * says no, the evidence a person needs (an HTTP answer, arping output…) is attached before the test fails.
 */
import { expect } from 'vitest';
import type { Verdict } from '../judge/types.ts';
import { attach, step, type AttachmentType } from './report.ts';

/** An attachment that only matters when the verdict says no. */
export interface Evidence {
  name: string;
  content: string | object;
  type?: AttachmentType;
}

export async function expectVerdict(what: string, v: Verdict, o: { soft?: boolean; evidence?: Evidence[] } = {}): Promise<void> {
  for (const note of v.notes ?? []) await attach('noted (tolerated)', note, 'text');
  if (!v.ok) for (const e of o.evidence ?? []) await attach(e.name, e.content, e.type);
  await step(`${v.ok ? 'judged' : 'FAILED'}: ${what} — ${v.explanation}`, () => Promise.resolve());
  (o.soft ? expect.soft : expect)(v.ok, `${what}: ${v.explanation}`).toBe(true);
}
