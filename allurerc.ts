/**
 * Allure 3 configuration for one Cilium version's report. `npm run report` runs `allure generate` with
 * CILIUM_VERSION set (and CLH_REPORTS_DIR in self-tests); everything else follows from reports/run-context.ts:
 *   output    reports/<version>/report/  (one index.html: singleFile opens from file://)
 *   history   reports/<version>/history.jsonl, one line appended per generated report, kept between runs
 * The awesome report embeds an analytics script no option turns off; reports/report.ts strips it afterwards.
 */
import { defineConfig } from 'allure';
import { allure3Categories } from './reports/categories.ts';
import { ciliumVersionFromEnv, reportsRoot, versionPaths } from './reports/run-context.ts';

const version = ciliumVersionFromEnv();
const paths = versionPaths(version, reportsRoot());

/** How many nightly runs of one version the report's history keeps. */
export const HISTORY_LIMIT = 120;

export default defineConfig({
  name: `Cilium ${version}`,
  output: paths.reportDir,
  historyPath: paths.historyFile,
  historyLimit: HISTORY_LIMIT,
  appendHistory: true,
  categories: allure3Categories(),
  plugins: {
    awesome: {
      options: {
        reportName: `cilium-lab-harness: Cilium ${version}`,
        singleFile: true,
        reportLanguage: 'en',
        groupBy: ['epic', 'feature', 'story'],
        stepTreeExpansion: 'expand_failed_only',
      },
    },
  },
});
