/**
 * parseWhoami on traefik/whoami bodies: the seeds' answers (seed 002 line 219, the LB fixtures) and bodies that
 * are not whoami at all. One parser serves the routing judges (judgeWhoamiFrom) and the LB judges (backends.ts).
 */
import { describe, expect, test } from 'vitest';
import { parseWhoami } from '../../../helpers/parse/index.ts';
import { answer, seedBlock } from '../../fixtures/lb/load.ts';

test('a traefik/whoami answer (Hostname line as in seed 002 line 219)', () => {
  const body =
    'Hostname: webpod-697b545f57-lq7nw\nIP: 127.0.0.1\nIP: ::1\nIP: 172.20.2.6\nRemoteAddr: 172.20.0.204:40372\nGET / HTTP/1.1\nHost: 172.20.2.6\n';
  expect(parseWhoami(body)).toEqual({
    name: null,
    hostname: 'webpod-697b545f57-lq7nw',
    ips: ['127.0.0.1', '::1', '172.20.2.6'],
    remoteAddr: '172.20.0.204:40372',
    method: 'GET',
    path: '/',
    headers: { host: '172.20.2.6' },
  });
});

test('CRLF line ends, empty and foreign bodies', () => {
  expect(parseWhoami('Hostname: webpod-a\r\nIP: 172.20.1.5\r\n')).toMatchObject({ hostname: 'webpod-a', ips: ['172.20.1.5'] });
  expect(parseWhoami('')).toBeNull();
  expect(parseWhoami('<h1>Web Server : router</h1>')).toBeNull();
});

describe('reading a whoami answer', () => {
  test('the Hostname the seed grepped, the addresses, and the request as the pod received it', () => {
    const [hostnameLine] = seedBlock('002-lbipam.txt', 'curl -s $LBIP | grep Hostname');
    const w = parseWhoami(answer('router-webpod-a').body);
    expect(`Hostname: ${w?.hostname}`).toBe(hostnameLine);
    expect(w).toEqual({
      name: null,
      hostname: 'webpod-65794679cc-kbsc2',
      ips: ['127.0.0.1', '::1', '172.20.1.128', 'fe80::c4a7:6bff:fe7c:1b0e'],
      remoteAddr: '192.168.10.101:51234',
      method: 'GET',
      path: '/',
      headers: { host: '192.168.10.211', 'user-agent': 'curl/8.5.0', accept: '*/*' },
    });
  });

  test('CRLF line ends (whoami writes the request with r.Write)', () => {
    expect(parseWhoami(answer('router-webpod-b').body)).toMatchObject({
      hostname: 'webpod-65794679cc-7x2lq',
      path: '/',
      headers: { host: '192.168.10.211' },
    });
  });

  test('Name: (WHOAMI_NAME) and the headers Envoy added', () => {
    const w = parseWhoami(answer('ingress-details').body);
    expect(w).toMatchObject({ name: 'details', hostname: 'details-7d9c8b7b5-x2m4k', path: '/details/1' });
    expect(w?.headers['x-forwarded-for']).toBe('192.168.10.200');
    expect(w?.headers['host']).toBe('r20261122-0349-ab12.clh.test');
  });

  test.each([
    ['empty', ''],
    ['truncated', 'Hostnam'],
    ['an HTML error page', answer('app-404').body],
    ['a Hostname line with no value', 'Hostname: \nIP: 1.2.3.4\n'],
    ['Envoy text', 'no healthy upstream'],
  ])('not a whoami answer: %s', (_what, body) => {
    expect(parseWhoami(body)).toBeNull();
  });

  test('a request line before any Hostname is not taken as the request', () => {
    expect(parseWhoami('GET / HTTP/1.1\nHost: x\nHostname: a\n')).toMatchObject({ hostname: 'a', method: null, path: null });
  });
});
