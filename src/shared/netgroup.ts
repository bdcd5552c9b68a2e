/**
 * The network group of an address, after Bitcoin Core's CNetAddr::GetGroup
 * (src/netaddress.cpp), used to bound what one source can make us learn (as
 * Core's addrman buckets new addresses by source group).
 *
 * - IPv4: the /16.
 * - IPv6: the /32; 2001:470::/36 (Hurricane Electric) by its /36; 6to4
 *   (2002::/16) and Teredo (2001::/32) by the /16 of the IPv4 inside.
 * - Tor v3 and I2P: the first 4 bits of the (random) key-derived address;
 *   CJDNS: 4 bits after its constant fc byte (12 bits in all).
 *
 * One difference from Core, on purpose: Core puts every local address in one
 * group and every other unroutable one in another; here loopback and private
 * addresses are grouped like routable ones, so a crawl of a test network on
 * 127.0.0.0/8 still tells its sources apart. (Routability is a separate rule.)
 *
 * The group is a short string ("ipv4:10.1", "ipv6:2001:db8", "onion:a"), so
 * it can key a Map and be printed in a log.
 */
import type { NetAddress } from '../wire/types.js';

const hex2 = (b: number): string => b.toString(16).padStart(2, '0');

function ipv4Group(a: number, b: number): string {
  return `ipv4:${a}.${b}`;
}

/** The source group of an address. */
export function netgroupOf(addr: NetAddress): string {
  const b = addr.bytes;
  switch (addr.network) {
    case 'ipv4':
      return ipv4Group(b[0]!, b[1]!);
    case 'ipv6': {
      // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
      if (b[0] === 0x20 && b[1] === 0x02) return ipv4Group(b[2]!, b[3]!);
      // Teredo: 2001:0000::/32, the client's IPv4 is the last 4 bytes inverted.
      if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x00 && b[3] === 0x00) return ipv4Group(b[12]! ^ 0xff, b[13]! ^ 0xff);
      const head = `ipv6:${hex2(b[0]!)}${hex2(b[1]!)}:${hex2(b[2]!)}${hex2(b[3]!)}`;
      // Hurricane Electric hands out /48s from 2001:470::/32: group by /36.
      if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x04 && b[3] === 0x70) return `${head}:${(b[4]! >> 4).toString(16)}`;
      return head;
    }
    case 'onion':
    case 'i2p':
      return `${addr.network}:${(b[0]! >> 4).toString(16)}`;
    case 'cjdns':
      return `cjdns:${(b[1]! >> 4).toString(16)}`;
    default:
      return 'unknown';
  }
}
