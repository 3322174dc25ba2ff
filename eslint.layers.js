// @ts-check
/**
 * The layers of the harness, enforced in `npm run lint` (eslint-plugin-import-x, resolving the `.ts` paths the code
 * imports with its Node resolver):
 *
 * - helpers/parse/ and helpers/judge/ are pure: they import no I/O module (files, processes, sockets, SSH, the
 *   Kubernetes client) and no other helpers/ folder, only each other;
 * - nothing in helpers/ (the framework) imports suites/ (the scenarios); the scenarios pass in what the framework
 *   needs (their plan, their manifest folder);
 * - no import cycle anywhere.
 *
 * test/lint/layers.test.ts runs these rules on fixture files that break each of them, and on the project.
 * `root` is the folder the zones are relative to (the repository, or a fixture tree in that test).
 */
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

/** Modules that do I/O: a judge or parser importing one is no longer pure. */
const IO_BUILTINS = ['fs', 'fs/promises', 'child_process', 'net', 'dgram', 'http', 'https'];
const IO_PACKAGES = ['execa', 'ssh2', '@kubernetes/client-node'];
export const IO_MODULES = [...IO_BUILTINS, ...IO_BUILTINS.map((m) => `node:${m}`), ...IO_PACKAGES];

const ioPaths = IO_MODULES.map((name) => ({
  name,
  message: 'helpers/parse and helpers/judge are pure: they take what was read and never do I/O (move the reading up a layer).',
}));

/**
 * @param {string} root absolute folder the zones are relative to
 * @param {{ files?: string[] }} [o] which files the rules apply to (default: all TypeScript)
 * @returns {import('eslint').Linter.Config[]}
 */
export function layerRules(root, o = {}) {
  const files = o.files ?? ['**/*.ts'];
  return [
    {
      files,
      plugins: { 'import-x': /** @type {any} */ (importX) },
      settings: {
        'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
        // Without these, import-x skips .ts files when it follows imports (no-cycle would see no cycle at all).
        'import-x/extensions': ['.ts', '.js'],
        'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      },
      rules: {
        'import-x/no-cycle': ['error', { ignoreExternal: true }],
        'import-x/no-restricted-paths': [
          'error',
          {
            basePath: root,
            zones: [
              {
                target: './helpers',
                from: './suites',
                message: 'the framework (helpers/) must not import the scenarios (suites/): pass what it needs in.',
              },
              {
                target: ['./helpers/parse', './helpers/judge'],
                from: './helpers',
                except: ['./parse', './judge'],
                message: 'helpers/parse and helpers/judge are the bottom layer: they import only each other.',
              },
            ],
          },
        ],
      },
    },
    {
      files: ['helpers/parse/**/*.ts', 'helpers/judge/**/*.ts'],
      rules: {
        'no-restricted-imports': ['error', { paths: ioPaths }],
      },
    },
  ];
}
