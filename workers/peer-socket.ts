/**
 * The socket half of one outbound peer connection: the dial (the allow-list
 * and the peer cap are checked here, at the only place a socket is created),
 * reads, writes, and the close: every outcome goes through one finish(), and
 * release() frees the cap slot and reports the outcome exactly once.
 *
 * The protocol on top (handshake, getaddr, pings) is PeerConnection, a
 * subclass, so one object per peer carries both. Written for many sockets
 * per thread:
 * - socket listeners are module-level functions that find their connection
 *   through a symbol on the socket (no closures per connection);
 * - deadlines are fields served by one shared ticker, armed for the
 *   earliest of them (no timer per socket, no tick while nothing is due);
 * - every callback is wrapped, so an exception costs this connection only.
 *
 * The slot stays held until the peer has closed its side too: a finished
 * visit sends FIN and waits (at most CLOSE_GRACE_MS) for the peer's FIN, then
 * resets; a failed one is reset and lingers RESET_LINGER_MS. Measured
 * (bench/realistic.mjs, closeMs): the FIN exchange costs a live peer one round
 * trip, about what the linger after a reset would, and unlike a reset it
 * tells us when the peer has let go: so a finished visit is never reset. So the peer
 * never sees more than `max` connections from us at once.
 * A redial in the same slot (the BIP324 v2 → v1 fallback, redialInSameSlot)
 * starts only after that, from release().
 *
 * Over 400 lines on purpose: the slot's whole life (acquire, attempts,
 * close / linger / reset, release) must be read in one place to check that
 * it is released exactly once.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { PeerErrorCode, PlainError, WireError } from '../src/errors.js';
import { parseAddress, type NetAddress } from '../src/wire/index.js';
import type { AllowList } from '../src/shared/allow-list.js';
import type { PeerCap } from '../src/shared/peer-cap.js';
import type { DeadlineTicker, Tickable } from './ticker.js';
import { discardReplies, queueReply, takeReplies } from './outbound.js';
import { allowsDestination, type Route, type Via } from '../src/shared/reach.js';
import type { Transports } from './transports/index.js';

/** What the socket half needs from whoever runs it (a worker session). */
export interface SocketHost {
  readonly cap: PeerCap;
  readonly slot: number;
  /** null = --allow-any, given explicitly by the user. */
  readonly allow: AllowList | null;
  readonly timeouts: { readonly connectMs: number };
  readonly ticker: DeadlineTicker;
  readonly log: Logger;
  /** Proxies, SAM and per-network rules; absent: IPv4 and IPv6 only, dialled directly. */
  readonly transports?: Transports | null;
}

/** `open`: connected, the protocol (the subclass) is running. */
export type SocketState = 'connecting' | 'open' | 'closing' | 'lingering' | 'closed';

/**
 * After our FIN, how long the peer gets to close its side before we reset.
 * A live peer closes within a round trip (Core at once), so this only costs
 * slots on peers that never close; but a peer whose event loop lags (a busy
 * machine) is still counting the connection until it has seen our FIN, and
 * releasing the slot before that breaks the cap as it sees it: with 500 ms
 * the simulator, at 45 % of a core serving 1,000-entry answers on a machine
 * at load average 20, counted 618 connections from a crawl capped at 500
 * (bench/results/2026-12-06T0235.json, full-answer row).
 */
const CLOSE_GRACE_MS = 3000;
/**
 * After a reset (ours or the peer's), the slot is held this much longer: the
 * peer's event loop notices a reset asynchronously, and until it has, it
 * still counts the connection. With 20 ms the simulator (a loaded process)
 * saw 126-127 connections at cap 125; with 100 ms it stayed within the cap
 * on an idle machine, but not at load average 20 (127-130 at cap 125,
 * 2026-12-06): 250 ms. A reset visit already spent a timeout or hit an
 * error, so this is a small share of its slot time.
 */
