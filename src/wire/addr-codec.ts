/**
 * addr (v1) and addrv2 (BIP155) payloads: the hot path of a crawler, which
 * decodes up to 1,000 entries per message.
 *
 * Why it looks the way it does: the entry count is checked against the
 * 1,000 limit before anything is allocated; v1 entries are fixed-size, so one
 * length check covers the whole loop; integers are read with plain byte
 * arithmetic; every field goes into the columns of an AddrList (a handful of
 * allocations per message, not an object and a Uint8Array per entry); address
 * bytes are copied into the list's one owned array and never formatted as
 * text here (AddrList.textAt does that for the entries a caller wants).
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
import { AddrList, KIND_CJDNS, KIND_I2P, KIND_IPV4, KIND_IPV6, KIND_ONION, NULL_ADDRESS, allocateColumns } from './addr-list.js';
import { readCompactSizeAt, type CompactSizeRead } from './compact-size.js';
import { ADDRESS_LENGTH, NETWORK_ID, hasInternalPrefix, hasOnionCatPrefix, netAddressToV1 } from './address.js';
import type { AddrEntry, AddressNetwork } from './types.js';
import type { PayloadWriter } from './writer.js';

// Decoding is synchronous and never re-entrant, so one scratch slot serves every call.
const cs: CompactSizeRead = { value: 0, big: null, next: 0 };

function tooMany(command: string, count: number): WireError {
  return new WireError('ERR_ADDR_TOO_MANY', `${command}: ${count} entries > ${MAX_ADDR_PER_MESSAGE}`);
}

function truncated(command: string, what: string, o: number, end: number): WireError {
  return new WireError('ERR_TRUNCATED', `${command}: ${what} at byte ${o} runs past the end (${end} bytes)`);
}

const BIP155_NAMES: Record<number, string> = { [BIP155_IPV4]: 'IPv4', [BIP155_IPV6]: 'IPv6', [BIP155_TORV3]: 'TORv3', [BIP155_I2P]: 'I2P', [BIP155_CJDNS]: 'CJDNS' };

/*
 * Reads and copies go through DataViews: TurboFan turns getUint32/setUint32
 * into single machine loads and stores, four times fewer bounds-checked
 * element accesses than assembling integers byte by byte (the loop was
 * dominated by those: ~25 ns per entry before, see bench/codec.mjs). Every
 * offset read has been proven in range by the length checks first, so no
 * RangeError can escape.
 */

/** True when the 16 bytes at `a` are ::ffff:0:0/96 (read as three LE words: bytes 8-11 are 00 00 ff ff). */
function isIpv4Mapped(pv: DataView, a: number): boolean {
  return pv.getUint32(a + 8, true) === 0xffff0000 && pv.getUint32(a, true) === 0 && pv.getUint32(a + 4, true) === 0;
}

