/**
 * BIP324's rekeying wrappers over node:crypto's ChaCha20 and
 * ChaCha20-Poly1305 (OpenSSL): FSChaCha20 encrypts the 3-byte packet lengths,
 * FSChaCha20Poly1305 the packets. Both rekey every 224 packets.
 *
 * Why node:crypto and not @noble/ciphers: measured on this machine
 * (bench/bip324.mjs), OpenSSL's AEAD is about twice as fast for the small
 * packets of a handshake and ten times for a 30 KB addr answer. It cannot
 * decrypt in place (Decipher.update always returns a new Buffer) and needs a
 * Decipher object per packet because the nonce changes per packet; noble can
 * write in place but allocates its own per-call state too, so nothing is saved.
 */
import { createCipheriv, createDecipheriv, type CipherChaCha20Poly1305, type DecipherChaCha20Poly1305 } from 'node:crypto';
import { LENGTH_FIELD_LENGTH, REKEY_INTERVAL, TAG_LENGTH } from './constants.js';

/** One rekey interval of length keystream: 224 lengths, then the next key. */
const LENGTH_KEYSTREAM_BYTES = REKEY_INTERVAL * LENGTH_FIELD_LENGTH + 32; // 704 = 11 blocks
const ZEROS = Buffer.alloc(LENGTH_KEYSTREAM_BYTES);

/** node's 'chacha20' IV: the 32-bit little-endian block counter, then the 96-bit nonce. */
function chacha20Keystream(key: Uint8Array, nonce: Uint8Array, counter: number, bytes: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32LE(counter, 0);
  iv.set(nonce, 4);
  return createCipheriv('chacha20', key, iv).update(ZEROS.subarray(0, bytes));
}

/**
 * FSChaCha20 for the length fields. Every chunk is exactly 3 bytes in this
 * protocol, so a rekey interval's keystream (704 bytes, the last 32 the next
 * key) is made in one call and the per-packet work is three XORs.
 */
export class FSChaCha20 {
  private key: Buffer;
  private keystream: Buffer;
  private pos = 0;
  private chunks = 0;
  private rekeys = 0n;
  private readonly nonce = Buffer.alloc(12);

  constructor(key: Uint8Array) {
    this.key = Buffer.from(key);
    this.keystream = this.epochKeystream();
  }

  private epochKeystream(): Buffer {
    this.nonce.writeBigUInt64LE(this.rekeys, 4);
    return chacha20Keystream(this.key, this.nonce, 0, LENGTH_KEYSTREAM_BYTES);
  }

  /** Encrypts or decrypts (the same XOR) the 3 bytes at `buf[off]`, in place. */
  crypt(buf: Uint8Array, off: number): void {
    const ks = this.keystream;
    const p = this.pos;
    buf[off] = buf[off]! ^ ks[p]!;
    buf[off + 1] = buf[off + 1]! ^ ks[p + 1]!;
    buf[off + 2] = buf[off + 2]! ^ ks[p + 2]!;
    this.pos = p + LENGTH_FIELD_LENGTH;
    if (++this.chunks % REKEY_INTERVAL === 0) {
      this.key = Buffer.from(ks.subarray(this.pos, this.pos + 32));
      this.rekeys++;
      this.pos = 0;
      this.keystream = this.epochKeystream();
    }
  }
}

/**
 * FSChaCha20Poly1305 for the packets. The nonce is the packet's index within
 * the current key (32-bit LE) and the number of rekeys (64-bit LE). A rekey
 * takes the first 32 bytes of encrypting 32 zero bytes under the nonce
 * 0xffffffff ‖ rekeys, which is ChaCha20 keystream block 1 (the BIP's note):
 * no Poly1305 needed.
 */
export class FSChaCha20Poly1305 {
  private key: Buffer;
  private packets = 0;
  private rekeys = 0n;
  private readonly nonce = Buffer.alloc(12);

  constructor(key: Uint8Array) {
    this.key = Buffer.from(key);
  }

  /** Packets processed so far (the BIP's packet_counter). */
  get count(): number {
    return this.packets;
  }

  private advance(): void {
    if (++this.packets % REKEY_INTERVAL !== 0) return;
    const rekeyNonce = Buffer.alloc(12);
    rekeyNonce.writeUInt32LE(0xffffffff, 0);
    rekeyNonce.writeBigUInt64LE(this.rekeys, 4);
    this.key = chacha20Keystream(this.key, rekeyNonce, 1, 32);
    this.rekeys++;
  }

  private currentNonce(): Buffer {
    this.nonce.writeUInt32LE(this.packets % REKEY_INTERVAL, 0);
    this.nonce.writeBigUInt64LE(this.rekeys, 4);
    return this.nonce;
  }

  /** A cipher for the next packet (with `aad` set); the wrapper moves on to the packet after. */
  encryptor(aad: Uint8Array | null, plaintextLength: number): CipherChaCha20Poly1305 {
    const c = createCipheriv('chacha20-poly1305', this.key, this.currentNonce(), { authTagLength: TAG_LENGTH });
    if (aad !== null && aad.length > 0) c.setAAD(aad, { plaintextLength });
    this.advance();
    return c;
  }

  /** A decipher for the next packet (with `aad` set); the caller sets the tag and calls final(). */
  decryptor(aad: Uint8Array | null, plaintextLength: number): DecipherChaCha20Poly1305 {
    const d = createDecipheriv('chacha20-poly1305', this.key, this.currentNonce(), { authTagLength: TAG_LENGTH });
    if (aad !== null && aad.length > 0) d.setAAD(aad, { plaintextLength });
    this.advance();
    return d;
  }
}
