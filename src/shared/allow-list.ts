/**
 * The allow-list: which IP ranges the crawler may open a socket to. Tests
 * and benchmarks run with a loopback-only list, so this is the guard that
 * keeps every socket on 127.0.0.0/8 and ::1.
 *
 * Rules are CIDRs (`127.0.0.0/8`, `::1/128`, `fc00::/7`; a bare address is
 * /32 or /128). IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are checked
 * as the IPv4 address they carry, against the IPv4 rules only, because that
 * is where a socket to them goes. Non-IP networks (onion, i2p, cjdns) are
 * never allowed: we cannot dial them.
 *
 * An empty list is an error rather than "allow nothing" or "allow
 * everything": `AllowList.any()` says "no restriction" explicitly.
 *
 * The address parsers are written here (small and strict: no zone ids, no
 * leading zeros in IPv4, no brackets) so `allows()` can match the raw bytes
 * of a NetAddress without formatting it to text first.
 */
import { UsageError } from '../errors.js';
import type { NetAddress } from '../wire/types.js';

interface Rule {
  /** 4 or 16 bytes, host bits cleared. */
  readonly network: Uint8Array;
  readonly prefix: number;
}

const IPV4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] as const;

export class AllowList {
  private readonly v4: readonly Rule[];
  private readonly v6: readonly Rule[];

  private constructor(v4: readonly Rule[], v6: readonly Rule[]) {
    this.v4 = v4;
    this.v6 = v6;
  }

  /**
   * Builds a list from CIDR strings. Throws UsageError ERR_BAD_CIDR on a
   * malformed entry or an empty list.
   */
  static parse(cidrs: readonly string[]): AllowList {
    if (!Array.isArray(cidrs)) throw new UsageError('ERR_BAD_CIDR', 'an allow-list must be an array of CIDR strings');
    if (cidrs.length === 0) {
      throw new UsageError('ERR_BAD_CIDR', 'an empty allow-list would allow nothing; list CIDRs such as 127.0.0.0/8, or use AllowList.any() for no restriction');
    }
    const v4: Rule[] = [];
    const v6: Rule[] = [];
    for (const cidr of cidrs) {
      const rule = parseCidr(cidr);
      (rule.network.length === 4 ? v4 : v6).push(rule);
    }
    return new AllowList(v4, v6);
  }

  /** Like parse, from one comma- or space-separated string (a CLI flag). */
  static parseText(text: string): AllowList {
    if (typeof text !== 'string') throw new UsageError('ERR_BAD_CIDR', 'an allow-list must be a string of CIDRs');
    return AllowList.parse(text.split(/[\s,]+/).filter((part) => part !== ''));
  }

  /** No restriction: every IPv4 and IPv6 address (still never non-IP networks). */
  static any(): AllowList {
    return AllowList.parse(['0.0.0.0/0', '::/0']);
  }

  /** 127.0.0.0/8 and ::1: the only ranges tests and benchmarks may touch. */
  static loopback(): AllowList {
    return AllowList.parse(['127.0.0.0/8', '::1/128']);
  }

  allows(addr: NetAddress): boolean {
    if (addr.network === 'ipv4') return addr.bytes.length === 4 && matchesAny(this.v4, addr.bytes);
    if (addr.network === 'ipv6') return addr.bytes.length === 16 && this.allowsBytes(addr.bytes);
    return false;
  }

  /** Checks an IP literal (dotted IPv4 or IPv6 text). Anything else, hostnames included, is not allowed. */
  allowsHost(ip: string): boolean {
    const bytes = typeof ip === 'string' ? parseIp(ip) : null;
    return bytes !== null && this.allowsBytes(bytes);
  }

  /**
   * The rules in canonical form. This is how a list crosses to a worker
   * thread: send the strings, `AllowList.parse` them on the other side.
   */
  toArray(): string[] {
    return [...this.v4, ...this.v6].map(formatRule);
  }

  /** The rules in canonical form, comma-separated (e.g. "127.0.0.0/8,::1/128"); `parseText` reads it back. */
  toString(): string {
    return this.toArray().join(',');
  }

