import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import {
  apiServerUrl,
  Cleanups,
  makeRunId,
  resolveRunId,
  rewriteKubeconfigServer,
  suitesForConvergence,
} from '../../../helpers/lab/lab.ts';
import { SUITES } from '../../../suites/support/plan.ts';
import { loadTopology } from '../../../helpers/lab/topology.ts';

describe('run id', () => {
  test('r<date>-<time>-<hex>, lower-case, at most 20 characters', () => {
    const id = makeRunId(new Date('2026-11-22T03:49:10Z'), 'ab12');
    expect(id).toBe('r20261122-0349-ab12');
    expect(id.length).toBeLessThanOrEqual(20);
    expect(makeRunId()).toMatch(/^r\d{8}-\d{4}-[0-9a-f]{4}$/);
  });

  test('LAB_RUN_ID is used when valid and refused when not', () => {
    expect(resolveRunId({ LAB_RUN_ID: 'nightly-118' })).toBe('nightly-118');
    expect(resolveRunId({}, new Date('2026-01-02T03:04:00Z'))).toMatch(/^r20260102-0304-[0-9a-f]{4}$/);
    for (const bad of ['Upper', 'has_underscore', 'a-very-long-run-id-that-is-too-long', '-lead', 'trail-']) {
      expect(() => resolveRunId({ LAB_RUN_ID: bad }), bad).toThrow(/LAB_RUN_ID/);
    }
  });
});

describe('rewriteKubeconfigServer', () => {
  const adminConf = readFileSync(new URL('../../fixtures/kube/admin.conf', import.meta.url), 'utf8');

  test("points the current context's cluster at the topology's API endpoint and keeps the credentials", () => {
    const url = apiServerUrl({ apiEndpoint: { host: '198.18.10.100', port: 16443 } });
    const out = parse(rewriteKubeconfigServer(adminConf, url));
    const orig = parse(adminConf);
    expect(out.clusters[0].cluster.server).toBe('https://198.18.10.100:16443');
    expect(out.clusters[0].cluster['certificate-authority-data']).toBe(orig.clusters[0].cluster['certificate-authority-data']);
    expect(out.users).toEqual(orig.users);
    expect(out['current-context']).toBe('kubernetes-admin@kubernetes');
  });

  test("the reference topology's endpoint", () => {
    expect(apiServerUrl(loadTopology())).toBe('https://192.168.10.100:6443');
  });

  test.each([
    ['empty', '', /no clusters/],
    ['not YAML', 'clusters: [unclosed', /not YAML/],
    ['no clusters', 'apiVersion: v1\nkind: Config\nclusters: []\n', /no clusters/],
    [
      'a context naming a missing cluster',
      'clusters:\n- name: a\n  cluster: {server: https://x}\n- name: b\n  cluster: {server: https://y}\ncontexts:\n- name: c\n  context: {cluster: zzz}\ncurrent-context: c\n',
      /cannot tell which cluster/,
    ],
  ])('%s is an error', (_n, text, message) => {
    expect(() => rewriteKubeconfigServer(text, 'https://1.2.3.4:6443')).toThrow(message);
  });
});

describe('Cleanups', () => {
  test('run in reverse order of registration, all of them, and report every failure', async () => {
    const order: string[] = [];
    const c = new Cleanups();
    c.add('close ssh', () => void order.push('close ssh'));
    c.add('delete run objects', () => {
      order.push('delete run objects');
      throw new Error('API down');
    });
    c.add('delete pool', async () => {
      order.push('delete pool');
      await Promise.resolve();
    });
    c.add('undo routes', () => Promise.reject(new Error('router unreachable')));
    const err = await c.run().catch((e: unknown) => e);
    expect(order).toEqual(['delete pool', 'delete run objects', 'close ssh']);
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as Error).message).toBe(
      '2 cleanups failed: cleanup "undo routes" failed: router unreachable; cleanup "delete run objects" failed: API down',
    );
    expect(c.size).toBe(0);
    await expect(c.run()).resolves.toBeUndefined();
  });

  test('a single failure is thrown as itself (named)', async () => {
    const c = new Cleanups();
    c.add('only', () => Promise.reject(new Error('boom')));
    await expect(c.run()).rejects.toThrow('cleanup "only" failed: boom');
  });
});

describe('suitesForConvergence', () => {
  const needs = { cilium: { routingMode: 'tunnel' } };
  test("in a run with a known selection: the selection in plan order, this suite's needs as given", () => {
    const files = ['/r/suites/60-ingress.test.ts', '/r/suites/20-vxlan.test.ts', '/r/suites/30-lb-ipam.test.ts'];
    const { suites, index } = suitesForConvergence('file:///r/suites/20-vxlan.test.ts', needs, files, SUITES);
    expect(suites.map((s) => s.file)).toEqual(['20-vxlan.test.ts', '30-lb-ipam.test.ts', '60-ingress.test.ts']);
    expect(index).toBe(0);
    expect(suites[0]?.needs).toBe(needs);
  });

  test('without a selection, or for a file outside it: only this suite', () => {
    expect(suitesForConvergence('20-vxlan.test.ts', needs, null, SUITES)).toEqual({
      suites: [{ file: '20-vxlan.test.ts', title: '20-vxlan.test.ts', needs }],
      index: 0,
    });
    expect(suitesForConvergence('/x/suites/99-extra.test.ts', needs, ['/x/suites/20-vxlan.test.ts'], SUITES).suites).toHaveLength(1);
    expect(suitesForConvergence(undefined, needs, null, SUITES).suites[0]?.file).toBe('(suite)');
  });
});
