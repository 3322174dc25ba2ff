/**
 * The twin's Cilium models in one import (all pure; see each module's usage comment and test/twin/README.md):
 *
 *   import { reconcileLbIpam, selection, electionStep, runHelm, ciliumConfigFromValues, answerAgentExec, twinVersion } from './cilium/index.ts';
 */
export * from './selectors.ts';
export * from './lbipam.ts';
export * from './l2.ts';
export * from './helm.ts';
export * from './agent-outputs.ts';
export * from './versions.ts';
