import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { isSecretKey, redact, redactValue, REDACTED } from '../../../helpers/report/redact.ts';
import { fakeCredentials } from '../../fixtures/report/secrets.ts';

function expectClean(text: string, secrets: string[]): void {
  for (const s of secrets) expect(text, `secret ${s.slice(0, 12)}… survived`).not.toContain(s);
}

describe('redact on a real-looking kubeconfig', () => {
  const c = fakeCredentials();

  test('removes client-key-data, client-certificate-data, token and password from the YAML', () => {
    const out = redact(c.kubeconfig);
    expectClean(out, c.secrets);
    expect(out).toContain(`client-key-data: ${REDACTED}`);
    expect(out).toContain(`client-certificate-data: ${REDACTED}`);
    expect(out).toContain(`token: ${REDACTED}`);
    expect(out).toContain(`password: ${REDACTED}`);
  });

  test('keeps what a reader needs: server, names, contexts, the public CA data, valid YAML', () => {
    const out = redact(c.kubeconfig);
    for (const k of c.keep) expect(out).toContain(k);
    const parsed = parse(out) as { users: { name: string }[]; clusters: unknown[] };
    expect(parsed.users.map((u) => u.name)).toEqual(['kubernetes-admin', 'harness-sa', 'basic-admin']);
    expect(parsed.clusters).toHaveLength(1);
  });

  test('removes them from the JSON form, pretty and compact (kubectl config view --raw -o json)', () => {
    const obj = parse(c.kubeconfig) as unknown;
    expectClean(redact(JSON.stringify(obj, null, 2)), c.secrets);
    expectClean(redact(JSON.stringify(obj)), c.secrets);
  });

  test('removes them from a kubeconfig embedded as a string with escaped newlines', () => {
    expectClean(redact(JSON.stringify({ kubeconfig: c.kubeconfig })), c.secrets);
  });

  test('redactValue removes them structurally and from strings nested in objects', () => {
    const obj = parse(c.kubeconfig) as unknown;
    const out = JSON.stringify(redactValue(obj));
    expectClean(out, c.secrets);
    expect(out).toContain('https://192.168.10.100:6443');
    expectClean(JSON.stringify(redactValue({ log: [`applied with ${c.kubeconfig}`] })), c.secrets);
  });

  test('removes the private key when the PEM itself is pasted', () => {
    const pem = Buffer.from(c.clientKeyData, 'base64').toString();
    const out = redact(`key file:\n${pem}\nthen more`);
    expect(out).toContain('-----BEGIN RSA PRIVATE KEY-----');
    expect(out).not.toContain(pem.split('\n')[3]);
    expect(out).toContain('then more');
  });

  test('is idempotent', () => {
    const once = redact(c.kubeconfig);
    expect(redact(once)).toBe(once);
  });
});

describe('redact on other places secrets hide', () => {
  const c = fakeCredentials();

  test('bearer tokens in headers, curl command lines and loose text', () => {
    const text = [
      `curl -sk -H 'Authorization: Bearer ${c.token}' https://192.168.10.100:6443/api`,
      `> Authorization: Bearer ${c.token}`,
      `token was Bearer ${c.token}`,
      `Authorization: Basic ${Buffer.from('admin:' + c.password).toString('base64')}`,
    ].join('\n');
    const out = redact(text);
    expectClean(out, [c.token, Buffer.from('admin:' + c.password).toString('base64')]);
    expect(out).toContain('https://192.168.10.100:6443/api');
    expect(out).toContain(`> Authorization: Bearer ${REDACTED}\n`);
    expect(redact(out)).toBe(out);
  });

  test('kubeadm join tokens, --token/--password flags, sshpass, env assignments, helm --set, URLs', () => {
    const text = [
      `kubeadm join 192.168.10.100:6443 --token ${c.bootstrapToken} --discovery-token-ca-cert-hash sha256:0123abcd`,
      `tool --password=${c.password} --verbose`,
      `sshpass -p '${c.password}' ssh vagrant@192.168.10.101`,
      `LAB_SSH_PASSWORD=${c.password}`,
      `helm upgrade cilium --set hubble.enabled=true,auth.password=${c.password}`,
      `git clone https://ci:${c.password}@example.invalid/repo.git`,
      `curl -sk -u admin:${c.password} https://192.168.10.100:6443/api`,
      `curl --user='admin:${c.password}' https://192.168.10.100:6443/api`,
    ].join('\n');
    const out = redact(text);
    expectClean(out, [c.bootstrapToken, c.password]);
    expect(out).toContain('--discovery-token-ca-cert-hash sha256:0123abcd');
    expect(out).toContain('hubble.enabled=true');
    expect(out).toContain('--verbose');
    expect(out).toContain('-u admin:[REDACTED] https://192.168.10.100:6443/api');
    expect(redact(out)).toBe(out);
  });

  test('literal extra secrets (e.g. read from the environment) wherever they appear', () => {
    expect(redact('the word hunter2x appears', { extraSecrets: ['hunter2x'] })).toBe(`the word ${REDACTED} appears`);
    // Too short to be a real secret: never turn every "ab" into a marker.
    expect(redact('ab cd', { extraSecrets: ['ab'] })).toBe('ab cd');
  });

  test('every value of a Kubernetes Secret, but not its metadata', () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'webpod-tls', namespace: 'clh-r1' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5LWJ5dGVz' },
      stringData: { note: 'plain-secret-value' },
    };
    const out = JSON.stringify(redactValue(secret));
    expectClean(out, ['a2V5LWJ5dGVz', 'Y2VydA==', 'plain-secret-value']);
    expect(out).toContain('webpod-tls');
  });

  test('leaves lab output that only looks like it could be secret alone', () => {
    const text = [
      'secretName: webpod-tls',
      'automountServiceAccountToken: false',
      'password:',
      '  matchExpressions:',
      '  - key: app.kubernetes.io/name',
      'KubeProxyReplacement:   True   [eth0 192.168.10.100]',
      '64 bytes from 172.20.1.23: icmp_seq=1 ttl=63 time=0.512 ms',
      '--token-ttl 24h',
    ].join('\n');
    expect(redact(text)).toBe(text);
  });

  test('empty and garbage input', () => {
    expect(redact('')).toBe('');
    expect(redact('\n\n')).toBe('\n\n');
    const garbage = '\u0000\u0001 ::: === "": "" --';
    expect(redact(garbage)).toBe(garbage);
    expect(redactValue(null)).toBeNull();
    expect(redactValue(42)).toBe(42);
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    expect(redactValue(loop)).toEqual({ a: 1, self: '[circular]' });
  });

  test('a YAML block scalar under a secret key is redacted line by line', () => {
    const out = redact('config:\n  password: |\n    line-one-secret\n    line-two-secret\n  other: kept');
    expectClean(out, ['line-one-secret', 'line-two-secret']);
    expect(out).toContain('other: kept');
  });

  test('isSecretKey', () => {
    for (const k of [
      'token',
      'client-key-data',
      'client-certificate-data',
      'accessToken',
      'LAB_SSH_PASSWORD',
      'client_secret',
      'id-token',
      'apiKey',
    ])
      expect(isSecretKey(k), k).toBe(true);
    for (const k of [
      'secretName',
      'name',
      'key',
      'server',
      'tokenExpirationSeconds',
      'certificate-authority-data',
      'token-ttl',
      'secretRef',
    ])
      expect(isSecretKey(k), k).toBe(false);
  });
});
