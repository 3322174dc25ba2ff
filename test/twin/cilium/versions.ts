/**
 * What differs between the Cilium versions the twin can answer as (1.17.x, 1.18.x). Pure.
 *
 *   const v = twinVersion('1.18.14');
 *   v.agentImage          'quay.io/cilium/cilium:v1.18.14@sha256:…' (the shape the chart sets; the digest is the twin's own)
 *   v.crdVersions.CiliumLoadBalancerIPPool   { served: ['v2', 'v2alpha1'], storage: 'v2' }
 *   v.helm / v.agent / v.lbipam              behaviour switches the other models and the API side read
 *
 * Sources: shared/docs/cilium-behaviour.md 1.1 (pool API versions: 1.17 v2alpha1 only; 1.18 v2 storage + v2alpha1 served,
 * no deprecation warning through 1.18), 1.3 (1.18.0/1.18.1 pool-condition bug #41321/#41536, fixed by #41322 in 1.18.2),
 * 1.5 (incompatible-sharing reason `same port` in 1.17/1.18), 2.2 (CiliumL2AnnouncementPolicy v2alpha1 in both),
 * 6 (1.18 helm refuses native routing without ipv4NativeRoutingCIDR at render time; 1.17's chart renders and the agent
 * refuses at start). The image shape (`quay.io/cilium/cilium:v<version>@sha256:<digest>`) is the chart's default
 * (useDigest: true; cilium-behaviour.md 5.1 `Image versions`); the digest and git commit here are NOT real Cilium
 * values: they are derived from the version so each twin version has a stable, recognisable one.
 */
import { createHash } from 'node:crypto';

export type CiliumMinor = '1.17' | '1.18';

export interface CrdVersions {
  served: string[];
  storage: string;
}

export interface TwinCiliumVersion {
  version: string;
  minor: CiliumMinor;
  patch: number;
  /** helm list: chart `cilium-<chartVersion>`, app_version. */
  chartVersion: string;
  appVersion: string;
  agentImage: string;
  operatorImage: string;
  /** `cilium-dbg status`: `Cilium:  Ok   1.18.14 (v1.18.14-<gitCommit>)`. */
  gitCommit: string;
  crdVersions: { CiliumLoadBalancerIPPool: CrdVersions; CiliumL2AnnouncementPolicy: CrdVersions };
  helm: {
    /** 1.18: `helm upgrade` fails to render routingMode=native without ipv4NativeRoutingCIDR (masquerade on). */
    refusesNativeWithoutCidr: boolean;
  };
  agent: {
    /** 1.17: the chart renders, the agent refuses to start (native routing without ipv4-native-routing-cidr). */
    refusesNativeWithoutCidr: boolean;
    nativeCidrError: string;
  };
  lbipam: {
    /** isCompatible's reason for a port clash. */
    samePortReason: 'same port';
    /** 1.18.0/1.18.1: only one pool condition changes per pass (the short-circuit `||`), so counts lag. */
    poolConditionsLag: boolean;
  };
}

export const AGENT_IMAGE_REPO = 'quay.io/cilium/cilium';
export const OPERATOR_IMAGE_REPO = 'quay.io/cilium/operator-generic';

function twinDigest(what: string): string {
  return createHash('sha256').update(`cilium-lab-twin ${what}`).digest('hex');
}

export function twinVersion(version: string): TwinCiliumVersion {
  const m = /^1\.(17|18)\.(\d+)$/.exec(version.trim());
  if (!m) throw new Error(`the twin answers as Cilium 1.17.x or 1.18.x, not "${version}"`);
  const minor = `1.${m[1]}` as CiliumMinor;
  const patch = Number(m[2]);
  const is118 = minor === '1.18';
  return {
    version,
    minor,
    patch,
    chartVersion: version,
    appVersion: version,
    agentImage: `${AGENT_IMAGE_REPO}:v${version}@sha256:${twinDigest(`agent ${version}`)}`,
    operatorImage: `${OPERATOR_IMAGE_REPO}:v${version}@sha256:${twinDigest(`operator ${version}`)}`,
    gitCommit: twinDigest(`commit ${version}`).slice(0, 8),
    crdVersions: {
      CiliumLoadBalancerIPPool: is118 ? { served: ['v2', 'v2alpha1'], storage: 'v2' } : { served: ['v2alpha1'], storage: 'v2alpha1' },
      CiliumL2AnnouncementPolicy: { served: ['v2alpha1'], storage: 'v2alpha1' },
    },
    helm: { refusesNativeWithoutCidr: is118 },
    agent: {
      refusesNativeWithoutCidr: true,
      nativeCidrError:
        'native routing cidr must be configured with option --ipv4-native-routing-cidr in combination with --enable-ipv4-masquerade --tunnel=disabled --ipam=cluster-pool --enable-ipv4=true',
    },
    lbipam: { samePortReason: 'same port', poolConditionsLag: is118 && patch < 2 },
  };
}

/** Whether `apiVersion` (e.g. "cilium.io/v2") of `kind` is served by this version. */
export function serves(v: TwinCiliumVersion, kind: keyof TwinCiliumVersion['crdVersions'], apiVersion: string): boolean {
  const [group, ver] = apiVersion.split('/');
  return group === 'cilium.io' && ver !== undefined && v.crdVersions[kind].served.includes(ver);
}
