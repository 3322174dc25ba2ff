/**
 * What the rehearsal's server hands out in place of every host the provision scripts fetch from, made
 * fresh for each run:
 * - a CA (openssl) and a server certificate for all those names, trusted only inside the rehearsal root;
 * - a GPG key (gpg --batch) that signs real apt repositories: pkgs.k8s.io's flat `core:/stable:/v<minor>/deb/`
 *   repository (kubelet, kubeadm, kubectl, cri-tools) and Docker's `linux/ubuntu dists/<codename>/stable`
 *   (containerd.io), with InRelease, Release and Release.gpg, and the key at the URLs the scripts fetch it
 *   from (`Release.key`, `linux/ubuntu/gpg`);
 * - stand-in packages built with dpkg-deb at the pinned versions and at one newer version (so pinning is
 *   what picks them), whose programs are the recorders of ./standins;
 * - helm, cilium-cli and hubble release tarballs with their published-style `.sha256sum`, and a helm
 *   repository index for helm.cilium.io.
 * Files are laid out as `<dir>/<host>/<path>`; server.ts serves that tree.
 */
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

export const STANDINS = path.join(import.meta.dirname, 'standins');

/** Every host name the provision scripts fetch from; all resolve to the server inside the root. */
export const MIRROR_HOSTS = [
  'pkgs.k8s.io',
  'download.docker.com',
  'get.helm.sh',
  'helm.cilium.io',
  'github.com',
  'release-assets.githubusercontent.com',
];

export interface MirrorVersions {
  k8s: string;
  containerd: string;
  helm: string;
  ciliumCli: string;
  hubbleCli: string;
  cilium: string;
  /** The codename of the root's /etc/os-release (Docker's repository is per codename). */
  codename: string;
  arch: string;
}

export interface Mirror {
  dir: string;
  /** The tree served: `<tree>/<host>/<path>`. */
  tree: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** Packages in the repositories, as NAME=VERSION. */
  packages: string[];
}

