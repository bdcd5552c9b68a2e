/**
 * A BIP324 v2 connection, either side: the handshake (v1 detection for a
 * responder, key exchange, garbage and its terminator, version packets), then
 * a PacketSender and a PacketReceiver for the session.
 *
 * Bytes in through push() (split anywhere; nothing of a chunk is kept), out
 * through the sink: handshake bytes via send(), messages and errors via the
 * v1 decoder's MessageSink, so a connection swaps one decoder for the other.
 * Application messages go out as packets from sendMessage() once onReady()
 * fired (right after our version packet: the 1.5-round-trip handshake).
 *
 * Hostile input costs one typed fatal error, after which input is ignored:
 * a v1 peer of another network (ERR_BAD_MAGIC), no terminator within 4,095
 * bytes of garbage (ERR_V2_GARBAGE_TOO_LONG), a stream ending in the garbage
 * (end(): ERR_V2_NO_GARBAGE_TERMINATOR), a failed tag (ERR_V2_BAD_TAG), a
 * `version` message in place of the version packet (ERR_V2_BAD_VERSION_PACKET),
 * a length over MAX_CONTENTS_LENGTH (ERR_MESSAGE_TOO_LARGE).
 */
import { randomBytes, randomInt } from 'node:crypto';
import { WireError } from '../../errors.js';
import type { Message, NetworkParams } from '../types.js';
import { ELLSWIFT_LENGTH, GARBAGE_TERMINATOR_LENGTH, MAX_GARBAGE_LENGTH, V1_PREFIX_LENGTH } from './constants.js';
import { ellswiftCreate, v2Ecdh, type EllSwiftKey } from './ellswift.js';
import { deriveV2Keys, type V2Keys } from './keys.js';
import { PacketReceiver, type PacketReceiverOptions, type V2ReceiveSink } from './receiver.js';
import { PacketSender } from './sender.js';

export type V2Role = 'initiator' | 'responder';

/**
 * prefix: a responder reading the first bytes (v1 or v2?); key: reading the
 * peer's 64-byte key; garbage: scanning for its terminator; version: waiting
 * for its version packet; ready: both directions up; v1: the peer speaks v1
 * (responder); failed: a fatal error was reported.
 */
export type V2Phase = 'idle' | 'prefix' | 'key' | 'garbage' | 'version' | 'ready' | 'v1' | 'failed';

export interface V2TransportSink extends V2ReceiveSink {
  /** Handshake bytes for the peer: our key and garbage; our terminator, decoys and version packet. */
  send(data: Buffer): void;
  /** Our version packet is out: application messages may be sent (sendMessage) from here on. */
  onReady?(): void;
  /**
   * Responder: the first 16 bytes are a v1 `version` header of our network.
   * `received` is every byte received so far, for a v1 decoder; the transport
   * is done and ignores further input.
   */
  onV1Peer?(received: Buffer): void;
}

export interface V2TransportOptions extends PacketReceiverOptions {
  /**
   * The garbage after our key: a length (random bytes) or the bytes. Default:
   * a random length 0..4,095, as Core. Longer than 4,095 violates the BIP;
   * allowed so a simulator can misbehave.
   */
  garbage?: number | Uint8Array;
  /** Contents lengths of decoy packets sent before our version packet. */
  decoys?: readonly number[];
  /**
   * Contents of our version packet: empty (the default) for this version of
   * the protocol; other contents are reserved for future versions (a test or
   * simulator may send them); false sends none (a broken peer).
   */
  versionPacket?: Uint8Array | false;
  /** Our key, fixed (test vectors). Default: a fresh one per connection. */
  key?: EllSwiftKey;
}

/** Magic ‖ "version" padded to 12: the start of a v1 version message. */
function v1Prefix(net: NetworkParams): Buffer {
  const p = Buffer.alloc(V1_PREFIX_LENGTH);
  p.set(net.magic, 0);
  p.write('version', 4, 'latin1');
  return p;
}

