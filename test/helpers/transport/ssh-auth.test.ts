import path from 'node:path';
import { describe, expect, test } from 'vitest';
import {
  checkKnownHosts,
  credentialsFromTopology,
  hostKeyPolicy,
  hostKeysMode,
  knownHostsFileOf,
  labKnownHostsFile,
  knownHostsName,
  parseSshConfig,
  resolvePath,
  type AuthDeps,
} from '../../../helpers/transport/ssh-auth.ts';
import { loadTopology, node, REPO_ROOT, type Topology } from '../../../helpers/lab/topology.ts';
import { fixture } from '../../fixtures/load.ts';

const KEY1 = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIEs877C4ClApg48Pg4oRq9Zy1rulAhOa+bCnHWtBIVSh', 'base64');
const KEY2 = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIKSSgBUlsRp8T0D9Opgh+NX0paEB4USbSAlPImwMQcyy', 'base64');

function topologyWith(ssh: Partial<Topology['ssh']>): Topology {
  const t = loadTopology();
  return { ...t, ssh: { ...t.ssh, ...ssh } };
}

/** A fake file system and vagrant that count what they were asked. */
function fakeDeps(
  files: Record<string, string>,
  opts: { sshConfig?: string; env?: NodeJS.ProcessEnv } = {},
): AuthDeps & { vagrantCalls: number } {
  const deps = {
    vagrantCalls: 0,
    env: opts.env ?? { HOME: '/home/me' },
    readFile: (p: string) => {
      if (!(p in files)) throw new Error(`ENOENT: ${p}`);
      return Buffer.from(files[p]!);
    },
    exists: (p: string) => p in files,
    listDir: (p: string) => [
      ...new Set(
        Object.keys(files)
          .filter((f) => f.startsWith(`${p}/`))
          .map((f) => f.slice(p.length + 1).split('/')[0]!),
      ),
    ],
    vagrantSshConfig: () => {
      deps.vagrantCalls++;
      return opts.sshConfig === undefined ? Promise.reject(new Error('vagrant: command not found')) : Promise.resolve(opts.sshConfig);
    },
  };
  return deps;
}

describe('known_hosts', () => {
  test('plain entries: [host]:port for other ports, bare host for 22', () => {
    const text = fixture('ssh/known_hosts.plain');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
    expect(checkKnownHosts(text, '127.0.0.1', 2222, KEY1)).toBe('match');
    expect(checkKnownHosts(text, '198.18.10.200', 22, KEY2)).toBe('match');
    expect(checkKnownHosts(text, '198.18.10.200', 22, KEY1)).toBe('mismatch');
    expect(checkKnownHosts(text, '127.0.0.1', 22, KEY1)).toBe('unknown');
    expect(checkKnownHosts(text, '198.18.10.201', 22, KEY2)).toBe('unknown');
  });

  test('hashed entries (ssh-keygen -H) match the same way', () => {
    const text = fixture('ssh/known_hosts.hashed');
    expect(checkKnownHosts(text, '127.0.0.1', 2222, KEY1)).toBe('match');
    expect(checkKnownHosts(text, '198.18.10.200', 22, KEY2)).toBe('match');
    expect(checkKnownHosts(text, '127.0.0.1', 2222, KEY2)).toBe('mismatch');
    expect(checkKnownHosts(text, '127.0.0.1', 2223, KEY1)).toBe('unknown');
  });

  test('wildcards, negation, @revoked, @cert-authority, comments', () => {
    const b1 = KEY1.toString('base64');
    const text = [
      '# comment',
      `198.18.10.*,!198.18.10.13 ssh-ed25519 ${b1}`,
      `@revoked 198.18.20.100 ssh-ed25519 ${b1}`,
      `198.18.20.100 ssh-ed25519 ${b1}`,
      `@cert-authority * ssh-ed25519 ${KEY2.toString('base64')}`,
    ].join('\n');
    expect(checkKnownHosts(text, '198.18.10.7', 22, KEY1)).toBe('match');
    expect(checkKnownHosts(text, '198.18.10.13', 22, KEY1)).toBe('unknown');
    expect(checkKnownHosts(text, '198.18.20.100', 22, KEY1)).toBe('revoked');
    expect(checkKnownHosts(text, '198.18.30.1', 22, KEY2)).toBe('unknown');
  });

  test('policy "accept" trusts anything; "known-hosts" refuses with a reason', () => {
    expect(hostKeyPolicy(topologyWith({ hostKeys: 'accept' }), '127.0.0.1', 2222).verify(KEY2)).toBe(true);
    const deps = fakeDeps({ '/k/known_hosts': fixture('ssh/known_hosts.plain') });
    const strict = topologyWith({ hostKeys: 'known-hosts', knownHostsFile: '/k/known_hosts' });
    const ok = hostKeyPolicy(strict, '127.0.0.1', 2222, deps);
    expect(ok.verify(KEY1)).toBe(true);
    const bad = hostKeyPolicy(strict, '127.0.0.1', 2222, deps);
    expect(bad.verify(KEY2)).toBe(false);
    expect(bad.lastRefusal).toMatch(/\[127\.0\.0\.1\]:2222 offered a key that differs from the one in \/k\/known_hosts/);
    const missing = hostKeyPolicy(topologyWith({ hostKeys: 'known-hosts', knownHostsFile: '/nope' }), '127.0.0.1', 2222, deps);
    expect(missing.verify(KEY1)).toBe(false);
    expect(missing.lastRefusal).toMatch(/cannot read known-hosts file \/nope/);
  });
});