/** The next patch version: the "other" version every repository and release also carries. */
export function nextPatch(version: string): string {
  const [a, b, c] = version.split('.');
  return `${a}.${b}.${Number(c) + 1}`;
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

async function makeCa(dir: string, apiAddress: string): Promise<Pick<Mirror, 'caCert' | 'serverCert' | 'serverKey'>> {
  const caKey = path.join(dir, 'ca.key');
  const caCert = path.join(dir, 'ca.crt');
  const serverKey = path.join(dir, 'server.key');
  const serverCert = path.join(dir, 'server.crt');
  const csr = path.join(dir, 'server.csr');
  const ext = path.join(dir, 'server.ext');
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '2',
    '-subj',
    '/CN=cilium-lab rehearsal CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await execa('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    serverKey,
    '-out',
    csr,
    '-subj',
    '/CN=cilium-lab rehearsal mirror',
  ]);
  writeFileSync(
    ext,
    `subjectAltName=${[...MIRROR_HOSTS.map((h) => `DNS:${h}`), `IP:${apiAddress}`].join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  await execa('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caCert,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    serverCert,
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return { caCert, serverCert, serverKey };
}

interface Deb {
  name: string;
  version: string;
  upstream: string;
  depends?: string;
  /** stand-in program name -> installed path */
  programs: Record<string, string>;
}

async function buildDeb(dir: string, deb: Deb, arch: string): Promise<{ file: string; control: string }> {
  const stage = path.join(dir, 'stage', `${deb.name}_${deb.version}`);
  mkdirSync(path.join(stage, 'DEBIAN'), { recursive: true });
  const control = [
    `Package: ${deb.name}`,
    `Version: ${deb.version}`,
    `Architecture: ${arch}`,
    'Maintainer: cilium-lab rehearsal <rehearsal@invalid>',
    ...(deb.depends ? [`Depends: ${deb.depends}`] : []),
    'Section: admin',
    'Priority: optional',
    `Description: rehearsal stand-in for ${deb.name} ${deb.upstream}`,
    ' Records its arguments to /var/log/rehearsal/calls.tsv.',
  ].join('\n');
  writeFileSync(path.join(stage, 'DEBIAN', 'control'), `${control}\n`);
  for (const [program, target] of Object.entries(deb.programs)) {
    const file = path.join(stage, target);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, standin(program, deb.version, deb.upstream));
    chmodSync(file, 0o755);
  }
  const file = path.join(dir, 'stage', `${deb.name}_${deb.version.replace(/:/g, '%3a')}_${arch}.deb`);
  await execa('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', stage, file]);
  return { file, control };
}

/** A stand-in program with its version filled in. */
export function standin(program: string, version: string, upstream: string): string {
  return readFileSync(path.join(STANDINS, program), 'utf8').replaceAll('@VERSION@', version).replaceAll('@UPSTREAM@', upstream);
}

/** Writes Packages for `debs` into `indexDir` (paths in Filename relative to `repoRoot`), returns it. */
function packagesIndex(debs: { file: string; control: string }[], repoRoot: string): string {
  return debs
    .map(
      ({ file, control }) =>
        `${control}\nFilename: ${path.relative(repoRoot, file)}\nSize: ${statSync(file).size}\nSHA256: ${sha256(file)}\n`,
    )
    .join('\n');
}

async function signRelease(gnupg: string, releaseDir: string, fields: string[], indexes: string[]): Promise<void> {
  const date = new Date(Date.now() - 3600_000).toUTCString().replace('GMT', 'UTC');
  const lines = [...fields, `Date: ${date}`, 'SHA256:'];
  for (const rel of indexes) {
    const f = path.join(releaseDir, rel);
    lines.push(` ${sha256(f)} ${statSync(f).size} ${rel}`);
  }
  const release = path.join(releaseDir, 'Release');
  writeFileSync(release, `${lines.join('\n')}\n`);
  const env = { GNUPGHOME: gnupg };
  await execa('gpg', ['--batch', '--yes', '--clearsign', '-o', path.join(releaseDir, 'InRelease'), release], { env });
  await execa('gpg', ['--batch', '--yes', '-abs', '-o', path.join(releaseDir, 'Release.gpg'), release], { env });
}

async function tarball(dir: string, out: string, member: string, program: string, version: string): Promise<void> {
  const stage = path.join(dir, 'stage', path.basename(out));
  mkdirSync(path.join(stage, path.dirname(member)), { recursive: true });
  writeFileSync(path.join(stage, member), standin(program, version, version));
  chmodSync(path.join(stage, member), 0o755);
  mkdirSync(path.dirname(out), { recursive: true });
  await execa('tar', ['-czf', out, '--owner=0', '--group=0', '-C', stage, member]);
  // Published style: "<sha256>  <file name>".
  writeFileSync(`${out}.sha256sum`, `${sha256(out)}  ${path.basename(out)}\n`);
}

export async function buildMirror(dir: string, v: MirrorVersions, apiAddress: string): Promise<Mirror> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tree = path.join(dir, 'tree');
  const ca = await makeCa(dir, apiAddress);

  const gnupg = path.join(dir, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  await execa(
    'gpg',
    ['--batch', '--passphrase', '', '--quick-gen-key', 'cilium-lab rehearsal <rehearsal@invalid>', 'ed25519', 'sign', '2d'],
    { env: { GNUPGHOME: gnupg } },
  );
  const publicKey = (await execa('gpg', ['--armor', '--export'], { env: { GNUPGHOME: gnupg } })).stdout;

  const packages: string[] = [];
  // pkgs.k8s.io: a flat repository per minor version, package versions <upstream>-1.1.
  const minor = v.k8s.split('.').slice(0, 2).join('.');
  const k8sRepo = path.join(tree, 'pkgs.k8s.io', `core:/stable:/v${minor}/deb`);
  mkdirSync(path.join(k8sRepo, 'pool'), { recursive: true });
  const k8sDebs = [];
  for (const upstream of [v.k8s, nextPatch(v.k8s)]) {
    const version = `${upstream}-1.1`;
    k8sDebs.push(await buildDeb(dir, { name: 'kubelet', version, upstream, programs: { kubelet: 'usr/bin/kubelet' } }, v.arch));
    k8sDebs.push(
      await buildDeb(
        dir,
        { name: 'kubeadm', version, upstream, depends: 'cri-tools (>= 1.30.0)', programs: { kubeadm: 'usr/bin/kubeadm' } },
        v.arch,
      ),
    );
    k8sDebs.push(await buildDeb(dir, { name: 'kubectl', version, upstream, programs: { kubectl: 'usr/bin/kubectl' } }, v.arch));
    packages.push(`kubelet=${version}`, `kubeadm=${version}`, `kubectl=${version}`);
  }
  k8sDebs.push(
    await buildDeb(
      dir,
      { name: 'cri-tools', version: `${minor}.0-1.1`, upstream: `${minor}.0`, programs: { crictl: 'usr/bin/crictl' } },
      v.arch,
    ),
  );
  packages.push(`cri-tools=${minor}.0-1.1`);
  const k8sPool = k8sDebs.map((d) => {
    const dest = path.join(k8sRepo, 'pool', path.basename(d.file));
    writeFileSync(dest, readFileSync(d.file));
    return { file: dest, control: d.control };
  });
  writeFileSync(path.join(k8sRepo, 'Packages'), packagesIndex(k8sPool, k8sRepo));
  await signRelease(
    gnupg,
    k8sRepo,
    [
      'Origin: obs://build.opensuse.org/isv:kubernetes:core:stable:v' + minor + '/deb',
      'Label: isv:kubernetes:core:stable:v' + minor,
      'Architectures: ' + v.arch,
    ],
    ['Packages'],
  );
  writeFileSync(path.join(k8sRepo, 'Release.key'), `${publicKey}\n`);

  // download.docker.com: linux/ubuntu dists/<codename>/stable, containerd.io <upstream>-1.
  const docker = path.join(tree, 'download.docker.com', 'linux', 'ubuntu');
  const dist = path.join(docker, 'dists', v.codename);
  const binary = path.join(dist, 'stable', `binary-${v.arch}`);
  mkdirSync(binary, { recursive: true });
  mkdirSync(path.join(docker, 'pool', 'stable'), { recursive: true });
  const dockerPool = [];
  for (const upstream of [v.containerd, nextPatch(v.containerd)]) {
    const version = `${upstream}-1`;
    const d = await buildDeb(dir, { name: 'containerd.io', version, upstream, programs: { containerd: 'usr/bin/containerd' } }, v.arch);
    const dest = path.join(docker, 'pool', 'stable', path.basename(d.file));
    writeFileSync(dest, readFileSync(d.file));
    dockerPool.push({ file: dest, control: d.control });
    packages.push(`containerd.io=${version}`);
  }
  writeFileSync(path.join(binary, 'Packages'), packagesIndex(dockerPool, docker));
  await signRelease(
    gnupg,
    dist,
    [
      'Origin: Docker',
      'Label: Docker CE',
      `Suite: ${v.codename}`,
      `Codename: ${v.codename}`,
      `Architectures: ${v.arch}`,
      'Components: stable',
    ],
    [`stable/binary-${v.arch}/Packages`],
  );
  writeFileSync(path.join(docker, 'gpg'), `${publicKey}\n`);

  // Release tarballs, pinned and next patch.
  for (const version of [v.helm, nextPatch(v.helm)]) {
    await tarball(dir, path.join(tree, 'get.helm.sh', `helm-v${version}-linux-${v.arch}.tar.gz`), `linux-${v.arch}/helm`, 'helm', version);
  }
  for (const [repo, program, pinned] of [
    ['cilium-cli', 'cilium', v.ciliumCli],
    ['hubble', 'hubble', v.hubbleCli],
  ] as const) {
    for (const version of [pinned, nextPatch(pinned)]) {
      // github.com answers release downloads with a redirect to release-assets.githubusercontent.com (server.ts).
      const out = path.join(
        tree,
        'release-assets.githubusercontent.com',
        'cilium',
        repo,
        'releases',
        'download',
        `v${version}`,
        `${program}-linux-${v.arch}.tar.gz`,
      );
      await tarball(dir, out, program, program, version);
    }
  }

  // helm.cilium.io: the chart repository index (the stand-in helm fetches it on `repo add`).
  mkdirSync(path.join(tree, 'helm.cilium.io'), { recursive: true });
  const entries = [v.cilium, nextPatch(v.cilium)]
    .map(
      (ver) =>
        `    - name: cilium\n      version: ${ver}\n      appVersion: ${ver}\n      urls: [https://helm.cilium.io/cilium-${ver}.tgz]`,
    )
    .join('\n');
  writeFileSync(path.join(tree, 'helm.cilium.io', 'index.yaml'), `apiVersion: v1\nentries:\n  cilium:\n${entries}\n`);
  rmSync(path.join(dir, 'stage'), { recursive: true, force: true });
  return { dir, tree, ...ca, packages };
}
