/**
 * Per-run TLS for the twin's API server: a throwaway CA and a serving certificate for IP 127.0.0.1, made with
 * openssl in a scratch directory (removed by the caller), and the admin kubeconfig that trusts that CA and
 * carries a random bearer token (as kubeadm's admin.conf carries a client certificate).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { stringify as toYaml } from 'yaml';

export interface TwinTls {
  ca: string;
  cert: string;
  key: string;
  token: string;
}

export async function makeTls(o: { ip?: string } = {}): Promise<TwinTls> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'twin-tls-'));
  const ip = o.ip ?? '127.0.0.1';
  try {
    const f = (n: string): string => path.join(dir, n);
    const run = (args: string[]): Promise<unknown> => execa('openssl', args, { timeout: 30_000 });
    await run([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f('ca.key'),
      '-out',
      f('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=twin-kubernetes-ca',
    ]);
    await run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('tls.key'), '-out', f('tls.csr'), '-subj', '/CN=kube-apiserver']);
    writeFileSync(f('ext.cnf'), `subjectAltName=IP:${ip},DNS:kubernetes,DNS:localhost\nextendedKeyUsage=serverAuth\n`);
    await run([
      'x509',
      '-req',
      '-in',
      f('tls.csr'),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f('tls.crt'),
      '-days',
      '2',
      '-extfile',
      f('ext.cnf'),
    ]);
    return {
      ca: readFileSync(f('ca.crt'), 'utf8'),
      cert: readFileSync(f('tls.crt'), 'utf8'),
      key: readFileSync(f('tls.key'), 'utf8'),
      token: randomBytes(24).toString('hex'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** kubeadm's admin.conf shape: cluster `kubernetes`, user `kubernetes-admin`, context `kubernetes-admin@kubernetes`. */
export function adminKubeconfig(tls: TwinTls, server: string): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { server, 'certificate-authority-data': Buffer.from(tls.ca).toString('base64') } }],
    users: [{ name: 'kubernetes-admin', user: { token: tls.token } }],
    contexts: [{ name: 'kubernetes-admin@kubernetes', context: { cluster: 'kubernetes', user: 'kubernetes-admin' } }],
    'current-context': 'kubernetes-admin@kubernetes',
    preferences: {},
  });
}