describe('host keys of the Vagrant lab (issue 13)', () => {
  test('default: known-hosts against the file lab:up writes for provider vagrant, accept for an existing lab', () => {
    const vagrantLab = loadTopology();
    expect(vagrantLab.provider).toBe('vagrant');
    expect(vagrantLab.ssh.hostKeys).toBeUndefined();
    expect(hostKeysMode(vagrantLab)).toBe('known-hosts');
    expect(knownHostsFileOf(vagrantLab, { VAGRANT_CWD: '/lab' })).toBe('/lab/.vagrant/cilium-lab/known_hosts');
    expect(labKnownHostsFile({ VAGRANT_CWD: '/lab' })).toBe('/lab/.vagrant/cilium-lab/known_hosts');
    expect(hostKeysMode({ ...vagrantLab, provider: 'existing' })).toBe('accept');
    expect(knownHostsFileOf({ ...vagrantLab, provider: 'existing' }, { HOME: '/home/me' })).toBe('/home/me/.ssh/known_hosts');
    expect(hostKeysMode(topologyWith({ hostKeys: 'accept' }))).toBe('accept');
  });

  test('a key that differs from the lab file, or no file yet: refused, naming the host and npm run lab:up', () => {
    const env = { VAGRANT_CWD: '/lab', HOME: '/home/me' };
    const file = '/lab/.vagrant/cilium-lab/known_hosts';
    const text = `192.168.10.100 ssh-ed25519 ${KEY1.toString('base64')}\n`;
    const deps = {
      env,
      readFile: (p: string): Buffer => {
        if (p !== file) throw new Error(`ENOENT: ${p}`);
        return Buffer.from(text);
      },
    };
    expect(hostKeyPolicy(loadTopology(), '192.168.10.100', 22, deps).verify(KEY1)).toBe(true);
    const bad = hostKeyPolicy(loadTopology(), '192.168.10.100', 22, deps);
    expect(bad.verify(KEY2)).toBe(false);
    expect(bad.lastRefusal).toBe(
      `host key check: 192.168.10.100 offered a key that differs from the one in ${file} (host re-created, or someone in the middle); \`npm run lab:up\` records the lab VMs' host keys again`,
    );
    const none = hostKeyPolicy(loadTopology(), '192.168.10.100', 22, {
      env,
      readFile: () => {
        throw new Error('ENOENT: no such file');
      },
    });
    expect(none.verify(KEY1)).toBe(false);
    expect(none.lastRefusal).toContain(`cannot read known-hosts file ${file} (ENOENT: no such file); \`npm run lab:up\``);
  });
});

