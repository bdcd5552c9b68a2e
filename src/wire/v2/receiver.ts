/**
 * The receiving half of an established v2 session: ciphertext in (split
 * anywhere), messages out through the same MessageSink as the v1 decoder.
 *
 * Nothing is used before it is authenticated: a packet's plaintext streams
 * out of the decipher as its bytes arrive, but what it holds (a message, a
 * decoy, the version packet, an error to report) is acted on only after its
 * tag verified. Memory stays what v1 costs:
 * - a packet wholly inside one chunk is decrypted with one update() call and
 *   decoded from that output (no assembly);
 * - a straddling packet keeps only its first 14 plaintext bytes until its
 *   message type is known; a decoy, a skipped command or one over its size
 *   limit then keeps nothing more (its tag is still checked), a wanted one is
 *   assembled in a buffer that grows as bytes arrive (reused between known
 *   messages, as the v1 decoder's body buffer is);
 * - node:crypto cannot decrypt in place, so each packet costs one Decipher
 *   and its output buffers, where v1 costs two SHA-256 digests.
 * After a fatal error (bad tag, oversized length, a wrong version packet)
 * nothing more is decrypted or delivered: the key stream is out of step and
 * Core disconnects.
 */
import type { DecipherChaCha20Poly1305 } from 'node:crypto';
import { WireError } from '../../errors.js';
import { COMMAND_SIZE } from '../constants.js';
import { maxPayloadLength } from '../framing.js';
import { decodePayload, isKnownCommand } from '../payloads.js';
import type { MessageSink } from '../decoder.js';
import type { Message } from '../types.js';
import { FSChaCha20, FSChaCha20Poly1305 } from './ciphers.js';
import { HEADER_LENGTH, IGNORE_BIT, LENGTH_FIELD_LENGTH, MAX_CONTENTS_LENGTH, TAG_LENGTH } from './constants.js';
import { readMessageType } from './message-ids.js';

export interface V2ReceiveSink extends MessageSink {
  /** The peer's version packet authenticated: the session is up in both directions. */
  onVersionPacket?(contentsLength: number): void;
}

export interface PacketReceiverOptions {
  /** As MessageDecoderOptions.skipUnknown: drop commands we do not decode (their tags are still checked). */
  skipUnknown?: boolean;
}

/** Header + the longest message type: enough plaintext to know what a packet is. */
const HEAD_BYTES = HEADER_LENGTH + 1 + COMMAND_SIZE;
/** Largest straddling message assembled in the reusable buffer (as the v1 decoder's). */
const REUSABLE_BODY_MAX = 64 * 1024;
/** What a v1 `version` message looks like as the first packet: header 0, long type "version". */
const V1_VERSION_TYPE = Buffer.from('\0\0version\0\0\0\0\0', 'latin1');

// What the packet in progress is, known once its first bytes decrypted.
const UNKNOWN_YET = 0;
const DECOY = 1;
const VERSION_PACKET = 2;
const MESSAGE = 3; // kept and decoded
const SKIPPED = 4; // skipUnknown
const REJECTED = 5; // reported (non-fatal) once authenticated

export class PacketReceiver {
  private readonly lengthCipher: FSChaCha20;
  private readonly packetCipher: FSChaCha20Poly1305;
  private readonly skipUnknown: boolean;
  /** The peer's garbage: AAD of its first packet, then null. */
  private aad: Uint8Array | null;

  private readonly lengthField = Buffer.alloc(LENGTH_FIELD_LENGTH);
  private lengthFill = 0;
  private inPacket = false;
  private decipher: DecipherChaCha20Poly1305 | null = null;
  private plainLength = 0;
  private cipherLeft = 0;
  private readonly tag = Buffer.alloc(TAG_LENGTH);
  private tagFill = 0;
  private readonly head = Buffer.alloc(HEAD_BYTES);
  private headFill = 0;
  private kind: number = UNKNOWN_YET;
  private command = '';
  private payloadStart = 0;
  private pending: WireError | null = null;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private spareBody: Buffer | null = null;

  private _failed = false;
  private _versionReceived = false;
  packetsReceived = 0;
  decoysReceived = 0;
  messagesDecoded = 0;
  messagesRejected = 0;
  messagesSkipped = 0;

  constructor(
    keyL: Uint8Array,
    keyP: Uint8Array,
    peerGarbage: Uint8Array,
    private readonly sink: V2ReceiveSink,
    options: PacketReceiverOptions = {},
  ) {
    this.lengthCipher = new FSChaCha20(keyL);
    this.packetCipher = new FSChaCha20Poly1305(keyP);
    this.aad = peerGarbage;
    this.skipUnknown = options.skipUnknown === true;
  }

