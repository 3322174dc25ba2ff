/**
 * Who the harness logs in as and which host keys it trusts, from the topology's `ssh` block.
 *
 * - auth `key`: the private key at `ssh.keyFile` (relative paths from the repository root, `~/` allowed).
 * - auth `password`: the password in the environment variable named by `ssh.passwordEnv`.
 * - auth `vagrant`: the per-machine key Vagrant made, `.vagrant/machines/<name>/<provider>/private_key` under
 *   $VAGRANT_CWD or the repository root; if there is none, `vagrant ssh-config` is read ONCE per process
 *   (never per command) and its IdentityFile used.
 * - hostKeys `accept` trusts any host key; `known-hosts` checks `ssh.knownHostsFile`, plain or hashed entries,
 *   `[host]:port` for ports other than 22. For the Vagrant lab the default is `known-hosts` against the file
 *   `npm run lab:up` writes from each VM's own keys, read through `vagrant ssh` (labKnownHostsFile); for an
 *   existing lab the default is `accept`, and the file ~/.ssh/known_hosts.
 *
 * The parsing and matching are pure and exported for tests; reading files and running vagrant are injected.
 */
import { createHmac } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { LAB_UP_COMMAND, vagrantStateDir } from '../lab/preflight.ts';
import { REPO_ROOT, type LabNode, type Topology } from '../lab/topology.ts';

export interface SshCredentials {
  username: string;
  privateKey?: Buffer;
  password?: string;
  /** Where the secret came from, for error messages (never the secret itself). */
  source: string;
}

export type CredentialResolver = (node: LabNode) => Promise<SshCredentials>;

export interface AuthDeps {
  env: NodeJS.ProcessEnv;
  readFile(p: string): Buffer;
  exists(p: string): boolean;
  listDir(p: string): string[];
  /** Runs `vagrant ssh-config` in `cwd` and returns its stdout. */
  vagrantSshConfig(cwd: string): Promise<string>;
}

export const defaultAuthDeps: AuthDeps = {
  env: process.env,
  readFile: (p) => readFileSync(p),
  exists: existsSync,
  listDir: (p) => {
    try {
      return readdirSync(p);
    } catch {
      return [];
    }
  },
  vagrantSshConfig: async (cwd) => (await execa('vagrant', ['ssh-config'], { cwd, timeout: 120_000 })).stdout,
};

/** `~/x` → home-relative; relative → from the repository root. */
export function resolvePath(p: string, home = os.homedir()): string {
  if (p === '~' || p.startsWith('~/')) return path.join(home, p.slice(1));
  return path.resolve(REPO_ROOT, p);
}

/** Host blocks of `ssh -G`/`vagrant ssh-config` style text: Host name → settings (keys lower case). */
export function parseSshConfig(text: string): Map<string, { hostName?: string; port?: number; user?: string; identityFiles: string[] }> {
  const hosts = new Map<string, { hostName?: string; port?: number; user?: string; identityFiles: string[] }>();
  let current: { hostName?: string; port?: number; user?: string; identityFiles: string[] } | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const m = raw.trim().match(/^(\S+)\s+(.*)$/);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim().replace(/^"(.*)"$/, '$1');
    if (key === 'host') {
      current = { identityFiles: [] };
      for (const name of value.split(/\s+/)) hosts.set(name, current);
    } else if (current) {
      if (key === 'hostname') current.hostName = value;
      else if (key === 'port' && /^\d+$/.test(value)) current.port = Number(value);
      else if (key === 'user') current.user = value;
      else if (key === 'identityfile') current.identityFiles.push(value);
    }
  }
  return hosts;
}

/** Credentials as the topology says. The `vagrant ssh-config` fallback runs at most once per resolver. */
export function credentialsFromTopology(t: Topology, deps: AuthDeps = defaultAuthDeps): CredentialResolver {
  const { user, auth } = t.ssh;
  let sshConfig: Promise<ReturnType<typeof parseSshConfig>> | undefined;
  return async (node) => {
    switch (auth) {
      case 'key': {
        if (!t.ssh.keyFile) throw new Error(`topology ssh.auth is "key" but ssh.keyFile is not set`);
        const file = resolvePath(t.ssh.keyFile, deps.env.HOME);
        return { username: user, privateKey: readKey(deps, file), source: `key file ${file}` };
      }
      case 'password': {
        const name = t.ssh.passwordEnv ?? 'LAB_SSH_PASSWORD';
        const password = deps.env[name];
        if (!password) throw new Error(`topology ssh.auth is "password" but environment variable ${name} is not set`);
        return { username: user, password, source: `password from $${name}` };
      }
      case 'vagrant': {
        const stateDir = vagrantStateDir(deps.env);
        const machineDir = path.join(stateDir, 'machines', node.name);
        for (const provider of deps.listDir(machineDir)) {
          const file = path.join(machineDir, provider, 'private_key');
          if (deps.exists(file)) return { username: user, privateKey: readKey(deps, file), source: `Vagrant key ${file}` };
        }
        const cwd = path.dirname(stateDir);
        sshConfig ??= deps.vagrantSshConfig(cwd).then(parseSshConfig, (err: Error) => {
          throw new Error(`no Vagrant key in ${machineDir} and \`vagrant ssh-config\` in ${cwd} failed: ${err.message}`);
        });
        const hosts = await sshConfig;
        const files = hosts.get(node.name)?.identityFiles ?? [];
        const file = files.map((f) => resolvePath(f, deps.env.HOME)).find((f) => deps.exists(f));
        if (!file)
          throw new Error(
            `no Vagrant key for ${node.name}: nothing in ${machineDir}, and \`vagrant ssh-config\` names no existing IdentityFile for it`,
          );
        return { username: user, privateKey: readKey(deps, file), source: `Vagrant key ${file} (from vagrant ssh-config)` };
      }
    }
  };
}

