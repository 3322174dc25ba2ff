/** `npm test` runs this before vitest: one fast check that a lab is there (helpers/lab/preflight.ts). */
import { checkLabOrExit } from '../helpers/lab/preflight.ts';

const checked = await checkLabOrExit();
console.log(`Lab reachable: ${checked.map((e) => `${e.what} ${e.host}:${e.port}`).join(', ')}`);
