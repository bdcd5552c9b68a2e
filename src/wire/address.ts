/**
 * Address classification as Bitcoin Core does it when it reads the 16-byte
 * v1 form or a BIP155 entry (netaddress.cpp/.h), plus Core's IsValid().
 * Text forms live in address-text.ts.
 */
import { WireError } from '../errors.js';
import { BIP155_CJDNS, BIP155_I2P, BIP155_IPV4, BIP155_IPV6, BIP155_TORV3 } from './constants.js';
import type { AddressNetwork, NetAddress } from './types.js';

/** Bytes each BIP155 network's address takes. */
export const ADDRESS_LENGTH: Readonly<Record<AddressNetwork, number>> = Object.freeze({
  ipv4: 4,
  ipv6: 16,
  onion: 32,
  i2p: 32,
  cjdns: 16,
});

/** BIP155 network id of each network we decode. */
export const NETWORK_ID: Readonly<Record<AddressNetwork, number>> = Object.freeze({
  ipv4: BIP155_IPV4,
  ipv6: BIP155_IPV6,
  onion: BIP155_TORV3,
  i2p: BIP155_I2P,
  cjdns: BIP155_CJDNS,
});

/** ::ffff:0:0/96, how v1 carries IPv4. */
export function hasIpv4MappedPrefix(b: Uint8Array, o = 0): boolean {
  // The ff ff test first: it rejects a real IPv6 address in one compare.
  return (
    b[o + 10] === 0xff &&
    b[o + 11] === 0xff &&
    (b[o]! | b[o + 1]! | b[o + 2]! | b[o + 3]! | b[o + 4]! | b[o + 5]! | b[o + 6]! | b[o + 7]! | b[o + 8]! | b[o + 9]!) === 0
  );
}

/** fd87:d87e:eb43::/48, OnionCat (Tor v2, no longer supported by Core). */
export function hasOnionCatPrefix(b: Uint8Array, o = 0): boolean {
  return b[o] === 0xfd && b[o + 1] === 0x87 && b[o + 2] === 0xd8 && b[o + 3] === 0x7e && b[o + 4] === 0xeb && b[o + 5] === 0x43;
}

/** fd6b:88c0:8724::/48, Core's NET_INTERNAL (stand-in for DNS seed names; never valid). */
export function hasInternalPrefix(b: Uint8Array, o = 0): boolean {
  return b[o] === 0xfd && b[o + 1] === 0x6b && b[o + 2] === 0x88 && b[o + 3] === 0xc0 && b[o + 4] === 0x87 && b[o + 5] === 0x24;
}

/**
 * The address in a 16-byte v1 field at `o`, as Core reads it: IPv4-mapped
 * becomes ipv4; OnionCat and internal prefixes become null (Core stores an
 * invalid entry and carries on); anything else is ipv6 (including `::`).
 * The bytes are copied: the result never pins the message.
 */
export function netAddressFromV1(b: Uint8Array, o: number, port: number): NetAddress | null {
  if (hasIpv4MappedPrefix(b, o)) {
    const bytes = new Uint8Array(4);
    bytes[0] = b[o + 12]!;
    bytes[1] = b[o + 13]!;
    bytes[2] = b[o + 14]!;
    bytes[3] = b[o + 15]!;
    return { network: 'ipv4', bytes, port };
  }
  if (b[o] === 0xfd && (hasOnionCatPrefix(b, o) || hasInternalPrefix(b, o))) return null;
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = b[o + i]!;
  return { network: 'ipv6', bytes, port };
}

/** The 16-byte v1 form of an address. Tor v3, I2P and CJDNS have none: ERR_UNENCODABLE. */
export function netAddressToV1(addr: NetAddress): Uint8Array {
  checkAddressShape(addr);
  const out = new Uint8Array(16);
  if (addr.network === 'ipv4') {
    out[10] = 0xff;
    out[11] = 0xff;
    out.set(addr.bytes, 12);
  } else if (addr.network === 'ipv6') {
    out.set(addr.bytes);
  } else {
    throw new WireError('ERR_UNENCODABLE', `a ${addr.network} address cannot be written in the v1 (16-byte) form; use addrv2`);
  }
  return out;
}

/** Throws ERR_UNENCODABLE unless the address has a known network and the right byte length. */
export function checkAddressShape(addr: NetAddress): void {
  const want = Object.hasOwn(ADDRESS_LENGTH, addr.network) ? ADDRESS_LENGTH[addr.network] : undefined;
  if (want === undefined) throw new WireError('ERR_UNENCODABLE', `unknown address network '${String(addr.network)}'`);
  if (!(addr.bytes instanceof Uint8Array) || addr.bytes.length !== want) {
    throw new WireError('ERR_UNENCODABLE', `a ${addr.network} address has ${want} bytes, got ${addr.bytes?.length}`);
  }
  if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 0xffff) {
    throw new WireError('ERR_UNENCODABLE', `port out of range: ${addr.port}`);
  }
}

/**
 * Core's CNetAddr::IsValid(): false for `::`, 2001:db8::/32 (documentation),
 * 0.0.0.0 and 255.255.255.255, and CJDNS without the fc prefix. null (an entry
 * Core keeps as invalid) is never valid.
 */
export function isAddressValid(addr: NetAddress | null): boolean {
  if (addr === null) return false;
  return isValidAt(addr.network, addr.bytes, 0);
}

/**
 * isAddressValid on the address bytes of `network` at `o` (no NetAddress
 * built). Core's addrman refuses what is not valid (AddrMan::Add → IsRoutable
 * → IsValid), so a crawler must not learn it either: a CJDNS entry outside
 * fc00::/8 would otherwise shadow the IPv6 address with the same text.
 */
export function isValidAt(network: AddressNetwork, b: Uint8Array, o: number): boolean {
  switch (network) {
    case 'ipv4': {
      const all0 = (b[o]! | b[o + 1]! | b[o + 2]! | b[o + 3]!) === 0;
      const all1 = (b[o]! & b[o + 1]! & b[o + 2]! & b[o + 3]!) === 0xff;
      return !all0 && !all1;
    }
    case 'ipv6': {
      if (b[o] === 0x20 && b[o + 1] === 0x01 && b[o + 2] === 0x0d && b[o + 3] === 0xb8) return false;
      for (let k = 0; k < 16; k++) if (b[o + k] !== 0) return true;
      return false;
    }
    case 'cjdns':
      return b[o] === 0xfc;
    default:
      return true;
  }
}
