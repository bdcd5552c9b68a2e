/**
 * Protocol limits and versions, named where they live with the reason they
 * exist. Values are Bitcoin Core 31.x's (see shared/protocol/FACTS.md).
 */

/** magic(4) + command(12) + length(4) + checksum(4). */
export const HEADER_SIZE = 24;

/** Width of the NUL-padded command field (header bytes 4..15). */
export const COMMAND_SIZE = 12;

/** Header offset of the little-endian payload length. */
export const LENGTH_OFFSET = 16;

/** Header offset of the checksum (the first 4 bytes of sha256d(payload)). */
export const CHECKSUM_OFFSET = 20;

/** Core disconnects a peer whose header declares more (MAX_PROTOCOL_MESSAGE_LENGTH). */
export const MAX_MESSAGE_LENGTH = 4_000_000;

/** Core treats more addr/addrv2 entries as misbehaviour (MAX_ADDR_TO_SEND). */
export const MAX_ADDR_PER_MESSAGE = 1000;

/** What we announce: Core 31.x's PROTOCOL_VERSION (wtxidrelay/addrv2 era). */
export const PROTOCOL_VERSION = 70016;

/** Core disconnects peers below this version. */
export const MIN_PEER_PROTO_VERSION = 31800;

/** Ping carries a nonce (and pong exists) only above this version (BIP31). */
export const BIP0031_VERSION = 60000;

/** sendcmpct (BIP152) is sent from this common version on (SHORT_IDS_BLOCKS_VERSION). */
export const SHORT_IDS_BLOCKS_VERSION = 70014;

/** wtxidrelay (BIP339) and sendaddrv2 (BIP155) are negotiated from this version on (WTXID_RELAY_VERSION, FACTS §3). */
export const WTXID_RELAY_VERSION = 70016;

/** Largest CompactSize Core accepts where it range-checks (serialize.h MAX_SIZE). */
export const MAX_SIZE = 0x02000000;

/** Longest user agent Core reads from a version message (MAX_SUBVERSION_LENGTH). */
export const MAX_SUBVERSION_LENGTH = 256;

/** Longest BIP155 address Core reads (MAX_ADDRV2_SIZE); longer fails the message. */
export const MAX_ADDRV2_SIZE = 512;

/** A v1 addr entry: time(4) + services(8) + address(16) + port(2). */
export const ADDR_V1_ENTRY_SIZE = 30;

/** BIP155 network ids. */
export const BIP155_IPV4 = 1;
export const BIP155_IPV6 = 2;
export const BIP155_TORV2 = 3;
export const BIP155_TORV3 = 4;
export const BIP155_I2P = 5;
export const BIP155_CJDNS = 6;

/** Service bits (protocol.h). */
export const NODE_NETWORK = 1n;
export const NODE_BLOOM = 4n;
export const NODE_WITNESS = 8n;
export const NODE_COMPACT_FILTERS = 64n;
export const NODE_NETWORK_LIMITED = 1024n;
export const NODE_P2P_V2 = 2048n;