  toJSON(): string[] {
    return this.toArray();
  }

  private allowsBytes(bytes: Uint8Array): boolean {
    if (bytes.length === 4) return matchesAny(this.v4, bytes);
    if (isIpv4Mapped(bytes)) return matchesAny(this.v4, bytes.subarray(12));
    return matchesAny(this.v6, bytes);
  }
}

function matchesAny(rules: readonly Rule[], bytes: Uint8Array): boolean {
  for (const rule of rules) if (matches(rule, bytes)) return true;
  return false;
}

function matches(rule: Rule, bytes: Uint8Array): boolean {
  const whole = rule.prefix >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== rule.network[i]) return false;
  const bits = rule.prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return ((bytes[whole] ?? 0) & mask) === rule.network[whole];
}

function isIpv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < IPV4_MAPPED_PREFIX.length; i++) if (bytes[i] !== IPV4_MAPPED_PREFIX[i]) return false;
  return true;
}

function parseCidr(cidr: string): Rule {
  if (typeof cidr !== 'string') throw new UsageError('ERR_BAD_CIDR', `not a CIDR string: ${String(cidr)}`);
  const bad = (why: string): UsageError => new UsageError('ERR_BAD_CIDR', `bad CIDR ${JSON.stringify(cidr)}: ${why}`);
  const text = cidr.trim();
  if (text === '') throw bad('empty');
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIp(addressText);
  if (bytes === null) throw bad('expected an IPv4 address (127.0.0.0) or an IPv6 address (::1) before the /');
  const maxPrefix = bytes.length * 8;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(prefixText)) throw bad(`the prefix length must be a number 0..${maxPrefix}`);
    prefix = Number(prefixText);
    if (prefix > maxPrefix) throw bad(`the prefix length ${prefix} is over ${maxPrefix}`);
  }
  // ::ffff:a.b.c.d/n (n >= 96) is an IPv4 range: store it as one so mapped
  // addresses, which are checked as IPv4, match it.
  if (bytes.length === 16 && prefix >= 96 && isIpv4Mapped(bytes)) return masked(bytes.slice(12), prefix - 96);
  return masked(bytes, prefix);
}

function masked(bytes: Uint8Array, prefix: number): Rule {
  const network = new Uint8Array(bytes.length);
  for (let bit = 0; bit < prefix; bit += 8) {
    const keep = Math.min(8, prefix - bit);
    network[bit >> 3] = (bytes[bit >> 3] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return { network, prefix };
}

/** 4 bytes for dotted IPv4, 16 for IPv6 text, null for anything else. */
export function parseIp(text: string): Uint8Array | null {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

const IPV4_PART = /^(0|[1-9]\d{0,2})$/;

/** Strict dotted-quad: four decimal parts 0..255, no leading zeros (which some parsers read as octal). */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!IPV4_PART.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return bytes;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** RFC 4291 text: hex groups, one optional `::`, an optional trailing dotted IPv4. No zone ids. */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length > 45) return null; // longest valid form: ffff:…:ffff:255.255.255.255
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] as string, halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1] as string, true) : [];
  if (head === null || tail === null) return null;
  const groups = head.length + tail.length;
  if (halves.length === 1 ? groups !== 8 : groups > 7) return null;
  const words = [...head, ...new Array<number>(8 - groups).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  return bytes;
}

/** Colon-separated groups as 16-bit words; an embedded IPv4 is allowed only at the very end. */
function parseGroups(text: string, mayEndWithIpv4: boolean): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const words: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part.includes('.')) {
      if (!mayEndWithIpv4 || i !== parts.length - 1) return null;
      const v4 = parseIpv4(part);
      if (v4 === null) return null;
      words.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
    } else {
      if (!HEX_GROUP.test(part)) return null;
      words.push(parseInt(part, 16));
    }
  }
  return words;
}

function formatRule(rule: Rule): string {
  return `${rule.network.length === 4 ? Array.from(rule.network).join('.') : formatIpv6(rule.network)}/${rule.prefix}`;
}

/** RFC 5952: lowercase, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
export function formatIpv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => words.slice(from, to).map((word) => word.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}
