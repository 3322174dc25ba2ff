/**
 * After the twin runs: what `npm run report` made of them must show every version run, and the failover suite's
 * measured numbers for each (issue 15: "npm run report then builds both versions' reports and the cross-version
 * page from those real runs"). Pure: the page's HTML in, the problems found out (none: the page is whole).
 */

/** The measurements 90-l2-failover records (suites/90-l2-failover.test.ts, recordMeasurement). */
export const FAILOVER_MEASUREMENTS = ['failover time', 'outage'] as const;

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
}

export function checkCrossVersionPage(html: string, versions: readonly string[]): string[] {
  const problems: string[] = [];
  for (const v of versions) {
    const attr = `data-version="${escapeAttr(v)}"`;
    if (!html.includes(`<th scope="col" ${attr}><a href=`)) problems.push(`no column for Cilium ${v} in the scenarios table`);
    for (const name of FAILOVER_MEASUREMENTS) {
      const cell = new RegExp(`<td ${attr} data-measurement="${escapeAttr(name)}">([^<]*)</td>`).exec(html);
      if (!cell) problems.push(`no "${name}" cell for Cilium ${v} in the measurements table`);
      else if (!/\d/.test(cell[1] ?? '')) problems.push(`"${name}" for Cilium ${v} shows no number ("${cell[1] ?? ''}")`);
    }
  }
  return problems;
}
