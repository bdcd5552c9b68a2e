/**
 * CompactSize, Bitcoin's variable-length integer (serialize.h:281-360).
 * Reading is strict like Core: the shortest form is required, and where Core
 * range-checks, values above MAX_SIZE are rejected.
 */
import { WireError } from '../errors.js';
import { MAX_SIZE } from './constants.js';
import { u16le, u32le, u64FromHalves } from './bytes.js';

/** Bytes a CompactSize of `value` takes on the wire. */
export function compactSizeLength(value: number | bigint): number {
  const v = BigInt(value);
  if (v < 0xfdn) return 1;
  if (v <= 0xffffn) return 3;
  if (v <= 0xffffffffn) return 5;
  return 9;
}

/** Writes a CompactSize at `o`; returns the offset after it. */
export function writeCompactSize(out: Uint8Array, o: number, value: number | bigint): number {
  if (typeof value === 'number' && value < 0xfd && value >= 0) {
    out[o] = value;
    return o + 1;
  }
  const v = BigInt(value);
  if (v < 0n || v > 0xffffffffffffffffn) throw new WireError('ERR_UNENCODABLE', `CompactSize out of range: ${v}`);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (v < 0xfdn) {
    out[o] = Number(v);
    return o + 1;
  }
  if (v <= 0xffffn) {
    out[o] = 0xfd;
    dv.setUint16(o + 1, Number(v), true);
    return o + 3;
  }
  if (v <= 0xffffffffn) {
    out[o] = 0xfe;
    dv.setUint32(o + 1, Number(v), true);
    return o + 5;
  }
  out[o] = 0xff;
  dv.setBigUint64(o + 1, v, true);
  return o + 9;
}

export function encodeCompactSize(value: number | bigint): Buffer {
  const out = Buffer.allocUnsafe(compactSizeLength(value));
  writeCompactSize(out, 0, value);
  return out;
}

/**
 * Result slot for {@link readCompactSizeAt}: reading into a reused object
 * instead of returning a fresh {value, next} pair keeps the addr loop
 * allocation-free.
 */
export interface CompactSizeRead {
  /** The value when it fits a double exactly (always the case when range-checked). */
  value: number;
  /** The exact value; set only when `value` cannot hold it (above 2^53 - 1). */
  big: bigint | null;
  next: number;
}

function truncated(what: string, o: number, end: number): WireError {
  return new WireError('ERR_TRUNCATED', `${what}: CompactSize at byte ${o} runs past the end (${end} bytes)`);
}

/**
 * Reads a CompactSize at `o` (not past `end`) into `into`. Throws a WireError
 * for a truncated or non-canonical encoding, and above MAX_SIZE when
 * `rangeCheck` (addrv2 service flags are the one place Core reads without it).
 */
export function readCompactSizeAt(b: Uint8Array, o: number, end: number, rangeCheck: boolean, into: CompactSizeRead, what = 'payload'): void {
  if (o >= end) throw truncated(what, o, end);
  const first = b[o]!;
  into.big = null;
  if (first < 0xfd) {
    into.value = first;
    into.next = o + 1;
    return;
  }
  let value: number;
  if (first === 0xfd) {
    if (end - o < 3) throw truncated(what, o, end);
    value = u16le(b, o + 1);
    if (value < 0xfd) throw new WireError('ERR_NONCANONICAL_COMPACTSIZE', `${what}: non-canonical CompactSize ${value} in 3 bytes`);
    into.next = o + 3;
  } else if (first === 0xfe) {
    if (end - o < 5) throw truncated(what, o, end);
    value = u32le(b, o + 1);
    if (value < 0x10000) throw new WireError('ERR_NONCANONICAL_COMPACTSIZE', `${what}: non-canonical CompactSize ${value} in 5 bytes`);
    into.next = o + 5;
  } else {
    if (end - o < 9) throw truncated(what, o, end);
    const lo = u32le(b, o + 1);
    const hi = u32le(b, o + 5);
    if (hi === 0) throw new WireError('ERR_NONCANONICAL_COMPACTSIZE', `${what}: non-canonical CompactSize ${lo} in 9 bytes`);
    into.next = o + 9;
    if (rangeCheck) throw new WireError('ERR_COMPACTSIZE_TOO_LARGE', `${what}: CompactSize ${u64FromHalves(lo, hi)} > MAX_SIZE ${MAX_SIZE}`);
    if (hi < 0x200000) {
      value = hi * 0x100000000 + lo;
    } else {
      into.big = u64FromHalves(lo, hi);
      value = Number(into.big);
    }
  }
  if (rangeCheck && value > MAX_SIZE) throw new WireError('ERR_COMPACTSIZE_TOO_LARGE', `${what}: CompactSize ${value} > MAX_SIZE ${MAX_SIZE}`);
  into.value = value;
}

/**
 * Decodes a whole byte string as exactly one CompactSize (range-checked unless
 * told otherwise). Bytes after it are ERR_TRAILING_BYTES.
 */
export function decodeCompactSize(bytes: Uint8Array, rangeCheck = true): bigint {
  const r: CompactSizeRead = { value: 0, big: null, next: 0 };
  readCompactSizeAt(bytes, 0, bytes.length, rangeCheck, r, 'CompactSize');
  if (r.next !== bytes.length) throw new WireError('ERR_TRAILING_BYTES', `CompactSize: ${bytes.length - r.next} bytes after the value`);
  return r.big ?? BigInt(r.value);
}
