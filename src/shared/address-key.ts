/**
 * The key that identifies one address across networks, used wherever
 * addresses are deduplicated (the frontier, the snapshot's written set, a
 * worker's recent-address memory).
 *
 * Core's text form alone is ambiguous: an IPv6 address in fc00::/8 and a
 * CJDNS address with the same 16 bytes print the same (`[fc00::1]:8333`),
 * and the text parses back as CJDNS. So the key is the text for ipv4, ipv6,
 * onion and i2p (whose text forms cannot collide) and `cjdns:` + the text
 * for CJDNS. The common networks pay nothing (no concatenation, no extra
 * memory per address).
 */
import { parseAddress } from '../wire/index.js';
import type { AddressNetwork } from '../wire/types.js';

const CJDNS_PREFIX = 'cjdns:';

/** The dedupe key of `text` (Core's text form) on `network`. */
export function addressKey(text: string, network: AddressNetwork): string {
  return network === 'cjdns' ? CJDNS_PREFIX + text : text;
}

/** The text form back from a key. */
export function keyText(key: string): string {
  return key.startsWith(CJDNS_PREFIX) ? key.slice(CJDNS_PREFIX.length) : key;
}

/**
 * The network of a key. A key without the prefix that parses as CJDNS (text
 * in fc00::/8) is the IPv6 address. Unparseable keys: 'ipv4' (callers only
 * hold keys of addresses that parsed when they were learned).
 */
export function keyNetwork(key: string): AddressNetwork {
  if (key.startsWith(CJDNS_PREFIX)) return 'cjdns';
  try {
    const network = parseAddress(key).network;
    return network === 'cjdns' ? 'ipv6' : network;
  } catch {
    return 'ipv4';
  }
}
