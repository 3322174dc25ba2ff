import { describe, expect, test } from 'vitest';
import { encryptionMismatches } from '../../../helpers/cilium/cilium.ts';

const status = (mode?: string) => (mode ? { encryption: { mode } } : { cilium: { state: 'Ok' } });

describe('encryptionMismatches (waitAgentsOk after an upgrade that turns WireGuard on or off)', () => {
  test('WireGuard wanted: only an agent reporting Wireguard agrees', () => {
    const wanted = { 'encryption.enabled': true, 'encryption.type': 'wireguard' };
    expect(encryptionMismatches(wanted, status('Wireguard'))).toEqual([]);
    expect(encryptionMismatches(wanted, status('Disabled'))).toEqual(['encryption Disabled, wanted Wireguard']);
    expect(encryptionMismatches(wanted, status())).toEqual(['encryption not reported, wanted Wireguard']);
  });

  test('off wanted: Disabled or no encryption part agrees; a mode that is on does not; no wish, no check', () => {
    expect(encryptionMismatches({ 'encryption.enabled': false }, status('Disabled'))).toEqual([]);
    expect(encryptionMismatches({ 'encryption.enabled': 'false' }, status())).toEqual([]);
    expect(encryptionMismatches({ 'encryption.enabled': false }, status('Wireguard'))).toEqual(['encryption Wireguard, wanted Disabled']);
    expect(encryptionMismatches({ routingMode: 'tunnel' }, status('Wireguard'))).toEqual([]);
  });
});
