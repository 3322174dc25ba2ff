import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { hubbleState, judgeOverlayFlow } from '../../../helpers/judge/hubble.ts';
import { parseHubbleFlows, type HubbleFlow } from '../../../helpers/parse/index.ts';

const { flows } = parseHubbleFlows(readFileSync(new URL('../../fixtures/seeds/002/hubble-flow-to-overlay.jsonl', import.meta.url), 'utf8'));
const want = { namespace: 'default', pod: 'curl-pod', targetIp: '172.20.2.6' };

describe('judgeOverlayFlow', () => {
  test('passes on the seed 002 to-overlay FORWARDED flow', () => {
    const v = judgeOverlayFlow(flows, want);
    expect(v.ok).toBe(true);
    expect(v.explanation).toContain('1 of 1 flows default/curl-pod -> 172.20.2.6');
  });

  test('fails when the flow stays native (to-stack), is dropped, or comes from another pod or namespace', () => {
    const first = flows[0] as HubbleFlow;
    const variants: HubbleFlow[] = [
      { ...first, observationPoint: 'to-stack' },
      { ...first, verdict: 'DROPPED' },
      { ...first, source: { ...first.source, podName: 'other-pod' } },
      { ...first, source: { ...first.source, namespace: 'clh-run' } },
      { ...first, destinationIp: '172.20.1.9' },
    ];
    for (const f of variants) expect(judgeOverlayFlow([f, ...flows.slice(1)], want).ok).toBe(false);
    expect(judgeOverlayFlow([{ ...first, observationPoint: 'to-stack' }], want).explanation).toContain('to-stack FORWARDED ×1');
  });

  test('the reply alone (to-endpoint) is not the evidence', () => {
    expect(judgeOverlayFlow(flows.slice(1), want).ok).toBe(false);
  });

  test('no flows is a no', () => {
    expect(judgeOverlayFlow([], want).explanation).toContain('among 0 flows');
  });
});

describe('hubbleState', () => {
  test('on only when cilium-config says enable-hubble "true"', () => {
    expect(hubbleState({ 'enable-hubble': 'true' }).on).toBe(true);
    expect(hubbleState({ 'enable-hubble': 'false' })).toEqual({
      on: false,
      reason: 'Hubble is off in this lab (cilium-config enable-hubble is "false")',
    });
    expect(hubbleState({}).reason).toContain('absent');
  });
});