const RESET_LINGER_MS = 250;
/**
 * Bytes we let queue unsent to one peer. We only send small messages, so a
 * backlog this big means the peer stopped reading (e.g. it sends pings and
 * never reads the pongs): it would otherwise grow without bound.
 */
const MAX_SEND_BUFFER = 1024 * 1024;

const kPeer = Symbol('bitspread.peer');
type PeerSock = Socket & { [kPeer]?: PeerSocket<SocketHost> };

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

/** Host part of an address text: the IP for net.connect, or the onion / .b32.i2p name for a proxy. */
function hostOf(text: string, addr: NetAddress): string {
  if (addr.network === 'ipv6' || addr.network === 'cjdns') return text.slice(1, text.lastIndexOf(']'));
  return text.slice(0, text.lastIndexOf(':'));
}

export abstract class PeerSocket<H extends SocketHost> implements Tickable {
  readonly addr: string;
  protected readonly host: H;
  /** A child logger when debug logging is on, else null (no per-peer logger cost). */
  protected readonly log: Logger | null;
  protected state: SocketState = 'connecting';
  /** When the current attempt started (a redial restarts it). */
  protected startedAt = performance.now();
  protected connectedAt = 0;
  /** Deadline of the current step (performance.now() ms): connect, the protocol's steps, close grace, linger. */
  protected deadline = 0;
  /** The peer's address as we dial it (set by connect()). */
  protected remote: NetAddress | null = null;
  /** When the cap slot was taken (performance.now() ms; 0: none). */
  protected slotAt = 0;
  /** When finish() began the close (performance.now() ms; 0: not yet). */
  protected finishedAt = 0;
  private socket: PeerSock | null = null;
  private target: NetAddress | null = null;
  private route: Exclude<Route, { skip: unknown }> | null = null;
  private holdsSlot = false;
  /** True while a received chunk is decoded: frames are queued (outbound.ts) and leave in one write. */
  private batchingReplies = false;
  private outcome: PlainError | null = null;
  /** How the socket reached the peer, and through which proxy / SAM bridge. */
  protected via: Via = 'direct';
  protected proxy: string | null = null;
  private connectTimeoutMs = 0;
  /** A proxied dial in progress (stop aborts it), and the proxy budget slot it holds. */
  private dialAbort: AbortController | null = null;
  private releaseProxy: (() => void) | null = null;

  protected constructor(host: H, addr: string) {
    this.host = host;
    this.addr = addr;
    this.log = host.log.isLevelEnabled('debug') ? host.log.child({ peer: addr }) : null;
  }

  // ---- what the protocol (the subclass) does ----

  /** The TCP connection is up (state is 'open'). */
  protected abstract onConnected(now: number): void;
  /** `bytes` new bytes at the start of `buf`, while 'open'; frames sent meanwhile leave in one write. */
  protected abstract onBytes(buf: Uint8Array, bytes: number): void;
  /** The peer closed its side (`what`: 'peer closed' on FIN, 'connection closed' on close). */
  protected abstract onPeerClosed(what: string): void;
  /** Deadlines of the protocol's steps, while 'open'. */
  protected abstract tickOpen(now: number): void;
  /** The earliest of the protocol's deadlines while 'open' (Infinity: none). */
  protected abstract dueOpen(): number;
  /** finish() is closing the socket: the protocol stops (runs once, before the close). */
  protected abstract onFinishing(): void;
  /** Everything is released: report `error` (null: a completed visit), exactly once. */
  protected abstract onReleased(error: PlainError | null): void;
  /**
   * The attempt's socket is gone (closed, or reset and lingered) and the cap
   * slot is still held: true dials again in the same slot (the v2 → v1
   * fallback) instead of releasing it; the outcome of the attempt is dropped.
   */
  protected redialInSameSlot(): boolean {
    return false;
  }

  /** Not yet released (may still be closing). */
  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  /** Still connected and readable (node mode keeps such a peer after getaddr). */
  protected get readable(): boolean {
    const s = this.socket;
    return s !== null && !s.destroyed && s.readable;
  }

