import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { main, parseArgs } from '../../scripts/plan.ts';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';

describe('npm run plan', () => {
  test('a full run: every suite listed in order, the upgrade before 20-vxlan, the count on the last line', () => {
    const lines = main([]);
    expect(lines.at(-1)).toBe('helm upgrades: 2');
    const suiteLines = lines.filter((l) => /^\d+\. /.test(l));
    expect(suiteLines).toHaveLength(12);
    expect(suiteLines[2]).toMatch(/^3\. 20-vxlan\.test\.ts/);
    expect(lines.join('\n')).toMatch(
      /helm upgrade #1[^]*--set routingMode=tunnel {3}was native[^]*--set l2announcements\.enabled=true {3}was false {2}\(folded in for 30-lb-ipam/,
    );
  });

  test('filters select a smaller run; --no-destructive drops the failover suite', () => {
    expect(main(['60-ingress']).at(-1)).toBe('helm upgrades: 1');
    expect(main(['--no-destructive']).filter((l) => /^\d+\. /.test(l))).toHaveLength(11);
    expect(main(['80-wireguard']).at(-1)).toBe('helm upgrades: 1');
    expect(main(['76-l7']).at(-1)).toBe('helm upgrades: 0');
    expect(main(['00-lab']).at(-1)).toBe('helm upgrades: 0');
    expect(() => main(['nothing-matches'])).toThrow(/no suite matches/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown option --bogus/);
  });

  test('runs as a script with no lab, last line is the count', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/plan.ts'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, LAB_TOPOLOGY: '' },
    });
    expect(out.trimEnd().split('\n').at(-1)).toBe('helm upgrades: 2');
  });
});
