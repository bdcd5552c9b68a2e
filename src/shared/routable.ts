/**
 * Hygiene for crawls of the real network (`--allow-any`): which learned
 * addresses bitspread never dials, following Bitcoin Core's
 * CNetAddr::IsRoutable / IsValid (src/netaddress.cpp), plus an optional
 * deny-list of CIDRs and an optional cap per network group (Core's /16 for
 * IPv4, /32 for IPv6) against address floods from one operator.
 *
 * Core refuses (IsValid false or IsRoutable false):
 * - `unspecified`: 0.0.0.0, ::, and 255.255.255.255 (INADDR_NONE)
 * - `loopback`: 127.0.0.0/8, 0.0.0.0/8 (Core's IsLocal), ::1
 * - `private`: RFC 1918 (10/8, 172.16/12, 192.168/16)
 * - `benchmark`: RFC 2544 (198.18/15)
 * - `link-local`: RFC 3927 (169.254/16), RFC 4862 (fe80::/64)
 * - `shared`: RFC 6598 carrier-grade NAT (100.64/10)
 * - `documentation`: RFC 5737 (192.0.2/24, 198.51.100/24, 203.0.113/24), RFC 3849 (2001:db8::/32)
 * - `unique-local`: RFC 4193 (fc00::/7) when the address is not CJDNS
 * - `orchid`: RFC 4843 (2001:10::/28), RFC 7343 (2001:20::/28)
 * - `internal`: Core's own fd6b:88c0:8724::/48 (never on the wire; the codec drops it)
 * Beyond Core (nobody should dial these either; Core would only fail to connect):
 * - `multicast`: 224.0.0.0/4, ff00::/8
 * - `reserved`: 240.0.0.0/4 (future use), fe80::/10 outside Core's /64
 * Tor, I2P and CJDNS addresses are routable, as in Core.
 *
 * Port hygiene (Core's IsBadPort) belongs to the defects work; this module
 * takes a `badPort` predicate so it can use theirs.
 */
import type { NetAddress } from '../wire/types.js';
import { AllowList } from '../shared/allow-list.js';
import { UsageError } from '../errors.js';

export type UnroutableReason =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'benchmark'
  | 'link-local'
  | 'shared'
  | 'documentation'
  | 'unique-local'
  | 'orchid'
  | 'internal'
  | 'multicast'
  | 'reserved';

/** Why Core (or plain sense) would never dial this address; null when it is routable. */
export function unroutableReason(addr: NetAddress): UnroutableReason | null {
  const b = addr.bytes;
  if (addr.network === 'ipv4') return ipv4Reason(b);
  if (addr.network === 'ipv6') {
    // ::ffff:a.b.c.d is the IPv4 address it carries (a socket to it goes there).
    if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return ipv4Reason(b.subarray(12));
    return ipv6Reason(b);
  }
  return null;
}

export function isRoutable(addr: NetAddress): boolean {
  return unroutableReason(addr) === null;
}

function ipv4Reason(b: Uint8Array): UnroutableReason | null {
  const [a = 0, c = 0, d = 0, e = 0] = b;
  if ((a === 0 && c === 0 && d === 0 && e === 0) || (a === 255 && c === 255 && d === 255 && e === 255)) return 'unspecified';
  if (a === 127 || a === 0) return 'loopback';
  if (a === 10 || (a === 192 && c === 168) || (a === 172 && c >= 16 && c <= 31)) return 'private';
  if (a === 198 && (c === 18 || c === 19)) return 'benchmark';
  if (a === 169 && c === 254) return 'link-local';
  if (a === 100 && (c & 0xc0) === 64) return 'shared';
  if ((a === 192 && c === 0 && d === 2) || (a === 198 && c === 51 && d === 100) || (a === 203 && c === 0 && d === 113)) return 'documentation';
  if ((a & 0xf0) === 224) return 'multicast';
  if ((a & 0xf0) === 240) return 'reserved';
  return null;
}