  /**
   * Dials this.addr. Never throws: every outcome, including refusal before any
   * socket exists (ERR_NOT_ALLOWED, ERR_MAX_PEERS), is reported once.
   */
  protected connect(): void {
    let addr: NetAddress;
    try {
      addr = parseAddress(this.addr);
    } catch (err) {
      return this.refuse({ code: (err as WireError).code ?? 'ERR_BAD_ADDRESS_TEXT', message: String((err as Error).message) });
    }
    const transports = this.host.transports ?? null;
    const route: Route =
      transports !== null ? transports.route(addr) : addr.network === 'ipv4' || addr.network === 'ipv6' ? { via: 'direct' } : { skip: 'no-route' };
    if ('skip' in route) {
      return route.skip === 'i2p-port'
        ? this.refuse({ code: 'ERR_I2P_PORT', message: `${this.addr}: I2P peers are dialled on port 0 only (SAM 3.1 has no ports)` })
        : this.refuse({ code: 'ERR_NO_ROUTE', message: `${this.addr}: no way to reach ${addr.network} (see --via-tor, --via-i2p, --cjdns)` });
    }
    // The allow-list is checked here, at the only place a socket is created.
    if (!allowsDestination(this.host.allow, addr.network, addr.bytes, addr.port)) {
      return this.refuse({ code: 'ERR_NOT_ALLOWED', message: `${this.addr} is outside the allow-list` });
    }
    this.remote = addr;
    if (!this.host.cap.tryAcquire(this.host.slot)) {
      return this.refuse({ code: 'ERR_MAX_PEERS', message: `peer cap of ${this.host.cap.max} reached` });
    }
    this.holdsSlot = true;
    this.target = addr;
    this.route = route;
    this.open();
  }

  /** Creates the socket of an attempt (again for a redial in the same slot); the cap slot is already held. */
  private open(): void {
    const addr = this.target!;
    const route = this.route!;
    const transports = this.host.transports ?? null;
    this.connectTimeoutMs = transports !== null ? transports.connectMs(addr) : this.host.timeouts.connectMs;
    this.deadline = this.startedAt + this.connectTimeoutMs;
    this.slotAt = performance.now();
    this.host.ticker.add(this);
    if (route.via !== 'direct' && transports !== null) return this.connectProxied(transports, route, hostOf(this.addr, addr), addr.port);
    let socket: PeerSock;
    try {
      socket = netConnect({
        host: hostOf(this.addr, addr),
        port: addr.port,
        // The callback, not a 'data' listener, receives every chunk (see sharedReadBuffer).
        onread: {
          buffer: sharedReadBuffer(),
          callback: (bytes: number, buf: Uint8Array) => {
            this.handleRead(buf, bytes);
            return true; // false would pause the socket
          },
        },
      }) as PeerSock;
    } catch (err) {
      const code = socketErrorCode((err as NodeJS.ErrnoException).code);
      return this.finish({ code, message: (err as Error).message });
    }
    this.adopt(socket);
    socket.on('connect', onSocketConnect);
  }

