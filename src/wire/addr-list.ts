/**
 * The decoded form of an addr / addrv2 message: one column per field
 * (struct of arrays) instead of 1,000 entry objects.
 *
 * Why: building an `AddrEntry` object plus its own `Uint8Array` per entry
 * costs about as much as hashing the whole message (~19 ns × 1,000), and a
 * crawler only wants each address's text and network. Here a message costs a
 * handful of allocations (ONE ArrayBuffer holding every column and all the
 * address bytes, plus a few views over it); entries are materialised only
 * when someone asks (`get(i)`, iteration, `toEntries()`).
 *
 * The list owns its bytes: they are copied out of the payload, so a list
 * never pins the socket chunk or frame it was decoded from. The columns are
 * public for fast reads; treat them as read-only (writing to them changes
 * what every accessor and a later `entries` returns).
 */
import { formatAddressAt, formatHostAt } from './address-text.js';
import { isValidAt } from './address.js';
import { u64FromHalves } from './bytes.js';
import type { AddrEntry, AddressNetwork, NetAddress } from './types.js';

/** Per-entry network codes in `kinds`. NULL_ADDRESS: Core keeps the entry as an invalid `::`. */
export const NULL_ADDRESS = 0;
export const KIND_IPV4 = 1;
export const KIND_IPV6 = 2;
export const KIND_ONION = 3;
export const KIND_I2P = 4;
export const KIND_CJDNS = 5;

const NETWORK_OF_KIND: readonly (AddressNetwork | null)[] = [null, 'ipv4', 'ipv6', 'onion', 'i2p', 'cjdns'];

/** The shared bigints u64FromHalves hands out for flags below 2^12, looked up without the call. */
const SMALL_SERVICES: readonly bigint[] = Array.from({ length: 4096 }, (_, i) => u64FromHalves(i, 0));

/** Everything an AddrList holds; the decoder fills the columns in place. */
export interface AddrColumns {
  readonly times: Uint32Array;
  /** Service flags as two uint32 halves, so every uint64 stays exact without a bigint per entry. */
  readonly servicesLo: Uint32Array;
  readonly servicesHi: Uint32Array;
  /** BIP155 network id as sent (1 for v1 IPv4-mapped, 2 for other v1 entries). */
  readonly networkIds: Uint8Array;
  /** KIND_* code, NULL_ADDRESS where `get(i).address` is null. */
  readonly kinds: Uint8Array;
  readonly ports: Uint16Array;
  /** Entry i's bytes are `bytes[offsets[i] .. offsets[i + 1])`: the address (4/16/32 bytes) or, for a null entry, the bytes as sent. */
  readonly offsets: Uint32Array;
  readonly bytes: Uint8Array;
}

/** The columns being filled, plus where the address bytes go. */
export interface ColumnsInProgress extends Omit<AddrColumns, 'bytes'> {
  readonly buffer: ArrayBuffer;
  /** Where the address bytes start in `buffer`; `byteCapacity` bytes are reserved there. */
  readonly bytesOffset: number;
  readonly byteCapacity: number;
}

/**
 * ONE ArrayBuffer for a whole message: the fixed-size columns of `count`
 * entries (widest types first, so every view is aligned) and then room for
 * `byteCapacity` address bytes. Each ArrayBuffer is an off-heap allocation
 * that costs ~1-2 µs whatever its size, so a list pays for exactly one.
 */
export function allocateColumns(count: number, byteCapacity: number): ColumnsInProgress {
  const n4 = count * 4;
  const bytesOffset = n4 * 3 + (count + 1) * 4 + count * 2 + count * 2;
  const buffer = new ArrayBuffer(bytesOffset + byteCapacity);
  let o = 0;
  const times = new Uint32Array(buffer, o, count);
  o += n4;
  const servicesLo = new Uint32Array(buffer, o, count);
  o += n4;
  const servicesHi = new Uint32Array(buffer, o, count);
  o += n4;
  const offsets = new Uint32Array(buffer, o, count + 1);
  o += (count + 1) * 4;
  const ports = new Uint16Array(buffer, o, count);
  o += count * 2;
  const networkIds = new Uint8Array(buffer, o, count);
  o += count;
  const kinds = new Uint8Array(buffer, o, count);
  return { times, servicesLo, servicesHi, offsets, ports, networkIds, kinds, buffer, bytesOffset, byteCapacity };
}

/**
 * A zeroed array of `n` bytes. V8 allocates `new Uint8Array(<constant ≤ 64>)`
 * inline on its heap; with a variable length it takes a much slower generic
 * path (materialising 1,000 entries cost ~50% more), so the address sizes get
 * constant-length allocations.
 */
function ownedArray(n: number): Uint8Array {
  switch (n) {
    case 4:
      return new Uint8Array(4);
    case 16:
      return new Uint8Array(16);
    case 32:
      return new Uint8Array(32);
    default:
      return new Uint8Array(n);
  }
}

function copyRange(b: Uint8Array, start: number, end: number): Uint8Array {
  const out = ownedArray(end - start);
  for (let i = start; i < end; i++) out[i - start] = b[i]!;
  return out;
}

// The columns are declared again here, not inherited from AddrColumns: a class
// cannot take field declarations from an interface without declaration merging,
// and plain own fields, all set in the constructor, keep every list on one
// hidden class for the hot accessors. `implements` keeps the two lists in step.
export class AddrList implements AddrColumns, Iterable<AddrEntry> {
  readonly length: number;
  readonly times: Uint32Array;
  readonly servicesLo: Uint32Array;
  readonly servicesHi: Uint32Array;
  readonly networkIds: Uint8Array;
  readonly kinds: Uint8Array;
  readonly ports: Uint16Array;
  readonly offsets: Uint32Array;
  readonly bytes: Uint8Array;

