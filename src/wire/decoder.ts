/**
 * The streaming frame parser: TCP chunks in (split anywhere, many messages per
 * chunk), decoded messages and typed errors out.
 *
 * Memory and speed, in order of importance:
 * - the magic and the declared length are checked as soon as 24 header bytes
 *   exist, before any body byte is awaited or allocated;
 * - a body larger than its command allows is counted down as it arrives,
 *   never stored;
 * - a message wholly inside one chunk is decoded straight from the chunk
 *   (no copy); only a body that straddles chunks is assembled, in a buffer
 *   reused from message to message (see bodyBuffer);
 * - no per-message closures; state is a few fields on this object.
 *
 * What an idle decoder keeps matters too: a crawler in node mode holds
 * thousands of them. The partial-header buffer is only allocated the first
 * time a header straddles chunks, and releaseBuffers() drops the reusable
 * body buffer (docs/PERFORMANCE.md, Memory).
 */
import { createHash, type Hash } from 'node:crypto';
import { WireError } from '../errors.js';
import { CHECKSUM_OFFSET, HEADER_SIZE, LENGTH_OFFSET, MAX_MESSAGE_LENGTH } from './constants.js';
import { u32le } from './bytes.js';
import { checksumLE } from './checksum.js';
import { commandLength, commandName, maxPayloadLength } from './framing.js';
import { decodePayload, isKnownCommand } from './payloads.js';
import type { Message, NetworkParams } from './types.js';

export interface MessageSink {
  onMessage(msg: Message): void;
  /** fatal=false: that message was dropped, the stream is still in sync (bad checksum, bad command,
   *  payload that fails to decode, per-command size limit exceeded and skipped).
   *  fatal=true: the stream cannot continue (wrong magic, declared length > 4,000,000);
   *  the decoder ignores further input after a fatal error. */
  onMessageError(err: WireError, command: string | null, fatal: boolean): void;
}

export interface MessageDecoderOptions {
  /**
   * Skip the bodies of commands we do not decode (inv, tx, block…) without
   * buffering or hashing them, instead of delivering them as `unknown`
   * messages. A crawler only wants the handshake and addr traffic.
   */
  skipUnknown?: boolean;
}

// Parser states.
const HEADER = 0; // waiting for (the rest of) a 24-byte header
const BODY = 1; // collecting a body to checksum and decode
const DISCARD = 2; // counting down a body we will not keep

// What to do when a discarded body ends.
const DISCARD_SILENT = 0; // skipped on purpose (over the limit, already reported; or skipUnknown)
const DISCARD_BAD_COMMAND = 1; // invalid command: checksum first (Core's order), then report

const EMPTY = Buffer.alloc(0);

