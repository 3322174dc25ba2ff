import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MessageHolderTestRuntime, setGlobalTestRuntime } from 'allure-js-commons/sdk/runtime';
import { tempDir } from '../../fixtures/report/tmp.ts';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  attach,
  attachCollected,
  attachError,
  describeScenario,
  MAX_ATTACHMENT_CHARS,
  parseProperties,
  recordLabEnvironment,
  recordMeasurement,
  renderAttachment,
  secretsFromEnv,
  step,
  toProperties,
  versionMismatch,
} from '../../../helpers/report/report.ts';
import { WaitTimeoutError } from '../../../helpers/wait/retry.ts';
import { fakeCredentials } from '../../fixtures/report/secrets.ts';

type Msg = { type: string; data: Record<string, any> };
let runtime: MessageHolderTestRuntime;

beforeEach(() => {
  runtime = new MessageHolderTestRuntime();
  setGlobalTestRuntime(runtime);
});
afterEach(() => {
  delete (globalThis as Record<string, unknown>).allureTestRuntime;
  vi.unstubAllEnvs();
});

function messages(): Msg[] {
  return runtime.messages();
}
function attachments(): { name: string; contentType: string; text: string }[] {
  return messages()
    .filter((m) => m.type === 'attachment_content')
    .map((m) => ({
      name: m.data.name as string,
      contentType: m.data.contentType as string,
      text: Buffer.from(m.data.content as string, 'base64').toString('utf8'),
    }));
}
function metadata(): { labels: { name: string; value: string }[]; parameters: { name: string; value: string; excluded?: boolean }[] } {
  const meta = messages().filter((m) => m.type === 'metadata');
  return {
    labels: meta.flatMap((m) => (m.data.labels ?? []) as { name: string; value: string }[]),
    parameters: meta.flatMap((m) => (m.data.parameters ?? []) as { name: string; value: string; excluded?: boolean }[]),
  };
}

describe('attach always redacts', () => {
  const c = fakeCredentials();

  test('a kubeconfig given as YAML text', async () => {
    await attach('kubeconfig', c.kubeconfig, 'yaml');
    const [a] = attachments();
    expect(a?.contentType).toBe('text/yaml');
    for (const s of c.secrets) expect(a?.text).not.toContain(s);
    expect(a?.text).toContain('https://192.168.10.100:6443');
  });

  test('a Secret object as YAML and as JSON; a JSON string; plain text', async () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db' },
      data: { password: 'c2VjcmV0LXZhbHVl', 'tls.key': 'a2V5LWJ5dGVz' },
    };
    await attach('secret yaml', secret, 'yaml');
    await attach('secret json', secret);
    await attach('api answer', JSON.stringify({ status: { token: c.token } }), 'json');
    await attach('curl', `curl -H "Authorization: Bearer ${c.token}" https://192.168.10.211/`);
    const all = attachments();
    expect(all.map((a) => a.contentType)).toEqual(['text/yaml', 'application/json', 'application/json', 'text/plain']);
    for (const a of all) for (const s of ['c2VjcmV0LXZhbHVl', 'a2V5LWJ5dGVz', c.token]) expect(a.text, a.name).not.toContain(s);
    expect(all[1]?.text).toContain('"name": "db"');
  });

  test('YAML or JSON that does not parse is still redacted as text', async () => {
    await attach('half yaml', `password: ${c.password}\n  bad: [unclosed`, 'yaml');
    await attach('half json', `{"token": "${c.token}", `, 'json');
    for (const a of attachments()) expect(a.text).not.toMatch(new RegExp(`${c.password}|${c.token}`));
  });

  test('values of secret-named environment variables are removed wherever they appear', async () => {
    vi.stubEnv('LAB_SSH_PASSWORD', 'lab-ssh-pass-4242');
    expect(secretsFromEnv()).toContain('lab-ssh-pass-4242');
    await attach('log', 'logged in with lab-ssh-pass-4242 as vagrant');
    expect(attachments()[0]?.text).toBe('logged in with [REDACTED] as vagrant');
  });

  test('a huge attachment keeps its head and tail', () => {
    const text = `HEAD\n${'x'.repeat(MAX_ATTACHMENT_CHARS * 2)}\nTAIL`;
    const { body } = renderAttachment(text);
    expect(body.length).toBeLessThan(MAX_ATTACHMENT_CHARS + 200);
    expect(body.startsWith('HEAD')).toBe(true);
    expect(body.endsWith('TAIL')).toBe(true);
    expect(body).toContain('characters cut by the harness');
  });
});

