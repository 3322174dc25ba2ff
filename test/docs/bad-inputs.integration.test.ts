/**
 * docs/bad-inputs.md: every bad input a new user is likely to give, what the harness says, and the exit code,
 * written from real runs of `npm test` and `npm run report` (nothing here is typed by hand, so the table cannot
 * drift from the code). `UPDATE_DOCS=1` rewrites the file; otherwise the test fails when the file differs.
 *
 * Safety: every `npm test` row uses a loopback topology (provider existing, SSH and API on 127.0.0.1:9) or stops on
 * its input before any connection; reports go to a temporary CLH_REPORTS_DIR.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import { DEFAULT_TOPOLOGY_FILE, REPO_ROOT } from '../../helpers/lab/topology.ts';
import { DEFAULT_VERSIONS_FILE } from '../../helpers/lab/versions.ts';

const DOC = path.join(REPO_ROOT, 'docs', 'bad-inputs.md');
const TMP = mkdtempSync(path.join(tmpdir(), 'clh-bad-'));

function file(name: string, text: string): string {
  const f = path.join(TMP, name);
  mkdirSync(path.dirname(f), { recursive: true });
  writeFileSync(f, text);
  return f;
}

const topologyText = readFileSync(DEFAULT_TOPOLOGY_FILE, 'utf8');
const versionsText = readFileSync(DEFAULT_VERSIONS_FILE, 'utf8');
/** The reference topology moved to loopback port 9 (nothing listens): no packet leaves the machine. */
const loopback = file(
  'loopback-topology.yaml',
  ['router', 'k8s-ctr', 'k8s-w1', 'k8s-w0'].reduce(
    (t, n) => t.replace(`  - name: ${n}\n`, `  - name: ${n}\n    ssh: { host: 127.0.0.1, port: 9 }\n`),
    topologyText
      .replace('provider: vagrant', 'provider: existing')
      .replace('  host: 192.168.10.100\n  port: 6443', '  host: 127.0.0.1\n  port: 9'),
  ),
);
const kubeconfig = (server: string, extra = ''): string =>
  `apiVersion: v1\nkind: Config\nclusters:\n- {name: lab, cluster: {server: "${server}"}}\nusers:\n- {name: u, user: {token: t}}\ncontexts:\n- {name: lab, context: {cluster: lab, user: u}}\n${extra}`;
const reports = path.join(TMP, 'reports');
const brokenRun = path.join(reports, '1.18.14', 'runs', '20261122T034910.123Z-r1', 'allure-results');
mkdirSync(brokenRun, { recursive: true });
writeFileSync(path.join(brokenRun, 'aaa-result.json'), '{"name":"failover moves the LB IP","status":"pass');

interface Case {
  input: string;
  command: 'npm test' | 'npm run report';
  args?: string[];
  env: Record<string, string>;
}

const CASES: Case[] = [
  { input: '`CILIUM_VERSION=garbage`', command: 'npm test', env: { LAB_TOPOLOGY: loopback, CILIUM_VERSION: 'garbage' } },
  {
    input: '`LAB_VERSIONS`: a YAML syntax error',
    command: 'npm test',
    env: {
      LAB_TOPOLOGY: loopback,
      CILIUM_VERSION: '1.18.14',
      LAB_VERSIONS: file('versions-syntax.yaml', versionsText.replace('ciliumMatrix:', 'ciliumMatrix: [oops')),
    },
  },
  {
    input: '`LAB_VERSIONS`: an unquoted version (`- 1.10`)',
    command: 'npm test',
    env: {
      LAB_TOPOLOGY: loopback,
      CILIUM_VERSION: '1.18.14',
      LAB_VERSIONS: file('versions-number.yaml', versionsText.replace(/ciliumMatrix:\n(\s+- )"[^"]+"/, 'ciliumMatrix:\n$11.10')),
    },
  },
  {
    input: '`LAB_VERSIONS`: a file that does not exist',
    command: 'npm test',
    env: { LAB_TOPOLOGY: loopback, CILIUM_VERSION: '1.18.14', LAB_VERSIONS: path.join(TMP, 'missing-versions.yaml') },
  },
  { input: '`LAB_TOPOLOGY`: an empty file', command: 'npm test', env: { LAB_TOPOLOGY: file('empty-topology.yaml', '') } },
  {
    input: '`LAB_TOPOLOGY`: a YAML syntax error',
    command: 'npm test',
    env: { LAB_TOPOLOGY: file('syntax-topology.yaml', topologyText.replace('podCidr: 172.20.0.0/16', 'podCidr: [172.20.0.0/16')) },
  },
  {
    input: '`LAB_TOPOLOGY`: a bad field (`podCidr: 172.20.0.0/40`)',
    command: 'npm test',
    env: { LAB_TOPOLOGY: file('field-topology.yaml', topologyText.replace('podCidr: 172.20.0.0/16', 'podCidr: 172.20.0.0/40')) },
  },
  {
    input: '`LAB_KUBECONFIG`: a file that does not exist',
    command: 'npm test',
    env: { LAB_TOPOLOGY: loopback, LAB_KUBECONFIG: path.join(TMP, 'missing.kubeconfig') },
  },
  { input: '`LAB_KUBECONFIG`: a directory', command: 'npm test', env: { LAB_TOPOLOGY: loopback, LAB_KUBECONFIG: TMP } },
  {
    input: '`LAB_KUBECONFIG`: not YAML',
    command: 'npm test',
    env: { LAB_TOPOLOGY: loopback, LAB_KUBECONFIG: file('not-yaml.kubeconfig', 'clusters: [unclosed\n') },
  },
  {
    input: '`LAB_KUBECONFIG`: no current context',
    command: 'npm test',
    env: { LAB_TOPOLOGY: loopback, LAB_KUBECONFIG: file('no-context.kubeconfig', kubeconfig('https://127.0.0.1:9')) },
  },
  {
    input: '`LAB_KUBECONFIG`: a server that is not a URL',
    command: 'npm test',
    env: { LAB_TOPOLOGY: loopback, LAB_KUBECONFIG: file('not-url.kubeconfig', kubeconfig('127.0.0.1:9', 'current-context: lab\n')) },
  },
  {
    input: "`LAB_KUBECONFIG`: another cluster's server",
    command: 'npm test',
    env: {
      LAB_TOPOLOGY: loopback,
      LAB_KUBECONFIG: file('other.kubeconfig', kubeconfig('https://198.18.7.7:6443', 'current-context: lab\n')),
    },
  },
  {
    input: '`npm run report -- --version 9.9.9` (no results)',
    command: 'npm run report',
    args: ['--version', '9.9.9'],
    env: { CLH_REPORTS_DIR: reports },
  },
  { input: '`npm run report` with a truncated result file', command: 'npm run report', env: { CLH_REPORTS_DIR: reports } },
  {
    input: '`npm run report -- --verison 1.18.14` (a mistyped option)',
    command: 'npm run report',
    args: ['--verison', '1.18.14'],
    env: { CLH_REPORTS_DIR: reports },
  },
];

interface Outcome {
  said: string;
  code: number;
}

/** The lines the harness printed, without npm's and the progress lines, temporary paths as <tmp>. */
function said(output: string): string {
  return output
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '' && !/^(Lab reachable|cross-version page)/.test(l))
    .join('\n')
    .replaceAll(TMP, '<tmp>')
    .replaceAll(REPO_ROOT, '<repo>');
}

