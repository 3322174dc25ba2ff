/**
 * Runs once, before any lab suite: is there a lab to test? (helpers/preflight.ts decides.)
 * Without one the run ends here, with one message that names what is missing and how to start the
 * lab, instead of a timeout per test. `npm test` runs the same check before vitest starts (so it
 * holds even when no suite file matches) and sets LAB_PREFLIGHT=passed so it is not repeated here.
 * LAB_PREFLIGHT=skip turns it off, for debugging the harness itself.
 */
import { checkLabOrExit } from '../helpers/preflight.ts';

export default async function setup(): Promise<void> {
  if (process.env.LAB_PREFLIGHT === 'passed' || process.env.LAB_PREFLIGHT === 'skip') return;
  await checkLabOrExit();
}
