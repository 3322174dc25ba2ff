/**
 * The rehearsal's base root: a Debian root made with mmdebstrap from this machine's Debian mirror (as
 * configured in /etc/apt/sources.list*), holding what the provision scripts call at roughly the versions
 * Ubuntu 24.04 has (bash 5.2, apt 2.x, curl, gpg, ca-certificates, iproute2) and the packages they install
 * from the OS archive (tcpdump, arping, jq, apache2, conntrack, socat): the VMs' Ubuntu archive is not
 * stood in for, so those are installed already and `apt-get install` finds them "already the newest".
 * Its apt sources are removed: inside the rehearsal only the stand-in repositories exist.
 *
 * Building takes 40 s to a few minutes, so the root is cached outside the clone (CI re-runs on the same
 * machine reuse it) in a folder named by a hash of its recipe: change the recipe and it is rebuilt. It is
 * only ever used as the read-only lower layer of an overlay.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';

export const CACHE_DIR = process.env.REHEARSAL_CACHE_DIR ?? '/var/cache/cilium-lab-harness/rehearsal';

/** What the provision scripts need from the OS (checked against provision/*.sh by the rehearsal's runs). */
export const BASE_PACKAGES = [
  'ca-certificates',
  'curl',
  'gpg',
  'iproute2',
  'procps',
  'sudo',
  'passwd',
  'mawk',
  // installed by the scripts from the OS archive (router.sh, kubernetes-node.sh)
  'tcpdump',
  'arping',
  'jq',
  'apache2',
  'conntrack',
  'socat',
];

function hostSources(): { file: string; text: string } {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (existsSync(file) && readFileSync(file, 'utf8').trim()) return { file, text: readFileSync(file, 'utf8') };
  }
  throw new Error('no Debian apt sources on this machine (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)');
}

function hostSuite(): string {
  const m = /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync('/etc/os-release', 'utf8'));
  if (!m) throw new Error('/etc/os-release names no VERSION_CODENAME');
  return m[1]!;
}

export interface BaseRecipe {
  suite: string;
  sourcesFile: string;
  args: string[];
  hash: string;
}

export function baseRecipe(): BaseRecipe {
  const suite = hostSuite();
  const sources = hostSources();
  const args = [
    '--variant=apt',
    `--include=${BASE_PACKAGES.join(',')}`,
    // The VMs are bento boxes: a "vagrant" user with a home directory.
    '--customize-hook=chroot "$1" useradd -m -s /bin/bash vagrant',
    // No Debian mirror inside the rehearsal: only the stand-in repositories.
    '--customize-hook=rm -f "$1"/etc/apt/sources.list "$1"/etc/apt/sources.list.d/*',
  ];
  const hash = createHash('sha256')
    .update(JSON.stringify({ v: 1, suite, sources: sources.text, args }))
    .digest('hex')
    .slice(0, 16);
  return { suite, sourcesFile: sources.file, args, hash };
}

/**
 * The cached root for the current recipe, built (under a lock shared by parallel test files) when missing.
 * Returns its path.
 */
export async function ensureBaseRoot(log: (line: string) => void = () => {}): Promise<string> {
  const recipe = baseRecipe();
  const root = path.join(CACHE_DIR, `root-${recipe.hash}`);
  if (existsSync(path.join(root, '.rehearsal-complete'))) return root;
  await execa('mkdir', ['-p', CACHE_DIR]);
  const tmp = `${root}.building`;
  const script = [
    'set -e',
    `if [ ! -e "${root}/.rehearsal-complete" ]; then`,
    `  rm -rf "${tmp}" "${root}"`,
    `  mmdebstrap --quiet ${recipe.args.map(shellQuote).join(' ')} ${recipe.suite} "${tmp}" "${recipe.sourcesFile}"`,
    `  touch "${tmp}/.rehearsal-complete"`,
    `  mv "${tmp}" "${root}"`,
    'fi',
  ].join('\n');
  log(`building the rehearsal's Debian root ${root} (mmdebstrap ${recipe.suite}; cached for later runs)`);
  const started = Date.now();
  // flock: two rehearsal files starting at once build it once.
  await execa('flock', [path.join(CACHE_DIR, '.lock'), 'sh', '-c', script], { stdin: 'ignore', timeout: 900_000 });
  log(`built in ${Math.round((Date.now() - started) / 1000)} s`);
  // Roots of older recipes are dead weight.
  for (const entry of readdirSync(CACHE_DIR)) {
    if (entry.startsWith('root-') && entry !== path.basename(root) && !entry.endsWith('.building')) {
      rmSync(path.join(CACHE_DIR, entry), { recursive: true, force: true });
    }
  }
  return root;
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
