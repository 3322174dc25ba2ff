/**
 * The lab twin's faults, by name: each breaks the emulated lab the way a Cilium regression or a misconfigured lab
 * would (a product fault, which a suite must catch), or makes the lab misbehave the way a real one does (a lab fault,
 * which the harness must survive). Issue 16; the catalogue with what each must show is in test/twin/fault-cases.ts
 * and the README's "Faults" table.
 *
 * `TWIN_FAULTS=name[,name…]` turns faults on for `npm run test:twin` (the whole run); `npm run test:faults` sets
 * them per fault on a running twin with `twin.faults.set([...])`. One FaultSet is shared by reference by the API
 * server, the controllers and the network side, so a change takes effect on the next request, tick or stand-in call.
 */

/** Every fault the twin knows. A new suite adds at least one product fault here (issue 16: "a fault for every suite"). */
export const FAULT_NAMES = [
  // product faults (issue 16)
  'router-pod-routes',
  'no-direct-routes',
  'tunnel-mtu-1500',
  'tunnel-plaintext',
  'lbipam-outside-pool',
  'lbipam-wrong-reason',
  'sharing-ignored',
  'l2-every-node-answers',
  'ingress-unmatched-200',
  'lease-stuck',
  // lab faults (issue 16)
  'ssh-drop',
  'api-restart',
  'api-slow',
  'node-never-returns',
  'agent-not-ready',
  'interrupt',
  // product faults of the suites of issue 17
  'kube-proxy-left',
  'policy-not-enforced',
  'l7-allows-all',
  'wireguard-plaintext',
] as const;

export type FaultName = (typeof FAULT_NAMES)[number];

export function isFaultName(s: string): s is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(s);
}

/** `a,b , c` -> the names; an unknown name is an error naming the known ones (a typo must not run a healthy twin). */
export function parseFaults(text: string | undefined): FaultName[] {
  const names = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const unknown = names.filter((n) => !isFaultName(n));
  if (unknown.length > 0)
    throw new Error(`TWIN_FAULTS: unknown fault${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${FAULT_NAMES.join(', ')})`);
  return [...new Set(names)] as FaultName[];
}

/** The faults on now; shared by reference, changed between runs by the fault runner. */
export class FaultSet {
  private on = new Set<FaultName>();
  private readonly listeners: ((names: FaultName[]) => void)[] = [];

  constructor(names: readonly FaultName[] = []) {
    this.on = new Set(names);
  }

  has(name: FaultName): boolean {
    return this.on.has(name);
  }

  list(): FaultName[] {
    return [...this.on];
  }

  /** Replaces the faults on; listeners (e.g. the controllers, to re-reconcile at once) hear the new list. */
  set(names: readonly FaultName[]): void {
    this.on = new Set(names);
    for (const l of this.listeners) l(this.list());
  }

  onChange(listener: (names: FaultName[]) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
}
