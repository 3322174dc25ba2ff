/**
 * One netlab per test file: built in beforeAll, torn down in afterAll (which fails the file if anything is
 * left behind). Tests call `need(ctx)` first: it skips them, with the reason, where the netlab cannot run.
 */
import { afterAll, beforeAll, type TestContext } from 'vitest';
import { SshPool, type SshPoolOptions } from '../../helpers/transport/ssh.ts';
import { netlabUnavailable, startNetlab, type Netlab } from './netlab.ts';

export interface NetlabFixture {
  /** Why the netlab cannot run here, or null. */
  readonly unavailable: string | null;
  /** Skips the calling test (with the reason) when the netlab cannot run; returns the lab and a pool on it. */
  need(ctx: TestContext): { lab: Netlab; ssh: SshPool };
}

export function useNetlab(poolOptions: SshPoolOptions = {}, netlabOptions: Parameters<typeof startNetlab>[0] = {}): NetlabFixture {
  const unavailable = netlabUnavailable();
  let lab: Netlab | undefined;
  let ssh: SshPool | undefined;
  beforeAll(async () => {
    if (unavailable) return;
    lab = await startNetlab(netlabOptions);
    ssh = new SshPool(lab.topology, poolOptions);
  });
  afterAll(async () => {
    await ssh?.close();
    await lab?.teardown();
  });
  return {
    unavailable,
    need(ctx) {
      if (unavailable) ctx.skip(unavailable);
      if (!lab || !ssh) throw new Error('netlab was not built (see the beforeAll error)');
      return { lab, ssh };
    },
  };
}
