/**
 * The lab topology: one data file (lab/topology.yaml) read by the Vagrantfile and by the harness.
 *
 * `loadTopology()` reads and validates it (helpers/parse/topology.ts parseTopology); every error names the file,
 * the field and what is wrong, in one message. The schema and the pure queries live in helpers/parse/topology.ts
 * and are re-exported here. REPO_ROOT is derived from this file's place (helpers/lab/, two levels down).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { parseTopology, TopologyError, type Topology } from '../parse/topology.ts';

export * from '../parse/topology.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_TOPOLOGY_FILE = path.join(REPO_ROOT, 'lab', 'topology.yaml');
/** Environment variable that points the harness at another topology file. */
export const TOPOLOGY_ENV = 'LAB_TOPOLOGY';

/** The topology file in force: $LAB_TOPOLOGY, or lab/topology.yaml in this repository. */
export function topologyFile(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[TOPOLOGY_ENV];
  return fromEnv ? path.resolve(fromEnv) : DEFAULT_TOPOLOGY_FILE;
}

export function loadTopology(file: string = topologyFile()): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TopologyError(file, [{ field: '(file)', message: `cannot be read: ${(err as Error).message}` }]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new TopologyError(file, doc.errors.map((e) => ({ field: '(YAML syntax)', message: e.message })));
  }
  if (doc.contents === null) throw new TopologyError(file, [{ field: '(file)', message: 'is empty (no YAML document in it)' }]);
  return parseTopology(doc.toJS(), file);
}
