/**
 * The rehearsal: provision/*.sh, unmodified, run as root the way Vagrant runs them on a VM, in a throwaway
 * Debian root (base-root.ts) entered with `unshare` + `chroot` in its own mount, PID and UTS namespaces
 * and a network namespace of its own that has no route out.
 *
 * - What each VM gets (provisioners, their order, inline commands and environment, the join material) is
 *   asked of Vagrant itself (test/vagrant/vagrant-config.rb) for a copy of the reference topology whose
 *   addresses are moved to 198.18.0.0/15; file provisioners are copies into the root.
 * - Each node is an overlay: the cached root is the read-only lower layer, the node's changes its upper
 *   layer (a second provisioning reuses it). The overlay is mounted only inside the run's private mount
 *   namespace, so it disappears with the run.
 * - The node's network namespace has the NICs VirtualBox would add (ethN, veth pairs, no address: the
 *   scripts' netplan does that), loopback, and the mirror address 198.18.0.1 where server.ts stands in for
 *   every host the scripts fetch from (names resolve to it only through the root's /etc/hosts; its CA is
 *   trusted only inside the root).
 * - Programs that cannot run here are stand-ins (./standins) that record their arguments.
 */
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { parse as parseYaml, stringify } from 'yaml';
import { ensureBaseRoot } from './base-root.ts';
import { MIRROR_HOSTS, STANDINS, buildMirror, type Mirror } from './mirror.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
export const MIRROR_ADDRESS = '198.18.0.1';
/**
 * PID 1 of a run: runs the command, then waits (at most 10 s) for what it left running, e.g. the `tee` of
 * the scripts' `exec > >(tee -a log)`, which still has the last lines to write: when PID 1 exits the kernel
 * kills everything else in the namespace. On a VM the script's tee simply finishes on its own.
 */
const INIT =
  'bash -c "$1" & child=$!; wait "$child"; rc=$?; for _ in $(seq 100); do procs=(/proc/[0-9]*); [ "${#procs[@]}" -le 1 ] && break; sleep 0.1; done; exit "$rc"';
const PATH_IN_ROOT = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Programs replaced in every node root by a recorder (their real path in Ubuntu 24.04). */
const SYSTEM_STANDINS: Record<string, string> = {
  systemctl: 'usr/bin/systemctl',
  modprobe: 'usr/sbin/modprobe',
  sysctl: 'usr/sbin/sysctl',
  swapoff: 'usr/sbin/swapoff',
  swapon: 'usr/sbin/swapon',
  netplan: 'usr/sbin/netplan',
  networkctl: 'usr/bin/networkctl',
};

export const TOOLS = ['mmdebstrap', 'unshare', 'chroot', 'ip', 'openssl', 'gpg', 'dpkg-deb', 'flock', 'tar', 'ruby', 'vagrant'];

export async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  for (const tool of TOOLS) {
    if ((await execa('sh', ['-c', `command -v ${tool}`], { reject: false })).exitCode !== 0) missing.push(tool);
  }
  return missing;
}

/** Why the rehearsal cannot run here, or undefined. */
export async function cannotRun(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'the rehearsal needs root (namespaces, chroot, overlay mounts)';
  const missing = await missingTools();
  if (missing.length) return `missing tools: ${missing.join(', ')} (apt-get install the packages of .ci/apt/rehearsal.txt)`;
  return undefined;
}

export interface Provisioner {
  name: string;
  type: 'shell' | 'file';
  inline: string | null;
  env: Record<string, string> | null;
  source: string | null;
  destination: string | null;
}
export interface Machine {
  name: string;
  networks: { ip: string; netmask: string }[];
  provisioners: Provisioner[];
}

export interface RunResult {
  provisioner: string;
  exitCode: number;
  output: string;
  /** Wall time of the provisioner, in seconds. */
  seconds?: number;
}

export interface FileState {
  mtimeMs: number;
  sha256: string;
}

export interface Call {
  program: string;
  args: string[];
}

export interface Request {
  port: number;
  method: string;
  host: string;
  path: string;
  status: number;
}

