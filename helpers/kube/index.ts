/**
 * helpers/kube: the Kubernetes API as the harness uses it.
 *
 * - client.ts: the Kube client (apply, read, list, delete, waits with diagnostics), one instance per run;
 * - errors.ts: KubeApiError and which API errors are worth another try;
 * - manifests.ts: run labels and renderManifest (pure);
 * - checks.ts: judging an object's state for a wait (pure pollUntil Checks);
 * - exec.ts: a command in a pod's container, and its exit code;
 * - lease-watch.ts: watching a Lease's holder across reconnects.
 *
 * May import: @kubernetes/client-node, yaml, helpers/wait, helpers/transport (types only), and helpers/lab/topology.ts
 * for REPO_ROOT. Not cilium/, lab/'s fixture, report/ or suites/ (diagnostics reach it through the `attach` option).
 */
export * from './checks.ts';
export * from './client.ts';
export * from './errors.ts';
export * from './exec.ts';
export * from './lease-watch.ts';
export * from './manifests.ts';
