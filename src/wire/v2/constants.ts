/**
 * BIP324 sizes and limits, named once (bip-0324.mediawiki; Bitcoin Core's
 * V2Transport uses the same values).
 */
import { COMMAND_SIZE, MAX_MESSAGE_LENGTH } from '../constants.js';

/** An ElligatorSwift-encoded public key: u(32) ‖ t(32). */
export const ELLSWIFT_LENGTH = 64;

/** Most garbage either side may send after its public key. */
export const MAX_GARBAGE_LENGTH = 4095;

/** The garbage terminator each direction derives from the shared secret. */
export const GARBAGE_TERMINATOR_LENGTH = 16;

/** The encrypted length field in front of every packet (little-endian, 24 bits). */
export const LENGTH_FIELD_LENGTH = 3;

/** The plaintext header byte (flags) in front of the contents. */
export const HEADER_LENGTH = 1;

/** Poly1305 tag appended to every packet. */
export const TAG_LENGTH = 16;

/** A packet is this much longer than its contents: length + header + tag. */
export const PACKET_OVERHEAD = LENGTH_FIELD_LENGTH + HEADER_LENGTH + TAG_LENGTH;

/** The header's ignore bit: a decoy packet, authenticated then dropped. */
export const IGNORE_BIT = 0x80;

/** Both ciphers rekey after this many packets (lengths: chunks). */
export const REKEY_INTERVAL = 224;

/**
 * Largest contents we accept: a 13-byte long message type plus the largest v1
 * payload. Core's MAX_CONTENTS_LEN is the same; above it Core disconnects.
 */
export const MAX_CONTENTS_LENGTH = 1 + COMMAND_SIZE + MAX_MESSAGE_LENGTH;

/** A responder reads this many bytes (magic ‖ "version\0\0\0\0\0") to tell a v1 peer. */
export const V1_PREFIX_LENGTH = 16;
