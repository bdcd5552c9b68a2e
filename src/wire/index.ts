/**
 * The Bitcoin v1 wire codec: networks, framing, the streaming decoder,
 * payload codecs and address text forms.
 */
export * from './types.js';
export {
  HEADER_SIZE,
  COMMAND_SIZE,
  MAX_MESSAGE_LENGTH,
  MAX_ADDR_PER_MESSAGE,
  PROTOCOL_VERSION,
  MIN_PEER_PROTO_VERSION,
  BIP0031_VERSION,
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
export { NETWORKS, networkByMagic, isNetworkName, signetMagic, DEFAULT_SIGNET_CHALLENGE } from './networks.js';
export { sha256d, checksum } from './checksum.js';
export { encodeCompactSize, decodeCompactSize, compactSizeLength } from './compact-size.js';
export { encodePayload, decodePayload, KNOWN_COMMANDS, isKnownCommand } from './payloads.js';
export { frameMessage, encodeMessage, maxPayloadLength, MAX_PAYLOAD_LENGTH } from './framing.js';
export { MessageDecoder, type MessageSink, type MessageDecoderOptions } from './decoder.js';
export { formatAddress, formatHost, parseAddress, base32Encode, base32Decode } from './address-text.js';
export { isAddressValid, netAddressToV1, ADDRESS_LENGTH, NETWORK_ID } from './address.js';
export { makeVersion, versionAddress, randomNonce, DEFAULT_USER_AGENT } from './version.js';
export { messageToJson, bigintToJson, type JsonValue } from './json.js';
