/**
 * The running suite's scope: one cleanup stack that changes join by themselves, and the diagnostics to attach when
 * one of its tests fails, declared once (pure bookkeeping: no I/O of its own).
 *
 * - Whatever changes the lab registers its undo here the moment it makes the change: addRoutes
 *   (helpers/transport/probes.ts), captures and background commands (helpers/transport/background.ts),
 *   SuiteObjects.create (helpers/lab/suite-objects.ts). An undo run by its owner takes itself off the stack.
 * - The Lab fixture (helpers/lab/lab.ts labTestWith) opens a scope for each suite file before its beforeAll and closes
 *   it after its afterAll: the stack runs newest first, every item even when one fails. Each open scope is also on the
 *   run's stack, so a run that ends early (interrupt, a failed worker) still undoes what a suite left.
 * - Outside a scope (self-tests, scripts) registering is a no-op: the caller's own undo is the only one.
 *
 * May import: this folder's cleanups.ts only (transport/ and kube/ register here without a cycle).
 */
import { Cleanups } from './cleanups.ts';

export interface Diagnostic {
  name: string;
  collect: () => Promise<string | object> | string | object;
  type?: 'text' | 'json' | 'yaml';
}

export class SuiteScope {
  readonly cleanups = new Cleanups();
  readonly diagnostics: Diagnostic[] = [];
  private closing: Promise<void> | undefined;

  constructor(readonly name: string) {}

  /** Runs the stack (newest first, all of it); later calls wait for the same run. */
  close(): Promise<void> {
    return (this.closing ??= this.cleanups.run());
  }
}

let current: SuiteScope | null = null;

/** Opens the scope of a suite; the previous one (if a suite did not close it) is replaced, not lost: its owner still closes it. */
export function openSuiteScope(name: string): SuiteScope {
  current = new SuiteScope(name);
  return current;
}

/** Closes `scope` (runs its stack) and, if it is the running one, leaves no scope running. */
export async function closeSuiteScope(scope: SuiteScope): Promise<void> {
  if (current === scope) current = null;
  await scope.close();
}

export function currentSuiteScope(): SuiteScope | null {
  return current;
}

/**
 * Registers an undo with the running suite's stack. Returns the function that takes it off again (call it when the
 * owner undid the change itself); a no-op outside a suite.
 */
export function deferCleanup(name: string, fn: () => Promise<void> | void): () => void {
  return current ? current.cleanups.add(name, fn) : () => undefined;
}

/**
 * Declares, once per suite (in its beforeAll), something to attach to every one of its tests that fails. The Lab
 * fixture attaches each on failure (helpers/report/report.ts attachCollected: bounded, redacted, never fails the test).
 */
export function diagnoseOnFailure(name: string, collect: Diagnostic['collect'], o: { type?: Diagnostic['type'] } = {}): void {
  if (!current) throw new Error(`diagnoseOnFailure("${name}") outside a suite: declare it in the suite's beforeAll`);
  current.diagnostics.push({ name, collect, ...(o.type ? { type: o.type } : {}) });
}
