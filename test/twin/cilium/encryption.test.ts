import { describe, expect, test } from 'vitest';
import { encryptionJson, renderEncryptionText, type EncryptionModel } from './agent-outputs.ts';
import { ciliumConfigFromValues, routingSettings } from './helm.ts';
import { parseEncryptionStatus } from '../../../helpers/parse/index.ts';
import { judgeWireguardAgents } from '../../../helpers/judge/wireguard.ts';

const wg: EncryptionModel = {
  mode: 'Wireguard',
  nodeEncryption: 'Disabled',
  interfaces: [{ name: 'cilium_wg0', publicKey: 'eMMcTnq0zYGWNGc5fr19FZ1+Zx4/7sTz4wKQCBdRcXk=', listenPort: 51871, peerCount: 2 }],
};

describe("the agents' encryption status (issue 17), read back by the harness's parser and judge", () => {
  test('text and JSON give the same status; three such agents are what 80-wireguard wants', () => {
    const text = parseEncryptionStatus(`Encryption:              ${renderEncryptionText(wg)}\n`);
    const json = parseEncryptionStatus({ encryption: encryptionJson(wg) });
    expect(text.interfaces).toEqual(json.interfaces);
    expect(json).toMatchObject({ mode: 'Wireguard', nodeEncryption: 'Disabled' });
    const nodes = ['k8s-ctr', 'k8s-w1', 'k8s-w0'];
    expect(
      judgeWireguardAgents(
        nodes.map((node) => ({ node, encryption: json })),
        { nodes },
      ).ok,
    ).toBe(true);
    expect(parseEncryptionStatus({ encryption: encryptionJson(undefined) }).mode).toBe('Disabled');
    expect(renderEncryptionText({ ...wg, mode: 'Disabled' })).toBe('Disabled');
  });

  test('cilium-config and the routing settings carry WireGuard only when encryption is enabled with type wireguard', () => {
    expect(ciliumConfigFromValues({ encryption: { enabled: true, type: 'wireguard' } })['enable-wireguard']).toBe('true');
    expect(ciliumConfigFromValues({ encryption: { enabled: false, type: 'wireguard' } })['enable-wireguard']).toBeUndefined();
    expect(ciliumConfigFromValues({ encryption: { enabled: true, type: 'ipsec' } })['enable-wireguard']).toBeUndefined();
    expect(routingSettings({ 'routing-mode': 'tunnel', 'enable-wireguard': 'true' })).toEqual({
      mode: 'tunnel',
      autoDirectNodeRoutes: false,
      wireguard: true,
    });
    expect(routingSettings({ 'routing-mode': 'tunnel' })).toEqual({ mode: 'tunnel', autoDirectNodeRoutes: false });
  });
});
