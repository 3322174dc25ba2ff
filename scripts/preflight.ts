/**
 * `npm test` runs this before vitest: the inputs first (topology, lab/versions.yaml, CILIUM_VERSION against its
 * pattern), before anything is created, then one fast check that a lab is there (helpers/lab/preflight.ts).
 */
import { checkLabOrExit } from '../helpers/lab/preflight.ts';
import { labRunCiliumVersion } from '../reports/run-context.ts';

try {
  labRunCiliumVersion();
} catch (err) {
  process.stderr.write(`\n${(err as Error).message}\n\n`);
  process.exit(2);
}
const checked = await checkLabOrExit();
console.log(`Lab reachable: ${checked.map((e) => `${e.what} ${e.host}:${e.port}`).join(', ')}`);
