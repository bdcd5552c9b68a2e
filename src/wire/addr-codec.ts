/**
 * addr (v1) and addrv2 (BIP155) payloads: the hot path of a crawler, which
 * decodes up to 1,000 entries per message.
 *
 * Why it looks the way it does: the entry count is checked against the
 * 1,000 limit before anything is allocated; v1 entries are fixed-size, so one
 * length check covers the whole loop; integers are read with plain byte
 * arithmetic (no bigint unless a service flag needs bit 12 or above); address
 * bytes are copied into small owned arrays and never formatted as text here
 * (formatAddress does that lazily for the entries a caller keeps).
 */
import { WireError } from '../errors.js';
import {
  ADDR_V1_ENTRY_SIZE,
  BIP155_CJDNS,
  BIP155_I2P,
  BIP155_IPV4,
  BIP155_IPV6,
  BIP155_TORV3,
  MAX_ADDR_PER_MESSAGE,
  MAX_ADDRV2_SIZE,
} from './constants.js';
import { copyBytes, u32le, u64FromHalves } from './bytes.js';
import { readCompactSizeAt, type CompactSizeRead } from './compact-size.js';
import { ADDRESS_LENGTH, NETWORK_ID, hasInternalPrefix, hasIpv4MappedPrefix, hasOnionCatPrefix, netAddressToV1 } from './address.js';
import type { AddrEntry, AddressNetwork, NetAddress } from './types.js';
import type { PayloadWriter } from './writer.js';

// Decoding is synchronous and never re-entrant, so one scratch slot serves every call.
const cs: CompactSizeRead = { value: 0, big: null, next: 0 };

function tooMany(command: string, count: number): WireError {
  return new WireError('ERR_ADDR_TOO_MANY', `${command}: ${count} entries > ${MAX_ADDR_PER_MESSAGE}`);
}

function truncated(command: string, what: string, o: number, end: number): WireError {
  return new WireError('ERR_TRUNCATED', `${command}: ${what} at byte ${o} runs past the end (${end} bytes)`);
}

const BIP155_NAMES: Record<number, string> = { 1: 'IPv4', 2: 'IPv6', 4: 'TORv3', 5: 'I2P', 6: 'CJDNS' };

/** Decodes an `addr` payload: CompactSize count, then 30-byte v1 entries. */
export function decodeAddrV1(p: Uint8Array): AddrEntry[] {
  const end = p.length;
  readCompactSizeAt(p, 0, end, true, cs, 'addr count');
  const count = cs.value;
  if (count > MAX_ADDR_PER_MESSAGE) throw tooMany('addr', count);
  let o = cs.next;
  const need = o + count * ADDR_V1_ENTRY_SIZE;
  if (end < need) throw new WireError('ERR_TRUNCATED', `addr: ${count} entries need ${need} bytes, payload has ${end}`);
  if (end > need) throw new WireError('ERR_TRAILING_BYTES', `addr: ${end - need} unexpected bytes after ${count} entries`);
  const entries = new Array<AddrEntry>(count);
  for (let i = 0; i < count; i++, o += ADDR_V1_ENTRY_SIZE) {
    const time = u32le(p, o);
    const services = u64FromHalves(u32le(p, o + 4), u32le(p, o + 8));
    const a = o + 12;
    const port = (p[o + 28]! << 8) | p[o + 29]!;
    if (hasIpv4MappedPrefix(p, a)) {
      const bytes = new Uint8Array(4);
      bytes[0] = p[a + 12]!;
      bytes[1] = p[a + 13]!;
      bytes[2] = p[a + 14]!;
      bytes[3] = p[a + 15]!;
      entries[i] = { time, services, address: { network: 'ipv4', bytes, port }, networkId: BIP155_IPV4 };
    } else if (p[a] === 0xfd && (hasOnionCatPrefix(p, a) || hasInternalPrefix(p, a))) {
      // Core turns these into an invalid `::` entry and keeps parsing.
      entries[i] = { time, services, address: null, networkId: BIP155_IPV6, unparsed: { bytes: copyBytes(p, a, 16), port } };
    } else {
      const bytes = new Uint8Array(16);
      for (let k = 0; k < 16; k++) bytes[k] = p[a + k]!;
      entries[i] = { time, services, address: { network: 'ipv6', bytes, port }, networkId: BIP155_IPV6 };
    }
  }
  return entries;
}

