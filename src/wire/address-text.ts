/**
 * Addresses as text, exactly as Bitcoin Core prints them
 * (CService::ToStringAddrPort): `1.2.3.4:8333`, `[2001:db8::1]:8333`,
 * `<56 base32>.onion:8333`, `<52 base32>.b32.i2p:0`, `[fc00::1]:8333`, and
 * the parser that reads every one of those forms back.
 */
import { WireError } from '../errors.js';
import { checkAddressShape, hasInternalPrefix, hasIpv4MappedPrefix, hasOnionCatPrefix } from './address.js';
import type { AddressNetwork, NetAddress } from './types.js';
import { hashOnce } from './checksum.js';

const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const BASE32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 32; i++) {
  BASE32_VALUE[BASE32_ALPHABET.charCodeAt(i)] = i;
  BASE32_VALUE[BASE32_ALPHABET.toUpperCase().charCodeAt(i)] = i;
}

/** RFC 4648 base32, lowercase, without padding (as Core writes onion and I2P names). */
export function base32Encode(data: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < data.length; i++) {
    acc = (acc << 8) | data[i]!;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * Decodes unpadded base32 (either case). Returns null for a bad character or
 * non-zero leftover bits: only the canonical spelling of a value is accepted,
 * so text ↔ bytes is one-to-one.
 */
export function base32Decode(text: string): Uint8Array | null {
  const out = new Uint8Array(Math.floor((text.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? BASE32_VALUE[c]! : -1;
    if (v < 0) return null;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >>> bits) & 0xff;
    }
  }
  if (bits >= 5 || (acc & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

const TORV3_VERSION = 3;
const ONION_CHECKSUM_PREFIX = Buffer.from('.onion checksum', 'latin1');

/** Tor v3: SHA3-256(".onion checksum" ‖ pubkey ‖ version)[0..2] (rend-spec-v3, BIP155). */
function onionChecksum(pubkey: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(ONION_CHECKSUM_PREFIX.length + 33);
  ONION_CHECKSUM_PREFIX.copy(input, 0);
  input.set(pubkey, ONION_CHECKSUM_PREFIX.length);
  input[input.length - 1] = TORV3_VERSION;
  return hashOnce('sha3-256', input).subarray(0, 2);
}

function torV3Name(pubkey: Uint8Array): string {
  const raw = new Uint8Array(35);
  raw.set(pubkey);
  raw.set(onionChecksum(pubkey), 32);
  raw[34] = TORV3_VERSION;
  return base32Encode(raw) + '.onion';
}

/** Decimal text of every byte value: IPv4 text by concatenation, no number→string per octet. */
const DECIMAL: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));
/** Hex of every byte value, without (HEX) and with (HEX2) a leading zero: IPv6 groups from two lookups. */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16));
const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function ipv4Text(b: Uint8Array, o: number): string {
  return DECIMAL[b[o]!]! + '.' + DECIMAL[b[o + 1]!]! + '.' + DECIMAL[b[o + 2]!]! + '.' + DECIMAL[b[o + 3]!]!;
}

/**
 * RFC 5952 text, as Core's IPv6ToString: lowercase hex groups without leading
 * zeros; the longest run of two or more zero groups (the first on a tie)
 * becomes `::`. Built by concatenation: the crawler formats every address it
 * learns, so this runs per addr entry.
 */
export function ipv6Text(b: Uint8Array, o = 0): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if ((b[o + 2 * i]! | b[o + 2 * i + 1]!) !== 0) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < 8 && (b[o + 2 * j]! | b[o + 2 * j + 1]!) === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (out.length > 0 && i !== bestStart + bestLen) out += ':';
    const hi = b[o + 2 * i]!;
    out += hi === 0 ? HEX[b[o + 2 * i + 1]!]! : HEX[hi]! + HEX2[b[o + 2 * i + 1]!]!;
  }
  return out;
}

function unencodable(addr: NetAddress): WireError {
  try {
    checkAddressShape(addr);
  } catch (err) {
    return err as WireError;
  }
  return new WireError('ERR_UNENCODABLE', `malformed address of network '${String(addr?.network)}'`);
}

