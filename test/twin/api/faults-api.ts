/**
 * The API server's lab faults (issue 16): what a real control plane does to its clients now and then.
 * - `api-slow`: every API call (requests and exec upgrades) is answered after API_SLOW_MS, as an overloaded
 *   kube-apiserver (or etcd) does.
 * - `api-restart`: TwinApiServer.restart() closes the listener, ends every open watch and drops every connection,
 *   refuses new connections for a few seconds (nothing listens on the port), then listens again on the same port with
 *   the same store (etcd keeps the objects and their resourceVersions, so a watch can resume), as a restarted
 *   kube-apiserver static pod does. Started by the fault case's act (test/twin/fault-cases.ts), not by a request.
 */
import type { FaultSet } from '../faults.ts';

/** How late every API call is answered under `api-slow`. */
export const API_SLOW_MS = 2_000;
/** How long the port refuses connections during an `api-restart` (a kube-apiserver restart takes a few seconds). */
export const API_RESTART_DOWN_MS = 5_000;

/** The delay before answering a call now (0 unless `api-slow` is on). */
export function apiDelayMs(faults: FaultSet | undefined): number {
  return faults?.has('api-slow') ? API_SLOW_MS : 0;
}

/** Runs `answer` after the fault's delay (at once when there is none). */
export function afterApiDelay(faults: FaultSet | undefined, answer: () => void): void {
  const ms = apiDelayMs(faults);
  if (ms === 0) answer();
  else setTimeout(answer, ms);
}