/** The reference topology with every address moved into 198.18.0.0/15 (only our namespaces see them). */
export function rehearsalTopology(): string {
  const text = readFileSync(path.join(REPO_ROOT, 'lab', 'topology.yaml'), 'utf8')
    .replace(/192\.168\.10\./g, '198.18.10.')
    .replace(/192\.168\.20\./g, '198.18.20.')
    .replace('172.20.0.0/16', '198.19.0.0/17')
    .replace('10.96.0.0/16', '198.19.128.0/20')
    .replace('10.10.0.0/16', '198.18.128.0/20')
    .replace('10.10.1.200/24', '198.18.129.200/24')
    .replace('10.10.2.200/24', '198.18.130.200/24');
  const doc = parseYaml(text) as unknown;
  const all = JSON.stringify(doc);
  // Nothing private may reach an interface, even in our own namespaces.
  if (/"(10\.|172\.(1[6-9]|2\d|3[01])\.|192\.168\.)/.test(all))
    throw new Error(`the rehearsal topology still has a private address: ${all}`);
  return stringify(doc);
}

export class Rehearsal {
  private constructor(
    readonly work: string,
    readonly base: string,
    readonly machines: Machine[],
    readonly mirror: Mirror,
  ) {}

  static async create(log: (line: string) => void = () => {}): Promise<Rehearsal> {
    const base = await ensureBaseRoot(log);
    const work = mkdtempSync(path.join(tmpdir(), 'clh-rehearsal-'));
    // Vagrant's own view of the machines, for the rehearsal topology (a copy of the repository's files).
    const copy = path.join(work, 'repo');
    mkdirSync(copy);
    for (const entry of ['Vagrantfile', 'lab', 'provision'])
      cpSync(path.join(REPO_ROOT, entry), path.join(copy, entry), { recursive: true });
    writeFileSync(path.join(work, 'topology.yaml'), rehearsalTopology());
    const r = await execa('ruby', [path.join(REPO_ROOT, 'test', 'vagrant', 'vagrant-config.rb')], {
      cwd: copy,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: work,
        LAB_TOPOLOGY: path.join(work, 'topology.yaml'),
        LAB_STATE_DIR: path.join(work, 'state'),
        VAGRANT_HOME: path.join(work, 'vagrant-home'),
        VAGRANT_CHECKPOINT_DISABLE: '1',
      },
      extendEnv: false,
      stdin: 'ignore',
      timeout: 120_000,
    });
    const line = r.stdout.split('\n').find((l) => l.startsWith('{"machines"'));
    if (!line) throw new Error(`vagrant-config.rb printed no machine list:\n${r.stdout}\n${r.stderr}`);
    const machines = (JSON.parse(line) as { machines: Machine[] }).machines;
    const env = machines[0]!.provisioners.find((p) => p.env?.K8S_VERSION)!.env!;
    const codename = /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync(path.join(base, 'etc', 'os-release'), 'utf8'))![1]!;
    const arch = (await execa('dpkg', ['--print-architecture'])).stdout.trim();
    const mirror = await buildMirror(
      path.join(work, 'mirror'),
      {
        k8s: env.K8S_VERSION!,
        containerd: env.CONTAINERD_VERSION!,
        helm: env.HELM_VERSION!,
        ciliumCli: env.CILIUM_CLI_VERSION!,
        hubbleCli: env.HUBBLE_CLI_VERSION!,
        cilium: env.CILIUM_VERSION!,
        codename,
        arch,
      },
      env.LAB_API_HOST!,
    );
    return new Rehearsal(work, base, machines, mirror);
  }

  machine(name: string): Machine {
    const m = this.machines.find((x) => x.name === name);
    if (!m) throw new Error(`no machine ${name} in ${this.machines.map((x) => x.name).join(', ')}`);
    return m;
  }

  /** A fresh node root (its own overlay upper layer and network namespace) for machine `name`. */
  async node(name: string, label = name): Promise<RehearsalNode> {
    const node = new RehearsalNode(this, this.machine(name), label);
    await node.setUp();
    return node;
  }

  dispose(): void {
    rmSync(this.work, { recursive: true, force: true });
  }
}