/** The host part alone (no port, no brackets). Throws ERR_UNENCODABLE for a malformed NetAddress. */
export function formatHost(addr: NetAddress): string {
  const b = addr?.bytes;
  const n = b instanceof Uint8Array ? b.length : -1;
  switch (addr?.network) {
    case 'ipv4':
      if (n === 4) return ipv4Text(b, 0);
      break;
    case 'ipv6':
    case 'cjdns':
      if (n === 16) return ipv6Text(b);
      break;
    case 'onion':
      if (n === 32) return torV3Name(b);
      break;
    case 'i2p':
      if (n === 32) return base32Encode(b) + '.b32.i2p';
      break;
  }
  throw unencodable(addr);
}

/**
 * The host text of an address of `network` whose bytes sit at `o` in `b`
 * (length already known to be right): AddrList formats straight from its
 * column of bytes, without a NetAddress per entry.
 */
export function formatHostAt(network: AddressNetwork, b: Uint8Array, o: number): string {
  switch (network) {
    case 'ipv4':
      return ipv4Text(b, o);
    case 'ipv6':
    case 'cjdns':
      return ipv6Text(b, o);
    case 'onion':
      return torV3Name(b.subarray(o, o + 32));
    case 'i2p':
      return base32Encode(b.subarray(o, o + 32)) + '.b32.i2p';
  }
}

/** {@link formatAddress} for bytes at `o` in `b` (see formatHostAt). */
export function formatAddressAt(network: AddressNetwork, b: Uint8Array, o: number, port: number): string {
  const host = formatHostAt(network, b, o);
  return network === 'ipv6' || network === 'cjdns' ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Core's CService::ToStringAddrPort text. Throws ERR_UNENCODABLE for a
 * malformed NetAddress. Kept lean: a crawler calls it for every address learned.
 */
export function formatAddress(addr: NetAddress): string {
  const port = addr?.port;
  if (typeof port !== 'number' || (port & 0xffff) !== port) throw unencodable(addr);
  const host = formatHost(addr);
  return addr.network === 'ipv6' || addr.network === 'cjdns' ? `[${host}]:${port}` : `${host}:${port}`;
}

function badText(text: string, why: string): WireError {
  return new WireError('ERR_BAD_ADDRESS_TEXT', `'${text.length > 100 ? text.slice(0, 100) + '…' : text}': ${why}`);
}

/** Dotted-quad IPv4, four decimal octets without leading zeros (no inet_aton octal surprises). */
function parseIpv4(host: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= host.length; i++) {
    const c = i < host.length ? host.charCodeAt(i) : 0x2e; // a final '.' closes the last octet
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return null;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return null;
      value = value * 10 + (c - 0x30);
      digits++;
      if (value > 255) return null;
    } else {
      return null;
    }
  }
  return part === 4 ? out : null;
}

const HEX_GROUP_RE = /^[0-9a-fA-F]{1,4}$/;