describe('steps, measurements, scenario labels', () => {
  test('step returns the body value, redacts its name, and rethrows', async () => {
    await expect(step('Ping webpod from the router', () => Promise.resolve(42))).resolves.toBe(42);
    await expect(step('fails', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await step('curl --token abcdefghijkl https://x', () => Promise.resolve());
    const names = messages()
      .filter((m) => m.type === 'step_start')
      .map((m) => m.data.name as string);
    expect(names).toEqual(['Ping webpod from the router', 'fails', 'curl --token [REDACTED] https://x']);
  });

  test('recordMeasurement: an excluded parameter the cross-version page reads, and a step', async () => {
    await recordMeasurement('failover time', 3.2, 's');
    expect(metadata().parameters).toContainEqual({ name: 'measurement: failover time', value: '3.2 s', excluded: true });
    expect(messages().some((m) => m.type === 'step_start' && m.data.name === 'Measured failover time: 3.2 s')).toBe(true);
    await expect(recordMeasurement('outage', Number.NaN, 's')).rejects.toThrow(/finite/);
  });

  test('describeScenario: epic, feature, story, severity, and the run id outside history identity', async () => {
    await describeScenario({
      epic: 'Load balancing',
      feature: 'L2 announcements',
      story: 'failover',
      severity: 'critical',
      runId: 'r20261122-0349-ab12',
    });
    const { labels, parameters } = metadata();
    expect(labels).toEqual(
      expect.arrayContaining([
        { name: 'epic', value: 'Load balancing' },
        { name: 'feature', value: 'L2 announcements' },
        { name: 'story', value: 'failover' },
        { name: 'severity', value: 'critical' },
      ]),
    );
    expect(parameters).toContainEqual({ name: 'run id', value: 'r20261122-0349-ab12', excluded: true });
  });
});

test('outside a test run with Allure: bodies run, nothing is sent, nothing warns', async () => {
  delete (globalThis as Record<string, unknown>).allureTestRuntime;
  const warn = vi.spyOn(console, 'warn');
  await expect(step('x', () => Promise.resolve(7))).resolves.toBe(7);
  await attach('a', 'text');
  await recordMeasurement('outage', 1, 's');
  await describeScenario({ epic: 'e', feature: 'f' });
  await expect(recordMeasurement('outage', Number.NaN, 's')).rejects.toThrow(/finite/);
  expect(warn).not.toHaveBeenCalled();
  expect(messages()).toEqual([]);
  warn.mockRestore();
});

describe('failure attachments', () => {
  test('a collector that throws or hangs attaches why, never hides the failure', async () => {
    await attachCollected('events', () => Promise.reject(new Error('api down')));
    await attachCollected('logs', () => new Promise(() => undefined), { timeoutMs: 50 });
    await attachCollected('object', () => ({ kind: 'Service', metadata: { name: 'webpod' } }), { type: 'yaml' });
    const all = attachments();
    expect(all.map((a) => a.name)).toEqual(['events (could not collect)', 'logs (could not collect)', 'object']);
    expect(all[0]?.text).toContain('api down');
    expect(all[1]?.text).toMatch(/WaitTimeoutError: Timed out/);
    expect(all[2]?.text).toContain('name: webpod');
  });

  test('attachError keeps what the error knows (WaitTimeoutError.lastSeen)', async () => {
    await attachError('wait failed', new WaitTimeoutError('lease holder change', 30_000, 'holder k8s-w1', 15));
    const text = attachments()[0]?.text ?? '';
    expect(text).toContain('WaitTimeoutError: Timed out after 30 s waiting for lease holder change');
    expect(text).toContain('lastSeen: holder k8s-w1');
  });
});

describe('the run environment (global setup)', () => {
  test('properties round-trip, escapes included', () => {
    const values = { cilium_version: '1.18.6', 'key with space': 'a=b: c', multi: 'line1\nline2', lead: ' space' };
    expect(parseProperties(toProperties(values))).toEqual(values);
    expect(parseProperties('# comment\n\ngarbage-without-separator\nk=v')).toEqual({ 'garbage-without-separator': '', k: 'v' });
  });

  test('recordLabEnvironment merges into the run environment.properties, redacted', () => {
    const dir = tempDir('clh-env-');
    writeFileSync(path.join(dir, 'environment.properties'), toProperties({ cilium_version_requested: '1.18.6', harness_commit: 'abc' }));
    const file = recordLabEnvironment(
      {
        ciliumVersion: '1.18.6',
        kubernetesVersion: 'v1.33.4',
        kernel: '6.8.0-71-generic',
        box: 'bento/ubuntu-24.04 202508.03.0',
        provider: 'virtualbox',
        routingMode: 'native',
        note: 'token: abcdefghijklmnop',
      },
      dir,
    );
    expect(file).toBe(path.join(dir, 'environment.properties'));
    const props = parseProperties(readFileSync(file ?? '', 'utf8'));
    expect(props).toMatchObject({
      cilium_version_requested: '1.18.6',
      harness_commit: 'abc',
      cilium_version: '1.18.6',
      kubernetes_version: 'v1.33.4',
      routing_mode: 'native',
      provider: 'virtualbox',
    });
    expect(props.note).not.toContain('abcdefghijklmnop');
    expect(recordLabEnvironment({ ciliumVersion: '1' }, undefined)).toBeNull();
  });

  test('versionMismatch stops results being filed under the wrong version', () => {
    expect(versionMismatch('1.18.6', 'v1.18.6')).toBeNull();
    expect(versionMismatch('unknown', '1.17.8')).toBeNull();
    expect(versionMismatch('1.18.6', '1.17.8')).toMatch(/CILIUM_VERSION=1.18.6 but the lab runs Cilium 1.17.8/);
  });
});