/** Decodes an `addr` payload: CompactSize count, then 30-byte v1 entries. */
export function decodeAddrV1(p: Uint8Array): AddrList {
  const end = p.length;
  readCompactSizeAt(p, 0, end, true, cs, 'addr count');
  const count = cs.value;
  if (count > MAX_ADDR_PER_MESSAGE) throw tooMany('addr', count);
  let o = cs.next;
  const need = o + count * ADDR_V1_ENTRY_SIZE;
  if (end < need) throw new WireError('ERR_TRUNCATED', `addr: ${count} entries need ${need} bytes, payload has ${end}`);
  if (end > need) throw new WireError('ERR_TRAILING_BYTES', `addr: ${end - need} unexpected bytes after ${count} entries`);
  const pv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  // A cheap first pass sizes the address bytes exactly (4 per IPv4-mapped entry, else 16).
  let mapped = 0;
  for (let i = 0, a = o + 12; i < count; i++, a += ADDR_V1_ENTRY_SIZE) if (isIpv4Mapped(pv, a)) mapped++;
  const c = allocateColumns(count, mapped * 4 + (count - mapped) * 16);
  const { times, servicesLo, servicesHi, offsets, ports, networkIds, kinds } = c;
  const ov = new DataView(c.buffer, c.bytesOffset, c.byteCapacity);
  let w = 0;
  for (let i = 0; i < count; i++, o += ADDR_V1_ENTRY_SIZE) {
    times[i] = pv.getUint32(o, true);
    servicesLo[i] = pv.getUint32(o + 4, true);
    servicesHi[i] = pv.getUint32(o + 8, true);
    ports[i] = pv.getUint16(o + 28);
    offsets[i] = w;
    const a = o + 12;
    if (isIpv4Mapped(pv, a)) {
      networkIds[i] = BIP155_IPV4;
      kinds[i] = KIND_IPV4;
      ov.setUint32(w, pv.getUint32(a + 12, true), true);
      w += 4;
    } else {
      networkIds[i] = BIP155_IPV6;
      // Core turns OnionCat/internal into an invalid `::` entry and keeps parsing;
      // the 16 bytes are kept either way (address, or the bytes as sent).
      kinds[i] = p[a] === 0xfd && (hasOnionCatPrefix(p, a) || hasInternalPrefix(p, a)) ? NULL_ADDRESS : KIND_IPV6;
      ov.setUint32(w, pv.getUint32(a, true), true);
      ov.setUint32(w + 4, pv.getUint32(a + 4, true), true);
      ov.setUint32(w + 8, pv.getUint32(a + 8, true), true);
      ov.setUint32(w + 12, pv.getUint32(a + 12, true), true);
      w += 16;
    }
  }
  offsets[count] = w;
  return new AddrList({ times, servicesLo, servicesHi, offsets, ports, networkIds, kinds, bytes: new Uint8Array(c.buffer, c.bytesOffset, w) });
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

/** knownLength and the KIND_* of every id as tables: two loads instead of two switches per entry. */
const LENGTH_BY_ID = Int16Array.from({ length: 256 }, (_, id) => knownLength(id));
const KIND_BY_ID = Uint8Array.from({ length: 256 }, (_, id) =>
  id === BIP155_IPV4 ? KIND_IPV4 : id === BIP155_IPV6 ? KIND_IPV6 : id === BIP155_TORV3 ? KIND_ONION : id === BIP155_I2P ? KIND_I2P : id === BIP155_CJDNS ? KIND_CJDNS : NULL_ADDRESS,
);

/** Decodes an `addrv2` payload (BIP155): count, then variable-size entries. */
export function decodeAddrV2(p: Uint8Array): AddrList {
  const end = p.length;
  readCompactSizeAt(p, 0, end, true, cs, 'addrv2 count');
  const count = cs.value;
  if (count > MAX_ADDR_PER_MESSAGE) throw tooMany('addrv2', count);
  let o = cs.next;
  // The smallest entry is 9 bytes (time 4, services 1, id 1, length 1, port 2):
  // a count the payload cannot hold fails before the columns are allocated.
  if (end - o < count * 9) throw new WireError('ERR_TRUNCATED', `addrv2: ${count} entries cannot fit in ${end - o} bytes`);
  // Every entry spends at least 9 bytes on other fields and has at most 512
  // address bytes, so this many address bytes at most; the slack (a few bytes
  // per entry with wider service flags) is the price of one allocation, not two.
  const cap = Math.min(end - o - count * 9, count * MAX_ADDRV2_SIZE);
  const c = allocateColumns(count, cap);
  const { times, servicesLo, servicesHi, offsets, ports, networkIds, kinds } = c;
  const out = new Uint8Array(c.buffer, c.bytesOffset, c.byteCapacity);
  const ov = new DataView(c.buffer, c.bytesOffset, c.byteCapacity);
  const pv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let w = 0;
  for (let i = 0; i < count; i++) {
    if (end - o < 5) throw truncated('addrv2', 'entry', o, end);
    times[i] = pv.getUint32(o, true);
    o += 4;
    const s0 = p[o]!;
    if (s0 < 0xfd) {
      servicesLo[i] = s0;
      o += 1;
    } else if (s0 === 0xfd && end - o >= 3 && (p[o + 1]! | (p[o + 2]! << 8)) >= 0xfd) {
      // Common flag sets (e.g. NETWORK_LIMITED|WITNESS = 0x408) take the 3-byte form.
      servicesLo[i] = p[o + 1]! | (p[o + 2]! << 8);
      o += 3;
    } else {
      // Service flags are the one CompactSize Core reads without the MAX_SIZE check.
      readCompactSizeAt(p, o, end, false, cs, 'addrv2 services');
      if (cs.big !== null) {
        servicesLo[i] = Number(cs.big & 0xffffffffn);
        servicesHi[i] = Number(cs.big >> 32n);
      } else {
        servicesLo[i] = cs.value % 0x100000000;
        servicesHi[i] = Math.floor(cs.value / 0x100000000);
      }
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
    const want = LENGTH_BY_ID[id]!;
    if (want >= 0 && len !== want) {
      throw new WireError('ERR_ADDRV2_BAD_LENGTH', `addrv2: BIP155 ${BIP155_NAMES[id]} address with length ${len} (should be ${want})`);
    }
    if (end - o < len + 2) throw truncated('addrv2', 'address and port', o, end);
    networkIds[i] = id;
    ports[i] = pv.getUint16(o + len);
    // NULL_ADDRESS where Core stores an invalid entry: IPv6 carrying an
    // IPv4-mapped, OnionCat or internal prefix, or an id Core 31.x does not know.
    // CJDNS is kept even without the fc prefix, as Core does (then !IsValid(): see isAddressValid).
    let kind = KIND_BY_ID[id]!;
    if (kind === KIND_IPV6 && (isIpv4Mapped(pv, o) || (p[o] === 0xfd && (hasOnionCatPrefix(p, o) || hasInternalPrefix(p, o))))) kind = NULL_ADDRESS;
    kinds[i] = kind;
    offsets[i] = w;
    // Past the capacity only when a later entry cannot fit (see allocateColumns
    // above): the message is sure to fail, so stop copying and let the loop
    // report the same error it always did.
    if (w + len <= cap) {
      // The known lengths (4, 16, 32) unrolled by words; anything else (unknown ids) by words then bytes.
      if (len === 4) {
        ov.setUint32(w, pv.getUint32(o, true), true);
      } else if (len === 16 || len === 32) {
        ov.setUint32(w, pv.getUint32(o, true), true);
        ov.setUint32(w + 4, pv.getUint32(o + 4, true), true);
        ov.setUint32(w + 8, pv.getUint32(o + 8, true), true);
        ov.setUint32(w + 12, pv.getUint32(o + 12, true), true);
        if (len === 32) {
          ov.setUint32(w + 16, pv.getUint32(o + 16, true), true);
          ov.setUint32(w + 20, pv.getUint32(o + 20, true), true);
          ov.setUint32(w + 24, pv.getUint32(o + 24, true), true);
          ov.setUint32(w + 28, pv.getUint32(o + 28, true), true);
        }
      } else {
        let k = 0;
        for (; k + 4 <= len; k += 4) ov.setUint32(w + k, pv.getUint32(o + k, true), true);
        for (; k < len; k++) out[w + k] = p[o + k]!;
      }
    }
    w += len;
    o += len + 2;
  }
  if (o !== end) throw new WireError('ERR_TRAILING_BYTES', `addrv2: ${end - o} unexpected bytes after ${count} entries`);
  // Unreachable when every entry parsed (each spent ≥ 9 bytes besides its address); kept so a
  // list can never come back with bytes missing.
  if (w > cap) throw new WireError('ERR_TRUNCATED', `addrv2: ${w} address bytes cannot fit in ${cap}`);
  offsets[count] = w;
  return new AddrList({ times, servicesLo, servicesHi, offsets, ports, networkIds, kinds, bytes: out.subarray(0, w) });
}

/** The fields addr and addrv2 entries share, checked alike before either is written. */
function checkEntry(e: AddrEntry): void {
  if (!Number.isInteger(e.time) || e.time < 0 || e.time > 0xffffffff) throw new WireError('ERR_UNENCODABLE', `addr time out of uint32 range: ${e.time}`);
  const services = e.services;
  if (typeof services !== 'bigint' || services < 0n || services > 0xffffffffffffffffn) {
    throw new WireError('ERR_UNENCODABLE', `services out of uint64 range: ${String(services)}`);
  }
}

/** A decoded list is valid by construction; materialising it reuses the one checked writer. */
function entriesOf(source: readonly AddrEntry[] | AddrList): readonly AddrEntry[] {
  return source instanceof AddrList ? source.toEntries() : source;
}

/**
 * Writes an `addr` payload. More than 1,000 entries are written as asked (a
 * simulator may want to misbehave on purpose); the decoder rejects them.
 * Tor v3, I2P and CJDNS have no v1 form: ERR_UNENCODABLE.
 */
export function encodeAddrV1(w: PayloadWriter, source: readonly AddrEntry[] | AddrList): void {
  const entries = entriesOf(source);
  w.compactSize(entries.length);
  for (const e of entries) {
    checkEntry(e);
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
export function encodeAddrV2(w: PayloadWriter, source: readonly AddrEntry[] | AddrList): void {
  const entries = entriesOf(source);
  w.compactSize(entries.length);
  for (const e of entries) {
    checkEntry(e);
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
