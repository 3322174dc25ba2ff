/**
 * A judge's verdict as a vitest assertion whose failure message is the judge's explanation, and an
 * Allure step that shows the explanation when it passes too (so the report says why, either way).
 */
import { expect } from 'vitest';
import type { Verdict } from '../helpers/judge/types.ts';
import { step } from '../helpers/report.ts';

export async function expectVerdict(what: string, v: Verdict, o: { soft?: boolean } = {}): Promise<void> {
  await step(`${v.ok ? 'judged' : 'FAILED'}: ${what} — ${v.explanation}`, () => Promise.resolve());
  (o.soft ? expect.soft : expect)(v.ok, `${what}: ${v.explanation}`).toBe(true);
}
