/**
 * The controllers' part for issue 17: kube-proxy replacement (every agent's Service frontends, pushed to the network
 * as nftables NAT), the cluster DNS records of every Service (kube-system/kube-dns's ClusterIP answers them), the
 * network policy of every pod (test/twin/cilium/policy.ts, pushed as nftables in the pod's namespace) and what
 * Hubble records for a connection a policy denies; and the faults `kube-proxy-left` and `policy-not-enforced`.
 * Pure decisions come from the models; this file only reads the store and calls TwinNetwork, and only when what it
 * would push changed.
 */
import type { TwinNetwork, ServiceFrontendNet } from '../contract.ts';
import type { FaultSet } from '../faults.ts';
import {
  decide,
  podPolicies,
  renderPodFirewall,
  type Decision,
  type NetworkPolicyInput,
  type PodPolicy,
  type PolicyPod,
} from '../cilium/policy.ts';
import { frontendsOn, serviceFrontends, type FrontendModel, type PodInput, type SvcInput } from '../cilium/services.ts';
import type { Obj } from './store.ts';

/** The kube-dns ClusterIP: the service CIDR's 10th address, as kubeadm gives it. */
export function kubeDnsIp(serviceCidr: string): string {
  const base = (serviceCidr.split('/')[0] ?? '').split('.').reduce((a, o) => a * 256 + Number(o), 0) + 10;
  return [24, 16, 8, 0].map((sh) => Math.floor(base / 2 ** sh) % 256).join('.');
}

export interface KprPolicyInput {
  services: Obj[];
  pods: Obj[];
  policies: Obj[];
  namespaces: Obj[];
  podReady: (p: Obj) => boolean;
  nodes: { name: string; address: string }[];
  dnsIp: string;
}

export class KprPolicy {
  private frontends: FrontendModel[] = [];
  private policy = new Map<string, PodPolicy>();
  private policyPods: PolicyPod[] = [];
  private readonly sigs = new Map<string, string>();

  constructor(
    private readonly net: TwinNetwork,
    private readonly faults: FaultSet | undefined,
    private readonly log: (line: string) => void,
  ) {}

  /** What the agent on `node` lists (`cilium-dbg service list`). */
  frontendsOn(node: string): FrontendModel[] {
    return frontendsOn(this.frontends, node);
  }

  /** The policy decision for a connection between pod IPs (fault policy-not-enforced: always allowed). */
  decide(c: { srcIp: string; dstIp: string; port: number; protocol: 'TCP' | 'UDP' }): Decision {
    if (this.faults?.has('policy-not-enforced')) return { allowed: true, enforcedAt: null };
    return decide(this.policy, this.policyPods, c);
  }

  private changed(key: string, value: unknown): boolean {
    const sig = JSON.stringify(value);
    if (this.sigs.get(key) === sig) return false;
    this.sigs.set(key, sig);
    return true;
  }

  /** Pushes a change to the network; on failure forgets it was pushed, so the next pass tries again (and logs why). */
  private async push(key: string, fn: () => Promise<void> | undefined): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.sigs.delete(key);
      this.log(`kpr-policy: ${key}: ${(err as Error).message}`);
    }
  }

  async reconcile(i: KprPolicyInput): Promise<void> {
    const svcs: SvcInput[] = i.services.map((s) => {
      const spec = (s.spec ?? {}) as {
        type?: string;
        clusterIP?: string;
        externalTrafficPolicy?: string;
        selector?: Record<string, string>;
        ports?: { port: number; targetPort?: number | string; nodePort?: number; protocol?: string }[];
      };
      return {
        namespace: s.metadata.namespace ?? 'default',
        name: s.metadata.name,
        type: spec.type ?? 'ClusterIP',
        clusterIP: spec.clusterIP ?? null,
        externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
        selector: spec.selector ?? null,
        ports: (spec.ports ?? []).map((p) => ({
          port: p.port,
          targetPort: typeof p.targetPort === 'number' ? p.targetPort : p.port,
          nodePort: p.nodePort ?? null,
          protocol: p.protocol === 'UDP' ? ('UDP' as const) : ('TCP' as const),
        })),
      };
    });
    const podInputs: PodInput[] = i.pods
      .filter((p) => !(p.spec as { hostNetwork?: boolean }).hostNetwork)
      .map((p) => ({
        namespace: p.metadata.namespace ?? 'default',
        labels: p.metadata.labels ?? {},
        ip: (p.status as { podIP?: string } | undefined)?.podIP ?? '',
        node: (p.spec as { nodeName?: string }).nodeName ?? '',
        ready: i.podReady(p),
      }));
    this.frontends = serviceFrontends({ services: svcs, pods: podInputs, nodes: i.nodes });
    const perNode = new Map<string, ServiceFrontendNet[]>(
      i.nodes.map((n) => [
        n.name,
        frontendsOn(this.frontends, n.name)
          .filter((f) => f.ip !== i.dnsIp)
          .map((f) => ({
            kind: f.type,
            ip: f.ip,
            port: f.port,
            protocol: f.protocol,
            backends: f.backends.map((b) => ({ ip: b.ip, port: b.port })),
          })),
      ]),
    );
    if (this.net.setServices && this.changed('services', [...perNode])) await this.push('services', () => this.net.setServices?.(perNode));

    const records = svcs
      .filter((s) => s.clusterIP && s.clusterIP !== 'None')
      .map((s) => ({ name: `${s.name}.${s.namespace}.svc.cluster.local`, ip: s.clusterIP as string }));
    if (this.net.setDnsRecords && this.changed('dns', records)) await this.push('dns', () => this.net.setDnsRecords?.(i.dnsIp, records));

    const nsLabels = new Map(i.namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
    this.policyPods = i.pods
      .filter((p) => !(p.spec as { hostNetwork?: boolean }).hostNetwork && (p.status as { podIP?: string } | undefined)?.podIP)
      .map((p) => ({
        namespace: p.metadata.namespace ?? 'default',
        name: p.metadata.name,
        labels: p.metadata.labels ?? {},
        ip: (p.status as { podIP: string }).podIP,
      }));
    this.policy = podPolicies(i.policies as unknown as NetworkPolicyInput[], this.policyPods, (ns) => nsLabels.get(ns) ?? {});
    const enforce = !this.faults?.has('policy-not-enforced');
    if (this.net.setPodFirewall)
      for (const p of this.policyPods) {
        const k = `${p.namespace}/${p.name}`;
        const text = renderPodFirewall(enforce ? this.policy.get(k) : null);
        // Keyed by IP too: a pod recreated under the same name has a fresh namespace without the table.
        if (!this.changed(`fw:${k}:${p.ip}`, text)) continue;
        try {
          await this.net.setPodFirewall(p.namespace, p.name, text);
        } catch (err) {
          this.sigs.delete(`fw:${k}:${p.ip}`);
          this.log(`policy: ${(err as Error).message}`);
        }
      }

    const kubeProxy = !!this.faults?.has('kube-proxy-left');
    if (this.net.setKubeProxyChains && this.changed('kube-proxy-chains', kubeProxy))
      await this.push('kube-proxy-chains', () => this.net.setKubeProxyChains?.(kubeProxy));
  }
}
