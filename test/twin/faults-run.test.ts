/** npm run test:faults' pure pieces: its arguments, vitest's JSON as outcomes, the router's route diff, the output wait. */
import { describe, expect, it } from 'vitest';
import type { FaultCase } from './fault-cases.ts';
import { outcomesFromVitestJson, parseFaultArgs, routeDiff, waitForText } from './faults-run.ts';

const mk = (name: FaultCase['name']): FaultCase => ({
  name,
  does: 'x',
  suites: ['suites/10-native-routing.test.ts'],
  source: 'test',
  expect: { kind: 'lab', must: 'pass', check: () => [] },
});
const cases = [mk('router-pod-routes'), mk('api-slow'), mk('lease-stuck')];

describe('parseFaultArgs', () => {
  it('no names: the whole catalogue; names (comma or space separated) keep catalogue order', () => {
    expect(parseFaultArgs([], cases)).toMatchObject({ all: true, version: null });
    expect(parseFaultArgs([], cases).cases.map((c) => c.name)).toEqual(['router-pod-routes', 'api-slow', 'lease-stuck']);
    const a = parseFaultArgs(['lease-stuck,router-pod-routes', '--version', '1.17.18'], cases);
    expect(a.cases.map((c) => c.name)).toEqual(['router-pod-routes', 'lease-stuck']);
    expect(a).toMatchObject({ all: false, version: '1.17.18' });
  });

  it('an unknown name is an error naming the known ones; a known name without a case says so', () => {
    expect(() => parseFaultArgs(['router-pod-route'], cases)).toThrow(/unknown fault router-pod-route \(known: router-pod-routes,/);
    expect(() => parseFaultArgs(['wireguard-plaintext'], cases)).toThrow(
      /no case in test\/twin\/fault-cases.ts yet for wireguard-plaintext/,
    );
    expect(() => parseFaultArgs(['--version'], cases)).toThrow(/--version needs/);
  });
});

describe('outcomesFromVitestJson', () => {
  it('one outcome per test, the file by its base name; a file that failed to load is one failed outcome', () => {
    const json = JSON.stringify({
      testResults: [
        {
          name: '/repo/suites/10-native-routing.test.ts',
          status: 'failed',
          assertionResults: [
            { fullName: 'a b', status: 'failed', failureMessages: ['boom'], duration: 12 },
            { fullName: 'a c', status: 'passed', failureMessages: [], duration: 3 },
            { fullName: 'a d', status: 'skipped' },
          ],
        },
        { name: '/repo/suites/30-lb-ipam.test.ts', status: 'failed', message: 'Cannot find module', assertionResults: [] },
      ],
    });
    expect(outcomesFromVitestJson(json)).toEqual([
      { file: '10-native-routing.test.ts', fullName: 'a b', status: 'failed', failureMessages: ['boom'], durationMs: 12 },
      { file: '10-native-routing.test.ts', fullName: 'a c', status: 'passed', failureMessages: [], durationMs: 3 },
      { file: '10-native-routing.test.ts', fullName: 'a d', status: 'skipped', failureMessages: [], durationMs: 0 },
      { file: '30-lb-ipam.test.ts', fullName: '(file)', status: 'failed', failureMessages: ['Cannot find module'], durationMs: 0 },
    ]);
  });
});

describe('routeDiff', () => {
  it('names routes added and removed, ignoring order and blank lines', () => {
    const before = 'default via 198.18.0.2 dev eth0\n198.18.10.0/24 dev eth1 proto kernel scope link src 198.18.10.200\n';
    expect(routeDiff(before, before.split('\n').reverse().join('\n'))).toEqual([]);
    expect(routeDiff(before, `${before}198.19.2.0/24 via 198.18.20.100 dev eth2\n`.replace(/^default.*\n/, ''))).toEqual([
      'router route "198.19.2.0/24 via 198.18.20.100 dev eth2" (added during the run)',
      'router route "default via 198.18.0.2 dev eth0" (removed during the run)',
    ]);
  });
});

describe('waitForText', () => {
  it('resolves with the match once the output has it, rejects at its deadline or when the run ends', async () => {
    let out = '';
    setTimeout(() => (out += 'RUN suites/90-l2-failover.test.ts\n'), 150);
    await expect(waitForText(() => out, /90-l2-failover/, 2_000, new AbortController().signal)).resolves.toBe('90-l2-failover');
    await expect(waitForText(() => '', /never/, 200, new AbortController().signal)).rejects.toThrow(
      /no output matched \/never\/ within 0 s/,
    );
    const ended = new AbortController();
    ended.abort();
    await expect(waitForText(() => '', /never/, 2_000, ended.signal)).rejects.toThrow(/the run ended before/);
  });
});