function ipv6Reason(b: Uint8Array): UnroutableReason | null {
  const w = (i: number): number => ((b[2 * i] ?? 0) << 8) | (b[2 * i + 1] ?? 0);
  if (b.every((x) => x === 0)) return 'unspecified';
  if (b.subarray(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback';
  if (w(0) === 0x2001 && w(1) === 0x0db8) return 'documentation';
  if (w(0) === 0xfe80 && w(1) === 0 && w(2) === 0 && w(3) === 0) return 'link-local';
  if ((w(0) & 0xffc0) === 0xfe80) return 'reserved';
  if (w(0) === 0xfd6b && w(1) === 0x88c0 && w(2) === 0x8724) return 'internal';
  if ((w(0) & 0xfe00) === 0xfc00) return 'unique-local';
  if (w(0) === 0x2001 && ((w(1) & 0xfff0) === 0x0010 || (w(1) & 0xfff0) === 0x0020)) return 'orchid';
  if ((w(0) & 0xff00) === 0xff00) return 'multicast';
  return null;
}

/**
 * A network group key as Core's NetGroupManager::GetGroup without an ASmap:
 * IPv4 /16, IPv6 /32 (Hurricane Electric's 2001:470::/32 by /36), an IPv4
 * address embedded in IPv6 (mapped, 6to4, Teredo, NAT64) by its IPv4 /16,
 * and Tor / I2P / CJDNS by their first 4 bits. Replace with the shared
 * netgroup module once it exists in main.
 */
export function netGroup(addr: NetAddress): string {
  const b = addr.bytes;
  const hex = (from: number, to: number): string => Buffer.from(b.subarray(from, to)).toString('hex');
  switch (addr.network) {
    case 'ipv4':
      return `4:${b[0]}.${b[1]}`;
    case 'ipv6': {
      const embedded = embeddedIpv4(b);
      if (embedded !== null) return `4:${embedded[0]}.${embedded[1]}`;
      if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x04 && b[3] === 0x70) return `6:${hex(0, 4)}${((b[4] ?? 0) >> 4).toString(16)}`;
      return `6:${hex(0, 4)}`;
    }
    default:
      return `${addr.network}:${((b[0] ?? 0) >> 4).toString(16)}`;
  }
}

function embeddedIpv4(b: Uint8Array): Uint8Array | null {
  const zero = (from: number, to: number): boolean => b.subarray(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.subarray(12, 16); // ::ffff:0:0/96
  if (b[0] === 0x20 && b[1] === 0x02) return b.subarray(2, 6); // 6to4 2002::/16
  if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0 && b[3] === 0) return Uint8Array.from(b.subarray(12, 16), (x) => x ^ 0xff); // Teredo 2001::/32
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return b.subarray(12, 16); // NAT64 64:ff9b::/96
  return null;
}

/** Reads a deny-list file's text: one CIDR (or bare address) per line, `#` comments. Throws ERR_BAD_CIDR naming the line. */
export function parseDenyList(text: string, source = 'deny-list'): AllowList | null {
  const cidrs: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    try {
      AllowList.parse([line]);
    } catch (err) {
      throw new UsageError('ERR_BAD_CIDR', `${source} line ${i + 1}: ${(err as Error).message}`);
    }
    cidrs.push(line);
  });
  return cidrs.length === 0 ? null : AllowList.parse(cidrs);
}

export type HygieneVerdict = UnroutableReason | 'denied' | 'bad-port' | 'netgroup-full';

export interface HygieneOptions {
  /** CIDRs never dialled (a set of ranges: AllowList is the project's CIDR matcher). */
  readonly deny?: AllowList | null;
  /** Most addresses dialled per network group (netGroup); default unlimited. */
  readonly perNetgroup?: number;
  /** Ports never dialled (Core's IsBadPort), from the defects module. */
  readonly badPort?: (port: number) => boolean;
}

/**
 * The rules for one crawl. `check` is pure; `admit` also counts the address
 * against its network group, so call it once per address actually dialled.
 */
export class Hygiene {
  private readonly groups = new Map<string, number>();
  constructor(private readonly opts: HygieneOptions = {}) {
    if (opts.perNetgroup !== undefined && (!Number.isInteger(opts.perNetgroup) || opts.perNetgroup < 1)) {
      throw new UsageError('ERR_BAD_OPTION', `per-netgroup cap must be a whole number >= 1, got ${opts.perNetgroup}`);
    }
  }

  check(addr: NetAddress): HygieneVerdict | null {
    const reason = unroutableReason(addr);
    if (reason !== null) return reason;
    if (this.opts.deny != null && this.opts.deny.allows(addr)) return 'denied';
    if (this.opts.badPort !== undefined && this.opts.badPort(addr.port)) return 'bad-port';
    if (this.opts.perNetgroup !== undefined && (this.groups.get(netGroup(addr)) ?? 0) >= this.opts.perNetgroup) return 'netgroup-full';
    return null;
  }

  admit(addr: NetAddress): HygieneVerdict | null {
    const verdict = this.check(addr);
    if (verdict === null && this.opts.perNetgroup !== undefined) {
      const key = netGroup(addr);
      this.groups.set(key, (this.groups.get(key) ?? 0) + 1);
    }
    return verdict;
  }
}
