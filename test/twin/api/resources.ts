/**
 * The resources the twin's API server serves, per Cilium version: what discovery lists and what the REST paths
 * resolve to. Objects are stored once per resource whatever version they were written in (as the real API server
 * converts between served versions; the twin's CRDs have the same schema in every version it serves).
 */

export interface ResourceDef {
  group: string;
  /** Served versions, the storage version first. */
  versions: string[];
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  subresources?: string[];
}

const CORE: ResourceDef[] = [
  {
    group: '',
    versions: ['v1'],
    plural: 'namespaces',
    singular: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    subresources: ['status'],
  },
  {
    group: '',
    versions: ['v1'],
    plural: 'nodes',
    singular: 'node',
    kind: 'Node',
    namespaced: false,
    shortNames: ['no'],
    subresources: ['status'],
  },
  {
    group: '',
    versions: ['v1'],
    plural: 'pods',
    singular: 'pod',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    subresources: ['status', 'exec'],
  },
  {
    group: '',
    versions: ['v1'],
    plural: 'services',
    singular: 'service',
    kind: 'Service',
    namespaced: true,
    shortNames: ['svc'],
    subresources: ['status'],
  },
  { group: '', versions: ['v1'], plural: 'endpoints', singular: 'endpoints', kind: 'Endpoints', namespaced: true, shortNames: ['ep'] },
  { group: '', versions: ['v1'], plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm'] },
  { group: '', versions: ['v1'], plural: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true },
  {
    group: '',
    versions: ['v1'],
    plural: 'serviceaccounts',
    singular: 'serviceaccount',
    kind: 'ServiceAccount',
    namespaced: true,
    shortNames: ['sa'],
  },
  { group: '', versions: ['v1'], plural: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev'] },
  {
    group: 'apps',
    versions: ['v1'],
    plural: 'deployments',
    singular: 'deployment',
    kind: 'Deployment',
    namespaced: true,
    shortNames: ['deploy'],
    subresources: ['status'],
  },
  {
    group: 'apps',
    versions: ['v1'],
    plural: 'daemonsets',
    singular: 'daemonset',
    kind: 'DaemonSet',
    namespaced: true,
    shortNames: ['ds'],
    subresources: ['status'],
  },
  {
    group: 'apps',
    versions: ['v1'],
    plural: 'replicasets',
    singular: 'replicaset',
    kind: 'ReplicaSet',
    namespaced: true,
    shortNames: ['rs'],
    subresources: ['status'],
  },
  { group: 'coordination.k8s.io', versions: ['v1'], plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true },
  {
    group: 'networking.k8s.io',
    versions: ['v1'],
    plural: 'ingresses',
    singular: 'ingress',
    kind: 'Ingress',
    namespaced: true,
    shortNames: ['ing'],
    subresources: ['status'],
  },
  {
    group: 'networking.k8s.io',
    versions: ['v1'],
    plural: 'ingressclasses',
    singular: 'ingressclass',
    kind: 'IngressClass',
    namespaced: false,
  },
  {
    group: 'discovery.k8s.io',
    versions: ['v1'],
    plural: 'endpointslices',
    singular: 'endpointslice',
    kind: 'EndpointSlice',
    namespaced: true,
  },
  // Issue 17 (75-network-policy): enforced by test/twin/cilium/policy.ts.
  {
    group: 'networking.k8s.io',
    versions: ['v1'],
    plural: 'networkpolicies',
    singular: 'networkpolicy',
    kind: 'NetworkPolicy',
    namespaced: true,
    shortNames: ['netpol'],
  },
  { group: 'events.k8s.io', versions: ['v1'], plural: 'events', singular: 'event', kind: 'Event', namespaced: true },
];

/** cilium.io CRDs; the pool is v2alpha1 only on 1.17, v2 (storage) and v2alpha1 on 1.18 (cilium-behaviour.md 1.1). */
export function ciliumResources(ciliumVersion: string): ResourceDef[] {
  const minor = Number(ciliumVersion.split('.')[1]);
  const poolVersions = minor >= 18 ? ['v2', 'v2alpha1'] : ['v2alpha1'];
  return [
    {
      group: 'cilium.io',
      versions: poolVersions,
      plural: 'ciliumloadbalancerippools',
      singular: 'ciliumloadbalancerippool',
      kind: 'CiliumLoadBalancerIPPool',
      namespaced: false,
      shortNames: ['ippools', 'ippool', 'lbippool', 'lbippools'],
      subresources: ['status'],
    },
    {
      group: 'cilium.io',
      versions: ['v2alpha1'],
      plural: 'ciliuml2announcementpolicies',
      singular: 'ciliuml2announcementpolicy',
      kind: 'CiliumL2AnnouncementPolicy',
      namespaced: false,
      shortNames: ['l2announcement'],
      subresources: ['status'],
    },
    {
      group: 'cilium.io',
      versions: ['v2'],
      plural: 'ciliumnodes',
      singular: 'ciliumnode',
      kind: 'CiliumNode',
      namespaced: false,
      shortNames: ['cn', 'ciliumn'],
    },
    {
      group: 'cilium.io',
      versions: ['v2'],
      plural: 'ciliumendpoints',
      singular: 'ciliumendpoint',
      kind: 'CiliumEndpoint',
      namespaced: true,
      shortNames: ['cep'],
    },
    {
      group: 'cilium.io',
      versions: ['v2'],
      plural: 'ciliumenvoyconfigs',
      singular: 'ciliumenvoyconfig',
      kind: 'CiliumEnvoyConfig',
      namespaced: true,
      shortNames: ['cec'],
    },
    // Issue 17 (76-l7-policy): L7 policies are enforced by the twin (test/twin/api/l7-controller.ts).
    {
      group: 'cilium.io',
      versions: ['v2'],
      plural: 'ciliumnetworkpolicies',
      singular: 'ciliumnetworkpolicy',
      kind: 'CiliumNetworkPolicy',
      namespaced: true,
      shortNames: ['cnp', 'ciliumnp'],
      subresources: ['status'],
    },
  ];
}

export class Resources {
  readonly all: ResourceDef[];

  constructor(ciliumVersion: string) {
    this.all = [...CORE, ...ciliumResources(ciliumVersion)];
  }

  /** By group and plural (any served version). */
  byPlural(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.all.find((r) => r.group === group && r.plural === plural && r.versions.includes(version));
  }

  byKind(apiVersion: string, kind: string): ResourceDef {
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
    const r = this.all.find((x) => x.group === group && x.kind === kind && x.versions.includes(version));
    if (!r) throw new Error(`twin API: no resource ${apiVersion} ${kind}`);
    return r;
  }

  groupVersions(): { group: string; version: string }[] {
    const out: { group: string; version: string }[] = [];
    for (const r of this.all)
      for (const v of r.versions) if (!out.some((x) => x.group === r.group && x.version === v)) out.push({ group: r.group, version: v });
    return out;
  }

  /** The storage apiVersion of a resource. */
  static apiVersion(r: ResourceDef, version = r.versions[0] as string): string {
    return r.group ? `${r.group}/${version}` : version;
  }
}
