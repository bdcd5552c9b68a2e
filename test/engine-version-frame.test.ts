/**
 * The per-thread version template must produce, byte for byte, what the
 * generic encoder produces for the same fields.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_USER_AGENT, encodeMessage, makeVersion, MessageDecoder, NETWORKS, PROTOCOL_VERSION, type Message, type NetworkParams } from '../src/wire/index.js';
import { ourVersionFrame } from '../workers/version-frame.js';

const fields = { version: PROTOCOL_VERSION, userAgent: DEFAULT_USER_AGENT };

function generic(net: NetworkParams, timestamp: number, nonce: bigint): Buffer {
  const payload = makeVersion({ version: fields.version, services: 0n, userAgent: fields.userAgent, relay: false, startHeight: 0, timestamp: BigInt(timestamp), nonce });
  return encodeMessage(net, { command: 'version', payload });
}

describe('ourVersionFrame', () => {
  it.each([
    ['mainnet', 1_700_000_000, 0x1234_5678, 0x9abc_def0],
    ['regtest', 4_300_000_000, 0xffff_ffff, 1], // a timestamp past 2^32 and the largest high word
    ['testnet4', 0, 1, 0],
  ] as const)('matches the generic encoder on %s (timestamp %d)', (name, ts, hi, lo) => {
    const net = NETWORKS[name];
    const frame = ourVersionFrame(net, fields, ts, BigInt(hi) * 0x1_0000_0000n + BigInt(lo));
    expect(frame.equals(generic(net, ts, BigInt(hi) * 0x1_0000_0000n + BigInt(lo)))).toBe(true);
  });

  it('gives every call its own buffer, and each decodes with a valid checksum', () => {
    const net = NETWORKS.regtest;
    const a = ourVersionFrame(net, fields, 1_700_000_000, 7n * 0x1_0000_0000n + 8n);
    const b = ourVersionFrame(net, fields, 1_700_000_001, 9n * 0x1_0000_0000n + 10n);
    expect(a.buffer === b.buffer && a.byteOffset === b.byteOffset).toBe(false);
    const got: Message[] = [];
    const d = new MessageDecoder(net, { onMessage: (m) => got.push(m), onMessageError: (e) => { throw e; } });
    d.push(Buffer.concat([a, b]));
    expect(got.map((m) => (m.command === 'version' ? [m.payload.timestamp, m.payload.nonce] : null))).toEqual([
      [1_700_000_000n, 7n * 0x1_0000_0000n + 8n],
      [1_700_000_001n, 9n * 0x1_0000_0000n + 10n],
    ]);
  });
});
