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
import { addressKey } from '../src/shared/address-key.js';
import { parseAddress, type AddressNetwork } from '../src/wire/index.js';

export class RecentAddresses {
  private current: NumberSet;
  private previous: NumberSet;
  private currentTexts = new Set<string>();
  private previousTexts = new Set<string>();

  constructor(private readonly generationSize = 65_536) {
    this.current = new NumberSet(generationSize);
    this.previous = new NumberSet(generationSize);
  }

  /**
   * Addresses the main thread did not store (their source was over its
   * budget): the next peer that sends one must get it through again, or an
   * attacker that spent its budget could make the worker hide honest
   * addresses it sent first. Bounded like a generation.
   */
  private forgotten = new Set<number | string>();

  /** The main thread dropped `key`: report it again the next time a peer sends it. */
  forget(key: number | string): void {
    if (this.forgotten.size >= this.generationSize) this.forgotten = new Set();
    this.forgotten.add(key);
  }

  /** True (and remembered) if `key` was not seen recently. */
  firstTime(key: number | string): boolean {
    if (this.forgotten.size > 0 && this.forgotten.delete(key)) return true;
    if (typeof key === 'number') {
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

/** The numeric key of an IPv4 address and port: unique, below 2^48. */
export function ipv4Key(b: Uint8Array, o: number, port: number): number {
  return (((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0) * 65536 + port;
}

/**
 * The key firstTime() is given for an address text on `network` (numeric for
 * IPv4, as the decoder path makes it). Canonical IPv4 text ("a.b.c.d:port",
 * what the main thread sends back) is read by hand: a flood makes the main
 * thread hand back every address it drops, and parseAddress costs ~3 µs each.
 */
export function recentKey(text: string, network: AddressNetwork): number | string {
  if (network !== 'ipv4') return addressKey(text, network);
  let ip = 0;
  let part = 0;
  let dots = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 5) break;
    } else if (c === 46 && dots < 3 && digits > 0 && part < 256) {
      ip = ip * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c === 58 && dots === 3 && digits > 0 && part < 256) {
      ip = ip * 256 + part;
      const port = Number(text.slice(i + 1));
      if (Number.isInteger(port) && port >= 0 && port <= 65535) return ip * 65536 + port;
      break;
    } else {
      break;
    }
  }
  try {
    const a = parseAddress(text);
    return ipv4Key(a.bytes, 0, a.port);
  } catch {
    return text;
  }
}
