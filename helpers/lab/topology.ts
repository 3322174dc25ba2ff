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
import { isNode, parseDocument, visit } from 'yaml';
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

const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

/**
 * The YAML the lab's files may use, by the same rules as the Vagrantfile's CiliumLab.parse_yaml (so a file one
 * accepts the other accepts, with the same values): YAML 1.2 core types (a date or `yes` is a string), anchors,
 * aliases and merge keys (`<<`), unique keys, one document, and no explicit tag outside the core types.
 */
export function parseLabYaml(text: string): { value: unknown; problems: string[] } {
  const doc = parseDocument(text, { prettyErrors: true, merge: true, uniqueKeys: true });
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code !== 'TAG_RESOLVE_FAILED')].map((e) => e.message);
  visit(doc, (_key, node) => {
    if (isNode(node) && node.tag && !CORE_TAGS.has(node.tag)) problems.push(`tag ${node.tag} is not allowed (plain YAML only)`);
  });
  return { value: problems.length > 0 ? undefined : doc.toJS(), problems };
}

export function loadTopology(file: string = topologyFile()): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TopologyError(file, [{ field: '(file)', message: `cannot be read: ${(err as Error).message}` }]);
  }
  const { value, problems } = parseLabYaml(text);
  if (problems.length > 0) {
    throw new TopologyError(
      file,
      problems.map((message) => ({ field: '(YAML syntax)', message })),
    );
  }
  if (value === null || value === undefined)
    throw new TopologyError(file, [{ field: '(file)', message: 'is empty (no YAML document in it)' }]);
  return parseTopology(value, file);
}
