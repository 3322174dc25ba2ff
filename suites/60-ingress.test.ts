/**
 * Ingress path routing (seed 003, "Ingress HTTP Example"): Cilium's Envoy-based ingress in shared mode routes by path
 * (`/details` to one backend, `/` to another) behind one LoadBalancer Service, kube-system/cilium-ingress.
 *
 * Lab: as 30-lb-ipam plus ingressController.enabled=true, loadbalancerMode=shared, loadBalancer.l7.backend=envoy.
 * This suite's pool selects exactly the shared ingress Service (synthetic labels), and its L2 policy announces it.
 * Backends: two whoami Deployments that name themselves (productpage and details, as the seed's bookinfo).
 * Beliefs: cilium-behaviour.md 3 (shared Service kube-system/cilium-ingress; every answer through Envoy has
 * `server: envoy`, a backend's answer also `x-envoy-upstream-service-time`; a route miss is Envoy's own 404 without
 * it), 1.2 (synthetic selector labels), 1.5 (IPAMRequestSatisfied).
 */
import { describe } from 'vitest';
import {
  INGRESS_CONFIG,
  classifyEnvoyAnswer,
  judgeIngressAddress,
  judgeRouteMiss,
  judgeRoutedTo,
  sharedIngressService,
} from '../helpers/judge/ingress.ts';
import { ingressHosts, loadManifest, pathIngress, whoamiBackend } from './steps/lb-objects.ts';
import { judgeServiceAssigned, readServiceIpam } from '../helpers/judge/lbipam.ts';
import type { HttpAnswer } from '../helpers/judge/types.ts';
import { labTest } from './support/lab.ts';
import { describeScenario, recordMeasurement, step } from '../helpers/report/report.ts';
import { refText } from '../helpers/lab/suite-objects.ts';
import { LbSuite, httpUrl } from './steps/lb.ts';
import { DEADLINE } from '../helpers/wait/deadlines.ts';
import { expectVerdict } from '../helpers/report/verdict.ts';

const s = new LbSuite('ingress');
/** The seed's bookinfo roles, played by whoami: `/` goes to productpage, `/details` to details. */
const BACKENDS = { site: 'productpage', details: 'details' } as const;
const INGRESS = 'paths';

const state: { ip?: string } = {};

function ingressIp(): string {
  if (!state.ip) throw new Error('precondition: the shared ingress Service has no IP (the scenario that assigns it failed)');
  return state.ip;
}

const scenario = (story: string, severity: 'critical' | 'normal' = 'critical') =>
  describeScenario({ epic: 'Load balancing', feature: 'Ingress (shared mode)', story, severity });

/** The three requests of the seed, as `what a person sends` -> the judge of the answer. */
function checks(hosts: { site: string; detailsOnly: string }) {
  return [
    {
      what: `GET / for ${hosts.site}: 200 from ${BACKENDS.site}`,
      host: hosts.site,
      path: '/',
      judge: (a: HttpAnswer) => judgeRoutedTo(a, { label: BACKENDS.site, name: BACKENDS.site, path: '/' }),
    },
    {
      what: `GET /details/1 for ${hosts.site}: 200 from ${BACKENDS.details}`,
      host: hosts.site,
      path: '/details/1',
      judge: (a: HttpAnswer) => judgeRoutedTo(a, { label: BACKENDS.details, name: BACKENDS.details, path: '/details/1' }),
    },
    {
      // VERIFY: Cilium's Envoy answers a path no route of the host matches with its own 404 (cilium-behaviour.md 3).
      what: `GET /ratings for ${hosts.detailsOnly} (a path no rule matches): Envoy's own 404`,
      host: hosts.detailsOnly,
      path: '/ratings',
      judge: (a: HttpAnswer) => judgeRouteMiss(a),
    },
  ];
}

