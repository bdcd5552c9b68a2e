/**
 * Key and session id derivation (BIP324 "Keys and session ID derivation"):
 * HKDF-SHA256 (RFC 5869) over the ECDH secret, salted with
 * "bitcoin_v2_shared_secret" ‖ network magic, so peers on different networks
 * fail at the first packet.
 */
import { hkdfSync } from 'node:crypto';
import { GARBAGE_TERMINATOR_LENGTH } from './constants.js';

export interface V2Keys {
  readonly sessionId: Buffer;
  readonly sendL: Buffer;
  readonly sendP: Buffer;
  readonly recvL: Buffer;
  readonly recvP: Buffer;
  readonly sendGarbageTerminator: Buffer;
  readonly recvGarbageTerminator: Buffer;
}

const SALT_PREFIX = Buffer.from('bitcoin_v2_shared_secret', 'latin1');

/** HKDF-SHA256 with L = 32 (node:crypto's RFC 5869 implementation). */
function hkdf32(ikm: Uint8Array, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

export function deriveV2Keys(ecdhSecret: Uint8Array, magic: Uint8Array, initiating: boolean): V2Keys {
  const salt = Buffer.concat([SALT_PREFIX, magic]);
  const initiatorL = hkdf32(ecdhSecret, salt, 'initiator_L');
  const initiatorP = hkdf32(ecdhSecret, salt, 'initiator_P');
  const responderL = hkdf32(ecdhSecret, salt, 'responder_L');
  const responderP = hkdf32(ecdhSecret, salt, 'responder_P');
  const terminators = hkdf32(ecdhSecret, salt, 'garbage_terminators');
  const initiatorTerminator = terminators.subarray(0, GARBAGE_TERMINATOR_LENGTH);
  const responderTerminator = terminators.subarray(GARBAGE_TERMINATOR_LENGTH);
  const sessionId = hkdf32(ecdhSecret, salt, 'session_id');
  return initiating
    ? { sessionId, sendL: initiatorL, sendP: initiatorP, recvL: responderL, recvP: responderP, sendGarbageTerminator: initiatorTerminator, recvGarbageTerminator: responderTerminator }
    : { sessionId, sendL: responderL, sendP: responderP, recvL: initiatorL, recvP: initiatorP, sendGarbageTerminator: responderTerminator, recvGarbageTerminator: initiatorTerminator };
}
