/**
 * The owning process of a twin network, for the interrupt self-test (twin-network-interrupt.integration.test.ts):
 * builds a twin network with a pod server and an Envoy stand-in running, prints one JSON line (tag, scratch
 * directory, PIDs) and waits to be interrupted. It installs no signal handler of its own: what it shows is what
 * the twin network's own hooks do on SIGINT.
 */
import { startTwinNetwork } from './twin-network.ts';

const net = await startTwinNetwork({ apiEndpoint: { host: '127.0.0.1', port: 16443 }, prefix: process.argv[2] ?? 'twi' });
const pod = await net.addPod({ namespace: 'default', name: 'webpod', node: 'k8s-w1', serve: { kind: 'whoami', port: 80 } });
await net.setIngress('198.18.10.212', [{ path: '/', pathType: 'Prefix', backend: { ip: pod.ip, port: 80 } }]);
await net.announce('198.18.10.212', 'k8s-w1', { iface: 'eth1', frontends: [] });
process.stdout.write(`${JSON.stringify({ tag: net.netlab.tag, dir: net.netlab.dir, pids: net.pids() })}\n`);
// Bounded: a forgotten child ends by itself after two minutes (its exit hook tears the twin down).
setTimeout(() => process.exit(3), 120_000);
