/**
 * The rehearsal (issue 13): provision/*.sh, unmodified, run for real as Vagrant runs them on the VMs, in
 * throwaway Debian roots with no route out (test/provision/rehearsal/). It shows:
 * (a) the router (network.sh, router.sh), the control plane (network.sh, kubernetes-node.sh,
 *     control-plane.sh) and a worker (network.sh, kubernetes-node.sh, worker.sh) each run to their `done`
 *     line in a fresh root, with what they asked of kubeadm, apt, helm and the files they wrote checked;
 * (b) a second provisioning changes nothing: no file rewritten, no package installed, no service restarted;
 * (d) the rehearsal's namespaces have no route out.
 * Injected failures (c) are in rehearsal-failures.integration.test.ts.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseVersionsEnv } from '../../helpers/lab/versions.ts';
import {
  Rehearsal,
  cannotRun,
  type Call,
  type FileState,
  type Request,
  type RehearsalNode,
  type RunResult,
} from './rehearsal/rehearsal.ts';

const reason = await cannotRun();
const NODES = ['router', 'k8s-ctr', 'k8s-w1'] as const;
type NodeName = (typeof NODES)[number];
const SCRIPTS: Record<NodeName, string[]> = {
  router: ['network', 'router'],
  'k8s-ctr': ['network', 'kubernetes-node', 'control-plane'],
  'k8s-w1': ['network', 'kubernetes-node', 'worker'],
};

/** Files a provisioning rewrites every time by design (logs, the record of the run, apt's own state). */
const REWRITTEN_BY_DESIGN = [
  /^\/var\/log\//, // provisioning logs, apt/dpkg logs, the stand-ins' records
  /^\/etc\/cilium-lab\/versions\.env$/, // PROVISIONED_AT / PROVISIONED_OK of this run
  /^\/opt\/cilium-lab\/provision\//, // the Vagrantfile's "install" provisioner copies provision/ afresh
  /^\/tmp\//, // upload area of the file provisioners
  /^\/var\/lib\/apt\/lists\//, // apt-get update
  /^\/var\/cache\/(apt|debconf|ldconfig)\//,
  /^\/var\/lib\/rehearsal\/sysctl$/, // the sysctl stand-in's state (sysctl -p is applied every run)
  /^\/etc\/kubernetes\/pki\//, // re-uploaded by Vagrant's file provisioner, then compared (see the test)
];

let rehearsal: Rehearsal;
const nodes = {} as Record<NodeName, RehearsalNode>;
const first = {} as Record<NodeName, RunResult[]>;
const second = {} as Record<NodeName, RunResult[]>;
const before = {} as Record<NodeName, Map<string, FileState>>;
const after = {} as Record<NodeName, Map<string, FileState>>;
const callsFirst = {} as Record<NodeName, Call[]>;
const requestsFirst = {} as Record<NodeName, Request[]>;
const aptLogsFirst = {} as Record<NodeName, { dpkg: string; history: string }>;
const timings: string[] = [];

const envOf = (name: NodeName, script: string): Record<string, string> =>
  nodes[name].machine.provisioners.find((p) => p.name === script)!.env!;
const doneLine = (name: NodeName, script: string) => `[cilium-lab] ${name} ${script}: done`;
const callLine = (c: Call) => [c.program, ...c.args].join(' ');

