/**
 * The Kubernetes side's product faults (issue 16; test/twin/README.md "Faults"), as the models take them: LB-IPAM's
 * (lbipam.ts) and the L2 election's (the controllers' use of l2.ts). Pure.
 *
 * - lbipam-outside-pool: a service is given an IP just past every pool's blocks, as an allocator off-by-range bug
 *   would (lbipam.go hands out IPs only from a selecting pool's ranges; cilium-behaviour.md 1).
 * - lbipam-wrong-reason: an exhausted pool is reported `no_pool` instead of `out_of_ips` (lbipam.go sets out_of_ips
 *   when a selecting pool is full; cilium-behaviour.md 1.3): a regression in the condition's reason.
 * - sharing-ignored: the sharing key annotation is ignored, so each service gets an IP of its own (a regression in
 *   service_store.go's sharing; cilium-behaviour.md 1.4).
 * - lease-stuck: after the holder goes away no other candidate takes its lease (the lease keeps naming it until it
 *   comes back), as agents whose lease acquisition hangs would (cilium-behaviour.md 2.4: another node takes over
 *   once the lease expires).
 */
import type { FaultSet } from '../faults.ts';

export interface LbIpamFaults {
  outsidePool?: boolean;
  wrongReason?: boolean;
  sharingIgnored?: boolean;
}

export function lbIpamFaults(faults: FaultSet | undefined): LbIpamFaults {
  return {
    outsidePool: faults?.has('lbipam-outside-pool') ?? false,
    wrongReason: faults?.has('lbipam-wrong-reason') ?? false,
    sharingIgnored: faults?.has('sharing-ignored') ?? false,
  };
}

/** lease-stuck: whether `candidate` is kept from taking a lease `holder` (non-empty) still names. */
export function takeoverBlocked(faults: FaultSet | undefined, holder: string, candidate: string): boolean {
  return (faults?.has('lease-stuck') ?? false) && holder !== '' && candidate !== holder;
}
