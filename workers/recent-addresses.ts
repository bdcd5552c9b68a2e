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
import { parseAddress, type AddressNetwork, type NetAddress } from '../src/wire/index.js';

export class RecentAddresses {
  private current: NumberSet;
  private previous: NumberSet;
  private currentBytes: BytesSet;
  private previousBytes: BytesSet;
  private currentTexts = new Set<string>();
  private previousTexts = new Set<string>();

  constructor(private readonly generationSize = 65_536) {
    this.current = new NumberSet(generationSize);
    this.previous = new NumberSet(generationSize);
    this.currentBytes = new BytesSet(generationSize);
    this.previousBytes = new BytesSet(generationSize);
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

  /**
   * firstTime for the IPv4 address at `bytes[o..o+4)` and `port`: the key is
   * made here, so no double crosses a call boundary (an uninlined call boxes
   * a key above 2^31 as a heap number, one allocation per entry).
   */
  firstIpv4(bytes: Uint8Array, o: number, port: number): boolean {
    return this.firstNumber(ipv4Key(bytes, o, port));
  }

  /** firstTime for a decoded address: the same key, in the same set, as the compact-list path. */
  firstAddress(a: NetAddress): boolean {
    return a.network === 'ipv4' ? this.firstIpv4(a.bytes, 0, a.port) : this.firstBytes(KIND_OF_NETWORK[a.network], a.bytes, 0, a.bytes.length, a.port);
  }

  /** firstTime for a numeric key (ipv4Key): monomorphic, for the hot loop. */
  firstNumber(key: number): boolean {
    if (this.forgotten.size > 0 && this.forgotten.delete(key)) return true;
    if (this.current.has(key) || (this.previous.size !== 0 && this.previous.has(key))) return false;
    if (this.current.size >= this.generationSize) {
      const emptied = this.previous;
      emptied.clear();
      this.previous = this.current;
      this.current = emptied;
    }
    this.current.add(key);
    return true;
  }

  /**
   * firstTime for a non-IPv4 address given by its binary form (the key
   * binaryKey() would make, without making it: no string per entry, which
   * cost ~230 ns of allocation and string hashing per lookup).
   */
  firstBytes(kind: number, bytes: Uint8Array, start: number, end: number, port: number): boolean {
    if (this.forgotten.size > 0 && this.forgotten.delete(binaryKey(kind, bytes, start, end, port))) return true;
    const h = this.currentBytes.hash(kind, bytes, start, end, port);
    if (this.currentBytes.has(h, kind, bytes, start, end, port)) return false;
    if (this.previousBytes.size !== 0 && this.previousBytes.has(h, kind, bytes, start, end, port)) return false;
    if (!this.currentBytes.add(h, kind, bytes, start, end, port)) {
      const emptied = this.previousBytes;
      emptied.clear();
      this.previousBytes = this.currentBytes;
      this.currentBytes = emptied;
      this.currentBytes.add(h, kind, bytes, start, end, port);
    }
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
    return this.current.size + this.previous.size + this.currentBytes.size + this.previousBytes.size + this.currentTexts.size + this.previousTexts.size;
  }
}

/** Slots a set starts with; it doubles as it fills (see NumberSet). */
const INITIAL_SLOTS = 4096;

/**
 * A set of integers in [0, 2^48) in one Float64Array (open addressing,
 * linear probing, at most half full). A JS Set of such numbers boxes each
 * one above 2^31 as a heap number to hash it; this was the worker's largest
 * JS cost after the socket path (most of every getaddr answer is looked up
 * here). Slot value 0 means empty, so keys are stored plus one.
 *
 * The table grows with what it holds (doubling, from INITIAL_SLOTS) instead
 * of starting at its largest: every lookup lands on a random slot, and in a
 * busy worker a 1 MB table is mostly out of cache and TLB. Measured with
 * perf in the full-answer benchmark (10,000 addresses, 6 M lookups): ~170 ns
 * a lookup with the table at its largest, most of a full answer's cost.
 */
class NumberSet {
  private slots: Float64Array;
  private shift: number;
  size = 0;

  constructor(private readonly maxKeys: number) {
    this.slots = new Float64Array(Math.min(INITIAL_SLOTS, slotsFor(maxKeys)));
    this.shift = 32 - Math.log2(this.slots.length);
  }

