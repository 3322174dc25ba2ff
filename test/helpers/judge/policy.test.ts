import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connectOutcome, judgeConnectivity, judgePolicyDrops, pairName, type Attempt } from '../../../helpers/judge/policy.ts';
import { parseCurlOutput, parseHubbleFlows } from '../../../helpers/parse/index.ts';

const fx = (f: string): string => readFileSync(new URL(`../../fixtures/${f}`, import.meta.url), 'utf8');

/** The 75 suite's curl outputs with the allow policies on (twin capture): `== from → to:port`, stdout, stderr, exit. */
function attemptsFromCapture(text: string): Attempt[] {
  return text
    .split(/^== /m)
    .filter((b) => b.trim())
    .map((block) => {
      const m = /^(\w+) → (\w+):(\d+)\n/.exec(block);
      if (!m) throw new Error(`bad block ${block.slice(0, 40)}`);
      const [stdout, stderr = ''] = block.slice(m[0].length).split('\n--- stderr ---\n');
      const code = Number(/\(exit (\d+)\)/.exec(block)?.[1]);
      const out = parseCurlOutput(stdout ?? '');
      const ok = out.status !== null;
      return {
        from: m[1] as string,
        to: m[2] as string,
        port: Number(m[3]),
        answer: { ok, status: out.status, error: code === 0 && ok ? null : stderr.replace(/\(exit \d+\)/, '').trim() },
      };
    });
}

describe('connection outcomes', () => {
  it('tells a drop (timeout, exit 28) from a closed port (exit 7) and an answer', () => {
    expect(connectOutcome({ ok: false, error: 'curl: (28) Connection timed out after 5001 milliseconds' })).toBe('timed out');
    expect(
      connectOutcome({ ok: false, error: "curl: (7) Failed to connect to 198.19.2.3 port 3306 after 0 ms: Couldn't connect to server" }),
    ).toBe('refused');
    expect(connectOutcome({ ok: false, error: 'curl: (7) Failed to connect to 10.0.0.1 port 80: Connection refused' })).toBe('refused');
    expect(connectOutcome({ ok: true, error: null })).toBe('connected');
    expect(connectOutcome({ ok: false, error: 'curl: (6) Could not resolve host: db' })).toBe('other');
  });
});

describe('judgeConnectivity on the twin capture (allow policies on)', () => {
  const attempts = attemptsFromCapture(fx('kpr/curl-allow-phase-twin.txt'));
  it('exactly web→was:8080 and was→db:3306 connect, the rest time out', () => {
    expect(attempts.map(pairName)).toHaveLength(6);
    const v = judgeConnectivity(attempts, ['was→db:3306', 'web→was:8080']);
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('web→db:3306 timed out');
  });
  it('default deny (twin capture): every pair timed out', () => {
    expect(judgeConnectivity(attemptsFromCapture(fx('kpr/curl-deny-phase-twin.txt')), []).ok).toBe(true);
    expect(judgeConnectivity(attemptsFromCapture(fx('kpr/curl-deny-phase-twin.txt')), '*').ok).toBe(false);
  });
  it('names a pair that connected where a policy must drop it (fault policy-not-enforced)', () => {
    const v = judgeConnectivity(attempts, []);
    expect(v.ok).toBe(false);
    expect(v.explanation).toMatch(/web→was:8080 connected \(HTTP 200\) where a policy must drop it/);
  });
  it('a refusal is not a drop, and a timeout where a pair must connect fails', () => {
    const refused: Attempt = {
      from: 'web',
      to: 'db',
      port: 3306,
      answer: { ok: false, status: null, error: "curl: (7) Couldn't connect to server" },
    };
    expect(judgeConnectivity([refused], []).explanation).toMatch(/web→db:3306 refused instead of timing out/);
    const dropped: Attempt = {
      ...refused,
      answer: { ok: false, status: null, error: 'curl: (28) Connection timed out after 5000 milliseconds' },
    };
    expect(judgeConnectivity([dropped], []).ok).toBe(true);
    expect(judgeConnectivity([dropped], '*').explanation).toMatch(/web→db:3306 timed out where it must connect/);
    expect(judgeConnectivity([], '*').ok).toBe(false);
  });
});

describe('judgePolicyDrops', () => {
  const dropped = parseHubbleFlows(fx('kpr/hubble-dropped-twin.jsonl')).flows;
  it('finds DROPPED / POLICY_DENIED flows for denied pairs on the enforcing node (twin capture, k8s-w1)', () => {
    const v = judgePolicyDrops(dropped, [
      { name: 'was→db:3306', srcIp: '198.19.1.3', dstIp: '198.19.2.3', node: 'k8s-w1' },
      { name: 'was→web:80', srcIp: '198.19.1.3', dstIp: '198.19.0.4', node: 'k8s-w1' },
    ]);
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('was→db:3306 DROPPED POLICY_DENIED on k8s-w1');
  });
  it('a FORWARDED flow (seed 002) or the wrong node is not a policy drop', () => {
    const forwarded = parseHubbleFlows(fx('seeds/002/hubble-flow-to-overlay.jsonl')).flows;
    const f = forwarded[0]!;
    const v = judgePolicyDrops(forwarded, [{ name: 'curl→webpod', srcIp: f.sourceIp!, dstIp: f.destinationIp! }]);
    expect(v.explanation).toMatch(/only FORWARDED/);
    expect(judgePolicyDrops(dropped, [{ name: 'was→db', srcIp: '198.19.1.3', dstIp: '198.19.2.3', node: 'k8s-w0' }]).ok).toBe(false);
    expect(judgePolicyDrops(dropped, [{ name: 'db→was', srcIp: '198.19.2.3', dstIp: '198.19.1.3' }]).explanation).toMatch(/no flow at all/);
  });
});
