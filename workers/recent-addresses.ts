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
import { KIND_CJDNS, KIND_I2P, KIND_IPV4, KIND_IPV6, KIND_ONION } from '../src/wire/addr-list.js';
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
    return typeof key === 'number' ? this.firstNumber(key) : this.firstText(key);
  }

  /** firstTime for a numeric key (ipv4Key): monomorphic, for the hot loop. */
  firstNumber(key: number): boolean {
    if (this.forgotten.size > 0 && this.forgotten.delete(key)) return true;
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
    if (this.forgotten.size > 0 && this.forgotten.delete(key)) return true;
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

/**
 * The key firstTime() is given for an address text on `network` (numeric for
 * IPv4, as the decoder path makes it). Canonical IPv4 text ("a.b.c.d:port",
 * what the main thread sends back) is read by hand: a flood makes the main
 * thread hand back every address it drops, and parseAddress costs ~3 µs each.
 */
export function recentKey(text: string, network: AddressNetwork): number | string {
  if (network !== 'ipv4') return textBinaryKey(text, network);
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

const KIND_OF_NETWORK: Readonly<Record<AddressNetwork, number>> = { ipv4: KIND_IPV4, ipv6: KIND_IPV6, onion: KIND_ONION, i2p: KIND_I2P, cjdns: KIND_CJDNS };

/**
 * binaryKey() of an address given as text on `network`: the key the decoder
 * path made for it (the network comes from the caller, since a CJDNS address
 * and an IPv6 one share a text form).
 */
function textBinaryKey(text: string, network: AddressNetwork): string {
  try {
    const a = parseAddress(text);
    return binaryKey(KIND_OF_NETWORK[network], a.bytes, 0, a.bytes.length, a.port);
  } catch {
    return text;
  }
}