  private start(key: number): number {
    const high = Math.floor(key / 65536);
    const low = key - high * 65536;
    return Math.imul(high ^ Math.imul(low ^ HASH_SEED, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
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

  /** Adds a key known to be absent; the caller keeps size at most maxKeys. */
  add(key: number): void {
    if ((this.size + 1) * 2 > this.slots.length && this.slots.length < slotsFor(this.maxKeys)) this.grow();
    this.insert(key + 1);
    this.size++;
  }

  private insert(stored: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = this.start(stored - 1);
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = stored;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Float64Array(old.length * 2);
    this.shift--;
    for (let i = 0; i < old.length; i++) if (old[i] !== 0) this.insert(old[i]!);
  }

  clear(): void {
    if (this.slots.length > INITIAL_SLOTS) {
      this.slots = new Float64Array(INITIAL_SLOTS);
      this.shift = 32 - Math.log2(INITIAL_SLOTS);
    } else {
      this.slots.fill(0);
    }
    this.size = 0;
  }
}

/** Slots for at most `maxKeys` keys at most half full: a power of two. */
function slotsFor(maxKeys: number): number {
  return 2 ** Math.max(4, Math.ceil(Math.log2(maxKeys * 2)));
}

/** Room per key in a BytesSet's arena: kind, port and a 32-byte address (Tor v3, I2P) fit. */
const ARENA_BYTES_PER_KEY = 3 + 32;

/**
 * An exact set of non-IPv4 address keys (kind, port, raw bytes) in typed
 * arrays: open addressing over a 32-bit hash, each key's bytes kept in one
 * arena and compared in full on a hash match, so no key is ever a string
 * and a collision costs a compare, never a wrong answer. The hash is seeded
 * per process, so a peer cannot choose addresses that pile onto one probe
 * chain. Full (as many keys as it was sized for, or the arena used up, which
 * only keys longer than 32 bytes can do): add() returns false and the caller
 * starts a new generation.
 */
class BytesSet {
  private slots: Int32Array;
  private hashes: Uint32Array;
  private starts: Uint32Array;
  private lengths: Uint16Array;
  private arena: Uint8Array;
  private arenaUsed = 0;
  size = 0;

  constructor(private readonly maxKeys: number) {
    this.slots = new Int32Array(Math.min(INITIAL_SLOTS, slotsFor(maxKeys)));
    const keys = this.slots.length / 2;
    this.hashes = new Uint32Array(keys);
    this.starts = new Uint32Array(keys);
    this.lengths = new Uint16Array(keys);
    this.arena = new Uint8Array(keys * ARENA_BYTES_PER_KEY);
  }

  /** FNV-1a over kind, port and the bytes, from a per-process seed, then mixed (murmur3's finaliser). */
  hash(kind: number, bytes: Uint8Array, start: number, end: number, port: number): number {
    let h = Math.imul(HASH_SEED ^ kind, 0x01000193);
    h = Math.imul(h ^ port, 0x01000193);
    for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    return h >>> 0;
  }

  has(h: number, kind: number, bytes: Uint8Array, start: number, end: number, port: number): boolean {
    const slots = this.slots;
    const mask = slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = slots[i]! - 1;
      if (e < 0) return false;
      if (this.hashes[e] === h && this.matches(e, kind, bytes, start, end, port)) return true;
    }
  }

  private matches(e: number, kind: number, bytes: Uint8Array, start: number, end: number, port: number): boolean {
    const len = end - start;
    if (this.lengths[e] !== len + 3) return false;
    const a = this.arena;
    let o = this.starts[e]!;
    if (a[o] !== kind || a[o + 1] !== port >>> 8 || a[o + 2] !== (port & 0xff)) return false;
    o += 3;
    for (let i = 0; i < len; i++) if (a[o + i] !== bytes[start + i]) return false;
    return true;
  }

  /** Adds a key known to be absent; false (nothing added) when full. */
  add(h: number, kind: number, bytes: Uint8Array, start: number, end: number, port: number): boolean {
    const len = end - start + 3;
    if (this.size >= this.maxKeys || this.arenaUsed + len > this.maxKeys * ARENA_BYTES_PER_KEY) return false;
    if (this.size >= this.hashes.length || this.arenaUsed + len > this.arena.length) this.grow(this.arenaUsed + len);
    const e = this.size++;
    const a = this.arena;
    let o = this.arenaUsed;
    this.hashes[e] = h;
    this.starts[e] = o;
    this.lengths[e] = len;
    a[o++] = kind;
    a[o++] = port >>> 8;
    a[o++] = port & 0xff;
    for (let i = start; i < end; i++) a[o++] = bytes[i]!;
    this.arenaUsed = o;
    this.link(e);
    return true;
  }

  private link(e: number): void {
    const slots = this.slots;
    const mask = slots.length - 1;
    let i = this.hashes[e]! & mask;
    while (slots[i] !== 0) i = (i + 1) & mask;
    slots[i] = e + 1;
  }

  /** Doubles the tables (and the arena until `arenaNeeded` fits), within maxKeys. */
  private grow(arenaNeeded: number): void {
    if (this.size >= this.hashes.length) {
      const keys = Math.min(this.hashes.length * 2, this.maxKeys);
      this.hashes = copyInto(new Uint32Array(keys), this.hashes);
      this.starts = copyInto(new Uint32Array(keys), this.starts);
      this.lengths = copyInto(new Uint16Array(keys), this.lengths);
      this.slots = new Int32Array(Math.min(slotsFor(keys), slotsFor(this.maxKeys)));
      for (let e = 0; e < this.size; e++) this.link(e);
    }
    let arenaSize = this.arena.length;
    while (arenaSize < arenaNeeded) arenaSize *= 2;
    if (arenaSize !== this.arena.length) this.arena = copyInto(new Uint8Array(Math.min(arenaSize, this.maxKeys * ARENA_BYTES_PER_KEY)), this.arena.subarray(0, this.arenaUsed));
  }

  clear(): void {
    if (this.slots.length > INITIAL_SLOTS) {
      const fresh = new BytesSet(this.maxKeys);
      this.slots = fresh.slots;
      this.hashes = fresh.hashes;
      this.starts = fresh.starts;
      this.lengths = fresh.lengths;
      this.arena = fresh.arena;
    } else {
      this.slots.fill(0);
    }
    this.size = 0;
    this.arenaUsed = 0;
  }
}

function copyInto<T extends Uint8Array | Uint16Array | Uint32Array>(into: T, from: T): T {
  into.set(from);
  return into;
}

/** BytesSet's hash seed: random per process (see BytesSet). */
const HASH_SEED = (Math.random() * 2 ** 32) >>> 0;

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