describe('credentials from the topology', () => {
  const t = loadTopology();
  const ctr = node(t, 'k8s-ctr');

  test('key: reads keyFile (relative to the repository root)', async () => {
    const deps = fakeDeps({ [path.join(REPO_ROOT, 'keys/lab')]: 'PRIVATE' });
    const c = await credentialsFromTopology(topologyWith({ auth: 'key', keyFile: 'keys/lab' }), deps)(ctr);
    expect(c).toMatchObject({ username: 'vagrant', source: `key file ${path.join(REPO_ROOT, 'keys/lab')}` });
    expect(c.privateKey?.toString()).toBe('PRIVATE');
  });

  test('key: missing keyFile setting or unreadable file say so', async () => {
    await expect(credentialsFromTopology(topologyWith({ auth: 'key', keyFile: undefined }), fakeDeps({}))(ctr)).rejects.toThrow(
      /ssh.keyFile is not set/,
    );
    await expect(credentialsFromTopology(topologyWith({ auth: 'key', keyFile: '/x/id' }), fakeDeps({}))(ctr)).rejects.toThrow(
      /cannot read SSH private key \/x\/id/,
    );
  });

  test('password: from the variable named by passwordEnv, never stored', async () => {
    const deps = fakeDeps({}, { env: { LAB_SSH_PASSWORD: 'vagrant' } });
    const c = await credentialsFromTopology(topologyWith({ auth: 'password' }), deps)(ctr);
    expect(c).toEqual({ username: 'vagrant', password: 'vagrant', source: 'password from $LAB_SSH_PASSWORD' });
    await expect(credentialsFromTopology(topologyWith({ auth: 'password' }), fakeDeps({}, { env: {} }))(ctr)).rejects.toThrow(
      /environment variable LAB_SSH_PASSWORD is not set/,
    );
  });

  test("vagrant: the machine's own private_key under VAGRANT_CWD, whatever the provider", async () => {
    const deps = fakeDeps(
      { '/lab/.vagrant/machines/k8s-ctr/virtualbox/private_key': 'VBOX', '/lab/.vagrant/machines/k8s-ctr/virtualbox/id': 'x' },
      { env: { VAGRANT_CWD: '/lab' } },
    );
    const c = await credentialsFromTopology(t, deps)(ctr);
    expect(c.privateKey?.toString()).toBe('VBOX');
    expect(c.source).toBe('Vagrant key /lab/.vagrant/machines/k8s-ctr/virtualbox/private_key');
    expect(deps.vagrantCalls).toBe(0);
  });

  test('vagrant: without a machine key, `vagrant ssh-config` is read once for all hosts', async () => {
    const deps = fakeDeps(
      {
        '/home/me/.vagrant.d/insecure_private_keys/vagrant.key.rsa': 'INSECURE',
        '/work/lab/.vagrant/machines/router/virtualbox/private_key.moved': '',
      },
      { sshConfig: fixture('ssh/vagrant-ssh-config.txt'), env: { VAGRANT_CWD: '/lab', HOME: '/home/me' } },
    );
    const resolve = credentialsFromTopology(t, deps);
    const a = await resolve(ctr);
    expect(a.privateKey?.toString()).toBe('INSECURE');
    expect(a.source).toMatch(/from vagrant ssh-config/);
    await expect(resolve(node(t, 'router'))).rejects.toThrow(/no Vagrant key for router/);
    await resolve(ctr);
    expect(deps.vagrantCalls).toBe(1);
  });

  test('vagrant: no key and no vagrant → one clear error', async () => {
    const deps = fakeDeps({}, { env: { VAGRANT_CWD: '/lab' } });
    await expect(credentialsFromTopology(t, deps)(ctr)).rejects.toThrow(
      /no Vagrant key in \/lab\/.vagrant\/machines\/k8s-ctr and `vagrant ssh-config` in \/lab failed: vagrant: command not found/,
    );
  });
});

describe('parseSshConfig and paths', () => {
  test('vagrant ssh-config: one block per machine, quoted IdentityFile, several files', () => {
    const hosts = parseSshConfig(fixture('ssh/vagrant-ssh-config.txt'));
    expect(hosts.get('router')).toEqual({
      hostName: '127.0.0.1',
      port: 60009,
      user: 'vagrant',
      identityFiles: ['/work/lab/.vagrant/machines/router/virtualbox/private_key'],
    });
    expect(hosts.get('k8s-ctr')?.identityFiles).toEqual([
      '/home/me/.vagrant.d/insecure_private_keys/vagrant.key.ed25519',
      '/home/me/.vagrant.d/insecure_private_keys/vagrant.key.rsa',
    ]);
    expect(parseSshConfig('')).toEqual(new Map());
    expect(parseSshConfig('garbage without host\n')).toEqual(new Map());
  });

  test('resolvePath: ~ and repository-relative', () => {
    expect(resolvePath('~/.ssh/id', '/home/me')).toBe('/home/me/.ssh/id');
    expect(resolvePath('keys/x')).toBe(path.join(REPO_ROOT, 'keys/x'));
    expect(resolvePath('/abs/x')).toBe('/abs/x');
  });
});
