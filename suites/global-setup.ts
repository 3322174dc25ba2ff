/**
 * Runs once, before any lab suite: is there a lab to test? (helpers/preflight.ts decides.)
 * Without one the run ends here, with one message that names what is missing and how to start
 * the lab, instead of a timeout per test. Set LAB_PREFLIGHT=skip only to debug the harness itself.
 */
import { preflight } from '../helpers/preflight.ts';
import { loadTopology, topologyFile } from '../helpers/topology.ts';

function stop(message: string): never {
  process.stderr.write(`\n${message}\n\n`);
  // Exit here: a thrown error would come back wrapped in vitest's noise ("No test files found").
  process.exit(2);
}

export default async function setup(): Promise<void> {
  if (process.env.LAB_PREFLIGHT === 'skip') return;
  const file = topologyFile();
  let result;
  try {
    result = await preflight(loadTopology(file), { topologyFile: file });
  } catch (err) {
    stop((err as Error).message);
  }
  if (!result.ok) stop(result.message);
}
