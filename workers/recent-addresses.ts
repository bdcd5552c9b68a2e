/**
 * A worker's memory of the addresses it already passed to the main thread,
 * so that the same address heard from many peers crosses the thread boundary
 * (a structured clone, a string on the main thread, a frontier lookup) once,
 * not once per peer that gossips it. In a crawl most addresses in a getaddr
 * answer are ones the crawl already knows.
 *
 * Bounded: two generations of at most `generationSize` keys each; when the
 * current one fills up it becomes the old one and the older is dropped. An
 * address forgotten that way is simply forwarded again; the main thread's
 * frontier stays the one place that deduplicates for correctness.
 *
 * Keys are built from the address's binary form, never its text, so a
 * duplicate costs no formatting at all (Core text of a Tor v3 address needs a
 * SHA3-256 checksum and base32; of an IPv6 address, zero-run compression):
 * IPv4 addresses (most of them) by a number built from their bytes and port,
 * other networks by binaryKey(). Only addresses seen for the first time are
 * turned into text.
 */
export class RecentAddresses {
  private current: NumberSet;
  private previous: NumberSet;
  private currentTexts = new Set<string>();
  private previousTexts = new Set<string>();

  constructor(private readonly generationSize = 65_536) {
    this.current = new NumberSet(generationSize);
    this.previous = new NumberSet(generationSize);
  }

  /** True (and remembered) if `key` was not seen recently. */
  firstTime(key: number | string): boolean {
    return typeof key === 'number' ? this.firstNumber(key) : this.firstText(key);
  }

  /** firstTime for a numeric key (ipv4Key): monomorphic, for the hot loop. */
  firstNumber(key: number): boolean {
    if (this.current.has(key) || this.previous.has(key)) return false;
    if (this.current.size >= this.generationSize) {
      const emptied = this.previous;
      emptied.clear();
      this.previous = this.current;
      this.current = emptied;
    }
    this.current.add(key);
    return true;
  }

  /** firstTime for a string key (binaryKey, or a text). */
  firstText(key: string): boolean {
    if (this.currentTexts.has(key) || this.previousTexts.has(key)) return false;
    if (this.currentTexts.size >= this.generationSize) {
      this.previousTexts = this.currentTexts;
      this.currentTexts = new Set();
    }
    this.currentTexts.add(key);
    return true;
  }

  get size(): number {
    return this.current.size + this.previous.size + this.currentTexts.size + this.previousTexts.size;
  }
}

/**
 * A set of integers in [0, 2^48) in one Float64Array (open addressing,
 * linear probing, at most half full). A JS Set of such numbers boxes each
 * one above 2^31 as a heap number to hash it; this was the worker's largest
 * JS cost after the socket path (most of every getaddr answer is looked up
 * here). Slot value 0 means empty, so keys are stored plus one.
 */
class NumberSet {
  private readonly slots: Float64Array;
  private readonly shift: number;
  size = 0;

  constructor(maxKeys: number) {
    const bits = Math.max(4, Math.ceil(Math.log2(maxKeys * 2)));
    this.slots = new Float64Array(2 ** bits);
    this.shift = 32 - bits;
  }

  private start(key: number): number {
    const high = Math.floor(key / 65536);
    const low = key - high * 65536;
    return Math.imul(high ^ Math.imul(low, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  has(key: number): boolean {
    const slots = this.slots;
    const mask = slots.length - 1;
    const stored = key + 1;
    for (let i = this.start(key); ; i = (i + 1) & mask) {
      const v = slots[i]!;
      if (v === stored) return true;
      if (v === 0) return false;
    }
  }

  /** Adds a key known to be absent; the caller keeps size at most half the slots. */
  add(key: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = this.start(key);
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = key + 1;
    this.size++;
  }

  clear(): void {
    this.slots.fill(0);
    this.size = 0;
  }
}

/** BIP155 addresses are at most 512 bytes; a key adds the kind and the port. */
const scratch = Buffer.allocUnsafe(3 + 512) as Buffer & { latin1Slice(start: number, end: number): string };

/**
 * The key of a non-IPv4 address: its kind (network), port and raw bytes as
 * one flat latin1 string (exact, no hashing, no text formatting; written
 * through a buffer so V8 stores one flat string, not a tree of concatenations).
 */
export function binaryKey(kind: number, bytes: Uint8Array, start: number, end: number, port: number): string {
  const b = scratch;
  b[0] = kind;
  b[1] = port >>> 8;
  b[2] = port & 0xff;
  let o = 3;
  for (let i = start; i < end && o < b.length; i++) b[o++] = bytes[i]!;
  // latin1Slice: what toString('latin1') calls, without its argument handling (~100 ns a call).
  return b.latin1Slice(0, o);
}

/** The numeric key of an IPv4 address and port: unique, below 2^48. */
export function ipv4Key(b: Uint8Array, o: number, port: number): number {
  return (((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0) * 65536 + port;
}