function readKey(deps: AuthDeps, file: string): Buffer {
  try {
    return deps.readFile(file);
  } catch (err) {
    throw new Error(`cannot read SSH private key ${file}: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Host keys
// ---------------------------------------------------------------------------------------------

export type KnownHostsVerdict = 'match' | 'mismatch' | 'revoked' | 'unknown';

/** The name OpenSSH looks up: `host`, or `[host]:port` when the port is not 22. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(name);
}

/** Does known_hosts `text` vouch for `key` (the raw public key blob) at host:port? */
export function checkKnownHosts(text: string, host: string, port: number, key: Buffer): KnownHostsVerdict {
  const name = knownHostsName(host, port);
  const blob = key.toString('base64');
  let verdict: KnownHostsVerdict = 'unknown';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    const marker = words[0]!.startsWith('@') ? words.shift() : undefined;
    const [patterns, , keyB64] = words;
    if (!patterns || !keyB64 || marker === '@cert-authority') continue;
    const list = patterns.split(',');
    const negated = list.filter((p) => p.startsWith('!')).some((p) => patternMatches(p.slice(1), name));
    if (negated || !list.filter((p) => !p.startsWith('!')).some((p) => patternMatches(p, name))) continue;
    if (marker === '@revoked') {
      if (keyB64 === blob) return 'revoked';
      continue;
    }
    if (keyB64 === blob) verdict = 'match';
    else if (verdict === 'unknown') verdict = 'mismatch';
  }
  return verdict;
}

/** The known-hosts file `npm run lab:up` writes with the Vagrant lab VMs' host keys. */
export function labKnownHostsFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(vagrantStateDir(env), 'cilium-lab', 'known_hosts');
}

/** The topology's host-key policy, with its defaults: `known-hosts` for the Vagrant lab, `accept` otherwise. */
export function hostKeysMode(t: Topology): 'accept' | 'known-hosts' {
  return t.ssh.hostKeys ?? (t.provider === 'vagrant' ? 'known-hosts' : 'accept');
}

/** The known-hosts file checked: the topology's, else the lab's (Vagrant), else ~/.ssh/known_hosts. */
export function knownHostsFileOf(t: Topology, env: NodeJS.ProcessEnv = process.env): string {
  if (t.ssh.knownHostsFile) return resolvePath(t.ssh.knownHostsFile, env.HOME);
  return t.provider === 'vagrant' ? labKnownHostsFile(env) : resolvePath('~/.ssh/known_hosts', env.HOME);
}

export interface HostKeyPolicy {
  /** ssh2's hostVerifier: true to trust. Records why it refused in `lastRefusal`. */
  verify(key: Buffer): boolean;
  lastRefusal: string | null;
}

export function hostKeyPolicy(
  t: Topology,
  host: string,
  port: number,
  deps: Pick<AuthDeps, 'readFile' | 'env'> = defaultAuthDeps,
): HostKeyPolicy {
  const policy: HostKeyPolicy = {
    lastRefusal: null,
    verify(key) {
      if (hostKeysMode(t) === 'accept') return true;
      const file = knownHostsFileOf(t, deps.env);
      // The lab's own file is refreshed by lab:up; say so whenever it does not vouch for the host.
      const refresh = file === labKnownHostsFile(deps.env) ? `; \`${LAB_UP_COMMAND}\` records the lab VMs' host keys again` : '';
      let text: string;
      try {
        text = deps.readFile(file).toString('utf8');
      } catch (err) {
        policy.lastRefusal = `host key check: cannot read known-hosts file ${file} (${(err as Error).message})${refresh}`;
        return false;
      }
      const verdict = checkKnownHosts(text, host, port, key);
      if (verdict === 'match') return true;
      policy.lastRefusal =
        verdict === 'unknown'
          ? `host key check: ${knownHostsName(host, port)} is not in ${file}`
          : verdict === 'revoked'
            ? `host key check: the key offered by ${knownHostsName(host, port)} is marked @revoked in ${file}`
            : `host key check: ${knownHostsName(host, port)} offered a key that differs from the one in ${file} (host re-created, or someone in the middle)`;
      policy.lastRefusal += refresh;
      return false;
    },
  };
  return policy;
}
