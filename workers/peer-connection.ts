/**
 * One outbound peer connection: dial → version/verack handshake → getaddr →
 * collect addr/addrv2 → finish (crawl mode) or stay up with keepalive pings
 * (node mode).
 *
 * Thread-agnostic: a worker session runs thousands of these; connectToNode()
 * runs one on the caller's thread. Written for many sockets per thread:
 * - socket listeners are module-level functions that find their connection
 *   through a symbol on the socket (no closures per connection);
 * - deadlines are fields scanned by one shared coarse ticker (no timer per
 *   socket);
 * - every callback is wrapped, so an exception costs this connection only;
 * - every outcome goes through one finish(), which releases the cap slot
 *   exactly once.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { PeerErrorCode, PlainError, WireError, WireErrorCode } from '../src/errors.js';
import { encodeMessage, formatAddress, MessageDecoder, parseAddress } from '../src/wire/index.js';
import { ourVersionFrame, type OurVersionFields } from './version-frame.js';
import type { AddressNetwork, AddrList, Message, MessageSink, NetAddress, NetworkParams, VersionPayload } from '../src/wire/index.js';
import type { AllowList } from '../src/shared/allow-list.js';
import type { PeerCap } from '../src/shared/peer-cap.js';
import type { CrawlMode, PeerEvent, PeerSuccessInfo, PeerTimeouts } from '../src/shared/messages.js';
import type { DeadlineTicker, Tickable } from './ticker.js';
import { ipv4Key, type RecentAddresses } from './recent-addresses.js';

/** Bitcoin Core's PROTOCOL_VERSION; what we announce. */
export const OUR_PROTOCOL_VERSION = 70016;
/** MIN_PEER_PROTO_VERSION: Core disconnects anything older (FACTS §10). */
export const MIN_PEER_PROTOCOL_VERSION = 31800;
/** WTXID_RELAY_VERSION: wtxidrelay/sendaddrv2 are negotiated from here (FACTS §3). */
const FEATURE_NEGOTIATION_VERSION = 70016;
/** BIP31: pings carry a nonce above this version. */
const BIP31_VERSION = 60000;
export const USER_AGENT = '/bitspread:0.1.0/';
const OUR_VERSION: OurVersionFields = { version: OUR_PROTOCOL_VERSION, userAgent: USER_AGENT };

type Phase = 'connecting' | 'handshaking' | 'getaddr' | 'established' | 'closing' | 'lingering' | 'closed';

/** After our FIN, how long the peer gets to close its side before we reset. */
const CLOSE_GRACE_MS = 500;
/**
 * After a reset (ours or the peer's), the slot is held this much longer
 * (served by the next coarse tick): the peer's event loop notices a reset
 * asynchronously, and until it has, it still counts the connection. Without
 * this a busy peer process can briefly see cap+1 connections from us.
 * 100 ms, not less: with the 10 ms tick a 20 ms linger really was 20 ms, and
 * the simulator (a loaded process) then saw 126-127 connections at cap 125;
 * at 100 ms it stays within the cap (it did with the old 100 ms tick too).
 */
const RESET_LINGER_MS = 100;
/**
 * Bytes we let queue unsent to one peer. We only ever send small messages
 * (version, verack, getaddr, pings, pongs), so a backlog this big means the
 * peer stopped reading (e.g. it sends pings and never reads the pongs): that
 * would otherwise grow without bound in our memory.
 */
const MAX_SEND_BUFFER = 1024 * 1024;

/**
 * Per-connection address budget, a token bucket like Core's (FACTS §6): each
 * received address costs a token, the excess is dropped and counted. Without
 * it one peer could send 1,000-entry addr messages until the getaddr deadline
 * (or forever in node mode) and fill the frontier with addresses to dial.
 */
/** Unsolicited self-announcements allowed before any getaddr answer. */
const ADDR_UNSOLICITED_TOKENS = 10;
/** One getaddr answer's worth (Core's MAX_ADDR_TO_SEND), granted when we send getaddr. */
const ADDR_GETADDR_TOKENS = 1000;
/** Node mode refill: Core's MAX_ADDR_RATE_PER_SECOND (0.1/s), per ms. */
const ADDR_REFILL_PER_MS = 0.1 / 1000;
/** The refill stops here (Core's MAX_ADDR_PROCESSING_TOKEN_BUCKET). */
const ADDR_REFILL_CEILING = 1000;

