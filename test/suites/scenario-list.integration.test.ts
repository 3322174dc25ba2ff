/**
 * `npx vitest list --project lab` must name every scenario the issues ask for, in run order, with no lab at all
 * (listing only collects: the global setup stands aside). This runs the real command.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { REPO_ROOT } from '../../helpers/lab/topology.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'lab-list-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function listScenarios(extra: string[] = []): Promise<{ file: string; name: string }[]> {
  const out = path.join(dir, `list-${extra.length}.json`);
  const r = await execa('npx', ['vitest', 'list', '--project', 'lab', `--json=${out}`, ...extra], {
    cwd: REPO_ROOT,
    // An empty VAGRANT_CWD: were the pre-flight to run, it would stop at "not created" before any packet.
    env: { CI: 'true', FORCE_COLOR: '0', LAB_PREFLIGHT: '', VAGRANT_CWD: dir },
    reject: false,
    timeout: 120_000,
    all: true,
  });
  expect(r.exitCode, r.all).toBe(0);
  const items = JSON.parse(readFileSync(out, 'utf8')) as { name: string; file: string }[];
  return items.map((i) => ({ file: path.basename(i.file), name: i.name }));
}

/** file -> phrases that must each appear in one scenario name of that file. */
const REQUIRED: Record<string, RegExp[]> = {
  '00-lab-health.test.ts': [/answers over SSH/, /node is Ready/, /Cilium agent runs on each node.*versions/],
  '10-native-routing.test.ts': [
    /reaches the webpod on the same subnet \(ping and HTTP\)/,
    /cannot reach the webpod on the other subnet.*default route/,
    /static pod routes on the router/,
    /workaround routes are gone/,
  ],
  '20-vxlan.test.ts': [
    /cilium_vxlan.*cilium_host with MTU 1450/,
    /other subnet by ping and HTTP, with no pod route on the router/,
    /UDP 8472 between node addresses/,
    /Hubble.*FORWARDED to-overlay/,
  ],
  '30-lb-ipam.test.ts': [
    /pool offers every address.*no conflict/,
    /gets an IP from the block, IPAMRequestSatisfied True/,
    /from the router, HTTP to the LB IP.*more than one backend/,
    /specific IP/,
    /outside every pool.*no_pool/,
    /exhausted.*out_of_ips/,
  ],
  '40-lb-sharing.test.ts': [
    /same key, the same requested IP and different ports both get it/,
    /clashing port.*already_allocated_incompatible_service, same port/,
    /different key.*different sharing key/,
    /no key.*already_allocated$/,
  ],
  '50-l2-announcements.test.ts': [
    /lease cilium-l2announce-<namespace>-<service> is held by one of the selected nodes/,
    /arping the LB IP from the router.*holder's eth1 MAC/,
    /neighbour table maps the IP to the holder's MAC/,
    /l2-announce table/,
  ],
  '60-ingress.test.ts': [
    /shared ingress Service gets an IP/,
    /from the router: \/ answers 200.*\/details\/1.*404 from Envoy/,
    /from curl-pod/,
  ],
  // issue 17
  '70-kube-proxy-replacement.test.ts': [
    /every agent reports kube-proxy replacement on/,
    /no kube-proxy DaemonSet runs and no node has KUBE-SERVICES \/ KUBE-SVC chains/,
    /ClusterIP Service answers from curl-pod by name and by IP, and the client node's agent lists its backends/,
    /NodePort Service answers from the router on every node's address/,
    /externalTrafficPolicy Local only the node with a backend answers/,
  ],
  '75-network-policy.test.ts': [
    /before any policy, every tier connects/,
    /default-deny \(DNS allowed\) every pair is dropped: each attempt times out/,
    /allowing was→db:3306 and web→was:8080 lets exactly those two connect/,
    /DROPPED \/ POLICY_DENIED/,
    /removing the policies restores every pair/,
  ],
  '76-l7-policy.test.ts': [
    /GET \/public reaches the backend \(200/,
    /GET \/private is denied by Envoy: 403 "Access denied"/,
    /POST \/public is denied by Envoy: 403 "Access denied"/,
    /Hubble's L7 flows show method, path and verdict/,
  ],
  '80-wireguard.test.ts': [
    /every agent reports Wireguard with cilium_wg0 on port 51871 and the other nodes as peers/,
    /every node has cilium_wg0/,
    /curl-pod reaches the webpod across the router, which sees only UDP 51871 between node addresses/,
  ],
  '90-l2-failover.test.ts': [
    /reboot the lease holder: another selected node holds the lease within the bound/,
    /new holder's MAC/,
    /outage stays within the bound/,
    /comes back Ready with its Cilium agent healthy/,
  ],
};

describe('lab scenarios, listed without a lab', () => {
  test('every scenario of the issues is named, files in run order', async () => {
    const items = await listScenarios();
    const files = [...new Set(items.map((i) => i.file))];
    expect(files).toEqual(Object.keys(REQUIRED));
    for (const [file, phrases] of Object.entries(REQUIRED)) {
      const names = items.filter((i) => i.file === file).map((i) => i.name);
      for (const phrase of phrases)
        expect(
          names.some((n) => phrase.test(n)),
          `${file}: ${phrase} in\n${names.join('\n')}`,
        ).toBe(true);
    }
  });

  test("--tags-filter='!destructive' leaves out the failover suite, and only it", async () => {
    const all = await listScenarios();
    const safe = await listScenarios(['--tags-filter=!destructive']);
    expect(safe.some((i) => i.file === '90-l2-failover.test.ts')).toBe(false);
    expect(safe).toEqual(all.filter((i) => i.file !== '90-l2-failover.test.ts'));
  });
});