const GARBAGE_WINDOW = MAX_GARBAGE_LENGTH + GARBAGE_TERMINATOR_LENGTH;

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class V2Transport {
  private _phase: V2Phase = 'idle';
  private readonly prefix: Buffer;
  private readonly peerKey = Buffer.alloc(ELLSWIFT_LENGTH);
  private peerKeyFill = 0;
  /**
   * Our private key, from our key's creation until the shared secret is
   * derived: then dropped (forward secrecy, as the BIP's memory_cleanse; and
   * an OpenSSL key object less per open connection).
   */
  private ourKey: EllSwiftKey | null = null;
  /** Our 64-byte public encoding (kept: 64 bytes). */
  private ourEllswift: Uint8Array | null = null;
  private ourGarbage: Uint8Array | null = null;
  private _sessionId: Buffer | null = null;
  private keys: V2Keys | null = null;
  private garbage: Buffer | null = null;
  private garbageFill = 0;
  private sender: PacketSender | null = null;
  private receiver: PacketReceiver | null = null;
  /** Bytes received in all (handshake included). */
  bytesReceived = 0;
  /** Bytes pushed after a fatal error or a v1 handover, never looked at. */
  bytesIgnored = 0;

  constructor(
    readonly net: NetworkParams,
    readonly role: V2Role,
    private readonly sink: V2TransportSink,
    private readonly options: V2TransportOptions = {},
  ) {
    this.prefix = v1Prefix(net);
    if (role === 'responder') this._phase = 'prefix';
  }

  get phase(): V2Phase {
    if (this._phase === 'version' && this.receiver!.versionReceived) this._phase = 'ready';
    if (this.receiver !== null && this.receiver.failed) this._phase = 'failed';
    return this._phase;
  }

  get failed(): boolean {
    return this.phase === 'failed';
  }

  /** BIP324's session id (32 bytes) once the keys exist, else null. */
  get sessionId(): Buffer | null {
    return this._sessionId;
  }

  /** Our 64-byte ElligatorSwift public key, once made. */
  get ellswift(): Uint8Array | null {
    return this.ourEllswift;
  }

  /** True once onReady fired: sendMessage() works. */
  get canSend(): boolean {
    return this.sender !== null;
  }

  /** The session's receiving half (counters: messagesDecoded, decoysReceived…), once up. */
  get packets(): PacketReceiver | null {
    return this.receiver;
  }

  /**
   * Core's rule for retrying with v1 (V2Transport::ShouldReconnectV1): we
   * initiated, sent our key (more than a v1 header's worth) and received
   * nothing at all. A peer that answered anything spoke v2 and broke it.
   */
  get shouldReconnectV1(): boolean {
    return this.role === 'initiator' && this.ourEllswift !== null && this.bytesReceived === 0;
  }

  get bufferedBytes(): number {
    return this.peerKeyFill < ELLSWIFT_LENGTH ? this.peerKeyFill : this.garbageFill + (this.receiver === null ? 0 : this.receiver.bufferedBytes);
  }

  /** Initiator: makes our key and sends it with our garbage. */
  start(): void {
    if (this.role !== 'initiator' || this._phase !== 'idle') throw new Error('V2Transport.start(): only once, by the initiator');
    this._phase = 'key';
    this.sendOurKey();
  }

  push(chunk: Uint8Array, length: number = chunk.length): void {
    const c = asBuffer(chunk);
    const n = Math.min(length, c.length);
    const phase = this.phase;
    if (phase === 'failed' || phase === 'v1' || phase === 'idle') {
      this.bytesIgnored += n;
      return;
    }
    this.bytesReceived += n;
    let pos = 0;
    if (phase === 'prefix') {
      pos = this.readPrefix(c, n);
      if (this._phase !== 'key') return;
    }
    if (this._phase === 'key') {
      const take = Math.min(ELLSWIFT_LENGTH - this.peerKeyFill, n - pos);
      c.copy(this.peerKey, this.peerKeyFill, pos, pos + take);
      this.peerKeyFill += take;
      pos += take;
      if (this.peerKeyFill < ELLSWIFT_LENGTH) return;
      this.onPeerKey();
    }
    if (this._phase === 'garbage') pos = this.readGarbage(c, pos, n);
    if (this.receiver !== null && pos < n) this.receiver.push(c, pos, n);
    else if (this._phase === 'failed') this.bytesIgnored += n - pos;
  }

  /**
   * The stream ended (the peer closed). Returns the typed error when it ended
   * inside the peer's garbage, before any terminator; null otherwise (the
   * caller reports a close in its own terms).
   */
  end(): WireError | null {
    if (this._phase !== 'garbage') return null;
    this._phase = 'failed';
    return new WireError('ERR_V2_NO_GARBAGE_TERMINATOR', `the peer closed after ${this.garbageFill} bytes of garbage and no terminator`);
  }

  /** One application message as a packet. Only after onReady. */
  sendMessage(msg: Message): Buffer {
    return this.requireSender().message(msg);
  }

  /** An already-encoded payload as a packet (a simulator's raw frame). */
  sendFrame(command: string, payload: Uint8Array): Buffer {
    return this.requireSender().frame(command, payload);
  }

  /** A decoy packet with `length` zero bytes of contents. */
  sendDecoy(length: number): Buffer {
    return this.requireSender().packet(Buffer.alloc(length), true);
  }

  /** A packet with these exact contents (message type included): for simulators and tests. */
  sendPacket(contents: Uint8Array, ignore = false): Buffer {
    return this.requireSender().packet(contents, ignore);
  }

  /** A bare encrypted length field (a hostile peer's oversized packet); see PacketSender.bogusLength. */
  sendBogusLength(contentsLength: number): Buffer {
    return this.requireSender().bogusLength(contentsLength);
  }

  private requireSender(): PacketSender {
    if (this.sender === null) throw new Error('V2Transport: not ready to send (wait for onReady)');
    return this.sender;
  }

  private sendOurKey(): void {
    this.ourKey = this.options.key ?? ellswiftCreate();
    this.ourEllswift = this.ourKey.ellswift;
    const g = this.options.garbage;
    this.ourGarbage = g === undefined ? randomBytes(randomInt(0, MAX_GARBAGE_LENGTH + 1)) : typeof g === 'number' ? randomBytes(g) : g;
    this.sink.send(Buffer.concat([this.ourEllswift, this.ourGarbage]));
  }

  /** Responder: compares the first bytes with a v1 version header; returns where it stopped. */
  private readPrefix(c: Buffer, n: number): number {
    for (let pos = 0; pos < n; pos++) {
      const b = c[pos]!;
      this.peerKey[this.peerKeyFill] = b;
      if (b !== this.prefix[this.peerKeyFill++]) {
        this._phase = 'key';
        this.sendOurKey();
        return pos + 1;
      }
      if (this.peerKeyFill === V1_PREFIX_LENGTH) {
        this._phase = 'v1';
        this.sink.onV1Peer?.(Buffer.concat([this.peerKey.subarray(0, V1_PREFIX_LENGTH), c.subarray(pos + 1, n)]));
        return n;
      }
    }
    return n;
  }

  private onPeerKey(): void {
    if (this.role === 'responder' && this.peerKey.subarray(4, V1_PREFIX_LENGTH).equals(this.prefix.subarray(4))) {
      const magic = this.peerKey.subarray(0, 4).toString('hex');
      this.fatal(new WireError('ERR_BAD_MAGIC', `a v1 version message from another network (magic ${magic}, expected ${this.prefix.subarray(0, 4).toString('hex')} ${this.net.name})`));
      return;
    }
    const initiating = this.role === 'initiator';
    const keys = deriveV2Keys(v2Ecdh(this.ourKey!, this.peerKey, initiating), this.net.magic, initiating);
    this.ourKey = null;
    this.keys = keys;
    this._sessionId = keys.sessionId;
    // The sender holds our garbage as its first packet's AAD until that packet is out.
    const sender = new PacketSender(keys.sendL, keys.sendP, this.ourGarbage ?? Buffer.alloc(0));
    this.ourGarbage = null;
    const out: Buffer[] = [keys.sendGarbageTerminator];
    for (const len of this.options.decoys ?? []) out.push(sender.packet(Buffer.alloc(len), true));
    const version = this.options.versionPacket ?? Buffer.alloc(0);
    if (version !== false) out.push(sender.packet(version));
    this.garbage = Buffer.allocUnsafe(GARBAGE_WINDOW);
    this._phase = 'garbage';
    this.sink.send(Buffer.concat(out));
    this.sender = sender;
    this.sink.onReady?.();
  }

  /** Scans for the peer's garbage terminator; returns where its packets start in `c`. */
  private readGarbage(c: Buffer, pos: number, n: number): number {
    const g = this.garbage!;
    const before = this.garbageFill;
    const take = Math.min(GARBAGE_WINDOW - before, n - pos);
    c.copy(g, before, pos, pos + take);
    const fill = before + take;
    const at = g.subarray(0, fill).indexOf(this.keys!.recvGarbageTerminator, Math.max(0, before - GARBAGE_TERMINATOR_LENGTH + 1));
    if (at >= 0) {
      const used = at + GARBAGE_TERMINATOR_LENGTH - before;
      this.garbage = null;
      this.garbageFill = 0;
      this._phase = 'version';
      this.receiver = new PacketReceiver(this.keys!.recvL, this.keys!.recvP, g.subarray(0, at), this.sink, this.options);
      // Both ciphers have copied what they need: no key material stays behind.
      this.keys = null;
      return pos + used;
    }
    this.garbageFill = fill;
    if (fill === GARBAGE_WINDOW) {
      this.fatal(new WireError('ERR_V2_GARBAGE_TOO_LONG', `no garbage terminator within ${MAX_GARBAGE_LENGTH} bytes of garbage`));
    }
    return pos + take;
  }

  private fatal(err: WireError): void {
    this._phase = 'failed';
    this.garbage = null;
    this.sink.onMessageError(err, null, true);
  }
}
