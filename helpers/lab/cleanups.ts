/**
 * Run-level cleanups of the Lab fixture (pure bookkeeping: no I/O of its own). lab.ts re-exports it.
 */

/** Cleanups run in reverse order of registration; every one runs even if others fail; failures are reported together. */
export class Cleanups {
  private readonly items: { name: string; fn: () => Promise<void> | void }[] = [];

  /** Registers `fn`; the returned function takes it off the stack again (when its owner undid the change itself). */
  add(name: string, fn: () => Promise<void> | void): () => void {
    const item = { name, fn };
    this.items.push(item);
    return () => {
      const i = this.items.indexOf(item);
      if (i >= 0) this.items.splice(i, 1);
    };
  }

  /** Names of what is registered, newest first (the order run() takes them in). */
  get names(): string[] {
    return this.items.map((i) => i.name).reverse();
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
