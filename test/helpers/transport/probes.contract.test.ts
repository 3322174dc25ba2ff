/**
 * curlFromPod (helpers/transport/probes.ts) against a local fake Kubernetes API's exec websocket (127.0.0.1,
 * test/helpers/kube/fake-kube-api.ts): which pod it execs in, the argv curl gets, and how curl's output and exit code
 * become a CurlResult. The outputs are real curl outputs (test/fixtures/lb); nothing here says how a real cluster
 * answers.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Kube } from '../../../helpers/kube/index.ts';
import { curlArgv, curlFromPod, PodProbeError } from '../../../helpers/transport/probes.ts';
import { fixture } from '../../fixtures/load.ts';
import { FakeKubeApi, type FakeRequest } from '../kube/fake-kube-api.ts';

const NS = 'clh-r1';
const OK = JSON.stringify({ metadata: {}, status: 'Success' });
const exitCode = (code: number) =>
  JSON.stringify({
    metadata: {},
    status: 'Failure',
    reason: 'NonZeroExitCode',
    message: 'command terminated with non-zero exit code',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  });

let api: FakeKubeApi;
let seen: FakeRequest[];
beforeEach(async () => {
  api = new FakeKubeApi();
  seen = [];
  await api.start();
});
afterEach(async () => {
  await api.stop();
});

/** The exec session answers with `stdout`, `stderr` and the exit status, and records the request. */
function execAnswers(o: { stdout: string; stderr?: string; status: string }): void {
  api.wsRoute = (r) => {
    seen.push(r);
    return (ws) => {
      if (o.stdout) ws.channel(1, o.stdout);
      if (o.stderr) ws.channel(2, o.stderr);
      ws.channel(3, o.status);
      ws.close();
    };
  };
}

const lab = () => ({ kube: new Kube(api.kubeConfig(), { runId: 'r1', retries: 0 }), namespace: NS });

describe('curlFromPod', () => {
  test('curl-pod of the run namespace by default; curl gets exactly curlArgv; an answer is read like curlFrom reads it', async () => {
    execAnswers({ stdout: fixture('lb/curl-details.txt'), status: OK });
    const a = await curlFromPod(lab(), { url: 'http://198.18.10.211/details/1', headers: { Host: 'r1.clh.test' }, timeoutMs: 5_000 });
    expect(seen.map((r) => r.path)).toEqual([`/api/v1/namespaces/${NS}/pods/curl-pod/exec`]);
    expect(seen[0]!.query.getAll('command')).toEqual(
      curlArgv({ url: 'http://198.18.10.211/details/1', headers: { Host: 'r1.clh.test' }, timeoutMs: 5_000 }),
    );
    expect(a).toMatchObject({ ok: true, status: 200, error: null, timeMs: 21.877, raw: { code: 0 } });
    expect(a.headers.server).toBe('envoy');
    expect(a.body).toContain('Hostname: details-7d9c8b7b5-x2m4k');
  });

  test('another pod and namespace when named', async () => {
    execAnswers({ stdout: fixture('lb/curl-details.txt'), status: OK });
    await curlFromPod(lab(), { pod: 'client-1', namespace: 'other', url: 'http://198.18.10.211/' });
    expect(seen.map((r) => r.path)).toEqual(['/api/v1/namespaces/other/pods/client-1/exec']);
  });

  test('no answer (connection refused, exit 7): not ok, status null, curl’s own words as the error', async () => {
    execAnswers({
      stdout: fixture('lb/curl-refused.txt'),
      stderr: "curl: (7) Failed to connect to 198.18.10.211 port 80 after 3 ms: Couldn't connect to server\n",
      status: exitCode(7),
    });
    const a = await curlFromPod(lab(), { url: 'http://198.18.10.211/' });
    expect(a).toMatchObject({
      ok: false,
      status: null,
      error: "curl: (7) Failed to connect to 198.18.10.211 port 80 after 3 ms: Couldn't connect to server",
      raw: { code: 7 },
    });
  });

  test('an answer that began but did not end cleanly (exit 28): the status is kept and the error says why', async () => {
    execAnswers({
      stdout: fixture('lb/curl-details.txt'),
      stderr: 'curl: (28) Operation timed out after 5001 milliseconds with 100 bytes received\n',
      status: exitCode(28),
    });
    const a = await curlFromPod(lab(), { url: 'http://198.18.10.211/details/1' });
    expect(a).toMatchObject({
      ok: true,
      status: 200,
      error: 'curl: (28) Operation timed out after 5001 milliseconds with 100 bytes received',
    });
  });

  test('an exit without stderr still names the exit code', async () => {
    execAnswers({ stdout: fixture('lb/curl-refused.txt'), status: exitCode(7) });
    expect((await curlFromPod(lab(), { url: 'http://198.18.10.211/' })).error).toBe('curl exited with code 7');
  });

  test('output that is not curl’s (no marker line): PodProbeError naming the pod, stderr and exit code, with the raw result', async () => {
    execAnswers({ stdout: '', stderr: 'sh: curl: not found\n', status: exitCode(127) });
    const err = await curlFromPod(lab(), { url: 'http://198.18.10.211/' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PodProbeError);
    expect((err as PodProbeError).message).toMatch(
      new RegExp(`^curl .* in ${NS}/curl-pod: .*__CLH_CURL__.*; stderr: sh: curl: not found \\(exit code 127\\)$`),
    );
    expect((err as PodProbeError).raw).toMatchObject({ code: 127, stderr: 'sh: curl: not found\n' });
  });

  test('a pod that does not exist: the Kubernetes error, not a curl answer', async () => {
    await expect(curlFromPod(lab(), { pod: 'nope', url: 'http://198.18.10.211/' })).rejects.toThrow(/HTTP 404/);
  });
});