  /** Makes `socket` this peer's: the module-level listeners find the peer through kPeer. */
  private adopt(socket: PeerSock): void {
    socket[kPeer] = this;
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  /** Through a SOCKS5 proxy or the SAM bridge: the socket arrives connected, its reads come as 'data' events. */
  private connectProxied(transports: Transports, route: Extract<Route, { via: 'socks5' | 'sam' }>, host: string, port: number): void {
    const abort = new AbortController();
    this.dialAbort = abort;
    transports.open(route, host, port, this.connectTimeoutMs, abort.signal).then(
      (p) => {
        this.dialAbort = null;
        if (this.state !== 'connecting') {
          p.socket.destroy();
          p.release();
          return;
        }
        this.via = p.via;
        this.proxy = p.proxy;
        this.releaseProxy = p.release;
        const socket = p.socket as PeerSock;
        this.adopt(socket);
        socket.on('data', onSocketData);
        this.handleConnect();
        socket.resume();
      },
      (err: unknown) => {
        this.dialAbort = null;
        if (this.state !== 'connecting') return;
        const e = err as { code?: string; message?: string };
        this.proxy = route.via === 'sam' ? route.bridge : (route.proxies[0] ?? null);
        this.via = route.via;
        this.finish({ code: (e.code ?? 'ERR_SOCKET') as PlainError['code'], message: e.message ?? String(err) });
      },
    );
  }

  // ---- socket events (called through the module-level handlers) ----

  handleConnect(): void {
    const now = performance.now();
    this.connectedAt = now;
    this.state = 'open';
    this.onConnected(now);
  }

  handleRead(buf: Uint8Array, bytes: number): void {
    // After finish() the socket is only drained until the peer's FIN.
    if (this.state !== 'open') return;
    this.batchingReplies = true;
    try {
      this.onBytes(buf, bytes);
      this.flushReplies();
    } catch (err) {
      discardReplies();
      this.internalError(err);
    } finally {
      this.batchingReplies = false;
    }
  }

  handleEnd(): void {
    this.onPeerClosed('peer closed');
  }

  handleClose(): void {
    this.onPeerClosed('connection closed');
  }

  handleError(err: NodeJS.ErrnoException): void {
    this.finish({ code: socketErrorCode(err.code), message: err.message });
  }

  /** A callback threw: that costs this connection, never the thread. */
  internalError(err: unknown): void {
    this.finish({ code: 'ERR_SOCKET', message: `internal error: ${err instanceof Error ? err.message : String(err)}` });
  }

  // ---- deadlines ----

  /** Sets the current step's deadline and tells the ticker. */
  protected setDeadline(at: number): void {
    this.deadline = at;
    this.host.ticker.schedule(at);
  }

  dueAt(): number {
    switch (this.state) {
      case 'open':
        return this.dueOpen();
      case 'connecting':
      case 'closing':
      case 'lingering':
        return this.deadline;
      default:
        return Infinity;
    }
  }

  tick(now: number): void {
    switch (this.state) {
      case 'open':
        return this.tickOpen(now);
      case 'connecting':
        if (now >= this.deadline) this.finish({ code: 'ERR_CONNECT_TIMEOUT', message: `no connection within ${this.connectTimeoutMs} ms` });
        return;
      case 'closing':
        if (now >= this.deadline) this.abortClosing(true);
        return;
      case 'lingering':
        if (now >= this.deadline) this.release();
        return;
      default:
        return;
    }
  }

  // ---- writing ----

  /** Writes a frame, or queues it for the write that ends the chunk being decoded. */
  protected sendFrame(frame: Buffer): void {
    const socket = this.socket;
    if (socket === null || socket.destroyed) return;
    if (socket.writableLength > MAX_SEND_BUFFER) {
      return this.finish({ code: 'ERR_SLOW_PEER', message: `peer is not reading: ${socket.writableLength} bytes queued unsent` });
    }
    if (this.batchingReplies) queueReply(frame);
    else socket.write(frame);
  }

  /** Writes what this chunk's messages made us send, as one frame or one concatenation. */
  private flushReplies(): void {
    const out = takeReplies();
    if (out === null) return;
    const socket = this.socket;
    if (socket !== null && !socket.destroyed && socket.writable) socket.write(out);
  }

  // ---- closing ----

  /** Closes from our side with ERR_STOPPED (drop / drain / shutdown); `abortive` resets at once. */
  stop(abortive = false): void {
    if (this.state === 'closing' && abortive) return this.abortClosing(false);
    if (this.state === 'lingering' && abortive) return this.release();
    this.finish({ code: 'ERR_STOPPED', message: 'stopped' }, abortive);
  }

  /** Refused before a socket existed: nothing to release. */
  private refuse(error: PlainError): void {
    this.state = 'closed';
    this.onReleased(error);
  }

  /**
   * The single exit. Every outcome comes here once; the cap slot is released
   * and the outcome reported exactly once, in release().
   *
   * Only a peer that is still talking to us gets the graceful close (FIN,
   * then wait for its FIN); an unresponsive or misbehaving one is reset at
   * once (it may never read our FIN, and a reset after a FIN can go unnoticed
   * by a peer that stopped reading). A socket the peer already closed or
   * reset is released at once; `abortive` (stop/drain) resets at once.
   */
  protected finish(error: PlainError | null, abortive = false): void {
    if (this.state === 'closed' || this.state === 'closing' || this.state === 'lingering') return;
    this.onFinishing();
    this.finishedAt = performance.now();
    this.outcome = error;
    // What this chunk already answered goes out before our FIN (a reset drops it anyway).
    if (this.batchingReplies) this.flushReplies();
    if (error !== null && this.log !== null) this.log.debug({ code: error.code }, error.message);
    this.dialAbort?.abort();
    const socket = this.socket;
    if (socket === null) return this.release();
    socket.removeListener('connect', onSocketConnect);
    socket.removeListener('data', onSocketData);
    socket.removeListener('end', onSocketEnd);
    socket.removeListener('error', onSocketError);
    socket.removeListener('close', onSocketClose);
    // A late error on a socket we are done with must not become uncaught.
    socket.on('error', ignoreError);
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
      this.state = 'lingering';
      this.setDeadline(performance.now() + RESET_LINGER_MS);
      return;
    }
    this.state = 'closing';
    this.setDeadline(performance.now() + CLOSE_GRACE_MS);
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
    this.state = 'lingering';
    this.setDeadline(performance.now() + RESET_LINGER_MS);
  }

