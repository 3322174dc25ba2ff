/**
 * Run-level cleanups of the Lab fixture (pure bookkeeping: no I/O of its own). lab.ts re-exports it.
 */

/** Cleanups run in reverse order of registration; every one runs even if others fail; failures are reported together. */
export class Cleanups {
  private readonly items: { name: string; fn: () => Promise<void> | void }[] = [];

  add(name: string, fn: () => Promise<void> | void): void {
    this.items.push({ name, fn });
  }

  get size(): number {
    return this.items.length;
  }

  async run(): Promise<void> {
    const errors: Error[] = [];
    while (this.items.length > 0) {
      const item = this.items.pop();
      if (!item) break;
      try {
        await item.fn();
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        errors.push(new Error(`cleanup "${item.name}" failed: ${e.message}`, { cause: e }));
      }
    }
    const [first] = errors;
    if (errors.length === 1 && first) throw first;
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed: ${errors.map((e) => e.message).join('; ')}`);
  }
}
