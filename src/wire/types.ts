/**
 * Every value the wire codec produces or consumes, as types, in one place.
 * The simulator, the workers and the crawler all code against this file.
 */

export type NetworkName = 'mainnet' | 'testnet3' | 'testnet4' | 'signet' | 'regtest';

export interface NetworkParams {
  readonly name: NetworkName;
  /** Message start bytes in wire order, e.g. f9 be b4 d9 for mainnet. */
  readonly magic: Uint8Array;
  /** The same four bytes read as a little-endian uint32: one compare on the hot path. */
  readonly magicLE: number;
  readonly defaultPort: number;
  readonly dnsSeeds: readonly string[];
}

/** BIP155 networks an address can belong to. */
export type AddressNetwork = 'ipv4' | 'ipv6' | 'onion' | 'i2p' | 'cjdns';

/**
 * One peer endpoint. `bytes` is 4 (ipv4), 16 (ipv6, cjdns) or 32 (onion: the
 * ed25519 public key; i2p: the SHA-256 of the destination) bytes, owned by
 * this object (never a view into a larger message buffer).
 */
export interface NetAddress {
  readonly network: AddressNetwork;
  readonly bytes: Uint8Array;
  readonly port: number;
}

/** One entry of an addr / addrv2 message. */
export interface AddrEntry {
  /** uint32 seconds since the epoch, as sent. */
  readonly time: number;
  /** Service bits. A uint64 on the wire; bigint so no bit is lost. */
  readonly services: bigint;
  /**
   * The address, or null where Core would store an invalid `::` entry
   * (unknown BIP155 network id, Tor v2/OnionCat, internal prefix, embedded
   * IPv4 under the IPv6 id). Parsing carries on past such entries.
   */
  readonly address: NetAddress | null;
  /** BIP155 network id as sent (1 for v1 IPv4-mapped, 2 for other v1 entries). */
  readonly networkId: number;
  /**
   * Only when `address` is null: the address bytes and port exactly as sent
   * (copied), so such an entry re-encodes to the same bytes and a simulator can
   * send them on purpose. Absent for ordinary entries.
   */
  readonly unparsed?: { readonly bytes: Uint8Array; readonly port: number };
}

/** An address field inside `version`: services + the 16-byte v1 address + port, no time. */
export interface VersionAddress {
  readonly services: bigint;
  /** `raw` classified as Core reads it (null for OnionCat/internal prefixes). */
  readonly address: NetAddress | null;
  /** The 16 address bytes as sent (copied). Encoding uses `address` when non-null, else this. */
  readonly raw: Uint8Array;
  readonly port: number;
}

export interface VersionPayload {
  readonly version: number;
  readonly services: bigint;
  /** int64 seconds; bigint because the wire allows the full range. A negative
   *  value is read as 0, as Core clamps it on receipt. */
  readonly timestamp: bigint;
  readonly addrRecv: VersionAddress;
  /** Present on the wire together with the nonce, or not at all. */
  readonly addrFrom?: VersionAddress;
  readonly nonce?: bigint;
  /**
   * At most 256 bytes (MAX_SUBVERSION_LENGTH), as lossless text: UTF-8, with a
   * backslash written `\\` and each byte outside well-formed UTF-8 as `\xNN`
   * (wire/user-agent.ts). Encoding reverses the escape exactly.
   */
  readonly userAgent?: string;
  readonly startHeight?: number;
  /** BIP37 relay flag; absent on the wire means true. */
  readonly relay?: boolean;
}

import type { AddrList } from './addr-list.js';

/** Messages with a decoded payload. */
export type Message =
  | { readonly command: 'version'; readonly payload: VersionPayload }
  | { readonly command: 'verack' }
  | { readonly command: 'sendaddrv2' }
  | { readonly command: 'wtxidrelay' }
  | { readonly command: 'sendheaders' }
  | { readonly command: 'getaddr' }
  | { readonly command: 'sendcmpct'; readonly announce: boolean; readonly cmpctVersion: bigint }
  | { readonly command: 'feefilter'; readonly feeRate: bigint }
  /**
   * `empty: true` marks a pre-BIP31 ping without a nonce (decoded with nonce 0n,
   * re-encoded as an empty payload); such a ping expects no pong.
   */
  | { readonly command: 'ping'; readonly nonce: bigint; readonly empty?: boolean }
  | { readonly command: 'pong'; readonly nonce: bigint }
  /**
   * Decoded addr/addrv2 messages are AddrMessage objects: `list` is the compact
   * AddrList (read it per index: no object per entry), `entries` is built from
   * it on first access. Messages built by hand give `entries` only; when both
   * are present the encoder writes `list`.
   */
  | { readonly command: 'addr'; readonly entries: readonly AddrEntry[]; readonly list?: AddrList }
  | { readonly command: 'addrv2'; readonly entries: readonly AddrEntry[]; readonly list?: AddrList }
  /** Any other well-formed command (inv, headers, tx, block, …): payload not parsed. */
  | { readonly command: 'unknown'; readonly name: string; readonly payload: Uint8Array };

export type Command = Exclude<Message['command'], 'unknown'>;