describe('Ingress: Envoy routes HTTP by path through the shared ingress LoadBalancer', () => {
  labTest.beforeAll(async ({ lab }) => {
    // The pool and the L2 policy select exactly the shared ingress Service, named in cilium-config.
    await s.setUp(lab, {
      suiteFile: import.meta.url,
      config: INGRESS_CONFIG,
      selects: (config) => ({ service: sharedIngressService(config) }),
    });
    s.diagnoseObjects([
      { apiVersion: 'v1', kind: 'Service', ...sharedIngressService(s.config) },
      { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: s.namespace, name: INGRESS },
    ]);
    const hosts = ingressHosts(lab.runId);
    const backendTpl = loadManifest('ingress-backend.yaml', lab);
    for (const name of Object.values(BACKENDS)) {
      const b = whoamiBackend(backendTpl, { runId: lab.runId, namespace: s.namespace, name });
      await s.create(b.deployment);
      await s.create(b.service);
    }
    await s.create(
      pathIngress(loadManifest('ingress-paths.yaml', lab), {
        runId: lab.runId,
        namespace: s.namespace,
        name: INGRESS,
        hosts: [hosts.site, hosts.detailsOnly],
        backends: { '/details': BACKENDS.details, '/': BACKENDS.site },
      }),
    );
    for (const name of Object.values(BACKENDS)) await lab.kube.waitDeploymentAvailable(s.namespace, name, DEADLINE.rolloutMs);
  });

  labTest('the shared ingress Service gets an IP from the pool, and the Ingress shows it as its address', async ({ lab }) => {
    await scenario('the shared ingress LoadBalancer gets a pool IP');
    const shared = sharedIngressService(s.config);
    const ingRef = { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', namespace: s.namespace, name: INGRESS };
    const v = await step(
      `wait for ${shared.namespace}/${shared.name} to get an IP of ${s.block[0]}-${s.block.at(-1)}, IPAMRequestSatisfied True/satisfied`,
      () => s.waitService(shared.name, 'to get an IP from the pool', (o) => judgeServiceAssigned(o, { block: s.block }), shared.namespace),
    );
    await expectVerdict(`${shared.namespace}/${shared.name} gets an IP from the pool`, v);
    const svc = await lab.kube.read({ apiVersion: 'v1', kind: 'Service', ...shared });
    const ip = readServiceIpam(svc).ips[0];
    state.ip = ip;
    const shown = await step(`wait for Ingress ${INGRESS} to show ADDRESS ${ip ?? '?'}`, () =>
      s.waitVerdict(
        `${refText(ingRef)} to show the address ${ip ?? '?'}`,
        ingRef,
        (o) => judgeIngressAddress(o, ip ?? '(none)'),
        DEADLINE.ingressMs,
      ),
    );
    await expectVerdict(`Ingress ${INGRESS} shows ADDRESS ${ip ?? '?'}`, shown);
  });

  labTest(
    'from the router: / answers 200 from the first backend, /details/1 from the second, an unrouted path 404 from Envoy',
    async ({ skip }) => {
      await scenario('path routing seen from outside the cluster');
      if (!s.routerName) skip('the topology has no router node to send HTTP from');
      const ip = ingressIp();
      const hosts = ingressHosts(s.lab.runId);
      const ready = await step(`curl ${httpUrl(ip)} for ${hosts.site} from ${s.routerName} until Envoy relays a backend's answer`, () =>
        s.waitHttpReady(
          `Envoy on ${ip} to route ${hosts.site}`,
          () => s.curlFromRouter(httpUrl(ip), { Host: hosts.site }),
          (a) => classifyEnvoyAnswer(a) === 'upstream',
          DEADLINE.ingressMs,
        ),
      );
      await expectVerdict(`Envoy routes ${hosts.site} for ${s.routerName}`, ready);
      await recordMeasurement('ingress routes answering from the router', ready.ms, 'ms');
      for (const c of checks(hosts)) {
        const a = await step(`from ${s.routerName}: ${c.what}`, () => s.curlFromRouter(httpUrl(ip, c.path), { Host: c.host }));
        await expectVerdict(`from ${s.routerName}: ${c.what}`, c.judge(a), {
          evidence: [{ name: `answer to ${c.path} for ${c.host}`, content: a }],
        });
      }
    },
  );

  labTest('from curl-pod inside the cluster: the same three answers', async () => {
    await scenario('path routing seen from inside the cluster', 'normal');
    const ip = ingressIp();
    const hosts = ingressHosts(s.lab.runId);
    const ready = await step(`curl ${httpUrl(ip)} for ${hosts.site} from curl-pod until Envoy relays a backend's answer`, () =>
      s.waitHttpReady(
        `Envoy on ${ip} to route ${hosts.site} for curl-pod`,
        () => s.curlFromPod(httpUrl(ip), { Host: hosts.site }),
        (a) => classifyEnvoyAnswer(a) === 'upstream',
        DEADLINE.ingressMs,
      ),
    );
    await expectVerdict(`Envoy routes ${hosts.site} for curl-pod`, ready);
    for (const c of checks(hosts)) {
      const a = await step(`from curl-pod: ${c.what}`, () => s.curlFromPod(httpUrl(ip, c.path), { Host: c.host }));
      await expectVerdict(`from curl-pod: ${c.what}`, c.judge(a), {
        evidence: [{ name: `answer to ${c.path} for ${c.host}`, content: a }],
      });
    }
  });
});