/** Parses IPv6 text (with `::` and an optional trailing dotted IPv4) into 16 bytes. */
export function parseIpv6(host: string): Uint8Array | null {
  const halves = host.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string, allowV4: boolean): number[] | null => {
    if (part === '') return [];
    const items = part.split(':');
    const groups: number[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      if (allowV4 && i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (v4 === null) return null;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (HEX_GROUP_RE.test(item)) {
        groups.push(parseInt(item, 16));
      } else {
        return null;
      }
    }
    return groups;
  };
  let groups: number[];
  if (halves.length === 1) {
    const all = groupsOf(halves[0]!, true);
    if (all === null || all.length !== 8) return null;
    groups = all;
  } else {
    const head = groupsOf(halves[0]!, false);
    const tail = groupsOf(halves[1]!, true);
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

function parsePort(text: string, portText: string): number {
  let port = 0;
  for (let i = 0; i < portText.length; i++) {
    const c = portText.charCodeAt(i);
    if (c < 0x30 || c > 0x39 || i >= 5) throw badText(text, `bad port '${portText}'`);
    port = port * 10 + (c - 0x30);
  }
  if (portText.length === 0) throw badText(text, 'empty port');
  if (port > 0xffff) throw badText(text, `port ${port} out of range`);
  return port;
}

function hostToAddress(text: string, host: string, port: number): NetAddress {
  // IPv4 first: it is what a crawler parses most.
  const c0 = host.charCodeAt(0);
  if (c0 >= 0x30 && c0 <= 0x39 && host.length <= 15) {
    const v4 = parseIpv4(host);
    if (v4 !== null) return { network: 'ipv4', bytes: v4, port };
  }
  const lower = host.toLowerCase();
  if (lower.endsWith('.onion')) {
    const label = lower.slice(0, -'.onion'.length);
    if (label.length !== 56) throw badText(text, 'only Tor v3 onion names (56 base32 characters) are supported');
    const raw = base32Decode(label);
    if (raw === null || raw.length !== 35) throw badText(text, 'onion name is not valid base32');
    if (raw[34] !== TORV3_VERSION) throw badText(text, `onion version ${raw[34]} is not 3`);
    const pubkey = raw.slice(0, 32);
    const sum = onionChecksum(pubkey);
    if (sum[0] !== raw[32] || sum[1] !== raw[33]) throw badText(text, 'onion checksum mismatch');
    return { network: 'onion', bytes: pubkey, port };
  }
  if (lower.endsWith('.b32.i2p')) {
    const label = lower.slice(0, -'.b32.i2p'.length);
    if (label.length !== 52) throw badText(text, 'an I2P name has 52 base32 characters');
    const raw = base32Decode(label);
    if (raw === null || raw.length !== 32) throw badText(text, 'I2P name is not valid base32');
    return { network: 'i2p', bytes: raw, port };
  }
  if (host.includes(':')) {
    const b = parseIpv6(host);
    if (b === null) throw badText(text, 'not an IPv6 address');
    // Core keeps fc00::/8 as CJDNS in seed lists and on the wire (BIP155 id 6).
    if (b[0] === 0xfc) return { network: 'cjdns', bytes: b, port };
    if (hasIpv4MappedPrefix(b)) return { network: 'ipv4', bytes: b.slice(12), port };
    if (hasOnionCatPrefix(b) || hasInternalPrefix(b)) throw badText(text, 'OnionCat (Tor v2) and internal addresses are not supported');
    return { network: 'ipv6', bytes: b, port };
  }
  const v4 = parseIpv4(host);
  if (v4 === null) throw badText(text, 'not an IPv4, IPv6, .onion or .b32.i2p address');
  return { network: 'ipv4', bytes: v4, port };
}

/**
 * Reads any text {@link formatAddress} writes (and bare hosts, taking
 * `defaultPort`). A bare IPv6 address cannot carry a port unless bracketed.
 * Throws WireError ERR_BAD_ADDRESS_TEXT.
 */
export function parseAddress(text: string, defaultPort?: number): NetAddress {
  if (typeof text !== 'string' || text.length === 0 || text.length > 300) throw badText(String(text), 'empty or too long');
  let host: string;
  let port: number | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw badText(text, "missing ']'");
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw badText(text, "expected ':port' after ']'");
      port = parsePort(text, rest.slice(1));
    }
  } else {
    const first = text.indexOf(':');
    if (first >= 0 && first === text.lastIndexOf(':')) {
      host = text.slice(0, first);
      port = parsePort(text, text.slice(first + 1));
    } else {
      host = text;
    }
  }
  if (port === undefined) {
    if (defaultPort === undefined) throw badText(text, 'no port and no default port');
    if (!Number.isInteger(defaultPort) || defaultPort < 0 || defaultPort > 0xffff) throw badText(text, `default port ${defaultPort} out of range`);
    port = defaultPort;
  }
  if (host === '') throw badText(text, 'empty host');
  return hostToAddress(text, host, port);
}