/** What a connection needs from whoever runs it (a worker session or connectToNode). */
export interface PeerHost {
  readonly net: NetworkParams;
  readonly cap: PeerCap;
  readonly slot: number;
  /** null = --allow-any, given explicitly by the user. */
  readonly allow: AllowList | null;
  readonly mode: CrawlMode;
  readonly timeouts: PeerTimeouts;
  readonly ticker: DeadlineTicker;
  readonly log: Logger;
  /** Addresses this thread already reported: set by worker sessions, so a gossiped address crosses to the main thread once. */
  readonly recentAddresses?: RecentAddresses;
  emit(ev: PeerEvent): void;
  /** The connection has finished and released everything. */
  closed(conn: PeerConnection): void;
}

/**
 * What a connection keeps of the peer's version message. Not the decoded
 * payload itself: its two address fields hold four small Uint8Arrays, each
 * with its own ArrayBuffer (and a native backing store), about 1.5 KB per
 * peer that nothing reads after the handshake (docs/PERFORMANCE.md, Memory).
 */
type PeerVersion = Pick<VersionPayload, 'version' | 'services' | 'userAgent' | 'startHeight' | 'relay'>;

function peerVersion(v: VersionPayload): PeerVersion {
  return { version: v.version, services: v.services, userAgent: v.userAgent, startHeight: v.startHeight, relay: v.relay };
}

const kPeer = Symbol('bitspread.peer');

/**
 * One read buffer per thread, shared by every socket on it. With node:net's
 * `onread` each read lands here and goes straight to the connection's decoder:
 * no Buffer object, Readable-stream bookkeeping or 'data' event per chunk,
 * which showed up as a tenth of a worker's time when every chunk went through
 * the stream. Safe because the decoder copies whatever it keeps and every
 * decoded message owns its bytes, so nothing points into this buffer once the
 * callback returns.
 */
const READ_BUFFER_BYTES = 64 * 1024;
let threadReadBuffer: Buffer | null = null;
function sharedReadBuffer(): Buffer {
  return (threadReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES));
}

/**
 * Frames queued while one received chunk is decoded; they leave in a single
 * write when the chunk is done (wtxidrelay, sendaddrv2, verack and getaddr
 * answer a chunk holding version + verack). One array per thread: decoding
 * is synchronous, so only one connection fills it at a time.
 */
const replyBatch: Buffer[] = [];
type PeerSocket = Socket & { [kPeer]?: PeerConnection };

/** Socket error codes that mean we ran out of something (not the peer's fault). */
const RESOURCE_ERRNOS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRNOTAVAIL', 'EAGAIN']);

/** Maps a socket errno to our stable code. */
export function socketErrorCode(errno: string | undefined): PeerErrorCode {
  switch (errno) {
    case 'ECONNREFUSED':
      return 'ERR_CONNECTION_REFUSED';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      return 'ERR_CONNECTION_RESET';
    case 'ETIMEDOUT':
      return 'ERR_CONNECT_TIMEOUT';
    default:
      return errno !== undefined && RESOURCE_ERRNOS.has(errno) ? 'ERR_RESOURCE' : 'ERR_SOCKET';
  }
}

/** Host part for net.connect from a dialable (ipv4/ipv6) address text. */
function hostOf(text: string, addr: NetAddress): string {
  if (addr.network === 'ipv6') return text.slice(1, text.lastIndexOf(']'));
  return text.slice(0, text.lastIndexOf(':'));
}