  constructor(c: AddrColumns) {
    this.length = c.times.length;
    this.times = c.times;
    this.servicesLo = c.servicesLo;
    this.servicesHi = c.servicesHi;
    this.networkIds = c.networkIds;
    this.kinds = c.kinds;
    this.ports = c.ports;
    this.offsets = c.offsets;
    this.bytes = c.bytes;
  }

  timeAt(i: number): number {
    return this.times[i]!;
  }

  /** Exact uint64 service flags (shared small bigints: no allocation for the usual flag sets). */
  servicesAt(i: number): bigint {
    return u64FromHalves(this.servicesLo[i]!, this.servicesHi[i]!);
  }

  networkIdAt(i: number): number {
    return this.networkIds[i]!;
  }

  /** The address's network, or null where `get(i).address` is null. */
  networkAt(i: number): AddressNetwork | null {
    return NETWORK_OF_KIND[this.kinds[i]!] ?? null;
  }

  /**
   * Core's IsValid() for entry i (see isAddressValid): false for a null entry,
   * `::`, 0.0.0.0, 255.255.255.255, 2001:db8::/32 and CJDNS outside fc00::/8.
   * Core's addrman never stores such an entry.
   */
  validAt(i: number): boolean {
    const network = NETWORK_OF_KIND[this.kinds[i]!] ?? null;
    return network !== null && isValidAt(network, this.bytes, this.offsets[i]!);
  }

  /** The port (of the address, or as sent for a null entry). */
  portAt(i: number): number {
    return this.ports[i]!;
  }

  /** A fresh copy of entry i's bytes (the address, or the bytes as sent for a null entry). */
  bytesAt(i: number): Uint8Array {
    return copyRange(this.bytes, this.offsets[i]!, this.offsets[i + 1]!);
  }

  /**
   * Core's text form of entry i's address incl. port, as formatAddress would
   * print `get(i).address`, without building the NetAddress; null for a null
   * entry.
   */
  textAt(i: number): string | null {
    const kind = this.kinds[i]!;
    return kind === NULL_ADDRESS ? null : formatAddressAt(NETWORK_OF_KIND[kind]!, this.bytes, this.offsets[i]!, this.ports[i]!);
  }

  /** Alias of {@link textAt}, named after formatAddress. */
  formatAt(i: number): string | null {
    return this.textAt(i);
  }

  /** The host part of {@link textAt} (no port, no brackets); null for a null entry. */
  hostAt(i: number): string | null {
    const kind = this.kinds[i]!;
    return kind === NULL_ADDRESS ? null : formatHostAt(NETWORK_OF_KIND[kind]!, this.bytes, this.offsets[i]!);
  }

  /** Entry i's address with its own bytes, or null (see AddrEntry.address). */
  addressAt(i: number): NetAddress | null {
    const network = NETWORK_OF_KIND[this.kinds[i]!] ?? null;
    return network === null ? null : { network, bytes: this.bytesAt(i), port: this.ports[i]! };
  }

  /** Materialises entry i exactly as the entry-per-object decoder built it. Out of range: RangeError. */
  get(i: number): AddrEntry {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`AddrList index ${i} out of range (length ${this.length})`);
    const time = this.times[i]!;
    const services = u64FromHalves(this.servicesLo[i]!, this.servicesHi[i]!);
    const networkId = this.networkIds[i]!;
    const network = NETWORK_OF_KIND[this.kinds[i]!] ?? null;
    const bytes = this.bytesAt(i);
    const port = this.ports[i]!;
    return network !== null
      ? { time, services, address: { network, bytes, port }, networkId }
      : { time, services, address: null, networkId, unparsed: { bytes, port } };
  }

  /**
   * Every entry materialised, in order. One tight loop rather than get(i) per
   * entry: this is what `AddrMessage.entries` pays for, so it should cost no
   * more than the old object-per-entry decoder did.
   */
  toEntries(): AddrEntry[] {
    const n = this.length;
    const out = new Array<AddrEntry>(n);
    const { times, servicesLo, servicesHi, networkIds, kinds, ports, offsets, bytes } = this;
    let start = offsets[0]!;
    for (let i = 0; i < n; i++) {
      const end = offsets[i + 1]!;
      let own: Uint8Array;
      if (end - start === 4) {
        own = new Uint8Array(4);
        own[0] = bytes[start]!;
        own[1] = bytes[start + 1]!;
        own[2] = bytes[start + 2]!;
        own[3] = bytes[start + 3]!;
      } else {
        own = ownedArray(end - start);
        for (let k = start; k < end; k++) own[k - start] = bytes[k]!;
      }
      const network = NETWORK_OF_KIND[kinds[i]!] ?? null;
      const hi = servicesHi[i]!;
      const lo = servicesLo[i]!;
      const services = hi === 0 && lo < 4096 ? SMALL_SERVICES[lo]! : u64FromHalves(lo, hi);
      out[i] =
        network !== null
          ? { time: times[i]!, services, address: { network, bytes: own, port: ports[i]! }, networkId: networkIds[i]! }
          : { time: times[i]!, services, address: null, networkId: networkIds[i]!, unparsed: { bytes: own, port: ports[i]! } };
      start = end;
    }
    return out;
  }

  *[Symbol.iterator](): Iterator<AddrEntry> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}
