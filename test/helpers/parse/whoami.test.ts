import { expect, test } from 'vitest';
import { parseWhoami } from '../../../helpers/parse/index.ts';

test('a traefik/whoami answer (Hostname line as in seed 002 line 219)', () => {
  const body = 'Hostname: webpod-697b545f57-lq7nw\nIP: 127.0.0.1\nIP: ::1\nIP: 172.20.2.6\nRemoteAddr: 172.20.0.204:40372\nGET / HTTP/1.1\nHost: 172.20.2.6\n';
  expect(parseWhoami(body)).toEqual({ hostname: 'webpod-697b545f57-lq7nw', ips: ['127.0.0.1', '::1', '172.20.2.6'] });
});

test('CRLF line ends, empty and foreign bodies', () => {
  expect(parseWhoami('Hostname: webpod-a\r\nIP: 172.20.1.5\r\n').hostname).toBe('webpod-a');
  expect(parseWhoami('')).toEqual({ hostname: null, ips: [] });
  expect(parseWhoami('<h1>Web Server : router</h1>')).toEqual({ hostname: null, ips: [] });
});
