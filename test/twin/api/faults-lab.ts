/**
 * The controllers' lab faults (issue 16), decided here so cluster.ts only asks:
 * - `node-never-returns`: a rebooted node stays away (a VM that hangs in its boot, a host that lost its disk): the
 *   reboot stand-in takes it down for NEVER_BACK_MS, far beyond any bound of the suites (the twin's teardown ends it).
 * - `agent-not-ready`: the agent on one node (AGENT_NOT_READY_NODE, the first worker of the twin topology) reports
 *   state `Failure` in `cilium-dbg status` (as an agent whose datapath or kvstore is broken does); its pod stays
 *   Running, so only the harness's health check can see it.
 */
import type { FaultSet } from '../faults.ts';

/** A reboot under `node-never-returns`: an hour, longer than any run (timers are cleared at teardown). */
export const NEVER_BACK_MS = 3_600_000;
/** The node whose agent is not Ok under `agent-not-ready`. */
export const AGENT_NOT_READY_NODE = 'k8s-w1';

export function rebootDownMs(faults: FaultSet | undefined, normalMs: number): number {
  return faults?.has('node-never-returns') ? NEVER_BACK_MS : normalMs;
}

/** The state the node's agent reports: its own (Ok, or Failure when it cannot start), or Failure under the fault. */
export function agentState(faults: FaultSet | undefined, node: string, own: 'Ok' | 'Failure'): 'Ok' | 'Failure' {
  return faults?.has('agent-not-ready') && node === AGENT_NOT_READY_NODE ? 'Failure' : own;
}
