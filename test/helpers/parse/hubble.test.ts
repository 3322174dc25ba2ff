import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { describeFlow, parseHubbleFlows } from '../../../helpers/parse/index.ts';

const fixture = readFileSync(new URL('../../fixtures/seeds/002/hubble-flow-to-overlay.jsonl', import.meta.url), 'utf8');

describe('parseHubbleFlows', () => {
  test('reads the seed 002 to-overlay flow and its reply', () => {
    const { flows, unparsed, otherResponses } = parseHubbleFlows(fixture);
    expect(unparsed).toEqual([]);
    expect(otherResponses).toBe(0);
    expect(flows).toHaveLength(2);
    expect(flows[0]).toEqual({
      time: '2025-08-09T14:06:08.749Z',
      verdict: 'FORWARDED',
      sourceIp: '172.20.0.204',
      destinationIp: '172.20.2.6',
      source: { namespace: 'default', podName: 'curl-pod', identity: 14553 },
      destination: { namespace: 'default', podName: 'webpod-697b545f57-lq7nw', identity: 8246 },
      observationPoint: 'to-overlay',
      isReply: false,
      nodeName: 'k8s-ctr',
      summary: 'TCP Flags: ACK, FIN',
      dropReason: null,
      l7: null,
    });
    // sub_type 0 is left out by protojson: a trace event without it is "to-endpoint".
    expect(flows[1]?.observationPoint).toBe('to-endpoint');
    expect(flows[1]?.isReply).toBe(true);
  });

  test('the JSON fixture says what the real compact line of seed 002 (line 226) says', () => {
    const compact = readFileSync(new URL('../../fixtures/seeds/002/hubble-observe-compact-to-overlay.txt', import.meta.url), 'utf8');
    const [first] = parseHubbleFlows(fixture).flows;
    if (!first) throw new Error('no flow in the fixture');
    // `default/curl-pod:40372 (ID:14553) -> default/webpod-697b545f57-lq7nw:80 (ID:8246) to-overlay FORWARDED (TCP Flags: ACK, FIN)`
    expect(compact).toContain(`${first.source.namespace}/${first.source.podName}:`);
    expect(compact).toContain(`(ID:${first.source.identity}) -> ${first.destination.namespace}/${first.destination.podName}:`);
    expect(compact).toContain(`(ID:${first.destination.identity}) ${first.observationPoint} ${first.verdict} (${first.summary})`);
    expect(describeFlow(first)).toBe(
      'default/curl-pod (172.20.0.204) -> default/webpod-697b545f57-lq7nw (172.20.2.6) to-overlay FORWARDED',
    );
  });

  test('falls back to trace_observation_point when there is no trace event type', () => {
    const line = JSON.stringify({ flow: { verdict: 'FORWARDED', trace_observation_point: 'TO_OVERLAY' } });
    expect(parseHubbleFlows(line).flows[0]?.observationPoint).toBe('to-overlay');
    const none = JSON.stringify({ flow: { verdict: 'DROPPED', event_type: { type: 1, sub_type: 133 } } });
    expect(parseHubbleFlows(none).flows[0]?.observationPoint).toBeNull();
  });

  test('an unknown trace sub_type is kept as its number', () => {
    const line = JSON.stringify({ flow: { verdict: 'FORWARDED', event_type: { type: 4, sub_type: 77 } } });
    expect(parseHubbleFlows(line).flows[0]?.observationPoint).toBe('77');
  });

  test('empty output gives no flows', () => {
    expect(parseHubbleFlows('')).toEqual({ flows: [], otherResponses: 0, unparsed: [] });
    expect(parseHubbleFlows('\n\n')).toEqual({ flows: [], otherResponses: 0, unparsed: [] });
  });

  test('non-flow responses are counted, garbage and truncated lines are returned as unparsed', () => {
    const text = [
      JSON.stringify({ node_status: { state_change: 'NODE_CONNECTED', node_names: ['k8s-w0'] }, node_name: 'k8s-ctr' }),
      'level=warning msg="hubble-relay unavailable"',
      fixture.split('\n')[0]?.slice(0, 80) ?? '',
      '[1,2,3]',
      JSON.stringify({ flow: 'not an object' }),
      fixture.split('\n')[0] ?? '',
    ].join('\n');
    const out = parseHubbleFlows(text);
    expect(out.flows).toHaveLength(1);
    expect(out.otherResponses).toBe(1);
    expect(out.unparsed).toHaveLength(4);
  });

  test('a flow without fields still parses, with nulls', () => {
    const [f] = parseHubbleFlows('{"flow":{}}').flows;
    expect(f).toMatchObject({ verdict: 'VERDICT_UNKNOWN', sourceIp: null, source: { podName: null }, observationPoint: null });
  });
});

describe('parseHubbleFlows: L7 flows (issue 17)', () => {
  test("keeps the L7 record: the shape of cilium's hubble printer test (Type L7, l7.type, l7.http)", () => {
    const line =
      '{"flow":{"time":"1970-01-01T00:20:34.567800Z","verdict":"DROPPED","IP":{"source":"1.1.1.1","destination":"2.2.2.2"},"Type":"L7","node_name":"k8s1","l7":{"type":"REQUEST","latency_ns":"10","http":{"method":"GET","url":"http://2.2.2.2/private","protocol":"HTTP/1.1"}},"event_type":{"type":129},"is_reply":false}}';
    const [f] = parseHubbleFlows(line).flows;
    expect(f?.verdict).toBe('DROPPED');
    expect(f?.observationPoint).toBeNull();
    expect(f?.l7).toEqual({ type: 'REQUEST', http: { method: 'GET', url: 'http://2.2.2.2/private', code: null, protocol: 'HTTP/1.1' } });
  });
});