/** Expected length of a known BIP155 id, or -1 for an id Core 31.x skips (including 3 and 7). */
function knownLength(id: number): number {
  switch (id) {
    case BIP155_IPV4:
      return 4;
    case BIP155_IPV6:
    case BIP155_CJDNS:
      return 16;
    case BIP155_TORV3:
    case BIP155_I2P:
      return 32;
    default:
      return -1;
  }
}

/** Decodes an `addrv2` payload (BIP155): count, then variable-size entries. */
export function decodeAddrV2(p: Uint8Array): AddrEntry[] {
  const end = p.length;
  readCompactSizeAt(p, 0, end, true, cs, 'addrv2 count');
  const count = cs.value;
  if (count > MAX_ADDR_PER_MESSAGE) throw tooMany('addrv2', count);
  let o = cs.next;
  // The smallest entry is 9 bytes (time 4, services 1, id 1, length 1, port 2):
  // a count the payload cannot hold fails before the array is allocated.
  if (end - o < count * 9) throw new WireError('ERR_TRUNCATED', `addrv2: ${count} entries cannot fit in ${end - o} bytes`);
  const entries = new Array<AddrEntry>(count);
  for (let i = 0; i < count; i++) {
    if (end - o < 5) throw truncated('addrv2', 'entry', o, end);
    const time = u32le(p, o);
    o += 4;
    let services: bigint;
    const s0 = p[o]!;
    if (s0 < 0xfd) {
      services = u64FromHalves(s0, 0);
      o += 1;
    } else if (s0 === 0xfd && end - o >= 3 && (p[o + 1]! | (p[o + 2]! << 8)) >= 0xfd) {
      // Common flag sets (e.g. NETWORK_LIMITED|WITNESS = 0x408) take the 3-byte form.
      services = u64FromHalves(p[o + 1]! | (p[o + 2]! << 8), 0);
      o += 3;
    } else {
      // Service flags are the one CompactSize Core reads without the MAX_SIZE check.
      readCompactSizeAt(p, o, end, false, cs, 'addrv2 services');
      services = cs.big ?? BigInt(cs.value);
      o = cs.next;
    }
    if (o >= end) throw truncated('addrv2', 'network id', o, end);
    const id = p[o++]!;
    let len: number;
    const l0 = o < end ? p[o]! : 0;
    if (o < end && l0 < 0xfd) {
      len = l0;
      o += 1;
    } else {
      readCompactSizeAt(p, o, end, true, cs, 'addrv2 address length');
      len = cs.value;
      o = cs.next;
    }
    if (len > MAX_ADDRV2_SIZE) throw new WireError('ERR_ADDRV2_TOO_LONG', `addrv2: address too long: ${len} > ${MAX_ADDRV2_SIZE}`);
    const want = knownLength(id);
    if (want >= 0 && len !== want) {
      throw new WireError('ERR_ADDRV2_BAD_LENGTH', `addrv2: BIP155 ${BIP155_NAMES[id]} address with length ${len} (should be ${want})`);
    }
    if (end - o < len + 2) throw truncated('addrv2', 'address and port', o, end);
    const port = (p[o + len]! << 8) | p[o + len + 1]!;
    // Inline per network (a helper here was not inlined by V8 and cost ~20%).
    // null where Core stores an invalid entry: IPv6 carrying an IPv4-mapped,
    // OnionCat or internal prefix, or an id Core 31.x does not know.
    let address: NetAddress | null = null;
    if (id === BIP155_IPV4) {
      const bytes = new Uint8Array(4);
      bytes[0] = p[o]!;
      bytes[1] = p[o + 1]!;
      bytes[2] = p[o + 2]!;
      bytes[3] = p[o + 3]!;
      address = { network: 'ipv4', bytes, port };
    } else if (want > 0) {
      let network: AddressNetwork | null;
      if (id === BIP155_IPV6) {
        network = hasIpv4MappedPrefix(p, o) || (p[o] === 0xfd && (hasOnionCatPrefix(p, o) || hasInternalPrefix(p, o))) ? null : 'ipv6';
      } else {
        // CJDNS is kept even without the fc prefix, as Core does (then !IsValid(): see isAddressValid).
        network = id === BIP155_TORV3 ? 'onion' : id === BIP155_I2P ? 'i2p' : 'cjdns';
      }
      if (network !== null) {
        const bytes = new Uint8Array(len);
        for (let k = 0; k < len; k++) bytes[k] = p[o + k]!;
        address = { network, bytes, port };
      }
    }
    entries[i] =
      address !== null
        ? { time, services, address, networkId: id }
        : { time, services, address: null, networkId: id, unparsed: { bytes: copyBytes(p, o, len), port } };
    o += len + 2;
  }
  if (o !== end) throw new WireError('ERR_TRAILING_BYTES', `addrv2: ${end - o} unexpected bytes after ${count} entries`);
  return entries;
}

