/**
 * `npm run plan [-- [--no-destructive] [name-filter ...]]`
 *
 * Prints, with no lab, the ordered suites of a run, the Cilium settings each needs, and the helm upgrades the run
 * performs from the base lab state (`npm run lab:up`). The LAST line is `helm upgrades: <n>`.
 * Filters select suites whose file name contains any of them (as `vitest run <filter>` would); the plan then shows
 * what that smaller run converges to.
 */
import { pathToFileURL } from 'node:url';
import { formatSettings, planRun, type RunPlan, type SettingValue } from '../helpers/cilium/needs.ts';
import { loadTopology } from '../helpers/lab/topology.ts';
import { baseCilium, SUITES } from '../suites/support/plan.ts';

export interface PlanArgs {
  filters: string[];
  destructive: boolean;
}

export function parseArgs(argv: readonly string[]): PlanArgs {
  const filters: string[] = [];
  let destructive = true;
  for (const a of argv) {
    if (a === '--no-destructive') destructive = false;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a} (known: --no-destructive)`);
    else filters.push(a);
  }
  return { filters, destructive };
}

function show(v: SettingValue | null): string {
  return v === null ? '(unset)' : String(v);
}

export function renderPlan(plan: RunPlan, args: PlanArgs): string[] {
  const lines: string[] = [];
  const scope = args.filters.length > 0 ? `suites matching ${args.filters.join(', ')}` : 'a full run';
  lines.push(
    `Run plan for ${scope}${args.destructive ? '' : ' (destructive suites excluded)'}, from the base lab state of \`npm run lab:up\`:`,
  );
  lines.push(`  base Cilium settings: ${formatSettings(plan.base)}`);
  lines.push('');
  plan.steps.forEach((s, i) => {
    const tags = s.needs.destructive ? '  [destructive]' : '';
    lines.push(`${i + 1}. ${s.file}  ${s.title}${tags}`);
    lines.push(`     needs Cilium: ${formatSettings(s.needs.cilium ?? {})}`);
    lines.push(`     workloads:    ${(s.needs.workloads ?? []).join(', ') || '(none)'}`);
    if (!s.upgrade) {
      lines.push('     helm upgrade: none (already met)');
      return;
    }
    lines.push(`     helm upgrade #${s.upgrade.number} (--reuse-values, chart version unchanged):`);
    for (const c of s.upgrade.changes) {
      const folded = s.upgrade.folded.find((f) => f.key === c.key);
      const implied = s.upgrade.implied.find((f) => f.key === c.key);
      const why = folded ? `  (folded in for ${folded.for.join(', ')})` : implied ? `  (implied: ${implied.reason})` : '';
      lines.push(`       --set ${c.key}=${String(c.to)}   was ${show(c.from)}${why}`);
    }
  });
  lines.push('');
  lines.push('Fold rule: a suite whose needs are met triggers no upgrade; when one is needed, it also sets what later');
  lines.push('suites need, key by key, unless a suite in between or that later suite needs another value (helpers/cilium/needs.ts).');
  lines.push('Needs off: suites that read the clear wire declare encryption.enabled=false, so WireGuard is never folded into an');
  lines.push('upgrade they run under; it gets its own upgrade before the suite that needs it (encryption.type alone changes nothing).');
  lines.push(`helm upgrades: ${plan.helmUpgrades}`);
  return lines;
}

export function main(argv: readonly string[]): string[] {
  const args = parseArgs(argv);
  const suites = SUITES.filter(
    (s) => (args.destructive || !s.needs.destructive) && (args.filters.length === 0 || args.filters.some((f) => s.file.includes(f))),
  );
  if (suites.length === 0) throw new Error(`no suite matches ${args.filters.join(', ')} (suites: ${SUITES.map((s) => s.file).join(', ')})`);
  return renderPlan(planRun(suites, baseCilium(loadTopology())), args);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    process.stdout.write(`${main(process.argv.slice(2)).join('\n')}\n`);
  } catch (err) {
    process.stderr.write(`plan: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
