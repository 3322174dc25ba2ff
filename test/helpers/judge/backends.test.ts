import { describe, expect, test } from 'vitest';
import { describeAnswer, judgeAnsweredBy, judgeSpread } from '../../../helpers/judge/backends.ts';
import { answer } from '../../fixtures/lb/load.ts';

const WEBPODS = ['webpod-65794679cc-kbsc2', 'webpod-65794679cc-7x2lq', 'webpod-697b545f57-xxxxx'];

describe('who answered', () => {
  test('webpod answered 200 from one of its pods', () => {
    const r = judgeAnsweredBy(answer('router-webpod-a'), { label: 'webpod', hostnames: WEBPODS });
    expect(r).toEqual({ ok: true, explanation: 'HTTP 200 from webpod-65794679cc-kbsc2 for GET /', notes: [] });
  });

  test('a pod that is not one of the expected ones is a no, naming it', () => {
    const r = judgeAnsweredBy(answer('ingress-productpage'), { label: 'webpod', hostnames: WEBPODS });
    expect(r.ok).toBe(false);
    expect(r.explanation).toMatch(/answered by productpage-5b6f8f7c9d-q7wzp/);
  });

  test('by Name: the details backend, not productpage', () => {
    expect(judgeAnsweredBy(answer('ingress-details'), { label: 'details', name: 'details', path: '/details/1' }).ok).toBe(true);
    const r = judgeAnsweredBy(answer('ingress-productpage'), { label: 'details', name: 'details' });
    expect(r.explanation).toBe('expected details (Name details); answered by Name productpage (Hostname productpage-5b6f8f7c9d-q7wzp)');
    expect(judgeAnsweredBy(answer('router-webpod-a'), { label: 'details', name: 'details' }).explanation).toMatch(
      /answered by a backend with no Name/,
    );
  });

  test('the backend must receive the path unchanged', () => {
    const r = judgeAnsweredBy(answer('ingress-details'), { label: 'details', name: 'details', path: '/1' });
    expect(r.explanation).toBe('expected details to receive /1; it received /details/1');
  });

  test('no answer, another status, a body that is not whoami: each a no that says what came back', () => {
    expect(judgeAnsweredBy(answer('refused'), { label: 'webpod' }).explanation).toBe(
      "expected HTTP 200 from webpod; got no HTTP answer (curl: (7) Failed to connect to 192.168.10.211 port 80 after 3 ms: Couldn't connect to server)",
    );
    expect(judgeAnsweredBy(answer('route-miss'), { label: 'webpod' }).explanation).toBe(
      'expected HTTP 200 from webpod; got HTTP 404 body (empty body)',
    );
    expect(judgeAnsweredBy(answer('truncated'), { label: 'webpod' }).explanation).toBe(
      'expected a whoami answer from webpod; got HTTP 200 body "Hostnam"',
    );
    expect(judgeAnsweredBy(answer('app-404'), { label: 'x', status: 404 }).explanation).toMatch(
      /expected a whoami answer from x; got HTTP 404 body "<!doctype html> <html lang=en>/,
    );
  });

  test('describeAnswer never throws on odd input', () => {
    expect(describeAnswer({ ok: true, status: null, headers: {}, body: '', error: null })).toBe('no HTTP answer (no error reported)');
    expect(describeAnswer({ ok: true, status: 200, headers: {}, body: 'x'.repeat(500), error: null })).toMatch(/…"$/);
  });
});

describe('a burst spread over backends', () => {
  const a = answer('router-webpod-a');
  const b = answer('router-webpod-b');

  test('two pods answered: yes, with the tally the seed made with sort | uniq -c', () => {
    const r = judgeSpread([a, b, a, a, b], { label: 'webpod', hostnames: WEBPODS, minDistinct: 2 });
    expect(r.ok).toBe(true);
    expect(r.counts).toEqual({ 'webpod-65794679cc-kbsc2': 3, 'webpod-65794679cc-7x2lq': 2 });
    expect(r.explanation).toBe('5 requests: webpod-65794679cc-7x2lq ×2, webpod-65794679cc-kbsc2 ×3; 0 failed');
  });

  test('only one pod answered: no', () => {
    const r = judgeSpread([a, a, a], { label: 'webpod', hostnames: WEBPODS, minDistinct: 2 });
    expect(r.ok).toBe(false);
    expect(r.explanation).toMatch(/expected at least 2 different webpod pods to answer/);
  });

  test('any failed request is a no, even when two pods answered', () => {
    const r = judgeSpread([a, b, answer('refused'), answer('truncated')], { label: 'webpod', hostnames: WEBPODS, minDistinct: 2 });
    expect(r.ok).toBe(false);
    expect(r.failed).toBe(2);
    expect(r.explanation).toMatch(
      /^4 requests: .*; 2 failed \(#3: expected HTTP 200 from webpod; got no HTTP answer.*#4: expected a whoami answer/,
    );
  });

  test('a foreign pod counts as a failure; no requests is a no', () => {
    expect(judgeSpread([a, answer('ingress-details')], { label: 'webpod', hostnames: WEBPODS, minDistinct: 1 }).failed).toBe(1);
    expect(judgeSpread([], { label: 'webpod', hostnames: WEBPODS, minDistinct: 1 })).toMatchObject({
      ok: false,
      explanation: 'no requests were made',
    });
  });

  test('long failure lists are cut after three', () => {
    const r = judgeSpread(
      Array.from({ length: 6 }, () => answer('refused')),
      { label: 'webpod', hostnames: WEBPODS, minDistinct: 1 },
    );
    expect(r.explanation).toMatch(/#3: [^#]*; …\)$/);
  });
});