function checkTime(time: number): void {
  if (!Number.isInteger(time) || time < 0 || time > 0xffffffff) throw new WireError('ERR_UNENCODABLE', `addr time out of uint32 range: ${time}`);
}

function checkServices(services: bigint): void {
  if (typeof services !== 'bigint' || services < 0n || services > 0xffffffffffffffffn) {
    throw new WireError('ERR_UNENCODABLE', `services out of uint64 range: ${String(services)}`);
  }
}

/**
 * Writes an `addr` payload. More than 1,000 entries are written as asked (a
 * simulator may want to misbehave on purpose); the decoder rejects them.
 * Tor v3, I2P and CJDNS have no v1 form: ERR_UNENCODABLE.
 */
export function encodeAddrV1(w: PayloadWriter, entries: readonly AddrEntry[]): void {
  w.compactSize(entries.length);
  for (const e of entries) {
    checkTime(e.time);
    checkServices(e.services);
    w.u32le(e.time);
    w.u64le(e.services);
    if (e.address !== null) {
      w.bytes(netAddressToV1(e.address));
      w.u16be(e.address.port);
    } else if (e.unparsed !== undefined && e.unparsed.bytes.length === 16) {
      w.bytes(e.unparsed.bytes);
      w.u16be(e.unparsed.port);
    } else {
      throw new WireError('ERR_UNENCODABLE', 'addr: an entry without an address needs its 16 unparsed bytes');
    }
  }
}

/** Writes an `addrv2` payload (any entry count; see encodeAddrV1). */
export function encodeAddrV2(w: PayloadWriter, entries: readonly AddrEntry[]): void {
  w.compactSize(entries.length);
  for (const e of entries) {
    checkTime(e.time);
    checkServices(e.services);
    w.u32le(e.time);
    w.compactSize(e.services);
    if (e.address !== null) {
      const a = e.address;
      const network: AddressNetwork = a.network;
      const len = Object.hasOwn(ADDRESS_LENGTH, network) ? ADDRESS_LENGTH[network] : -1;
      if (len < 0 || a.bytes.length !== len) throw new WireError('ERR_UNENCODABLE', `addrv2: bad ${String(network)} address`);
      w.u8(NETWORK_ID[network]);
      w.compactSize(len);
      w.bytes(a.bytes);
      w.u16be(a.port);
    } else {
      const id = e.networkId;
      if (!Number.isInteger(id) || id < 0 || id > 255) throw new WireError('ERR_UNENCODABLE', `addrv2: network id ${id} out of range`);
      const bytes = e.unparsed?.bytes ?? new Uint8Array(0);
      if (e.unparsed === undefined && knownLength(id) >= 0) {
        throw new WireError('ERR_UNENCODABLE', `addrv2: an entry with known network id ${id} needs an address or unparsed bytes`);
      }
      w.u8(id);
      w.compactSize(bytes.length);
      w.bytes(bytes);
      w.u16be(e.unparsed?.port ?? 0);
    }
  }
}