let nodeCounter = 0;

export class RehearsalNode {
  readonly dir: string;
  readonly upper: string;
  readonly netns: string;
  private server: ResultPromise | undefined;
  private serverPid: number | undefined;
  readonly faultsFile: string;
  readonly requestLog: string;

  constructor(
    readonly rehearsal: Rehearsal,
    readonly machine: Machine,
    readonly label: string,
  ) {
    nodeCounter += 1;
    this.dir = path.join(rehearsal.work, 'nodes', label);
    this.upper = path.join(this.dir, 'upper');
    // ≤ 15 characters, unique per process and node.
    this.netns = `clh-rh${process.pid % 10000}-${nodeCounter}`;
    this.faultsFile = path.join(this.dir, 'faults.json');
    this.requestLog = path.join(this.dir, 'requests.jsonl');
  }

  async setUp(): Promise<void> {
    for (const d of ['upper', 'work', 'merged']) mkdirSync(path.join(this.dir, d), { recursive: true });
    const up = (p: string): string => path.join(this.upper, p);
    // Directories the upper layer gets keep the base's modes: /tmp is world-writable (apt's _apt user).
    mkdirSync(up('tmp'));
    chmodSync(up('tmp'), 0o1777);
    // Stand-ins for what cannot run here.
    mkdirSync(up('usr/lib/rehearsal'), { recursive: true });
    // The records are written by stand-ins run as root and as the vagrant user (sudo -u vagrant helm ...).
    for (const d of ['var/log/rehearsal', 'var/lib/rehearsal']) {
      mkdirSync(up(d), { recursive: true });
      chmodSync(up(d), 0o1777);
    }
    writeFileSync(up('var/log/rehearsal/calls.tsv'), '');
    chmodSync(up('var/log/rehearsal/calls.tsv'), 0o666);
    cpSync(path.join(STANDINS, 'record.sh'), up('usr/lib/rehearsal/record.sh'));
    for (const [program, target] of Object.entries(SYSTEM_STANDINS)) {
      mkdirSync(path.dirname(up(target)), { recursive: true });
      cpSync(path.join(STANDINS, program), up(target));
      chmodSync(up(target), 0o755);
    }
    // What a bento box has: a hostname, /etc/hosts, a swap line in fstab. The mirror's names resolve to
    // the stand-in server, in this root only.
    mkdirSync(up('etc'), { recursive: true });
    writeFileSync(up('etc/hostname'), `${this.machine.name}\n`);
    writeFileSync(
      up('etc/hosts'),
      `127.0.0.1 localhost\n127.0.1.1 ${this.machine.name}\n# rehearsal: every host the provision scripts fetch from\n${MIRROR_ADDRESS} ${MIRROR_HOSTS.join(' ')}\n`,
    );
    // Ubuntu's stub resolver address, with nothing listening: names resolve through /etc/hosts only (the
    // base root carries the build host's resolv.conf, which means nothing here).
    writeFileSync(up('etc/resolv.conf'), '# rehearsal: no DNS; the mirror names are in /etc/hosts\nnameserver 127.0.0.53\n');
    writeFileSync(
      up('etc/fstab'),
      '# <file system> <mount point> <type> <options> <dump> <pass>\n/dev/disk/by-uuid/0000 / ext4 defaults 0 1\n/swap.img\tnone\tswap\tsw\t0\t0\n',
    );
    mkdirSync(up('usr/local/share/ca-certificates'), { recursive: true });
    cpSync(this.rehearsal.mirror.caCert, up('usr/local/share/ca-certificates/cilium-lab-rehearsal.crt'));

    // The network namespace: loopback with the mirror address, the NICs VirtualBox adds (no address yet).
    await execa('ip', ['netns', 'add', this.netns]);
    const ipn = (...args: string[]) => execa('ip', ['-n', this.netns, ...args]);
    await ipn('link', 'set', 'lo', 'up');
    await ipn('addr', 'add', `${MIRROR_ADDRESS}/32`, 'dev', 'lo');
    // veth pairs (this kernel may have no dummy driver); the peer stands for VirtualBox's side, up for carrier.
    for (let i = 0; i < this.machine.networks.length; i += 1) {
      await ipn('link', 'add', `eth${i + 1}`, 'type', 'veth', 'peer', 'name', `vbox${i + 1}`);
      await ipn('link', 'set', `vbox${i + 1}`, 'up');
    }
    const env = this.machine.provisioners.find((p) => p.env?.LAB_API_HOST)?.env;
    if (env?.LAB_ROLE === 'worker' && this.machine.networks.every((n) => n.ip !== env.LAB_API_HOST)) {
      // The control plane's API address answers here too (server.ts :6443), for a worker's wait.
      await ipn('addr', 'add', `${env.LAB_API_HOST}/32`, 'dev', 'lo');
    }
    // What update-ca-certificates makes of the run's CA (it takes many seconds; this is the same bundle).
    const bundle = 'etc/ssl/certs/ca-certificates.crt';
    mkdirSync(path.dirname(up(bundle)), { recursive: true });
    writeFileSync(
      up(bundle),
      readFileSync(path.join(this.rehearsal.base, bundle), 'utf8') + readFileSync(this.rehearsal.mirror.caCert, 'utf8'),
    );
    await this.startServer();
  }

