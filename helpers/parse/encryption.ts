/**
 * The encryption part of `cilium-dbg status` (text or `-o json`). Pure.
 *
 * Shapes, from cilium/cilium (read through the code index in December 2026):
 * - JSON (api/v1/models/encryption_status.go, wireguard_status.go, wireguard_interface.go): `encryption.mode` is one of
 *   `Disabled`, `IPsec`, `Wireguard`; `encryption.msg` a message; `encryption.wireguard.interfaces[]` with `name`,
 *   `listen-port`, `peer-count`, `public-key` (and `peers`), every field `omitempty` (a zero is left out).
 * - text (pkg/client/client.go FormatStatusResponse): `Encryption:\t<mode>\t<fields>` where fields is the message when
 *   there is one, else `[NodeEncryption: <x>, <name> (Pubkey: <key>, Port: <port>, Peers: <n>)]` for WireGuard.
 *   Seed 004 shows `Encryption:              WireGuard   [eth0, NodeEncryption: Disabled]` (another case, no interface
 *   part): the mode is read case-insensitively and given in the code's spelling; interfaces only as the code prints them.
 */
import { z } from 'zod';
import { stripAnsi } from './cilium-status.ts';
import { ParseError } from './common.ts';

export type EncryptionMode = 'Disabled' | 'IPsec' | 'Wireguard';

export interface WireguardInterface {
  name: string;
  publicKey: string | null;
  listenPort: number | null;
  peerCount: number;
}

export interface EncryptionStatus {
  /** The code's spelling (`Wireguard`), whatever case the output used; anything else as printed. */
  mode: string;
  /** As printed, when the output named it. */
  nodeEncryption: string | null;
  interfaces: WireguardInterface[];
  msg: string | null;
}

const MODES: readonly EncryptionMode[] = ['Disabled', 'IPsec', 'Wireguard'];

function canonicalMode(m: string): string {
  return MODES.find((x) => x.toLowerCase() === m.toLowerCase()) ?? m;
}

const jsonSchema = z.object({
  encryption: z
    .object({
      mode: z.string().optional(),
      msg: z.string().optional(),
      wireguard: z
        .object({
          'node-encryption': z.string().optional(),
          interfaces: z
            .array(
              z.object({
                name: z.string().optional(),
                'listen-port': z.number().optional(),
                'peer-count': z.number().optional(),
                'public-key': z.string().optional(),
              }),
            )
            .nullable()
            .optional(),
        })
        .optional(),
    })
    .optional(),
});

/** Reads the encryption status from `cilium-dbg status` text or JSON (a parsed JSON object is accepted too). */
export function parseEncryptionStatus(input: unknown): EncryptionStatus {
  if (typeof input !== 'string') return fromJson(input, JSON.stringify(input));
  const clean = stripAnsi(input).trim();
  if (clean.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(clean);
    } catch (err) {
      throw new ParseError('parseEncryptionStatus', `JSON does not parse: ${(err as Error).message}`, input);
    }
    return fromJson(doc, input);
  }
  return fromText(clean, input);
}

function fromJson(doc: unknown, raw: string): EncryptionStatus {
  const parsed = jsonSchema.safeParse(doc);
  if (!parsed.success) throw new ParseError('parseEncryptionStatus', `unexpected JSON shape: ${parsed.error.message}`, raw);
  const e = parsed.data.encryption;
  if (!e?.mode) throw new ParseError('parseEncryptionStatus', 'the JSON has no encryption.mode', raw);
  return {
    mode: canonicalMode(e.mode),
    nodeEncryption: e.wireguard?.['node-encryption'] ?? null,
    interfaces: (e.wireguard?.interfaces ?? []).map((i) => ({
      name: i.name ?? '',
      publicKey: i['public-key'] ?? null,
      listenPort: i['listen-port'] ?? null,
      peerCount: i['peer-count'] ?? 0,
    })),
    msg: e.msg ?? null,
  };
}

const IFACE = /([\w.-]+) \(Pubkey: ([^,]*), Port: (\d+), Peers: (\d+)\)/g;

function fromText(text: string, raw: string): EncryptionStatus {
  const line = text.split(/\r?\n/).find((l) => /^\s*Encryption:/.test(l));
  if (!line) throw new ParseError('parseEncryptionStatus', 'no "Encryption:" line in the text output', raw);
  const m = /^\s*Encryption:\s+(\S+)\s*(.*)$/.exec(line);
  if (!m) throw new ParseError('parseEncryptionStatus', `unrecognised Encryption line: ${line.trim()}`, raw);
  const rest = (m[2] ?? '').trim();
  const node = /NodeEncryption: ([^,\]]+)/.exec(rest);
  const interfaces = [...rest.matchAll(IFACE)].map((x) => ({
    name: x[1]!,
    publicKey: x[2]!.trim() || null,
    listenPort: Number(x[3]),
    peerCount: Number(x[4]),
  }));
  return {
    mode: canonicalMode(m[1]!),
    nodeEncryption: node ? node[1]!.trim() : null,
    interfaces,
    msg: rest !== '' && !rest.startsWith('[') ? rest : null,
  };
}
