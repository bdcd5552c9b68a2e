/**
 * A bounds-checked cursor over one payload. Every read checks the remaining
 * length first and throws a WireError (ERR_TRUNCATED), so a malformed payload
 * can never surface as a RangeError. Used for the small messages; the addr
 * loops check whole entries at once instead.
 */
import { WireError } from '../errors.js';
import { copyBytes, i32le, i64le, u16be, u32le, u64le } from './bytes.js';
import { readCompactSizeAt, type CompactSizeRead } from './compact-size.js';

export class PayloadReader {
  pos: number;
  readonly end: number;
  private readonly cs: CompactSizeRead = { value: 0, big: null, next: 0 };

  constructor(
    readonly buf: Uint8Array,
    /** Names the message in error texts. */
    readonly what: string,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, field: string): void {
    if (this.end - this.pos < n) {
      throw new WireError('ERR_TRUNCATED', `${this.what}: ${field} needs ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  u16be(field: string): number {
    this.need(2, field);
    const v = u16be(this.buf, this.pos);
    this.pos += 2;
    return v;
  }

  u32le(field: string): number {
    this.need(4, field);
    const v = u32le(this.buf, this.pos);
    this.pos += 4;
    return v;
  }

  i32le(field: string): number {
    this.need(4, field);
    const v = i32le(this.buf, this.pos);
    this.pos += 4;
    return v;
  }

  u64le(field: string): bigint {
    this.need(8, field);
    const v = u64le(this.buf, this.pos);
    this.pos += 8;
    return v;
  }

  i64le(field: string): bigint {
    this.need(8, field);
    const v = i64le(this.buf, this.pos);
    this.pos += 8;
    return v;
  }

  /** A range-checked CompactSize (≤ MAX_SIZE), as a number. */
  compactSize(field: string): number {
    readCompactSizeAt(this.buf, this.pos, this.end, true, this.cs, `${this.what} ${field}`);
    this.pos = this.cs.next;
    return this.cs.value;
  }

  /** A CompactSize without range check (any uint64), as a bigint. */
  compactSizeUnchecked(field: string): bigint {
    readCompactSizeAt(this.buf, this.pos, this.end, false, this.cs, `${this.what} ${field}`);
    this.pos = this.cs.next;
    return this.cs.big ?? BigInt(this.cs.value);
  }

  /** `n` bytes copied out, so the result never pins the payload. */
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const v = copyBytes(this.buf, this.pos, n);
    this.pos += n;
    return v;
  }

  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }

  /** Core reads nothing after the last field; we refuse leftovers so garbage is visible. */
  done(): void {
    if (this.pos !== this.end) {
      throw new WireError('ERR_TRAILING_BYTES', `${this.what}: ${this.end - this.pos} unexpected bytes after the last field`);
    }
  }
}