  private async startServer(): Promise<void> {
    const config = path.join(this.dir, 'server.json');
    writeFileSync(
      config,
      JSON.stringify({
        tree: this.rehearsal.mirror.tree,
        cert: this.rehearsal.mirror.serverCert,
        key: this.rehearsal.mirror.serverKey,
        faults: this.faultsFile,
        requestLog: this.requestLog,
        webLayers: [this.upper, this.rehearsal.base],
        address: '0.0.0.0',
      }),
    );
    const server = execa(
      'ip',
      ['netns', 'exec', this.netns, process.execPath, '--import', 'tsx', path.join(import.meta.dirname, 'server.ts'), config],
      {
        cwd: REPO_ROOT,
        reject: false,
        stdin: 'ignore',
      },
    );
    this.server = server;
    this.serverPid = server.pid;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the rehearsal server did not say "ready" within 20 s')), 20_000);
      server.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void server.then((r) => {
        clearTimeout(timer);
        reject(new Error(`the rehearsal server exited: ${r.stderr}`));
      });
    });
  }

  /** Injects failures into the server's answers (see server.ts) and into stand-ins (/etc/rehearsal/faults). */
  setFaults(faults: { notFound?: string[]; replace?: Record<string, string>; programs?: string[] }): void {
    writeFileSync(this.faultsFile, JSON.stringify({ notFound: faults.notFound ?? [], replace: faults.replace ?? {} }));
    mkdirSync(path.join(this.upper, 'etc/rehearsal'), { recursive: true });
    writeFileSync(path.join(this.upper, 'etc/rehearsal/faults'), (faults.programs ?? []).map((p) => `${p}\n`).join(''));
  }

  /**
   * Runs `bash -c command` as root in the node's root: its own mount, PID and UTS namespaces, the node's
   * network namespace, a clean environment plus `env`.
   */
  async exec(command: string, env: Record<string, string> = {}, timeoutMs = 600_000): Promise<{ exitCode: number; output: string }> {
    const merged = path.join(this.dir, 'merged');
    const setup = [
      'set -e',
      `mount -t overlay overlay -o "lowerdir=${this.rehearsal.base},upperdir=${this.upper},workdir=${path.join(this.dir, 'work')}" "${merged}"`,
      `mount -t proc proc "${merged}/proc"`,
      `mount -t devpts -o newinstance,ptmxmode=0666 devpts "${merged}/dev/pts"`,
      `mount --bind "${merged}/dev/pts/ptmx" "${merged}/dev/ptmx"`,
      `hostname "${this.machine.name}"`,
      'exec "$@"',
    ].join('\n');
    const envArgs = Object.entries({ PATH: PATH_IN_ROOT, HOME: '/root', USER: 'root', LOGNAME: 'root', LANG: 'C.UTF-8', ...env }).map(
      ([k, v]) => `${k}=${v}`,
    );
    const r = await execa(
      'ip',
      [
        'netns',
        'exec',
        this.netns,
        'unshare',
        '--mount',
        '--pid',
        '--uts',
        '--fork',
        '--kill-child',
        '--propagation',
        'private',
        'sh',
        '-c',
        setup,
        'rehearsal',
        'chroot',
        merged,
        '/usr/bin/env',
        '-i',
        ...envArgs,
        '/bin/bash',
        '-c',
        INIT,
        'rehearsal-init',
        command,
      ],
      { reject: false, all: true, stdin: 'ignore', timeout: timeoutMs },
    );
    return { exitCode: r.exitCode ?? -1, output: String(r.all ?? r.message) };
  }

  /**
   * Runs the machine's Vagrant provisioners in order, as `vagrant provision` would, stopping at the first
   * failure. `env` overrides variables of every shell provisioner (e.g. a version pin); `scripts` limits the
   * provisioning scripts run to those named (e.g. ['control-plane'] on a node provisioned before).
   */
  async provision(env: Record<string, string> = {}, scripts?: string[]): Promise<RunResult[]> {
    const results: RunResult[] = [];
    // `scripts`: only these provisioning scripts (the upload and install provisioners always run).
    const isScript = (p: Provisioner) => p.type === 'shell' && /provision\/[a-z-]+\.sh$/.test(p.inline ?? '');
    for (const p of this.machine.provisioners.filter((x) => !scripts || !isScript(x) || scripts.includes(x.name))) {
      if (p.type === 'file') {
        const dest = path.join(this.upper, p.destination!);
        mkdirSync(path.dirname(dest), { recursive: true });
        cpSync(p.source!, dest, { recursive: true });
        results.push({ provisioner: p.name, exitCode: 0, output: '' });
        continue;
      }
      const started = Date.now();
      const r = await this.exec(p.inline!, { ...(p.env ?? {}), ...env });
      results.push({ provisioner: p.name, ...r, seconds: (Date.now() - started) / 1000 });
      if (r.exitCode !== 0) break;
    }
    return results;
  }

  /** A file of the node's root (upper layer over the base), or undefined. */
  read(file: string): string | undefined {
    for (const layer of [this.upper, this.rehearsal.base]) {
      const f = path.join(layer, file);
      if (existsSync(f) && statSync(f).isFile()) return readFileSync(f, 'utf8');
    }
    return undefined;
  }

  /** The permission bits of a file of the node's root (upper layer over the base), or undefined. */
  mode(file: string): number | undefined {
    for (const layer of [this.upper, this.rehearsal.base]) {
      const f = path.join(layer, file);
      if (existsSync(f)) return statSync(f).mode & 0o7777;
    }
    return undefined;
  }

  /** Every regular file the node's runs wrote (its overlay upper layer): path -> mtime and hash. */
  snapshot(): Map<string, FileState> {
    const out = new Map<string, FileState>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.isFile()) {
          out.set(`/${path.relative(this.upper, full)}`, {
            mtimeMs: statSync(full).mtimeMs,
            sha256: createHash('sha256').update(readFileSync(full)).digest('hex'),
          });
        }
      }
    };
    walk(this.upper);
    return out;
  }

  calls(): Call[] {
    const text = this.read('var/log/rehearsal/calls.tsv') ?? '';
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [program, ...args] = line.split('\t');
        return { program: program!, args };
      });
  }

  requests(): Request[] {
    if (!existsSync(this.requestLog)) return [];
    return readFileSync(this.requestLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Request);
  }

  async dispose(): Promise<void> {
    if (this.serverPid) {
      try {
        process.kill(this.serverPid, 'SIGTERM');
      } catch {
        // already gone
      }
      await this.server;
    }
    await execa('ip', ['netns', 'del', this.netns], { reject: false });
  }
}
