/**
 * Judgements on Hubble flows (parsed by helpers/parse/hubble.ts). Pure.
 */
import { describeFlow, type HubbleFlow } from '../parse/index.ts';
import type { Verdict } from './types.ts';

/**
 * Is Hubble on, from the cilium-config data? The chart renders `enable-hubble: "true"` when
 * hubble.enabled is set. VERIFY: that the key is absent or "false" when Hubble is off on 1.17/1.18.
 */
export function hubbleState(config: Record<string, string>): { on: boolean; reason: string } {
  const value = config['enable-hubble'];
  return value === 'true'
    ? { on: true, reason: 'cilium-config has enable-hubble: "true"' }
    : { on: false, reason: `Hubble is off in this lab (cilium-config enable-hubble is ${value === undefined ? 'absent' : `"${value}"`})` };
}

/**
 * The flow from a pod to a target address left the node through the overlay: at least one flow from
 * `namespace/pod` to `targetIp` that is FORWARDED at `to-overlay` (seed 002 line 226:
 * `default/curl-pod:40372 ... -> default/webpod-...:80 ... to-overlay FORWARDED`).
 */
export function judgeOverlayFlow(flows: HubbleFlow[], o: { namespace: string; pod: string; targetIp: string }): Verdict {
  const mine = flows.filter((f) => f.source.namespace === o.namespace && f.source.podName === o.pod && f.destinationIp === o.targetIp);
  const overlay = mine.filter((f) => f.verdict === 'FORWARDED' && f.observationPoint === 'to-overlay');
  if (overlay[0]) {
    return {
      ok: true,
      explanation: `${overlay.length} of ${mine.length} flows ${o.namespace}/${o.pod} -> ${o.targetIp} are FORWARDED to-overlay, e.g. ${describeFlow(overlay[0])}`,
    };
  }
  const kinds = new Map<string, number>();
  for (const f of mine) {
    const key = `${f.observationPoint ?? '-'} ${f.verdict}`;
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  }
  const seen = kinds.size === 0 ? 'none' : [...kinds].map(([k, n]) => `${k} ×${n}`).join(', ');
  return {
    ok: false,
    explanation: `no FORWARDED to-overlay flow from ${o.namespace}/${o.pod} to ${o.targetIp} among ${flows.length} flows (from that pod to that address: ${seen})`,
  };
}