/** A random 32-bit word: nonces are built from two, the high one non-zero so the nonce never is (a zero ping nonce means "no nonce" to Core). */
function randomWord(): number {
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

function randomNonce(): bigint {
  return BigInt(randomWord() || 1) * 0x1_0000_0000n + BigInt(randomWord());
}

export class PeerConnection implements MessageSink, Tickable {
  readonly addr: string;
  private readonly host: PeerHost;
  private readonly log: Logger | null;
  private socket: PeerSocket | null = null;
  private decoder: MessageDecoder | null = null;
  private phase: Phase = 'connecting';
  /** True while a received chunk is decoded: send() queues into replyBatch. */
  private batchingReplies = false;
  private holdsSlot = false;

  private readonly startedAt = performance.now();
  private connectedAt = 0;
  /** Deadline of the current phase (performance.now() ms). */
  private deadline = 0;
  /** Set once a multi-entry addr arrived: the answer is complete when quiet until then. */
  private quietAt = 0;
  private nextPingAt = 0;
  private pingSentAt = 0;
  private pingNonce = 0n;

  private version: PeerVersion | null = null;
  private gotVerack = false;
  private connectMs = 0;
  private handshakeMs = 0;
  private addrsReturned = 0;
  private addrsDropped = 0;
  private addrTokens = ADDR_UNSOLICITED_TOKENS;
  /** Node mode: when the bucket was last refilled (0 = not refilling yet). */
  private addrRefilledAt = 0;
  private success: PeerSuccessInfo | null = null;
  private outcome: PlainError | null = null;
  /** The last wire error (fatal or a dropped message): the detail of a failure it explains. */
  private lastWireError: WireErrorCode | null = null;

  private constructor(host: PeerHost, addr: string) {
    this.host = host;
    this.addr = addr;
    this.log = host.log.isLevelEnabled('debug') ? host.log.child({ peer: addr }) : null;
  }

  /**
   * Dials `addrText`. Never throws: every outcome, including refusal before any
   * socket exists (ERR_NOT_ALLOWED, ERR_MAX_PEERS), arrives as one 'end' event.
   */
  static dial(host: PeerHost, addrText: string): PeerConnection {
    const conn = new PeerConnection(host, addrText);
    conn.start();
    return conn;
  }

  /** Not yet released (may still be closing). */
  get isOpen(): boolean {
    return this.phase !== 'closed';
  }

  /** Buffer bytes its decoder holds on to (MessageDecoder.retainedBytes): what an idle peer costs beyond its objects. */
  get retainedBufferBytes(): number {
    return this.decoder === null ? 0 : this.decoder.retainedBytes;
  }

  get reached(): boolean {
    return this.success !== null || (this.version !== null && this.gotVerack);
  }

  private start(): void {
    let addr: NetAddress;
    try {
      addr = parseAddress(this.addr);
    } catch (err) {
      return this.finishEarly({ code: (err as WireError).code ?? 'ERR_BAD_ADDRESS_TEXT', message: String((err as Error).message) });
    }
    // The allow-list is checked here, at the only place a socket is created.
    if ((addr.network !== 'ipv4' && addr.network !== 'ipv6') || (this.host.allow !== null && !this.host.allow.allows(addr))) {
      return this.finishEarly({ code: 'ERR_NOT_ALLOWED', message: `${this.addr} is outside the allow-list` });
    }
    if (!this.host.cap.tryAcquire(this.host.slot)) {
      return this.finishEarly({ code: 'ERR_MAX_PEERS', message: `peer cap of ${this.host.cap.max} reached` });
    }
    this.holdsSlot = true;
    this.deadline = this.startedAt + this.host.timeouts.connectMs;
    this.host.ticker.add(this);
    let socket: PeerSocket;
    try {
      socket = netConnect({
        host: hostOf(this.addr, addr),
        port: addr.port,
        // The callback, not a 'data' listener, receives every chunk (see sharedReadBuffer).
        onread: { buffer: sharedReadBuffer(), callback: (bytes: number, buf: Uint8Array) => {
            this.handleRead(buf, bytes);
            return true; // false would pause the socket
          },
        },
      }) as PeerSocket;
    } catch (err) {
      const code = socketErrorCode((err as NodeJS.ErrnoException).code);
      return this.finish({ code, message: (err as Error).message });
    }
    socket[kPeer] = this;
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', onSocketConnect);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  // ---- socket events (called through the module-level handlers) ----

  handleConnect(): void {
    const now = performance.now();
    this.connectedAt = now;
    this.connectMs = Math.round(now - this.startedAt);
    this.phase = 'handshaking';
    this.deadline = now + this.host.timeouts.handshakeMs;
    // The crawler ignores inv/tx/block…: skip their bodies unread instead of buffering up to 4 MB each.
    this.decoder = new MessageDecoder(this.host.net, this, { skipUnknown: true });
    this.host.emit({ kind: 'connected', addr: this.addr, connectMs: this.connectMs });
    // FACTS §4: Core waits for the inbound peer's version first.
    this.sendFrame(ourVersionFrame(this.host.net, OUR_VERSION, Math.floor(Date.now() / 1000), randomWord() || 1, randomWord()));
  }

  /** `bytes` new bytes at the start of the thread's shared read buffer (see sharedReadBuffer). */
  handleRead(buf: Uint8Array, bytes: number): void {
    // After finish() the socket is only drained until the peer's FIN.
    const decoder = this.decoder;
    if (decoder === null) return;
    this.batchingReplies = true;
    try {
      decoder.push(buf, bytes);
      this.flushReplies();
    } catch (err) {
      replyBatch.length = 0;
      this.internalError(err);
    } finally {
      this.batchingReplies = false;
    }
  }

  /** Writes what this chunk's messages made us send, as one frame or one concatenation. */
  private flushReplies(): void {
    const n = replyBatch.length;
    if (n === 0) return;
    const socket = this.socket;
    const out = n === 1 ? (replyBatch[0] as Buffer) : Buffer.concat(replyBatch);
    replyBatch.length = 0;
    if (socket !== null && !socket.destroyed && socket.writable) socket.write(out);
  }

  handleEnd(): void {
    // A peer closing after the handshake ends a crawl visit normally: we keep what it sent.
    if (this.phase === 'getaddr') return this.complete();
    this.finish({ code: 'ERR_PEER_CLOSED', message: `peer closed during ${this.phase}` });
  }

  handleError(err: NodeJS.ErrnoException): void {
    this.finish({ code: socketErrorCode(err.code), message: err.message });
  }

  handleClose(): void {
    if (this.phase === 'getaddr') return this.complete();
    this.finish({ code: 'ERR_PEER_CLOSED', message: `connection closed during ${this.phase}` });
  }

  /** A callback threw: that costs this connection, never the thread. */
  internalError(err: unknown): void {
    this.finish({ code: 'ERR_SOCKET', message: `internal error: ${err instanceof Error ? err.message : String(err)}` });
  }

  // ---- MessageSink ----

  onMessage(msg: Message): void {
    // Messages still queued in the chunk being decoded when we finished are ignored.
    if (this.phase === 'closed' || this.phase === 'closing' || this.phase === 'lingering') return;
    switch (msg.command) {
      case 'version':
        return this.onVersion(msg.payload);
      case 'verack':
        this.gotVerack = true;
        if (this.version !== null) this.onReachable();
        return;
      case 'ping':
        // Pre-BIP31 pings have no nonce and expect no pong.
        if (this.version !== null && this.version.version > BIP31_VERSION) this.send({ command: 'pong', nonce: msg.nonce });
        return;
      case 'pong':
        if (msg.nonce === this.pingNonce) this.pingSentAt = 0;
        return;
      case 'addr':
      case 'addrv2':
        return this.onAddrs(msg);
      default:
        return;
    }
  }

  onMessageError(err: WireError, command: string | null, fatal: boolean): void {
    this.lastWireError = err.code as WireErrorCode;
    if (fatal) {
      this.finish({ code: 'ERR_PROTOCOL', message: `${err.code}: ${err.message}`, detail: err.code });
    } else {
      this.log?.debug({ code: err.code, command }, 'dropped a malformed message');
      // An unusable answer (e.g. 1,001 entries) is still the answer: Core sends one per getaddr.
      if (this.phase === 'getaddr' && (command === 'addr' || command === 'addrv2') && this.quietAt === 0) {
        this.quietAt = performance.now() + this.host.timeouts.addrQuietMs;
      }
    }
  }

  private onVersion(v: VersionPayload): void {
    if (this.version !== null) return; // Core ignores a redundant version too
    if (v.version < MIN_PEER_PROTOCOL_VERSION) {
      return this.finish({ code: 'ERR_VERSION_TOO_OLD', message: `peer protocol version ${v.version} < ${MIN_PEER_PROTOCOL_VERSION}` });
    }
    this.version = peerVersion(v);
    // BIP155/BIP339: after the peer's version, before our verack.
    if (v.version >= FEATURE_NEGOTIATION_VERSION) {
      this.send({ command: 'wtxidrelay' });
      this.send({ command: 'sendaddrv2' });
    }
    this.send({ command: 'verack' });
    if (this.gotVerack) this.onReachable();
  }

  private onReachable(): void {
    if (this.phase !== 'handshaking') return;
    const now = performance.now();
    this.handshakeMs = Math.round(now - this.connectedAt);
    this.phase = 'getaddr';
    this.deadline = now + this.host.timeouts.getaddrMs;
    this.host.emit({ kind: 'reachable', addr: this.addr });
    // Only after our verack: Core drops a getaddr that comes before it (FACTS §4.6).
    this.send({ command: 'getaddr' });
    this.addrTokens += ADDR_GETADDR_TOKENS;
  }

  private onAddrs(msg: { readonly entries: readonly { address: NetAddress | null }[]; readonly list?: AddrList }): void {
    const texts: string[] = [];
    const networks: AddressNetwork[] = [];
    const list = msg.list;
    const count = list !== undefined ? list.length : msg.entries.length;
    const accepted = this.takeAddrTokens(count);
    const recent = this.host.recentAddresses;
    let valid = 0;
    if (list !== undefined) {
      // Decoded messages: text + network straight from the compact list, no entry objects.
      for (let i = 0; i < accepted; i++) {
        const network = list.networkAt(i);
        if (network === null) continue;
        valid++;
        if (recent !== undefined) {
          // IPv4: a numeric key from the bytes, so a duplicate is never formatted.
          if (network === 'ipv4' ? !recent.firstTime(ipv4Key(list.bytes, list.offsets[i]!, list.ports[i]!)) : !recent.firstTime(list.textAt(i)!)) continue;
        }
        texts.push(list.textAt(i)!);
        networks.push(network);
      }
    } else {
      for (let i = 0; i < accepted; i++) {
        const e = msg.entries[i]!;
        if (e.address === null) continue;
        valid++;
        const text = formatAddress(e.address);
        if (recent !== undefined && !recent.firstTime(text)) continue;
        texts.push(text);
        networks.push(e.address.network);
      }
    }
    if (this.phase === 'getaddr') {
      this.addrsReturned += valid;
      // One entry may be the peer's self-announcement ahead of the real answer (FACTS §6).
      if (count > 1) this.quietAt = performance.now() + this.host.timeouts.addrQuietMs;
    }
    this.log?.debug(`received ${valid} addresses from ${this.addr} (${texts.length} not reported by this thread before)`);
    if (texts.length > 0) this.host.emit({ kind: 'addrs', addr: this.addr, texts, networks });
  }

  /** How many of `count` addresses the budget allows; the rest are dropped and counted. */
  private takeAddrTokens(count: number): number {
    if (this.addrRefilledAt !== 0) {
      const now = performance.now();
      if (this.addrTokens < ADDR_REFILL_CEILING) {
        this.addrTokens = Math.min(ADDR_REFILL_CEILING, this.addrTokens + (now - this.addrRefilledAt) * ADDR_REFILL_PER_MS);
      }
      this.addrRefilledAt = now;
    }
    const accepted = Math.min(count, Math.floor(this.addrTokens));
    this.addrTokens -= accepted;
    if (accepted < count) {
      this.addrsDropped += count - accepted;
      this.log?.debug({ dropped: count - accepted, total: this.addrsDropped }, 'addresses over the per-peer budget dropped');
    }
    return accepted;
  }

  // ---- deadlines ----

  tick(now: number): void {
    switch (this.phase) {
      case 'connecting':
        if (now >= this.deadline) this.finish({ code: 'ERR_CONNECT_TIMEOUT', message: `no connection within ${this.host.timeouts.connectMs} ms` });
        return;
      case 'handshaking':
        if (now >= this.deadline) {
          // A version that failed its checksum looks like silence: say why.
          const detail = this.lastWireError === null ? {} : { detail: this.lastWireError };
          this.finish({ code: 'ERR_HANDSHAKE_TIMEOUT', message: `no version/verack within ${this.host.timeouts.handshakeMs} ms`, ...detail });
        }
        return;
      case 'getaddr':
        // A reachable node that never answers getaddr is still reachable, with 0 addresses.
        if (now >= this.deadline || (this.quietAt !== 0 && now >= this.quietAt)) this.complete();
        return;
      case 'closing':
        if (now >= this.deadline) this.abortClosing(true);
        return;
      case 'lingering':
        if (now >= this.deadline) this.release();
        return;
      case 'established':
        if (this.pingSentAt !== 0 && now - this.pingSentAt >= this.host.timeouts.pingTimeoutMs) {
          this.finish({ code: 'ERR_PING_TIMEOUT', message: `no pong within ${this.host.timeouts.pingTimeoutMs} ms` });
        } else if (this.pingSentAt === 0 && now >= this.nextPingAt) {
          this.pingNonce = randomNonce();
          this.pingSentAt = now;
          this.nextPingAt = now + this.host.timeouts.pingIntervalMs;
          this.send({ command: 'ping', nonce: this.pingNonce });
          // Gossip since the last ping (a big addr split across reads) may have left a reusable buffer behind.
          this.decoder?.releaseBuffers();
        }
        return;
      default:
        return;
    }
  }

  // ---- outcomes ----

  /** The getaddr phase is over: crawl mode closes, node mode keeps the peer. */
  private complete(): void {
    if (this.phase !== 'getaddr' || this.version === null) return;
    this.success = this.successInfo(this.version);
    if (this.host.mode === 'node' && this.socket !== null && !this.socket.destroyed && this.socket.readable) {
      this.phase = 'established';
      // The decoder keeps a body buffer as big as the largest message so far
      // (the getaddr answer, ~30 KB): a long-lived peer should not hold that.
      this.decoder?.releaseBuffers();
      this.nextPingAt = performance.now() + this.host.timeouts.pingIntervalMs;
      this.addrRefilledAt = performance.now();
      this.host.emit({ kind: 'ready', addr: this.addr, info: this.success });
      return;
    }
    this.finish(null);
  }

  private successInfo(v: PeerVersion): PeerSuccessInfo {
    return {
      protocolVersion: v.version,
      userAgent: v.userAgent ?? '',
      services: Number(v.services),
      startHeight: v.startHeight ?? 0,
      relay: v.relay ?? true,
      connectMs: this.connectMs,
      handshakeMs: this.handshakeMs,
      addrsReturned: this.addrsReturned,
      addrsDropped: this.addrsDropped,
    };
  }

  /** Closes from our side with ERR_STOPPED (drop / drain / shutdown); `abortive` resets at once. */
  stop(abortive = false): void {
    if (this.phase === 'closing' && abortive) return this.abortClosing(false);
    if (this.phase === 'lingering' && abortive) return this.release();
    this.finish({ code: 'ERR_STOPPED', message: 'stopped' }, abortive);
  }

  /** Refused before a socket existed: nothing to release. */
  private finishEarly(error: PlainError): void {
    this.phase = 'closed';
    this.host.emit({ kind: 'end', addr: this.addr, error });
    this.host.closed(this);
  }

  /**
   * The single exit. Every outcome comes here once; the cap slot is released
   * and the 'end' event emitted exactly once, in release().
   *
   * The slot stays held until the peer has closed its side too: we send FIN
   * and wait (at most CLOSE_GRACE_MS) for the peer's FIN, then reset. So the
   * peer has always torn the connection down before we reuse its slot, and
   * the peer never sees more than `max` connections from us at once. A
   * socket the peer already closed or reset is released at once; `abortive`
   * (stop/drain) resets at once.
   */
  private finish(error: PlainError | null, abortive = false): void {
    if (this.phase === 'closed' || this.phase === 'closing' || this.phase === 'lingering') return;
    // Reachable means the handshake completed, whatever ends the connection afterwards.
    if (this.success === null && this.phase === 'getaddr' && this.version !== null) this.success = this.successInfo(this.version);
    this.outcome = error;
    // What this chunk already answered goes out before our FIN (a reset drops it anyway).
    if (this.batchingReplies) this.flushReplies();
    this.decoder = null;
    if (error !== null && this.log !== null) this.log.debug({ code: error.code }, error.message);
    const socket = this.socket;
    if (socket === null) return this.release();
    socket.removeListener('connect', onSocketConnect);
    socket.removeListener('end', onSocketEnd);
    socket.removeListener('error', onSocketError);
    socket.removeListener('close', onSocketClose);
    // A late error on a socket we are done with must not become uncaught.
    socket.on('error', ignoreError);
    // Only a peer that is still talking to us gets the graceful close: an
    // unresponsive or misbehaving one is reset at once (it may never read our
    // FIN, and a reset after a FIN can go unnoticed by a peer that stopped reading).
    if (socket.destroyed || abortive || socket.connecting || (error !== null && error.code !== 'ERR_STOPPED')) {
      const wasConnected = this.connectedAt !== 0 && !socket.connecting;
      // On a pending connect resetAndDestroy() only schedules the reset for
      // when the connect succeeds, keeping the fd after the slot is freed;
      // before the handshake there is nothing to reset, so just close it.
      // The kernel may have completed that connect a moment ago (the peer
      // counts it until it sees our FIN): it lingers like a reset.
      const pending = socket.connecting;
      if (pending) socket.destroy();
      else if (!socket.destroyed) socket.resetAndDestroy();
      if (abortive || (!wasConnected && !pending)) return this.release();
      this.phase = 'lingering';
      this.deadline = performance.now() + RESET_LINGER_MS;
      return;
    }
    this.phase = 'closing';
    this.deadline = performance.now() + CLOSE_GRACE_MS;
    socket.on('close', onClosingSocketClose);
    socket.resume(); // keep reading (and discarding) so the peer's FIN is seen
    socket.end();
  }

  /** The thread is dying: send RST now, nothing else (no events, no cap release; the pool reclaims). */
  resetSocket(): void {
    const socket = this.socket;
    if (socket !== null && !socket.destroyed && !socket.connecting) socket.resetAndDestroy();
  }

  /** The grace period ran out: the peer never closed its side. */
  private abortClosing(linger: boolean): void {
    const socket = this.socket;
    if (socket !== null && !socket.destroyed) socket.resetAndDestroy();
    if (!linger) return this.release();
    this.phase = 'lingering';
    this.deadline = performance.now() + RESET_LINGER_MS;
  }

  /** Both sides are closed (or reset): free the slot, report once. */
  release(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.host.ticker.delete(this);
    const socket = this.socket;
    if (socket !== null) {
      this.socket = null;
      socket.removeListener('close', onClosingSocketClose);
      socket[kPeer] = undefined;
    }
    if (this.holdsSlot) {
      this.holdsSlot = false;
      this.host.cap.release(this.host.slot);
    }
    const error = this.outcome;
    const info = this.success ?? undefined;
    this.host.emit(error === null ? { kind: 'end', addr: this.addr, info } : { kind: 'end', addr: this.addr, info, error });
    this.host.closed(this);
  }

  private send(msg: Message): void {
    switch (msg.command) {
      case 'verack':
      case 'getaddr':
      case 'wtxidrelay':
      case 'sendaddrv2':
        // Nothing ever modifies a frame once written, so one serves every peer.
        return this.sendFrame(constantFrame(this.host.net, msg.command));
      default:
        return this.sendFrame(encodeMessage(this.host.net, msg));
    }
  }

  private sendFrame(frame: Buffer): void {
    const socket = this.socket;
    if (socket === null || socket.destroyed) return;
    if (socket.writableLength > MAX_SEND_BUFFER) {
      return this.finish({ code: 'ERR_SLOW_PEER', message: `peer is not reading: ${socket.writableLength} bytes queued unsent` });
    }
    if (this.batchingReplies) replyBatch.push(frame);
    else socket.write(frame);
  }
}

/** Messages without a payload, whose whole frame (checksum included) is the same for every peer. */
type ConstantCommand = 'verack' | 'getaddr' | 'wtxidrelay' | 'sendaddrv2';
const constantFrames = new WeakMap<NetworkParams, Map<ConstantCommand, Buffer>>();

/** The frame of a payload-less message, encoded (and hashed) once per network and thread. */
function constantFrame(net: NetworkParams, command: ConstantCommand): Buffer {
  let frames = constantFrames.get(net);
  if (frames === undefined) constantFrames.set(net, (frames = new Map()));
  let frame = frames.get(command);
  if (frame === undefined) frames.set(command, (frame = encodeMessage(net, { command })));
  return frame;
}

function ignoreError(): void {}

function guarded(sock: PeerSocket, method: 'handleConnect' | 'handleEnd' | 'handleClose'): void {
  const conn = sock[kPeer];
  if (conn === undefined) return;
  try {
    conn[method]();
  } catch (err) {
    conn.internalError(err);
  }
}

function onSocketConnect(this: PeerSocket): void {
  guarded(this, 'handleConnect');
}
function onSocketEnd(this: PeerSocket): void {
  guarded(this, 'handleEnd');
}
function onSocketError(this: PeerSocket, err: NodeJS.ErrnoException): void {
  const conn = this[kPeer];
  if (conn === undefined) return;
  try {
    conn.handleError(err);
  } catch (e) {
    conn.internalError(e);
  }
}
function onSocketClose(this: PeerSocket): void {
  guarded(this, 'handleClose');
}
function onClosingSocketClose(this: PeerSocket): void {
  this[kPeer]?.release();
}