  /** Both sides are closed (or reset): free the slot, report once. */
  release(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.host.ticker.delete(this);
    const socket = this.socket;
    if (socket !== null) {
      this.socket = null;
      socket.removeListener('close', onClosingSocketClose);
      socket[kPeer] = undefined;
    }
    // The attempt's proxy share (a Tor circuit budget, a SAM session) goes with its socket.
    this.releaseProxy?.();
    this.releaseProxy = null;
    if (this.holdsSlot && this.target !== null && this.redialInSameSlot()) {
      // The old socket is fully gone (closed, or reset and lingered): the peer
      // never sees two connections of this slot at once, and the slot is never free.
      this.state = 'connecting';
      this.outcome = null;
      this.connectedAt = 0;
      this.startedAt = performance.now();
      return this.open();
    }
    if (this.holdsSlot) {
      this.holdsSlot = false;
      this.host.cap.release(this.host.slot);
    }
    this.onReleased(this.outcome);
  }
}

function ignoreError(): void {}

function guarded(sock: PeerSock, method: 'handleConnect' | 'handleEnd' | 'handleClose'): void {
  const conn = sock[kPeer];
  if (conn === undefined) return;
  try {
    conn[method]();
  } catch (err) {
    conn.internalError(err);
  }
}

function onSocketConnect(this: PeerSock): void {
  guarded(this, 'handleConnect');
}
/** Proxied sockets only (direct ones read through `onread`). */
function onSocketData(this: PeerSock, chunk: Buffer): void {
  const conn = this[kPeer];
  if (conn === undefined) return;
  conn.handleRead(chunk, chunk.length);
}
function onSocketEnd(this: PeerSock): void {
  guarded(this, 'handleEnd');
}
function onSocketClose(this: PeerSock): void {
  guarded(this, 'handleClose');
}
function onSocketError(this: PeerSock, err: NodeJS.ErrnoException): void {
  const conn = this[kPeer];
  if (conn === undefined) return;
  try {
    conn.handleError(err);
  } catch (e) {
    conn.internalError(e);
  }
}
function onClosingSocketClose(this: PeerSock): void {
  this[kPeer]?.release();
}
