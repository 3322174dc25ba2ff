/**
 * WireGuard encryption between nodes (issue 17 suite 4; seed 004 "WireGuard 암호화": `--set encryption.enabled=true
 * --set encryption.type=wireguard`): every agent reports Wireguard with cilium_wg0 on port 51871 and the other nodes
 * as peers, every node has cilium_wg0, and when curl-pod talks to the webpod across the router, the router sees only
 * UDP 51871 between node addresses: no pod address, no plaintext HTTP, no bare VXLAN.
 *
 * Lab: tunnel/vxlan as 20-vxlan plus WireGuard (suites/support/plan.ts: its own helm upgrade, never folded earlier).
 * Beliefs: helpers/judge/wireguard.ts W1-W4; lab-reference.md router facts (the router has no pod routes).
 */
import { describe } from 'vitest';
import { runningCilium } from '../helpers/cilium/cilium.ts';
import { judgeEncryptedWire, judgeWireguardAgents, WIREGUARD_DEVICE, WIREGUARD_PORT } from '../helpers/judge/wireguard.ts';
import { judgeLinkUp, judgeWhoamiFrom, kubeNodeAddresses, VXLAN_PORT } from '../helpers/judge/routing.ts';
import { kubeNodes, node, primaryAddress } from '../helpers/lab/topology.ts';
import { parseEncryptionStatus, parseIpLink } from '../helpers/parse/index.ts';
import { attach, describeScenario, step } from '../helpers/report/report.ts';
import { expectVerdict } from '../helpers/report/verdict.ts';
import { withCapture } from '../helpers/transport/probes.ts';
import { DEADLINE } from '../helpers/wait/deadlines.ts';
import { labTest as test, prepareThisSuite } from './support/lab.ts';
import { crossRouterWorkloads, diagnoseRoutingOnFailure, httpFromPod, type PodRef } from './steps/routing.ts';

const FEATURE = { epic: 'Encryption', feature: 'WireGuard' } as const;

describe('WireGuard: pod traffic between nodes crosses the router encrypted', () => {
  let curl: PodRef;
  let far: PodRef; // webpod on the other subnet: its traffic must cross the router
  let routerName: string;

  test.beforeAll(async ({ lab }) => {
    await prepareThisSuite(lab, import.meta.url);
    ({ curl, far, routerName } = await crossRouterWorkloads(lab));
    diagnoseRoutingOnFailure(lab);
  });

  test(`every agent reports Wireguard with ${WIREGUARD_DEVICE} on port ${WIREGUARD_PORT} and the other nodes as peers`, async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'the agents run WireGuard', severity: 'critical' });
    const cilium = await step('read the encryption status of every agent (cilium-dbg status -o json)', () => runningCilium(lab));
    const agents = cilium.agents.map((a) => ({ node: a.node, encryption: parseEncryptionStatus(a.raw) }));
    await attach('encryption of every agent', agents, 'json');
    await expectVerdict('WireGuard on every agent', judgeWireguardAgents(agents, { nodes: kubeNodes(lab.topology).map((n) => n.name) }));
  });

  test(`every node has ${WIREGUARD_DEVICE}`, async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'the WireGuard device on every node', severity: 'critical' });
    for (const n of kubeNodes(lab.topology)) {
      const link = await step(`show ${WIREGUARD_DEVICE} on ${n.name}`, () =>
        lab.ssh.host(n.name).exec(`ip link show ${WIREGUARD_DEVICE}`, { timeoutMs: DEADLINE.hostCommandMs }),
      );
      await attach(`ip link show ${WIREGUARD_DEVICE} on ${n.name}`, `${link.stdout}${link.stderr}`);
      await expectVerdict(`${WIREGUARD_DEVICE} on ${n.name}`, judgeLinkUp(parseIpLink(link.stdout), WIREGUARD_DEVICE), { soft: true });
    }
  });

  test(`curl-pod reaches the webpod across the router, which sees only UDP ${WIREGUARD_PORT} between node addresses`, async ({ lab }) => {
    await describeScenario({ ...FEATURE, story: 'only WireGuard on the wire', severity: 'critical' });
    const fromNode = primaryAddress(node(lab.topology, curl.node));
    const toNode = primaryAddress(node(lab.topology, far.node));
    // Everything that could betray clear text: WireGuard itself, bare VXLAN, HTTP, any pod address.
    const filter = `udp port ${WIREGUARD_PORT} or udp port ${VXLAN_PORT} or tcp port 80 or net ${lab.topology.podCidr}`;
    const cap = await step(`capture "${filter}" on the router while curl-pod sends HTTP to ${far.name} (${far.ip})`, () =>
      withCapture(lab.ssh, { on: routerName, iface: 'any', filter }, () => httpFromPod(lab, curl, `http://${far.ip}/`)),
    );
    await attach('tcpdump on the router', cap.text);
    await expectVerdict(`HTTP to ${far.name} on ${far.node}`, judgeWhoamiFrom(cap.value, far.name), { soft: true });
    await expectVerdict(
      'only WireGuard on the router',
      judgeEncryptedWire(cap.packets, { fromNode, toNode, nodeAddresses: kubeNodeAddresses(lab.topology), podCidr: lab.topology.podCidr }),
    );
  });
});
