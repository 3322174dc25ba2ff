/**
 * The Vagrantfile, checked here where no VM can boot:
 * - `vagrant validate` passes: core settings (--ignore-provider), the VirtualBox block (a stub VBoxManage on
 *   PATH that answers --version; the libvirt plugin switched off, as on a host without it) and the libvirt
 *   block (the vagrant-libvirt plugin);
 * - Vagrant itself (test/vagrant/vagrant-config.rb, booting nothing) and helpers/lab/topology.ts see the same
 *   machines and addresses, for the reference topology and for a changed copy named by LAB_TOPOLOGY;
 * - the data handed to provisioning: routes (none on the router, the pod CIDR, the other subnet and the
 *   corporate CIDR via the node's own subnet's router elsewhere), the netplan document the scripts would
 *   write from it, dummies, forwarding, versions, resources, and the join material.
 * Every Vagrant/Ruby run happens once, in parallel, in beforeAll, on a copy of the repository's files.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, execaSync } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import {
  REPO_ROOT,
  addressOf,
  controlPlane,
  kubeNodes,
  loadTopology,
  primaryAddress,
  router,
  routerAddressOn,
  subnetOf,
  type LabNode,
  type Topology,
} from '../../helpers/lab/topology.ts';
import { PIN_KEYS, effectiveVersions, loadVersions, type EffectiveVersions } from '../../helpers/lab/versions.ts';

const has = (tool: string): boolean => execaSync('sh', ['-c', `command -v ${tool}`], { reject: false }).exitCode === 0;
const missing = ['vagrant', 'ruby'].filter((t) => !has(t));
const netplan = has('netplan');
const libvirtPlugin = missing.length === 0 && /vagrant-libvirt/.test(execaSync('vagrant', ['plugin', 'list'], { reject: false }).stdout);

interface VagrantMachine {
  name: string;
  hostname: string;
  box: string;
  boxVersion: string;
  syncedFolders: Record<string, { disabled: boolean }>;
  networks: { ip: string; netmask: string; auto_config: boolean }[];
  provisioners: {
    name: string;
    type: string;
    inline: string | null;
    env: Record<string, string> | null;
    source: string | null;
    destination: string | null;
  }[];
  providers: { virtualbox?: { customize: (string | number)[][] }; libvirt?: { cpus: number; memory: number } };
}

interface Run {
  exitCode: number;
  output: string;
}

let work = '';
let copy = '';
let changedTopologyFile = '';
const runs: Record<string, Run> = {};
const configs: Record<string, VagrantMachine[]> = {};

// The changed copy: other addresses on k8s-w1, the router's lan2 side and k8s-w0, one VM's memory and
// the Cilium version from the environment.
const CHANGED_ENV = { CILIUM_VERSION: '1.17.18', LAB_K8S_W0_MEMORY_MB: '2048' };
function changeTopology(doc: any): void {
  const nodeNamed = (name: string): any => doc.nodes.find((n: any) => n.name === name);
  nodeNamed('k8s-w1').interfaces[0].address = '192.168.10.111/24';
  nodeNamed('router').interfaces[1].address = '192.168.20.254/24';
  nodeNamed('k8s-w0').interfaces[0].address = '192.168.20.50/24';
}

async function run(name: string, cmd: string, args: string[], env: Record<string, string>): Promise<void> {
  // Each run gets its own VAGRANT_HOME: nothing of the user's ~/.vagrant.d is read or written, and parallel
  // first runs do not race to create one.
  const home = path.join(work, `vagrant-home-${name}`);
  const r = await execa(cmd, args, {
    cwd: copy,
    env: { ...env, VAGRANT_HOME: home, VAGRANT_CHECKPOINT_DISABLE: '1' },
    extendEnv: false,
    reject: false,
    all: true,
    timeout: 120_000,
    stdin: 'ignore',
  });
  runs[name] = { exitCode: r.exitCode ?? -1, output: String(r.all ?? r.message) };
}

function parsedConfig(name: string): VagrantMachine[] {
  const r = runs[name]!;
  if (r.exitCode !== 0) throw new Error(`${name} failed (exit ${r.exitCode}):\n${r.output}`);
  const line = r.output.split('\n').find((l) => l.startsWith('{"machines"'));
  if (!line) throw new Error(`${name} printed no machine list:\n${r.output}`);
  return (JSON.parse(line) as { machines: VagrantMachine[] }).machines;
}

describe.skipIf(missing.length > 0)(`Vagrantfile${missing.length ? ` (skipped: ${missing.join(', ')} not installed)` : ''}`, () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'clh-lab-vagrant-'));
    copy = path.join(work, 'repo');
    mkdirSync(copy);
    for (const entry of ['Vagrantfile', 'lab', 'provision'])
      cpSync(path.join(REPO_ROOT, entry), path.join(copy, entry), { recursive: true });
    const stub = path.join(work, 'bin');
    mkdirSync(stub);
    // The VirtualBox provider asks VBoxManage for its version; 7.0 is the newest Debian's Vagrant 2.3.4 accepts.
    writeFileSync(path.join(stub, 'VBoxManage'), '#!/bin/sh\n[ "$1" = --version ] && { echo 7.0.20r163906; exit 0; }\nexit 0\n');
    chmodSync(path.join(stub, 'VBoxManage'), 0o755);
    const doc = parseYaml(readFileSync(path.join(copy, 'lab', 'topology.yaml'), 'utf8'));
    changeTopology(doc);
    changedTopologyFile = path.join(work, 'changed-topology.yaml');
    writeFileSync(changedTopologyFile, stringify(doc));

    const base: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? work,
      LAB_STATE_DIR: path.join(work, 'state'),
    };
    const introspect = path.join(REPO_ROOT, 'test', 'vagrant', 'vagrant-config.rb');
    await Promise.all([
      run('validate-core', 'vagrant', ['validate', '--ignore-provider'], base),
      run('validate-virtualbox', 'vagrant', ['validate'], {
        ...base,
        PATH: `${stub}:${base.PATH}`,
        VAGRANT_DEFAULT_PROVIDER: 'virtualbox',
        VAGRANT_NO_PLUGINS: '1',
      }),
      ...(libvirtPlugin ? [run('validate-libvirt', 'vagrant', ['validate'], { ...base, VAGRANT_DEFAULT_PROVIDER: 'libvirt' })] : []),
      run('validate-bad-version', 'vagrant', ['validate', '--ignore-provider'], { ...base, CILIUM_VERSION: '1.18' }),
      run('config-default', 'ruby', [introspect], base),
      run('config-changed', 'ruby', [introspect], { ...base, LAB_TOPOLOGY: changedTopologyFile, ...CHANGED_ENV }),
    ]);
    configs.default = parsedConfig('config-default');
    configs.changed = parsedConfig('config-changed');
  }, 180_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('vagrant validate', () => {
    test('passes on the core settings (--ignore-provider)', () => {
      expect(runs['validate-core']!.output).toContain('Vagrantfile validated successfully');
      expect(runs['validate-core']!.exitCode).toBe(0);
    });

    test('passes on the VirtualBox settings (stub VBoxManage, no libvirt plugin)', () => {
      expect(runs['validate-virtualbox']!.output).toContain('Vagrantfile validated successfully');
      expect(runs['validate-virtualbox']!.exitCode).toBe(0);
    });

    test('passes on the libvirt settings (vagrant-libvirt plugin)', (ctx) => {
      if (!libvirtPlugin) ctx.skip('the vagrant-libvirt plugin is not installed (apt-get install vagrant-libvirt)');
      expect(runs['validate-libvirt']!.output).toContain('Vagrantfile validated successfully');
      expect(runs['validate-libvirt']!.exitCode).toBe(0);
    });

    test('refuses a version override that is not a version, naming the variable', () => {
      expect(runs['validate-bad-version']!.exitCode).not.toBe(0);
      expect(runs['validate-bad-version']!.output).toMatch(/environment variable CILIUM_VERSION is "1\.18", which does not match/);
    });
  });

  const cases: {
    label: string;
    key: 'default' | 'changed';
    topology: () => Topology;
    versions: () => EffectiveVersions;
    env: Record<string, string>;
  }[] = [
    {
      label: 'reference topology',
      key: 'default',
      topology: () => loadTopology(),
      versions: () => effectiveVersions(loadVersions(), {}),
      env: {},
    },
    {
      label: 'changed copy via LAB_TOPOLOGY',
      key: 'changed',
      topology: () => loadTopology(changedTopologyFile),
      versions: () => effectiveVersions(loadVersions(), CHANGED_ENV),
      env: CHANGED_ENV,
    },
  ];

  const ethernet = (n: LabNode): LabNode['interfaces'] => n.interfaces.filter((i) => i.kind !== 'dummy');
  const envOf = (m: VagrantMachine, step = 'network'): Record<string, string> => {
    const p = m.provisioners.find((x) => x.name === step);
    if (!p?.env) throw new Error(`${m.name} has no "${step}" provisioner with an environment`);
    return p.env;
  };
  const netmask = (prefix: number): string =>
    [24, 16, 8, 0].map((s) => (Math.floor((2 ** 32 - 2 ** (32 - prefix)) / 2 ** s) % 256).toString()).join('.');
  const expectedRoutes = (t: Topology, n: LabNode): string[] => {
    if (n.role === 'router') return [];
    const own = subnetOf(t, n);
    const via = routerAddressOn(t, own.name)!;
    const dev = n.interfaces.find((i) => i.subnet === own.name)!.name;
    const targets = [...t.subnets.filter((s) => s.name !== own.name).map((s) => s.cidr), t.corporateCidr!, t.podCidr];
    return targets.map((to) => `${dev}:${to}:${via}`);
  };

  describe.each(cases)('Vagrant and helpers/lab/topology.ts read the same $label', ({ key, topology, versions, env }) => {
    test('the same machines, router first, then the control plane, then the workers', () => {
      const t = topology();
      const names = configs[key]!.map((m) => m.name);
      expect(names).toEqual([router(t)!.name, ...kubeNodes(t).map((n) => n.name)]);
      expect(new Set(names)).toEqual(new Set(t.nodes.map((n) => n.name)));
      for (const m of configs[key]!) expect(m.hostname).toBe(m.name);
    });

    test('the same addresses on the same NICs (eth1, eth2... in order), configured by provisioning', () => {
      const t = topology();
      for (const n of t.nodes) {
        const m = configs[key]!.find((x) => x.name === n.name)!;
        const want = ethernet(n).map((i) => ({
          ip: addressOf(i.address),
          netmask: netmask(Number(i.address.split('/')[1])),
          auto_config: false,
        }));
        expect(m.networks, n.name).toEqual(want);
        expect(envOf(m).LAB_ADDRESSES).toBe(
          ethernet(n)
            .map((i) => `${i.name}=${i.address}`)
            .join(' '),
        );
        expect(envOf(m).LAB_NODE_IP).toBe(primaryAddress(n));
      }
    });

    test('host names, API endpoint, pod and service CIDRs handed to provisioning', () => {
      const t = topology();
      const hosts = [router(t)!, ...kubeNodes(t)].map((n) => `${primaryAddress(n)}=${n.name}`).join(' ');
      for (const m of configs[key]!) {
        const e = envOf(m);
        expect(e.LAB_HOSTS).toBe(hosts);
        expect(e.LAB_API_HOST).toBe(t.apiEndpoint.host);
        expect(e.LAB_API_PORT).toBe(String(t.apiEndpoint.port));
        expect(e.LAB_POD_CIDR).toBe(t.podCidr);
        expect(e.LAB_SERVICE_CIDR).toBe(t.serviceCidr);
        expect(e.LAB_CONTROL_PLANE).toBe(controlPlane(t).name);
      }
    });

    test("routes: none on the router; each node sends the pod CIDR, the other subnet and the corporate CIDR to its own subnet's router", () => {
      const t = topology();
      for (const n of t.nodes) {
        const e = envOf(configs[key]!.find((x) => x.name === n.name)!);
        const routes = e.LAB_ROUTES ? e.LAB_ROUTES.split(' ') : [];
        expect(routes, n.name).toEqual(expectedRoutes(t, n));
        if (n.role === 'router') {
          expect(routes.some((r) => r.includes(t.podCidr))).toBe(false);
        } else {
          expect(routes, n.name).toContain(`eth1:${t.podCidr}:${routerAddressOn(t, subnetOf(t, n).name)}`);
        }
      }
    });

    test('the files provisioning would install from that data: netplan (routes as netplan renders them), dummies, forwarding', async (ctx) => {
      const t = topology();
      for (const n of t.nodes) {
        const e = envOf(configs[key]!.find((x) => x.name === n.name)!);
        const root = path.join(work, `render-${key}-${n.name}`);
        await execa('bash', [path.join(REPO_ROOT, 'provision', 'render-network.sh'), root], {
          env: { PATH: process.env.PATH, ...e },
          extendEnv: false,
          stdin: 'ignore',
        });
        const netplanFile = path.join(root, 'etc', 'netplan', '60-cilium-lab.yaml');
        const netplanText = readFileSync(netplanFile, 'utf8');
        const doc = parseYaml(netplanText) as {
          network: {
            version: number;
            ethernets: Record<string, { dhcp4: boolean; addresses: string[]; routes?: { to: string; via: string }[] }>;
          };
        };
        expect(doc.network.version).toBe(2);
        const rendered = Object.entries(doc.network.ethernets).flatMap(([dev, cfg]) =>
          (cfg.routes ?? []).map((x) => `${dev}:${x.to}:${x.via}`),
        );
        expect(rendered, n.name).toEqual(expectedRoutes(t, n));
        for (const i of ethernet(n)) {
          expect(doc.network.ethernets[i.name]!.addresses).toEqual([i.address]);
          expect(doc.network.ethernets[i.name]!.dhcp4).toBe(false);
        }
        if (n.role === 'router') expect(netplanText).not.toContain('routes:');

        const dummies = n.interfaces.filter((i) => i.kind === 'dummy');
        const networkd = path.join(root, 'etc', 'systemd', 'network');
        for (const d of dummies) {
          expect(readFileSync(path.join(networkd, `60-cilium-lab-${d.name}.netdev`), 'utf8')).toMatch(
            new RegExp(`\\[NetDev\\]\\nName=${d.name}\\nKind=dummy\\n`),
          );
          expect(readFileSync(path.join(networkd, `60-cilium-lab-${d.name}.network`), 'utf8')).toContain(
            `[Match]\nName=${d.name}\n\n[Network]\nAddress=${d.address}\n`,
          );
        }
        if (dummies.length === 0) expect(existsSync(networkd)).toBe(false);
        const sysctl = path.join(root, 'etc', 'sysctl.d', '60-cilium-lab-forwarding.conf');
        if (n.role === 'router') expect(readFileSync(sysctl, 'utf8')).toMatch(/^net\.ipv4\.ip_forward = 1$/m);
        else expect(existsSync(sysctl)).toBe(false);

        // netplan itself turns the document into the systemd-networkd files the VM boots with.
        if (!netplan) continue;
        await execa('netplan', ['generate', '--root-dir', root], { stdin: 'ignore' });
        const generated = readdirSync(path.join(root, 'run', 'systemd', 'network'))
          .map((f) => readFileSync(path.join(root, 'run', 'systemd', 'network', f), 'utf8'))
          .join('\n');
        const networkdRoutes = [...generated.matchAll(/\[Route\]\nDestination=(\S+)\nGateway=(\S+)/g)].map((m) => `${m[1]}:${m[2]}`);
        expect(networkdRoutes, n.name).toEqual(expectedRoutes(t, n).map((r) => r.split(':').slice(1).join(':')));
        for (const i of ethernet(n)) expect(generated).toContain(`Address=${i.address}`);
      }
      if (!netplan) ctx.skip('netplan is not installed (apt-get install netplan.io): rendered files checked, netplan generate not run');
    });

    test('dummy interfaces and forwarding on the router only', () => {
      const t = topology();
      for (const n of t.nodes) {
        const e = envOf(configs[key]!.find((x) => x.name === n.name)!);
        const dummies = n.interfaces.filter((i) => i.kind === 'dummy').map((i) => `${i.name}=${i.address}`);
        expect(e.LAB_DUMMIES).toBe(dummies.join(' '));
        expect(e.LAB_FORWARDING).toBe(n.role === 'router' ? '1' : '0');
      }
      expect(envOf(configs[key]!.find((x) => x.name === router(t)!.name)!).LAB_DUMMIES).not.toBe('');
    });

    test('versions: the box and every pin in force reach every provisioning step', () => {
      const v = versions();
      for (const m of configs[key]!) {
        expect(m.box).toBe(v.box.value);
        expect(m.boxVersion).toBe(v.boxVersion.value);
        for (const p of m.provisioners.filter((x) => x.type === 'shell' && x.env && Object.keys(x.env).length > 0)) {
          for (const k of PIN_KEYS) expect(p.env![v[k].env], `${m.name}/${p.name}/${v[k].env}`).toBe(v[k].value);
          expect(p.env!.LAB_PINS!.split(' ')).toEqual(PIN_KEYS.map((k) => v[k].env));
        }
      }
      if (env.CILIUM_VERSION) expect(envOf(configs[key]![0]!).CILIUM_VERSION).toBe(env.CILIUM_VERSION);
    });

    test("CPUs and memory: the topology's resources, overridable per VM", () => {
      const t = topology();
      for (const n of t.nodes) {
        const m = configs[key]!.find((x) => x.name === n.name)!;
        const memory = n.name === 'k8s-w0' && env.LAB_K8S_W0_MEMORY_MB ? Number(env.LAB_K8S_W0_MEMORY_MB) : n.resources.memoryMb;
        const vb = m.providers.virtualbox!.customize;
        expect(vb).toContainEqual(['modifyvm', 'id', '--memory', String(memory)]);
        expect(vb).toContainEqual(['modifyvm', 'id', '--cpus', n.resources.cpus]);
        if (libvirtPlugin) expect(m.providers.libvirt).toMatchObject({ cpus: n.resources.cpus, memory });
      }
    });
  });

  describe('provisioning steps', () => {
    test('each role runs network first, then its own scripts, all of which exist in provision/', () => {
      const t = loadTopology();
      const expected: Record<string, string[]> = {
        router: ['network', 'router'],
        'control-plane': ['network', 'kubernetes-node', 'control-plane'],
        worker: ['network', 'kubernetes-node', 'worker'],
      };
      for (const m of configs.default!) {
        const role = t.nodes.find((n) => n.name === m.name)!.role;
        const scripts = m.provisioners
          .filter((p) => p.inline?.includes('/opt/cilium-lab/provision/'))
          .map((p) => /provision\/([a-z-]+)\.sh/.exec(p.inline!)![1]);
        expect(
          scripts.filter((s) => s !== undefined && s !== 'provision'),
          m.name,
        ).toEqual(expected[role]);
        for (const s of expected[role]!) expect(existsSync(path.join(REPO_ROOT, 'provision', `${s}.sh`))).toBe(true);
        expect(m.provisioners.find((p) => p.name === 'upload')?.source).toBe(path.join(copy, 'provision'));
        expect(m.syncedFolders['/vagrant']?.disabled).toBe(true);
      }
    });

    test('workers join with the token and the hash of the CA the control plane is given (no CA skipping)', () => {
      const ctr = configs.default!.find((m) => m.name === 'k8s-ctr')!;
      const caFile = ctr.provisioners.find((p) => p.destination?.endsWith('/ca.crt'))!.source!;
      expect(ctr.provisioners.some((p) => p.destination?.endsWith('/ca.key'))).toBe(true);
      const cert = new X509Certificate(readFileSync(caFile));
      expect(cert.ca).toBe(true);
      const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
      const hash = `sha256:${createHash('sha256').update(spki).digest('hex')}`;
      const token = envOf(ctr, 'control-plane').LAB_JOIN_TOKEN!;
      expect(token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
      for (const w of configs.default!.filter((m) => ['k8s-w1', 'k8s-w0'].includes(m.name))) {
        const e = envOf(w, 'worker');
        expect(e.LAB_CA_CERT_HASH).toBe(hash);
        expect(e.LAB_JOIN_TOKEN).toBe(token);
        expect(w.provisioners.some((p) => p.destination?.includes('ca.key'))).toBe(false);
      }
      const worker = readFileSync(path.join(REPO_ROOT, 'provision', 'worker.sh'), 'utf8')
        .split('\n')
        .filter((l) => !l.trimStart().startsWith('#'))
        .join('\n');
      expect(worker).toContain('caCertHashes: ["$LAB_CA_CERT_HASH"]');
      expect(worker).not.toMatch(/unsafeSkipCAVerification|discovery-token-unsafe-skip-ca-verification/);
    });
  });
});
