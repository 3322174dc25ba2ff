import { describe, expect, test } from 'vitest';
import { CURL_MARKER, parseCurlOutput } from '../../../helpers/parse/curl.ts';
import { ParseError } from '../../../helpers/parse/common.ts';

// Captured from `curl -sS -i -w …` (helpers/probes curlCommand) against a netlab host.
const OK =
  'HTTP/1.1 200 OK\r\nX-Node: k8s-w0\r\nDate: Sun, 22 Nov 2026 04:05:53 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 8\r\n\r\nhello /x\n__CLH_CURL__ 200 0.004348\n';
const REFUSED = '\n__CLH_CURL__ 000 0.000138\n';

describe('parseCurlOutput', () => {
  test('status, lower-case headers, body, time in ms', () => {
    expect(parseCurlOutput(OK)).toEqual({
      status: 200,
      headers: {
        'x-node': 'k8s-w0',
        date: 'Sun, 22 Nov 2026 04:05:53 GMT',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'content-length': '8',
      },
      body: 'hello /x',
      timeMs: expect.closeTo(4.348, 6),
    });
  });

  test('no answer (connection refused): status null, nothing invented', () => {
    expect(parseCurlOutput(REFUSED)).toEqual({ status: null, headers: {}, body: '', timeMs: expect.closeTo(0.138, 6) });
  });

  test('100 Continue before the real answer; repeated headers joined', () => {
    const text = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nno such page\n${CURL_MARKER} 404 0.010000\n`;
    expect(parseCurlOutput(text)).toMatchObject({ status: 404, headers: { 'set-cookie': 'a=1, b=2' }, body: 'no such page' });
  });

  test('a body that itself looks like the marker earlier on does not fool it', () => {
    const text = `HTTP/1.1 200 OK\r\n\r\n${CURL_MARKER} 500 9.9\nreal body\n${CURL_MARKER} 200 0.001\n`;
    expect(parseCurlOutput(text)).toMatchObject({ status: 200, body: `${CURL_MARKER} 500 9.9\nreal body` });
  });

  test.each([
    ['empty', ''],
    ['killed before the write-out', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf a bo'],
    ['garbage', 'sh: 1: curl: not found\n'],
  ])('%s → ParseError', (_name, text) => {
    expect(() => parseCurlOutput(text)).toThrow(ParseError);
  });
});