/** Largest straddling body assembled in the decoder's reusable buffer (a full addr message is 30,003 bytes). */
const REUSABLE_BODY_MAX = 64 * 1024;

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class MessageDecoder {
  private readonly magicLE: number;
  private readonly skipUnknown: boolean;

  private state = HEADER;
  /**
   * Where a header split across chunks is assembled; allocated on the first
   * split (many peers never split one). Buffer.alloc, not allocUnsafe: a
   * pooled 24-byte slice would keep its whole 8 KB pool slab alive.
   */
  private header: Buffer | null = null;
  private headerFill = 0;

  // The message in progress.
  private command = '';
  private length = 0;
  private checksum = 0;
  private body: Buffer | null = null;
  private spareBody: Buffer | null = null;
  private bodyFill = 0;
  private discardLeft = 0;
  private discardMode = DISCARD_SILENT;
  private discardHash: Hash | null = null;

  private _failed = false;
  /** Messages delivered to onMessage. */
  messagesDecoded = 0;
  /** Messages reported to onMessageError (fatal or not). */
  messagesRejected = 0;
  /** Bodies skipped unread because of `skipUnknown`. */
  messagesSkipped = 0;

  constructor(
    readonly net: NetworkParams,
    private readonly sink: MessageSink,
    options: MessageDecoderOptions = {},
  ) {
    this.magicLE = net.magicLE;
    this.skipUnknown = options.skipUnknown === true;
  }

  /** True after a fatal error; further input is ignored. */
  get failed(): boolean {
    return this._failed;
  }

  /** Bytes received and held while waiting for the rest of a header or body (never a skipped body). */
  get bufferedBytes(): number {
    return this.headerFill + this.bodyFill;
  }

  /** Capacity of the buffer assembling the body in progress (what a slow peer's half-sent body costs us). */
  get allocatedBytes(): number {
    return this.body === null ? 0 : this.body.length;
  }

  /**
   * Every buffer byte this decoder holds on to: the partial-header buffer, the
   * reusable body buffer and a body in progress (counted once when it lives in
   * the reusable buffer). What an idle connection costs beyond its objects.
   */
  get retainedBytes(): number {
    const spare = this.spareBody;
    const body = this.body;
    const bodyOwn = body !== null && (spare === null || body.buffer !== spare.buffer) ? body.length : 0;
    return (this.header === null ? 0 : this.header.length) + (spare === null ? 0 : spare.length) + bodyOwn;
  }

  /**
   * Drops the buffers kept only for reuse between messages, for a connection
   * about to sit idle: the reusable body buffer (as big as the largest
   * straddling message so far, e.g. a 30 KB getaddr answer) and an unused
   * partial-header buffer. A message in progress keeps what it needs; the
   * next straddling body allocates a reusable buffer again.
   */
  releaseBuffers(): void {
    this.spareBody = null;
    if (this.headerFill === 0) this.header = null;
  }

  /**
   * Feeds the next bytes of the stream: `chunk[0 .. length)` (default: all of it).
   * Nothing of `chunk` is kept after this returns (what straddles is copied and
   * decoded messages own their bytes), so the caller may reuse one read buffer
   * for every socket (node:net's `onread`). The one exception: an `unknown`
   * message's payload is a view, valid only inside onMessage (use skipUnknown).
   */
  push(chunk: Uint8Array, length: number = chunk.length): void {
    if (this._failed) return;
    const c = asBuffer(chunk);
    const n = Math.min(length, c.length);
    let pos = 0;
    try {
      while (pos < n && !this._failed) {
        if (this.state === HEADER) {
          if (this.headerFill === 0 && n - pos >= HEADER_SIZE) {
            pos += HEADER_SIZE;
            this.onHeader(c, pos - HEADER_SIZE);
          } else {
            const header = this.header ?? (this.header = Buffer.alloc(HEADER_SIZE));
            const take = Math.min(HEADER_SIZE - this.headerFill, n - pos);
            c.copy(header, this.headerFill, pos, pos + take);
            this.headerFill += take;
            pos += take;
            if (this.headerFill < HEADER_SIZE) return;
            this.headerFill = 0;
            this.onHeader(header, 0);
          }
        } else if (this.state === BODY) {
          const len = this.length;
          if (this.bodyFill === 0 && n - pos >= len) {
            // Fast path: the whole body is in this chunk; decode it in place.
            pos += len;
            this.state = HEADER;
            this.finish(c.subarray(pos - len, pos));
          } else {
            if (this.body === null) this.body = this.bodyBuffer(len);
            const take = Math.min(len - this.bodyFill, n - pos);
            if (this.bodyFill + take > this.body.length) this.growBody(this.bodyFill + take, len);
            c.copy(this.body, this.bodyFill, pos, pos + take);
            this.bodyFill += take;
            pos += take;
            if (this.bodyFill < len) return;
            const body = this.body;
            this.body = null;
            this.bodyFill = 0;
            this.state = HEADER;
            this.finish(body);
          }
        } else {
          const take = Math.min(this.discardLeft, n - pos);
          if (this.discardHash !== null) this.discardHash.update(c.subarray(pos, pos + take));
          this.discardLeft -= take;
          pos += take;
          if (this.discardLeft === 0) this.endDiscard();
        }
      }
    } catch (err) {
      // Only a throwing sink gets here (the codec itself reports, never throws);
      // the rest of the chunk is lost, so the stream cannot be trusted any more.
      this._failed = true;
      throw err;
    }
  }

  /** The 24 header bytes at `o` are complete. Decides what happens to the body. */
  private onHeader(h: Uint8Array, o: number): void {
    if (u32le(h, o) !== this.magicLE) {
      const got = Buffer.from(h.subarray(o, o + 4)).toString('hex');
      this.fatal(new WireError('ERR_BAD_MAGIC', `wrong message start ${got}, expected ${Buffer.from(this.net.magic).toString('hex')} (${this.net.name})`), null);
      return;
    }
    const length = u32le(h, o + LENGTH_OFFSET);
    const cmdLen = commandLength(h, o + 4);
    const name = commandName(h, o + 4);
    if (length > MAX_MESSAGE_LENGTH) {
      this.fatal(new WireError('ERR_MESSAGE_TOO_LARGE', `${JSON.stringify(name)}: declared length ${length} > ${MAX_MESSAGE_LENGTH}`), name);
      return;
    }
    this.command = name;
    this.length = length;
    this.checksum = u32le(h, o + CHECKSUM_OFFSET);
    if (cmdLen < 0) {
      // Core drops it only after the whole message arrived, reporting a bad
      // checksum first; hash the body as it streams past instead of storing it.
      this.startDiscard(length, DISCARD_BAD_COMMAND);
      return;
    }
    const limit = maxPayloadLength(name);
    if (length > limit) {
      this.reject(new WireError('ERR_MESSAGE_TOO_LARGE', `${name}: declared length ${length} > ${limit} allowed for this command; skipped`), name);
      this.startDiscard(length, DISCARD_SILENT);
      return;
    }
    if (this.skipUnknown && !isKnownCommand(name)) {
      this.messagesSkipped++;
      this.startDiscard(length, DISCARD_SILENT);
      return;
    }
    if (length === 0) {
      this.finish(EMPTY);
      return;
    }
    this.state = BODY;
  }

  /**
   * Where a body that straddles chunks is assembled. A decoded known message
   * keeps no view of its payload (AddrList, version, ping… copy what they
   * keep), so one buffer per decoder serves all of them: a fresh 30 KB
   * allocation per addr message cost ~20% of the segmented decode. An unknown
   * command's payload IS handed out as a view, so it gets its own buffer, as
   * does anything above REUSABLE_BODY_MAX (not worth holding per connection).
   */
  private bodyBuffer(len: number): Buffer {
    if (len > REUSABLE_BODY_MAX || !isKnownCommand(this.command)) return Buffer.allocUnsafe(Math.min(len, REUSABLE_BODY_MAX));
    if (this.spareBody === null || this.spareBody.length < len) this.spareBody = Buffer.allocUnsafe(Math.max(len, 4096));
    return this.spareBody.subarray(0, len);
  }

  /**
   * A large body's buffer grows (doubling, capped at the declared length) as
   * its bytes actually arrive: a header only announces a length, so a peer
   * declaring 500 KB and sending 10 bytes must not cost 500 KB.
   */
  private growBody(need: number, len: number): void {
    const old = this.body!;
    const grown = Buffer.allocUnsafe(Math.min(len, Math.max(need, old.length * 2)));
    old.copy(grown, 0, 0, this.bodyFill);
    this.body = grown;
  }

  private startDiscard(length: number, mode: number): void {
    this.discardMode = mode;
    this.discardHash = mode === DISCARD_BAD_COMMAND ? createHash('sha256') : null;
    this.discardLeft = length;
    this.state = DISCARD;
    if (length === 0) this.endDiscard();
  }

  private endDiscard(): void {
    this.state = HEADER;
    const hash = this.discardHash;
    this.discardHash = null;
    if (this.discardMode !== DISCARD_BAD_COMMAND || hash === null) return;
    const first = createHash('sha256').update(hash.digest()).digest();
    const sum = u32le(first, 0);
    if (sum !== this.checksum) {
      this.reject(this.checksumError(sum), this.command);
    } else {
      this.reject(new WireError('ERR_BAD_COMMAND', `invalid message type ${JSON.stringify(this.command)} (${this.length} bytes); dropped`), this.command);
    }
  }

  private checksumError(actual: number): WireError {
    const hex = (v: number): string => Buffer.from(Uint32Array.of(v).buffer).toString('hex');
    return new WireError('ERR_BAD_CHECKSUM', `${JSON.stringify(this.command)} (${this.length} bytes): wrong checksum, expected ${hex(actual)} was ${hex(this.checksum)}`);
  }

  /** A complete body: verify, decode, deliver. */
  private finish(payload: Buffer): void {
    const sum = checksumLE(payload);
    if (sum !== this.checksum) {
      this.reject(this.checksumError(sum), this.command);
      return;
    }
    let msg: Message;
    try {
      msg = decodePayload(this.command, payload);
    } catch (err) {
      const wireErr =
        err instanceof WireError ? err : new WireError('ERR_BAD_PAYLOAD', `${this.command}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      this.reject(wireErr, this.command);
      return;
    }
    this.messagesDecoded++;
    this.sink.onMessage(msg);
  }

  private reject(err: WireError, command: string | null): void {
    this.messagesRejected++;
    this.sink.onMessageError(err, command, false);
  }

  private fatal(err: WireError, command: string | null): void {
    this._failed = true;
    this.state = HEADER;
    this.body = null;
    this.bodyFill = 0;
    this.headerFill = 0;
    this.messagesRejected++;
    this.sink.onMessageError(err, command, true);
  }
}