  get failed(): boolean {
    return this._failed;
  }

  get versionReceived(): boolean {
    return this._versionReceived;
  }

  /** Bytes held while waiting for the rest of a length, packet head, message or tag. */
  get bufferedBytes(): number {
    return this.lengthFill + this.tagFill + (this.body === null ? this.headFill : this.bodyFill);
  }

  /** Buffers kept for reuse and a message in progress (fixed scratch not counted). */
  get retainedBytes(): number {
    const spare = this.spareBody;
    const body = this.body;
    const own = body !== null && (spare === null || body.buffer !== spare.buffer) ? body.length : 0;
    return (spare === null ? 0 : spare.length) + own;
  }

  releaseBuffers(): void {
    this.spareBody = null;
  }

  /** Consumes `c[pos, n)`. Nothing of `c` is kept after it returns. */
  push(c: Buffer, pos: number, n: number): void {
    while (pos < n && !this._failed) {
      if (!this.inPacket) {
        const take = Math.min(LENGTH_FIELD_LENGTH - this.lengthFill, n - pos);
        c.copy(this.lengthField, this.lengthFill, pos, pos + take);
        this.lengthFill += take;
        pos += take;
        if (this.lengthFill < LENGTH_FIELD_LENGTH) return;
        this.lengthFill = 0;
        this.lengthCipher.crypt(this.lengthField, 0);
        this.startPacket(this.lengthField.readUIntLE(0, LENGTH_FIELD_LENGTH));
      } else if (this.cipherLeft > 0) {
        const len = this.plainLength;
        if (this.cipherLeft === len && n - pos >= len + TAG_LENGTH) {
          // Fast path: the whole packet is in this chunk.
          const plain = this.decipher!.update(c.subarray(pos, pos + len));
          this.decipher!.setAuthTag(c.subarray(pos + len, pos + len + TAG_LENGTH));
          pos += len + TAG_LENGTH;
          this.cipherLeft = 0;
          const rest = this.authenticate();
          if (rest === null) return;
          const whole = rest.length === 0 ? plain : Buffer.concat([plain, rest]);
          this.identify(whole, whole.length);
          this.finish(whole);
        } else {
          const take = Math.min(this.cipherLeft, n - pos);
          const piece = this.decipher!.update(c.subarray(pos, pos + take));
          pos += take;
          this.cipherLeft -= take;
          this.absorb(piece);
        }
      } else {
        const take = Math.min(TAG_LENGTH - this.tagFill, n - pos);
        c.copy(this.tag, this.tagFill, pos, pos + take);
        this.tagFill += take;
        pos += take;
        if (this.tagFill < TAG_LENGTH) return;
        this.tagFill = 0;
        this.decipher!.setAuthTag(this.tag);
        const rest = this.authenticate();
        if (rest === null) return;
        if (rest.length > 0) this.absorb(rest);
        this.finish(this.kind === MESSAGE ? this.body!.subarray(0, this.bodyFill) : this.head.subarray(0, this.headFill));
      }
    }
  }

  private startPacket(contentsLength: number): void {
    if (contentsLength > MAX_CONTENTS_LENGTH) {
      this.fatal(new WireError('ERR_MESSAGE_TOO_LARGE', `v2 packet #${this.packetCipher.count}: contents length ${contentsLength} > ${MAX_CONTENTS_LENGTH}`));
      return;
    }
    this.inPacket = true;
    this.plainLength = HEADER_LENGTH + contentsLength;
    this.cipherLeft = this.plainLength;
    this.decipher = this.packetCipher.decryptor(this.aad, this.plainLength);
  }

  /** final(): the tag check. Returns the decipher's last output, or null after a failed check. */
  private authenticate(): Buffer | null {
    const index = this.packetCipher.count - 1;
    try {
      return this.decipher!.final();
    } catch {
      const which = this.aad !== null ? ' (the first packet, whose AAD is the garbage)' : '';
      this.fatal(new WireError('ERR_V2_BAD_TAG', `v2 packet #${index}${which} failed authentication`));
      return null;
    }
  }

  /** Plaintext of a straddling packet, as it decrypts. */
  private absorb(piece: Buffer): void {
    let off = 0;
    if (this.kind === UNKNOWN_YET) {
      const need = Math.min(HEAD_BYTES, this.plainLength);
      off = Math.min(need - this.headFill, piece.length);
      piece.copy(this.head, this.headFill, 0, off);
      this.headFill += off;
      if (this.headFill < need) return;
      if (this.identify(this.head, this.headFill) !== MESSAGE) return;
      this.body = this.bodyBuffer(this.plainLength);
      this.head.copy(this.body, 0, 0, this.headFill);
      this.bodyFill = this.headFill;
    }
    if (this.kind !== MESSAGE || off === piece.length) return;
    const add = piece.length - off;
    if (this.bodyFill + add > this.body!.length) this.growBody(this.bodyFill + add);
    piece.copy(this.body!, this.bodyFill, off);
    this.bodyFill += add;
  }

