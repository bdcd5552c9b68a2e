/**
 * The Bitcoin v1 wire codec: networks, framing, the streaming decoder,
 * payload codecs and address text forms. Strict where Bitcoin Core is strict
 * (shared/protocol/FACTS.md); the places where a choice had to be made:
 *
 * - Trailing bytes fail every payload (ERR_TRAILING_BYTES) except `version`,
 *   whose fields after addr_recv are each optional and where Core ignores
 *   anything after relay (the message has always grown by appending).
 * - An empty `ping` (pre-BIP31) decodes as `{nonce: 0n, empty: true}`; no pong
 *   is owed. A `pong` must carry its 8-byte nonce.
 * - Addresses Core keeps as invalid entries (unknown BIP155 ids incl. Tor v2 and
 *   Yggdrasil, OnionCat/internal prefixes, IPv4-mapped under the IPv6 id) are
 *   `address: null` with the original bytes in `unparsed`, so they re-encode
 *   exactly. CJDNS without the fc prefix stays CJDNS but isAddressValid() is false.
 * - Over-limit counts (> 1,000 addr entries) and per-command size limits are
 *   non-fatal: the message is dropped and reported; disconnecting (as Core does
 *   for > 1,000 entries) is the caller's policy.
 * - Text: fc00::/8 parses as CJDNS (as Core's seed tooling does), IPv4-mapped
 *   IPv6 text as IPv4; IPv4 octets with leading zeros are refused.
 * - Encoders write more than 1,000 entries when asked, so a simulator can
 *   misbehave on purpose; a Tor v3/I2P/CJDNS address in a v1 field is
 *   ERR_UNENCODABLE rather than silently zeroed.
 */
export * from './types.js';
export {
  HEADER_SIZE,
  COMMAND_SIZE,
  LENGTH_OFFSET,
  CHECKSUM_OFFSET,
  MAX_MESSAGE_LENGTH,
  MAX_ADDR_PER_MESSAGE,
  PROTOCOL_VERSION,
  MIN_PEER_PROTO_VERSION,
  BIP0031_VERSION,
  SHORT_IDS_BLOCKS_VERSION,
  WTXID_RELAY_VERSION,
  MAX_SIZE,
  MAX_SUBVERSION_LENGTH,
  MAX_ADDRV2_SIZE,
  ADDR_V1_ENTRY_SIZE,
  BIP155_IPV4,
  BIP155_IPV6,
  BIP155_TORV2,
  BIP155_TORV3,
  BIP155_I2P,
  BIP155_CJDNS,
  NODE_NETWORK,
  NODE_BLOOM,
  NODE_WITNESS,
  NODE_COMPACT_FILTERS,
  NODE_NETWORK_LIMITED,
  NODE_P2P_V2,
} from './constants.js';
export { serviceNames, SERVICE_BITS, NODE_GETUTXO } from './services.js';
export { NETWORKS, networkByMagic, isNetworkName, signetMagic, DEFAULT_SIGNET_CHALLENGE } from './networks.js';
export { sha256d, checksum } from './checksum.js';
export { encodeCompactSize, decodeCompactSize, compactSizeLength } from './compact-size.js';
export { encodePayload, decodePayload, KNOWN_COMMANDS, isKnownCommand } from './payloads.js';
export { frameMessage, encodeMessage, maxPayloadLength, MAX_PAYLOAD_LENGTH } from './framing.js';
export { MessageDecoder, type MessageSink, type MessageDecoderOptions } from './decoder.js';
export { formatAddress, formatHost, formatAddressAt, formatHostAt, parseAddress, base32Encode, base32Decode } from './address-text.js';
export { AddrList, type AddrColumns } from './addr-list.js';
export { AddrMessage } from './addr-message.js';
export { isAddressValid, netAddressToV1, ADDRESS_LENGTH, NETWORK_ID } from './address.js';
export { makeVersion, versionAddress, randomNonce, DEFAULT_USER_AGENT } from './version.js';
export { userAgentText, userAgentBytes } from './user-agent.js';
export { messageToJson, bigintToJson, type JsonValue } from './json.js';
