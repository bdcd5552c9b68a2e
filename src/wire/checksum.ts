/**
 * The frame checksum: the first 4 bytes of SHA-256(SHA-256(payload)).
 *
 * `crypto.hash` (Node ≥ 20.12) is a one-shot call without a Hash object; it
 * saves about a microsecond per message over createHash, which matters for
 * the many tiny messages of a handshake. Older Node 20 falls back.
 */
import * as crypto from 'node:crypto';

type OneShotHash = (algorithm: string, data: Uint8Array, outputEncoding: 'buffer') => Buffer;
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash;

/** One digest of `data` with a node:crypto algorithm ('sha256', 'sha3-256', …). */
export const hashOnce: (algorithm: string, data: Uint8Array) => Buffer =
  typeof oneShot === 'function'
    ? (algorithm, data) => oneShot(algorithm, data, 'buffer')
    : (algorithm, data) => crypto.createHash(algorithm).update(data).digest();

export const sha256: (data: Uint8Array) => Buffer =
  typeof oneShot === 'function'
    ? (data) => oneShot('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

export function sha256d(data: Uint8Array): Buffer {
  return sha256(sha256(data));
}

function checksumLEOf(payload: Uint8Array): number {
  const h = sha256d(payload);
  return (h[0]! | (h[1]! << 8) | (h[2]! << 16)) + h[3]! * 0x1000000;
}

/** The checksum as the 4 wire bytes. */
export function checksum(payload: Uint8Array): Buffer {
  return sha256d(payload).subarray(0, 4);
}

/** Half the handshake (verack, sendaddrv2, wtxidrelay, getaddr…) has an empty payload: hash it once. */
const EMPTY_CHECKSUM_LE = checksumLEOf(new Uint8Array(0));

/** The checksum as a little-endian uint32, so a header compare is one integer compare. */
export function checksumLE(payload: Uint8Array): number {
  return payload.length === 0 ? EMPTY_CHECKSUM_LE : checksumLEOf(payload);
}