  /** Decides what the packet is from its first plaintext bytes (`p[0, n)`, n ≥ min(14, length)). */
  private identify(p: Uint8Array, n: number): number {
    this.kind = this.kindOf(p, n);
    return this.kind;
  }

  private kindOf(p: Uint8Array, n: number): number {
    if ((p[0]! & IGNORE_BIT) !== 0) return DECOY;
    if (!this._versionReceived) return VERSION_PACKET;
    const type = readMessageType(p, HEADER_LENGTH, n);
    if ('invalid' in type) {
      this.pending = new WireError('ERR_BAD_COMMAND', `v2 packet #${this.packetCipher.count - 1}: ${type.invalid}; dropped`);
      return REJECTED;
    }
    this.command = type.command;
    this.payloadStart = type.payloadStart;
    const payloadLength = this.plainLength - type.payloadStart;
    const limit = maxPayloadLength(type.command);
    if (payloadLength > limit) {
      this.pending = new WireError('ERR_MESSAGE_TOO_LARGE', `${type.command}: length ${payloadLength} > ${limit} allowed for this command; skipped`);
      return REJECTED;
    }
    return this.skipUnknown && !isKnownCommand(type.command) ? SKIPPED : MESSAGE;
  }

  /** An authenticated packet: `p` is all of it (MESSAGE) or its first bytes. */
  private finish(p: Buffer): void {
    const kind = this.kind;
    const pending = this.pending;
    const command = this.command;
    const payloadStart = this.payloadStart;
    const contentsLength = this.plainLength - HEADER_LENGTH;
    this.inPacket = false;
    this.decipher = null;
    this.aad = null;
    this.kind = UNKNOWN_YET;
    this.pending = null;
    this.command = '';
    this.headFill = 0;
    this.body = null;
    this.bodyFill = 0;
    this.packetsReceived++;
    switch (kind) {
      case DECOY:
        this.decoysReceived++;
        return;
      case VERSION_PACKET:
        if (p.length >= V1_VERSION_TYPE.length && V1_VERSION_TYPE.equals(p.subarray(0, V1_VERSION_TYPE.length))) {
          this.fatal(new WireError('ERR_V2_BAD_VERSION_PACKET', 'the first v2 packet is a `version` message, not the version packet'));
          return;
        }
        this._versionReceived = true;
        this.sink.onVersionPacket?.(contentsLength);
        return;
      case SKIPPED:
        this.messagesSkipped++;
        return;
      case REJECTED:
        this.messagesRejected++;
        this.sink.onMessageError(pending!, command || null, false);
        return;
    }
    let msg: Message;
    try {
      msg = decodePayload(command, p.subarray(payloadStart));
    } catch (err) {
      const wireErr = err instanceof WireError ? err : new WireError('ERR_BAD_PAYLOAD', `${command}: ${err instanceof Error ? err.message : String(err)}`);
      this.messagesRejected++;
      this.sink.onMessageError(wireErr, command, false);
      return;
    }
    this.messagesDecoded++;
    this.sink.onMessage(msg);
  }

  /** As the v1 decoder: one reusable buffer for known messages (they copy what they keep), own buffers otherwise. */
  private bodyBuffer(len: number): Buffer {
    if (len > REUSABLE_BODY_MAX || !isKnownCommand(this.command)) return Buffer.allocUnsafe(Math.min(len, REUSABLE_BODY_MAX));
    if (this.spareBody === null || this.spareBody.length < len) this.spareBody = Buffer.allocUnsafe(Math.max(len, 4096));
    return this.spareBody.subarray(0, len);
  }

  /** Grows as bytes arrive (doubling, capped at the packet length): a declared length costs nothing until sent. */
  private growBody(need: number): void {
    const old = this.body!;
    const grown = Buffer.allocUnsafe(Math.min(this.plainLength, Math.max(need, old.length * 2)));
    old.copy(grown, 0, 0, this.bodyFill);
    this.body = grown;
  }

  private fatal(err: WireError): void {
    this._failed = true;
    this.inPacket = false;
    this.decipher = null;
    this.body = null;
    this.messagesRejected++;
    this.sink.onMessageError(err, null, true);
  }
}