async function run(c: Case): Promise<Outcome> {
  const args = c.command === 'npm test' ? ['test', '--silent'] : ['run', 'report', '--silent', '--', ...(c.args ?? [])];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(VITEST|LAB_|CILIUM_VERSION$|KUBECONFIG$|CLH_|TEST$|NODE_ENV$)/.test(k)) env[k] = v;
  const r = await execa('npm', args, {
    cwd: REPO_ROOT,
    env: { ...env, ...c.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    extendEnv: false,
    reject: false,
    timeout: 90_000,
    all: true,
  });
  return { said: said(r.all), code: r.exitCode ?? -1 };
}

function cellText(s: string): string {
  return s
    .replaceAll('|', '\\|')
    .split('\n')
    .map((l) => (l.startsWith('  ') ? `&nbsp;&nbsp;${l.trim()}` : l))
    .join('<br>');
}

function render(rows: { c: Case; o: Outcome }[]): string {
  return [
    '# Bad inputs and what the harness says',
    '',
    'Generated by `test/docs/bad-inputs.integration.test.ts` from real runs (`UPDATE_DOCS=1 npx vitest run --project self',
    'test/docs/bad-inputs.integration.test.ts` rewrites it; the test fails when this file and the code disagree).',
    '`<tmp>` is the folder the test wrote the bad files to. Every row stops before the lab is touched.',
    '',
    '| input | command | what the harness says | exit code |',
    '|---|---|---|---|',
    ...rows.map(({ c, o }) => `| ${c.input} | \`${c.command}\` | ${cellText(o.said)} | ${o.code} |`),
    '',
  ].join('\n');
}

describe('docs/bad-inputs.md is what the harness really says', () => {
  test('every bad input: a message naming the problem, a non-zero exit code, and the table is up to date', async () => {
    const rows: { c: Case; o: Outcome }[] = [];
    // Four at a time (2 cores, other work running); each row is a fresh npm process.
    for (let i = 0; i < CASES.length; i += 4) {
      const batch = CASES.slice(i, i + 4);
      const outcomes = await Promise.all(batch.map(run));
      batch.forEach((c, j) => rows.push({ c, o: outcomes[j]! }));
    }
    for (const { c, o } of rows) {
      expect(o.code, `${c.input}: ${o.said}`).not.toBe(0);
      expect(o.said, c.input).not.toMatch(/^\s*at |Test Files|No lab: Invalid URL/m);
      expect(o.said.length, c.input).toBeGreaterThan(10);
    }
    const text = render(rows);
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC, text);
    let current = '';
    try {
      current = readFileSync(DOC, 'utf8');
    } catch {
      current = '';
    }
    expect(
      current,
      'docs/bad-inputs.md differs from what the harness says now: run UPDATE_DOCS=1 npx vitest run --project self test/docs/bad-inputs.integration.test.ts',
    ).toBe(text);
  }, 300_000);
});
