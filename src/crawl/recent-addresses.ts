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
 * IPv4 addresses (most of them) are keyed by a number built from their bytes
 * and port, so a duplicate costs no text formatting at all; other networks
 * by their text.
 */
export class RecentAddresses {
  private current = new Set<number | string>();
  private previous = new Set<number | string>();

  constructor(private readonly generationSize = 65_536) {}

  /** True (and remembered) if `key` was not seen recently. */
  firstTime(key: number | string): boolean {
    if (this.current.has(key) || this.previous.has(key)) return false;
    if (this.current.size >= this.generationSize) {
      this.previous = this.current;
      this.current = new Set();
    }
    this.current.add(key);
    return true;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/** The numeric key of an IPv4 address and port: unique, below 2^48. */
export function ipv4Key(b: Uint8Array, o: number, port: number): number {
  return (((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0) * 65536 + port;
}
