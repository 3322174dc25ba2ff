/**
 * The cross-version page (reports/index.html): one row per scenario, one column per Cilium version, each
 * cell pass / fail / skip with the duration and the scenario's measurements; a second table with the
 * measured numbers (failover time, outage…) per version; links into each version's Allure report.
 * Plain HTML and CSS, no script, so it opens from a file. Pure: summaries in, HTML out.
 */
import { compareVersions } from './run-context.ts';
import { formatMeasurement, type Measurement } from './measurements.ts';
import type { ResultStatus, ScenarioSummary, VersionSummary } from './results.ts';

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** `850 ms`, `3.2 s`, `4 min 05 s`. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))} s`;
  const min = Math.floor(ms / 60_000);
  const sec = Math.round((ms % 60_000) / 1000);
  return `${min} min ${String(sec).padStart(2, '0')} s`;
}

const STATUS_WORD: Record<ResultStatus, string> = {
  passed: 'pass',
  failed: 'fail',
  broken: 'broken',
  skipped: 'skip',
  unknown: 'unknown',
  unreadable: 'unreadable result',
};

/** The word a cell shows: pass, fail, skip, or why it broke (lab unreachable, lab timeout, broken). */
export function cellWord(s: Pick<ScenarioSummary, 'status' | 'category'>): string {
  if (s.status === 'broken' && s.category) return s.category.short;
  return STATUS_WORD[s.status];
}

interface Row {
  id: string;
  title: string;
  file: string;
  feature: string | null;
  story: string | null;
  severity: string | null;
  order: number;
  cells: Map<string, ScenarioSummary>;
}

/** Rows in suite-file order, then run order (as in the first version that ran the scenario). */
export function buildRows(summaries: VersionSummary[]): Row[] {
  const rows = new Map<string, Row>();
  for (const v of summaries) {
    for (const s of v.scenarios) {
      let row = rows.get(s.id);
      if (!row) {
        row = {
          id: s.id,
          title: s.title,
          file: s.file,
          feature: s.feature,
          story: s.story,
          severity: s.severity,
          order: s.order,
          cells: new Map(),
        };
        rows.set(s.id, row);
      }
      row.cells.set(v.version, s);
    }
  }
  return [...rows.values()].sort((a, b) => a.file.localeCompare(b.file) || a.order - b.order || a.title.localeCompare(b.title));
}

function measurementsText(ms: Measurement[]): string {
  return ms.map((m) => `${m.name} ${formatMeasurement(m)}`).join(' · ');
}

function cell(version: string, s: ScenarioSummary | undefined): string {
  if (!s) return `<td class="cell none" data-version="${escapeHtml(version)}" data-status="not-run">not run</td>`;
  const word = cellWord(s);
  const changed = s.previousStatus !== null && s.previousStatus !== s.status;
  const parts = [`<span class="word">${escapeHtml(word)}</span>`];
  const duration = formatDuration(s.durationMs);
  if (duration) parts.push(`<span class="duration">${escapeHtml(duration)}</span>`);
  if (s.measurements.length > 0) parts.push(`<span class="measured">${escapeHtml(measurementsText(s.measurements))}</span>`);
  if (changed) parts.push(`<span class="changed">was ${escapeHtml(STATUS_WORD[s.previousStatus ?? 'unknown'])}</span>`);
  if (s.message) parts.push(`<span class="message">${escapeHtml(s.message)}</span>`);
  const title = [s.category?.name, s.message].filter(Boolean).join(': ');
  return `<td class="cell ${s.status}${changed ? ' is-changed' : ''}" data-version="${escapeHtml(version)}" data-status="${s.status}"${
    title ? ` title="${escapeHtml(title)}"` : ''
  }>${parts.join('<br>')}</td>`;
}

function countsText(v: VersionSummary): string {
  const c = v.counts;
  const parts = [`${c.passed} passed`, `${c.failed} failed`];
  if (c.broken) parts.push(`${c.broken} broken`);
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  return parts.join(', ');
}

function header(v: VersionSummary): string {
  const when = v.runStartedAt ?? v.generatedAt;
  return `<th scope="col" data-version="${escapeHtml(v.version)}"><a href="${escapeHtml(v.reportHref)}">Cilium ${escapeHtml(v.version)}</a><br><span class="counts">${escapeHtml(
    countsText(v),
  )}</span><br><span class="when">${escapeHtml(when.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</span></th>`;
}

function scenarioLabel(r: Row): string {
  const sub = [r.feature, r.story].filter(Boolean).join(' › ');
  return `<th scope="row"><span class="title">${escapeHtml(r.title)}</span>${sub ? `<br><span class="sub">${escapeHtml(sub)}</span>` : ''}${
    r.severity && r.severity !== 'normal' ? ` <span class="severity">${escapeHtml(r.severity)}</span>` : ''
  }</th>`;
}

function scenarioTable(versions: VersionSummary[], rows: Row[]): string {
  const out: string[] = [];
  out.push('<table id="scenarios" class="versions">');
  out.push(`<colgroup><col class="scenario-col"><col span="${versions.length}"></colgroup>`);
  out.push(`<thead><tr><th scope="col">Scenario</th>${versions.map(header).join('')}</tr></thead>`);
  out.push('<tbody>');
  let file: string | null = null;
  for (const r of rows) {
    if (r.file !== file) {
      file = r.file;
      out.push(`<tr class="group"><th colspan="${versions.length + 1}" scope="rowgroup">${escapeHtml(file || '(no file)')}</th></tr>`);
    }
    out.push(
      `<tr data-scenario="${escapeHtml(r.id)}">${scenarioLabel(r)}${versions.map((v) => cell(v.version, r.cells.get(v.version))).join('')}</tr>`,
    );
  }
  out.push('</tbody></table>');
  return out.join('\n');
}

function measurementTable(versions: VersionSummary[], rows: Row[]): string {
  const lines: { row: Row; name: string }[] = [];
  for (const r of rows) {
    const names = new Set<string>();
    for (const s of r.cells.values()) for (const m of s.measurements) names.add(m.name);
    for (const name of names) lines.push({ row: r, name });
  }
  if (lines.length === 0) return '<p id="measurements-none">No scenario recorded a measurement in these runs.</p>';
  const out: string[] = [];
  out.push('<table id="measurements" class="versions">');
  out.push(`<colgroup><col class="scenario-col"><col span="${versions.length}"></colgroup>`);
  out.push(
    `<thead><tr><th scope="col">Measurement</th>${versions.map((v) => `<th scope="col" data-version="${escapeHtml(v.version)}">Cilium ${escapeHtml(v.version)}</th>`).join('')}</tr></thead><tbody>`,
  );
  for (const { row, name } of lines) {
    const tds = versions.map((v) => {
      const m = row.cells.get(v.version)?.measurements.find((x) => x.name === name);
      return `<td data-version="${escapeHtml(v.version)}" data-measurement="${escapeHtml(name)}">${m ? escapeHtml(formatMeasurement(m)) : '—'}</td>`;
    });
    out.push(`<tr><th scope="row">${escapeHtml(name)}<br><span class="sub">${escapeHtml(row.title)}</span></th>${tds.join('')}</tr>`);
  }
  out.push('</tbody></table>');
  return out.join('\n');
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d232a;background:#fff}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
p.lead{color:#555;margin:.2rem 0 1rem}
table{border-collapse:collapse;margin-bottom:1rem}
th,td{border:1px solid #d0d7de;padding:.35rem .55rem;vertical-align:top;text-align:left}
thead th{background:#f6f8fa}
tr.group th{background:#eef1f4;font-family:ui-monospace,monospace;font-weight:600}
th[scope=row]{font-weight:500}
/* However many versions: the scenario column keeps a readable width, the version columns share the rest. */
table.versions{width:100%;table-layout:fixed}
table.versions col.scenario-col{width:18rem}
table.versions td,table.versions thead th{overflow-wrap:anywhere}
.sub,.when,.counts,.duration,.message,.measured{font-size:.85em;color:#555}
.message{display:block;max-width:100%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.severity{font-size:.75em;padding:0 .3em;border-radius:3px;background:#fbefd5;color:#7a4a00}
.cell .word{font-weight:700}
.cell.passed{background:#e6f4ea}.cell.passed .word{color:#1a7f37}
.cell.failed{background:#fde8e8}.cell.failed .word{color:#b42318}
.cell.broken{background:#fff4e0}.cell.broken .word{color:#9a4d00}
.cell.skipped,.cell.unknown,.cell.none{background:#f3f4f6;color:#666}
.cell.unreadable{background:#fff4e0}.cell.unreadable .word{color:#9a4d00}
.changed{font-size:.8em;font-weight:700;color:#6f42c1}
.cell.is-changed{outline:2px solid #6f42c1;outline-offset:-2px}
dl.legend{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;color:#444;font-size:.9em}
dl.legend dt{font-weight:700}
`;

export interface IndexPageOptions {
  generatedAt: string;
  title?: string;
}

/** The whole page. Versions are shown oldest to newest, left to right. */
export function renderIndexPage(summaries: VersionSummary[], o: IndexPageOptions): string {
  const versions = [...summaries].sort((a, b) => compareVersions(a.version, b.version));
  const title = o.title ?? 'cilium-lab-harness: Cilium versions side by side';
  const rows = buildRows(versions);
  const body =
    versions.length === 0
      ? '<p id="no-versions">No version has a report yet: run the lab suites, then <code>npm run report</code>.</p>'
      : `${scenarioTable(versions, rows)}
<h2>Measured numbers per version</h2>
${measurementTable(versions, rows)}
<h2>Reading the cells</h2>
<dl class="legend">
<dt>pass / fail</dt><dd>the scenario passed, or an assertion about Cilium failed (a product finding)</dd>
<dt>lab unreachable / lab timeout</dt><dd>the lab broke (SSH or API down, a wait ran out of time): fix the lab before reading Cilium's behaviour</dd>
<dt>broken</dt><dd>any other exception: a harness bug or an answer it could not read</dd>
<dt>skip / not run</dt><dd>skipped with a reason (hover the cell), or absent from that version's run</dd>
<dt>unreadable result</dt><dd>the scenario's result file could not be read (truncated, not JSON): what it did is unknown</dd>
<dt>was …</dt><dd>the status changed since the previous report of that version</dd>
</dl>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="lead">Generated ${escapeHtml(o.generatedAt)} from ${versions.length} Cilium version${versions.length === 1 ? '' : 's'}. Each column header opens that version's Allure report (history, steps, attachments).</p>
${body}
</body>
</html>
`;
}
