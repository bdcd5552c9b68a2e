/**
 * Raw little/big-endian reads on a Uint8Array without bounds checks: callers
 * check lengths once per field group (cheaper than Buffer's per-call checks
 * and never throws a RangeError). Only for offsets already proven in range.
 */

export function u16be(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function u16le(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
}

export function i32le(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

/**
 * Service flags are nearly always small (every defined bit is below 2^12), so
 * those bigints are made once: decoding 1,000 addr entries then allocates no
 * bigint at all.
 */
const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 4096 }, (_, i) => BigInt(i));

/** Combines two uint32 halves into a uint64 bigint. */
export function u64FromHalves(lo: number, hi: number): bigint {
  if (hi === 0) return lo < 4096 ? SMALL_BIGINTS[lo]! : BigInt(lo);
  // Exact as a double while below 2^53.
  if (hi < 0x200000) return BigInt(hi * 0x100000000 + lo);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function u64le(b: Uint8Array, o: number): bigint {
  return u64FromHalves(u32le(b, o), u32le(b, o + 4));
}

export function i64le(b: Uint8Array, o: number): bigint {
  const v = u64le(b, o);
  return b[o + 7]! & 0x80 ? v - 0x10000000000000000n : v;
}

/** Copies `n` bytes at `o` into a new, exclusively owned array (no view pins the source). */
export function copyBytes(b: Uint8Array, o: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = b[o + i]!;
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
