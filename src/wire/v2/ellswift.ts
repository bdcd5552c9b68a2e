/**
 * ElligatorSwift key exchange (BIP324 "Shared secret computation").
 *
 * Who does what, chosen by measurement (bench/bip324.mjs):
 * - the scalar multiplications (priv·G and the ECDH) run in OpenSSL through
 *   node:crypto's ECDH, about four times faster than @noble/curves' pure-JS
 *   variable-base multiplication;
 * - the ElligatorSwift field maps (XSwiftEC, XSwiftECInv, the encoding loop)
 *   come from @scure/btc-signer's `elligatorSwift` (on @noble/curves' field
 *   arithmetic): no well-kept library offers them natively, OpenSSL has none.
 *
 * X-only ECDH with node: the decoded x lifted to the even-y point (0x02 ‖ x)
 * gives x(priv·P); the other lift is its negation and has the same x.
 */
import { createECDH, createHash, type ECDH } from 'node:crypto';
import { elligatorSwift } from '@scure/btc-signer/p2p.js';
import { ELLSWIFT_LENGTH } from './constants.js';

const ECDH_TAG = 'bip324_ellswift_xonly_ecdh';
const ECDH_TAG_HASH = createHash('sha256').update(ECDH_TAG).digest();

/** An ephemeral key: OpenSSL holds the private key, `ellswift` is what goes on the wire. */
export interface EllSwiftKey {
  readonly ecdh: ECDH;
  readonly ellswift: Uint8Array;
}

function xOf(ecdh: ECDH): bigint {
  // Compressed point: parity byte ‖ x (32 bytes).
  return BigInt('0x' + ecdh.getPublicKey('hex', 'compressed').slice(2));
}

/**
 * ellswift_create(): a fresh private key and a uniformly sampled 64-byte
 * encoding of its public key's x. `privateKey` fixes the key (test vectors).
 */
export function ellswiftCreate(privateKey?: Uint8Array): EllSwiftKey {
  const ecdh = createECDH('secp256k1');
  if (privateKey === undefined) ecdh.generateKeys();
  else ecdh.setPrivateKey(privateKey);
  return { ecdh, ellswift: elligatorSwift.encode(xOf(ecdh)) };
}

/** XElligatorSwift decoding: the x coordinate (32 bytes) any 64 bytes encode. */
export function ellswiftDecode(ellswift: Uint8Array): Uint8Array {
  return elligatorSwift.decode(ellswift);
}

/**
 * XSwiftECInv(x, u, case): the t with XSwiftEC(u, t) = x for that case, or
 * null. What the encoder uses; exported so the BIP's vectors can check it.
 */
export function xswiftecInv(x: bigint, u: bigint, ellCase: number): bigint | null {
  const t = elligatorSwift._inv(x, u, ellCase);
  return t === undefined ? null : t;
}

/** ellswift_ecdh_xonly(ellswift_theirs, priv): x(priv·lift_x(XSwiftEC(u, t))). */
export function ellswiftEcdhXonly(ours: ECDH, ellswiftTheirs: Uint8Array): Buffer {
  const x = ellswiftDecode(ellswiftTheirs);
  const point = Buffer.allocUnsafe(33);
  point[0] = 0x02;
  point.set(x, 1);
  return ours.computeSecret(point);
}

/**
 * v2_ecdh: the shared secret, tagged-hashed with both 64-byte encodings as
 * sent (initiator's first), so a changed encoding changes every key.
 */
export function v2Ecdh(ours: EllSwiftKey, ellswiftTheirs: Uint8Array, initiating: boolean): Buffer {
  if (ellswiftTheirs.length !== ELLSWIFT_LENGTH) throw new RangeError(`ellswift must be ${ELLSWIFT_LENGTH} bytes`);
  const shared = ellswiftEcdhXonly(ours.ecdh, ellswiftTheirs);
  const first = initiating ? ours.ellswift : ellswiftTheirs;
  const second = initiating ? ellswiftTheirs : ours.ellswift;
  return createHash('sha256').update(ECDH_TAG_HASH).update(ECDH_TAG_HASH).update(first).update(second).update(shared).digest();
}
