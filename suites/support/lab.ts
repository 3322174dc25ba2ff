/**
 * The scenarios' side of the lab fixture: the framework's labTestWith wired to the suites' manifest folder, and
 * prepareThisSuite, which converges the lab to what suites/support/plan.ts lists for the calling file (folded
 * with the run's later suites).
 *
 *   import { labTest as test, prepareThisSuite } from './support/lab.ts';
 *   test.beforeAll(async ({ lab }) => prepareThisSuite(lab, import.meta.url));
 */
import { labTestWith, prepareSuite, type Lab } from '../../helpers/lab/lab.ts';
import { MANIFEST_DIR } from './manifests.ts';
import { needsOf, SUITES } from './plan.ts';

export const labTest = labTestWith({ manifestDir: MANIFEST_DIR });

/** prepareSuite with the needs suites/support/plan.ts lists for the calling file: `prepareThisSuite(lab, import.meta.url)`. */
export async function prepareThisSuite(lab: Lab, fileUrl: string): Promise<void> {
  await prepareSuite(lab, needsOf(fileUrl), { file: fileUrl, plan: SUITES });
}