describe.skipIf(reason)(`the rehearsal: provision scripts run for real${reason ? ` (skipped: ${reason})` : ''}`, () => {
  beforeAll(async () => {
    let t = Date.now();
    const lap = (what: string) => {
      timings.push(`${what}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
      t = Date.now();
    };
    rehearsal = await Rehearsal.create((l) => timings.push(l));
    lap('base root, Vagrant machines, mirror');
    for (const name of NODES) nodes[name] = await rehearsal.node(name);
    lap('node roots and namespaces');
    await Promise.all(
      NODES.map(async (name) => {
        first[name] = await nodes[name].provision();
        before[name] = nodes[name].snapshot();
        callsFirst[name] = nodes[name].calls();
        requestsFirst[name] = nodes[name].requests();
        aptLogsFirst[name] = {
          dpkg: nodes[name].read('var/log/dpkg.log') ?? '',
          history: nodes[name].read('var/log/apt/history.log') ?? '',
        };
      }),
    );
    lap('first provisioning (3 nodes in parallel)');
    await Promise.all(
      NODES.map(async (name) => {
        second[name] = await nodes[name].provision();
        after[name] = nodes[name].snapshot();
      }),
    );
    lap('second provisioning');
    console.log(`rehearsal timings:\n  ${timings.join('\n  ')}`);
  }, 900_000);

  afterAll(async () => {
    for (const name of NODES) await nodes[name]?.dispose();
    rehearsal?.dispose();
  });

  describe('(d) no route out', () => {
    test.each(NODES)('%s: no default route, and a non-local 198.18 address is unreachable', async (name) => {
      const r = await nodes[name].exec(
        'ip route; echo "default routes: $(ip -4 route show default | wc -l)"; curl -sS --max-time 5 http://198.18.250.1/; echo "curl exit $?"',
      );
      expect(r.output).toContain('default routes: 0');
      expect(r.output).not.toMatch(/^default (via|dev) /m);
      // 7: curl could not connect (no route to the address).
      expect(r.output).toMatch(/curl exit 7/);
    });
  });

  describe('(a) each script runs to its done line in a fresh root', () => {
    test.each(NODES)('%s: every provisioner succeeds, each script prints its done line', (name) => {
      const failed = first[name].filter((r) => r.exitCode !== 0);
      expect(failed.map((r) => `${r.provisioner} exit ${r.exitCode}:\n${r.output.slice(-4000)}`)).toEqual([]);
      for (const script of SCRIPTS[name]) {
        const run = first[name].find((r) => r.provisioner === script);
        expect(run?.output, script).toContain(doneLine(name, script));
      }
    });

    test('every host the scripts fetch from was served by the stand-in, over TLS', () => {
      const hosts = new Set(
        NODES.flatMap((n) => requestsFirst[n])
          .filter((r) => r.port === 443 && r.status < 400)
          .map((r) => r.host),
      );
      for (const host of [
        'pkgs.k8s.io',
        'download.docker.com',
        'get.helm.sh',
        'helm.cilium.io',
        'github.com',
        'release-assets.githubusercontent.com',
      ]) {
        expect([...hosts], host).toContain(host);
      }
      // The signing key was fetched where pkgs.k8s.io and Docker publish theirs.
      const paths = requestsFirst['k8s-ctr'].map((r) => `${r.host}${r.path}`);
      expect(paths).toContain('pkgs.k8s.io/core:/stable:/v1.33/deb/Release.key');
      expect(paths).toContain('download.docker.com/linux/ubuntu/gpg');
    });

    test('network.sh: netplan written (600) and applied, addresses and routes in place, /etc/hosts names the lab', async () => {
      for (const name of NODES) {
        const netplan = nodes[name].read('etc/netplan/60-cilium-lab.yaml');
        expect(netplan, name).toContain(`- ${envOf(name, 'network').LAB_ADDRESSES!.split(' ')[0]!.split('=')[1]}`);
        expect(nodes[name].mode('etc/netplan/60-cilium-lab.yaml'), name).toBe(0o600);
        expect(callsFirst[name].map(callLine)).toContain('netplan apply');
        expect(nodes[name].read('etc/hosts')).toMatch(/# cilium-lab begin\n198\.18\.10\.200 router\n198\.18\.10\.100 k8s-ctr\n/);
      }
      const ctr = await nodes['k8s-ctr'].exec('ip -4 -o addr show dev eth1; ip -4 route');
      expect(ctr.output).toContain('inet 198.18.10.100/24');
      expect(ctr.output).toContain('198.19.0.0/17 via 198.18.10.200 dev eth1');
      const router = await nodes.router.exec('ip -4 -br addr');
      expect(router.output).toMatch(/^loop1(@\S+)? +\S+ +198\.18\.129\.200\/24/m);
      expect(router.output).toMatch(/^eth2(@\S+)? +\S+ +198\.18\.20\.200\/24/m);
      expect(nodes.router.read('etc/sysctl.d/60-cilium-lab-forwarding.conf')).toContain('net.ipv4.ip_forward = 1');
      expect(callsFirst.router.map(callLine)).toContain('networkctl reload');
    });

    test('router.sh: its tools installed, the web page names it, the pod CIDR has no route, the arping package recorded', () => {
      expect(nodes.router.read('var/www/html/index.html')).toBe('<h1>Web Server : router</h1>\n');
      expect(callsFirst.router.map(callLine)).toContain('systemctl enable --now apache2');
      expect(requestsFirst.router.some((r) => r.port === 80 && r.status === 200)).toBe(true);
      const versions = parseVersionsEnv(nodes.router.read('etc/cilium-lab/versions.env')!);
      expect(versions.ARPING).toMatch(/^arping \d/);
      expect(versions.PROVISIONED_OK).toMatch(/^\d{4}-/);
    });

    test('kubernetes-node.sh: modules, sysctls, swap off, exactly the pinned NAME=VERSION installed and held', async () => {
      for (const name of ['k8s-ctr', 'k8s-w1'] as const) {
        const env = envOf(name, 'kubernetes-node');
        const tokens = [
          `containerd.io=${env.CONTAINERD_VERSION}-1`,
          ...['kubelet', 'kubeadm', 'kubectl'].map((p) => `${p}=${env.K8S_VERSION}-1.1`),
        ];
        const history = nodes[name].read('var/log/apt/history.log') ?? '';
        expect(history, name).toContain(`Commandline: apt-get install -y -q --no-install-recommends ${tokens.join(' ')}`);
        const q = await nodes[name].exec(
          "dpkg-query -W -f='${Package}=${Version}\\n' containerd.io kubelet kubeadm kubectl cri-tools; echo held:; apt-mark showhold",
        );
        for (const t of tokens) expect(q.output).toContain(t);
        expect(q.output.split('held:')[1]!.trim().split('\n').sort()).toEqual(['containerd.io', 'kubeadm', 'kubectl', 'kubelet']);
        expect(nodes[name].read('etc/modules-load.d/60-cilium-lab-k8s.conf')).toBe('overlay\nbr_netfilter\n');
        expect(nodes[name].read('etc/sysctl.d/60-cilium-lab-k8s.conf')).toContain('net.bridge.bridge-nf-call-iptables = 1');
        const calls = callsFirst[name].map(callLine);
        expect(calls).toEqual(
          expect.arrayContaining([
            'modprobe overlay',
            'modprobe br_netfilter',
            'sysctl -q -p /etc/sysctl.d/60-cilium-lab-k8s.conf',
            'swapoff -a',
            'systemctl enable --now containerd',
            'systemctl enable kubelet',
          ]),
        );
        expect(nodes[name].read('etc/fstab')).toContain('# cilium-lab: swap off: /swap.img');
        const containerd = nodes[name].read('etc/containerd/config.toml')!;
        expect(containerd).toContain('SystemdCgroup = true');
        expect(containerd).toContain('sandbox_image = "registry.k8s.io/pause:3.10"');
        expect(nodes[name].read('etc/crictl.yaml')).toContain('runtime-endpoint: unix:///run/containerd/containerd.sock');
        const versions = parseVersionsEnv(nodes[name].read('etc/cilium-lab/versions.env')!);
        expect(versions).toMatchObject({
          LAB_NODE: name,
          K8S_VERSION: env.K8S_VERSION,
          CONTAINERD_VERSION: env.CONTAINERD_VERSION,
          KUBELET_INSTALLED: `v${env.K8S_VERSION}`,
          CONTAINERD_INSTALLED: env.CONTAINERD_VERSION,
        });
      }
    });

    test('control-plane.sh: kubeadm init with the node IP and the lab token, helm values, pinned CLIs', () => {
      const env = envOf('k8s-ctr', 'control-plane');
      const calls = callsFirst['k8s-ctr'].map(callLine);
      expect(calls).toContain(`kubeadm init --config /etc/cilium-lab/kubeadm-init.yaml`);
      const init = nodes['k8s-ctr'].read('var/log/rehearsal/kubeadm-init.yaml')!;
      expect(init).toContain(`advertiseAddress: "${env.LAB_NODE_IP}"`);
      expect(init).toMatch(new RegExp(`- name: node-ip\\n\\s+value: "${env.LAB_NODE_IP}"`));
      expect(init).toContain(`token: "${env.LAB_JOIN_TOKEN}"`);
      expect(init).toContain(`kubernetesVersion: "v${env.K8S_VERSION}"`);
      expect(init).toContain(`serviceSubnet: "${env.LAB_SERVICE_CIDR}"`);
      expect(calls).toContain('kubectl taint nodes k8s-ctr node-role.kubernetes.io/control-plane-');
      const install = calls.find((c) => c.startsWith('helm install'));
      expect(install).toBe(
        `helm install cilium cilium/cilium --version ${env.CILIUM_VERSION} --namespace kube-system -f /etc/cilium-lab/cilium-values-base.yaml -f /etc/cilium-lab/cilium-values-topology.yaml`,
      );
      expect(nodes['k8s-ctr'].read('var/log/rehearsal/helm-values-1.yaml')).toBe(
        readFileSync(path.join(import.meta.dirname, '..', '..', 'provision', 'values', 'cilium-base.yaml'), 'utf8'),
      );
      const topo = nodes['k8s-ctr'].read('var/log/rehearsal/helm-values-2.yaml')!;
      expect(topo).toContain(`k8sServiceHost: "${env.LAB_API_HOST}"`);
      expect(topo).toContain(`clusterPoolIPv4PodCIDRList: ["${env.LAB_POD_CIDR}"]`);
      expect(calls).toContain('helm repo add cilium https://helm.cilium.io/');
      // The chart index is fetched once; the vagrant user (suites run helm from k8s-ctr) gets the same repository.
      expect(requestsFirst['k8s-ctr'].filter((r) => r.host === 'helm.cilium.io').map((r) => r.path)).toEqual(['/index.yaml']);
      expect(nodes['k8s-ctr'].read('home/vagrant/.config/helm/repositories.yaml')).toContain('url: https://helm.cilium.io/');
      expect(nodes['k8s-ctr'].read('home/vagrant/.cache/helm/repository/cilium-index.yaml')).toContain('version: ' + env.CILIUM_VERSION);
      const versions = parseVersionsEnv(nodes['k8s-ctr'].read('etc/cilium-lab/versions.env')!);
      expect(versions).toMatchObject({ HELM_INSTALLED: `v${env.HELM_VERSION}`, CILIUM_INSTALLED: env.CILIUM_VERSION });
      expect(versions.CILIUM_CLI_INSTALLED).toContain(`v${env.CILIUM_CLI_VERSION}`);
      expect(versions.HUBBLE_CLI_INSTALLED).toContain(env.HUBBLE_CLI_VERSION);
      expect(nodes['k8s-ctr'].read('home/vagrant/.kube/config')).toContain('rehearsal: admin.conf');
    });

    test("worker.sh: kubeadm join with the node IP and the control plane CA's public-key hash", () => {
      const env = envOf('k8s-w1', 'worker');
      expect(callsFirst['k8s-w1'].map(callLine)).toContain('kubeadm join --config /etc/cilium-lab/kubeadm-join.yaml');
      const join = nodes['k8s-w1'].read('var/log/rehearsal/kubeadm-join.yaml')!;
      expect(join).toMatch(new RegExp(`- name: node-ip\\n\\s+value: "${env.LAB_NODE_IP}"`));
      expect(join).toContain(`apiServerEndpoint: "${env.LAB_API_HOST}:${env.LAB_API_PORT}"`);
      // The hash the worker checks is the one of the CA the control plane was given.
      const ca = new X509Certificate(nodes['k8s-ctr'].read('etc/kubernetes/pki/ca.crt')!);
      const hash = `sha256:${createHash('sha256')
        .update(ca.publicKey.export({ type: 'spki', format: 'der' }))
        .digest('hex')}`;
      expect(join).toContain(`caCertHashes: ["${hash}"]`);
      expect(env.LAB_CA_CERT_HASH).toBe(hash);
    });
  });

  describe('(b) a second provisioning changes nothing', () => {
    test.each(NODES)('%s: runs to its done lines again', (name) => {
      expect(second[name].filter((r) => r.exitCode !== 0).map((r) => `${r.provisioner}:\n${r.output.slice(-3000)}`)).toEqual([]);
      for (const script of SCRIPTS[name])
        expect(second[name].find((r) => r.provisioner === script)?.output).toContain(doneLine(name, script));
    });

    test.each(NODES)('%s: no file rewritten (mtime and content), none added', (name) => {
      const changed: string[] = [];
      for (const [file, state] of after[name]) {
        if (REWRITTEN_BY_DESIGN.some((re) => re.test(file))) continue;
        const was = before[name].get(file);
        if (!was) changed.push(`${file} (new)`);
        else if (was.mtimeMs !== state.mtimeMs || was.sha256 !== state.sha256)
          changed.push(`${file} (${was.sha256 === state.sha256 ? 'same content, rewritten' : 'changed'})`);
      }
      expect(changed).toEqual([]);
      // What is rewritten by design keeps its content where it must: the cluster CA.
      const ca = '/etc/kubernetes/pki/ca.crt';
      if (before[name].has(ca)) expect(after[name].get(ca)!.sha256).toBe(before[name].get(ca)!.sha256);
    });

    test.each(NODES)('%s: no package installed or upgraded, no service restarted, nothing re-initialised', (name) => {
      const calls = nodes[name].calls().slice(callsFirst[name].length).map(callLine);
      expect(calls.length).toBeGreaterThan(0);
      expect(
        calls.filter((c) =>
          /^systemctl (restart|reload|start|stop)|^netplan apply|^networkctl reload|^kubeadm (init|join)|^helm install|^kubectl taint/.test(
            c,
          ),
        ),
      ).toEqual([]);
      const dpkg = nodes[name].read('var/log/dpkg.log') ?? '';
      const history = nodes[name].read('var/log/apt/history.log') ?? '';
      expect(dpkg.startsWith(aptLogsFirst[name].dpkg)).toBe(true);
      expect(history.startsWith(aptLogsFirst[name].history)).toBe(true);
      expect(
        dpkg
          .slice(aptLogsFirst[name].dpkg.length)
          .split('\n')
          .filter((l) => / (install|upgrade|remove) /.test(l)),
      ).toEqual([]);
      expect(
        history
          .slice(aptLogsFirst[name].history.length)
          .split('\n')
          .filter((l) => /^(Install|Upgrade|Remove|Reinstall):/.test(l)),
      ).toEqual([]);
      // Nothing downloaded again: keys and release tarballs are fetched once.
      const again = nodes[name]
        .requests()
        .slice(requestsFirst[name].length)
        .map((r) => `${r.host}${r.path}`);
      expect(again.filter((p) => /Release\.key$|\/gpg$|\.tar\.gz(\.sha256sum)?$|\.deb$|index\.yaml$/.test(p))).toEqual([]);
    });
  });
});
