/**
 * The protocol of one outbound peer connection, as a state machine:
 * handshaking (our version → their version and verack; wtxidrelay and
 * sendaddrv2 before our verack) → getaddr (collect addr/addrv2 until a
 * multi-entry answer and a quiet period, or the deadline) → done (crawl mode)
 * or established (node mode: keepalive pings, the peer's pings answered).
 *
 * The socket under it (dial, reads, writes, close/linger/reset, the cap slot)
 * is the base class, PeerSocket (peer-socket.ts); the per-peer address budget
 * is AddrBudget (addr-budget.ts); what we send, as bytes, is outbound.ts.
 * A worker session runs thousands of these.
 */
import type { Logger } from 'pino';
import type { PlainError, WireError, WireErrorCode } from '../src/errors.js';
import { HEADER_SIZE } from '../src/wire/index.js';
import { V2Transport, type V2TransportSink } from '../src/wire/v2/index.js';
import { advertisesV2, mayFallBackToV1, type Transport, type TransportOption } from '../src/shared/transport.js';
import {
  BIP0031_VERSION,
  DEFAULT_USER_AGENT,
  formatAddress,
  isAddressValid,
  MAX_ADDR_PER_MESSAGE,
  MessageDecoder,
  MIN_PEER_PROTO_VERSION,
  NODE_P2P_V2,
  PROTOCOL_VERSION,
  randomNonce,
  WTXID_RELAY_VERSION,
} from '../src/wire/index.js';
import type { AddressNetwork, AddrList, Message, MessageSink, NetAddress, NetworkParams, VersionPayload } from '../src/wire/index.js';
import type { CrawlMode, PeerEvent, PeerSuccessInfo, PeerTimeouts } from '../src/shared/messages.js';
import { AddrBudget } from './addr-budget.js';
import { frameOf } from './outbound.js';
import { PeerSocket, socketErrorCode, type SocketHost } from './peer-socket.js';
import type { RecentAddresses } from './recent-addresses.js';
import { ourVersionFrame, type OurVersionFields } from './version-frame.js';

const OUR_VERSION: OurVersionFields = { version: PROTOCOL_VERSION, userAgent: DEFAULT_USER_AGENT };
/** NODE_P2P_V2 (1 << 11) in the low 32 bits of an AddrList entry's services. */
const P2P_V2_LOW_BIT = Number(NODE_P2P_V2);

/**
 * Adaptive quiet period (timeouts.adaptiveQuiet): at least this long, else
 * QUIET_ROUND_TRIPS connect round trips. 50 ms is five times the largest gap
 * the simulator puts between the parts of a split answer (chatty nodes,
 * 10 ms), with room for a loaded machine's scheduling delays.
 */
const MIN_QUIET_MS = 50;
const QUIET_ROUND_TRIPS = 2;

/** What a connection needs from whoever runs it (a worker session). */
export interface PeerHost extends SocketHost {
  readonly net: NetworkParams;
  readonly mode: CrawlMode;
  readonly timeouts: PeerTimeouts;
  readonly log: Logger;
  /** Addresses this thread already reported: set by worker sessions, so a gossiped address crosses to the main thread once. */
  readonly recentAddresses?: RecentAddresses;
  /** The --transport option (decides whether a failed v2 dial falls back to v1); default auto. */
  readonly transport?: TransportOption;
  emit(ev: PeerEvent): void;
  /** The connection has finished and released everything. */
  closed(conn: PeerConnection): void;
}

/** The protocol's steps while the socket is open. */
type Phase = 'handshaking' | 'getaddr' | 'established';

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

export class PeerConnection extends PeerSocket<PeerHost> implements MessageSink, V2TransportSink {
  private decoder: MessageDecoder | null = null;
  /** The current attempt's transport; v2 dials read through `v2` instead of `decoder`. */
  private transport: Transport;
  private v2: V2Transport | null = null;
  /** Set when a v2 attempt ended in a way Core retries with v1 (redialInSameSlot). */
  private fallBackPending = false;
  private fellBack = false;
  private phase: Phase = 'handshaking';
  /** Set once a multi-entry addr arrived: the answer is complete when quiet until then. */
  private quietAt = 0;
  private nextPingAt = 0;
  private pingSentAt = 0;
  private pingNonce = 0n;
  /**
   * Our version sent → the peer's version received (ms), -1 until then: one
   * round trip plus the peer's processing, with no extra message (Core
   * answers an outbound peer's version with its own at once, FACTS §4).
   */
  private rttMs = -1;
  private versionSentAt = 0;

  private version: PeerVersion | null = null;
  private connectMs = 0;
  private handshakeMs = 0;
  private addrsReturned = 0;
  private readonly budget = new AddrBudget();
  private success: PeerSuccessInfo | null = null;
  /** The last wire error (fatal or a dropped message): the detail of a failure it explains. */
  private lastWireError: WireErrorCode | null = null;

  private constructor(host: PeerHost, addr: string, transport: Transport) {
    super(host, addr);
    this.transport = transport;
  }

  /**
   * Dials `addrText`. Never throws: every outcome, including refusal before any
   * socket exists (ERR_NOT_ALLOWED, ERR_MAX_PEERS), arrives as one 'end' event.
   */
  static dial(host: PeerHost, addrText: string, transport: Transport = 'v1'): PeerConnection {
    const conn = new PeerConnection(host, addrText, transport);
    conn.connect();
    return conn;
  }

  /** Buffer bytes its decoder holds on to (MessageDecoder.retainedBytes): what an idle peer costs beyond its objects. */
  get retainedBufferBytes(): number {
    if (this.v2 !== null) return this.v2.packets === null ? 0 : this.v2.packets.retainedBytes;
    return this.decoder === null ? 0 : this.decoder.retainedBytes;
  }

  // ---- the socket's events (PeerSocket) ----

  protected onConnected(now: number): void {
    this.connectMs = Math.round(now - this.startedAt);
    this.phase = 'handshaking';
    this.setDeadline(now + this.host.timeouts.handshakeMs);
    this.host.emit({ kind: 'connected', addr: this.addr, connectMs: this.connectMs });
    if (this.transport === 'v2') {
      // Our key and garbage go out now; our version follows our version packet (onReady).
      this.v2 = new V2Transport(this.host.net, 'initiator', this, { skipUnknown: true });
      this.v2.start();
      return;
    }
    // The crawler ignores inv/tx/block…: skip their bodies unread instead of buffering up to 4 MB each.
    this.decoder = new MessageDecoder(this.host.net, this, { skipUnknown: true });
    // FACTS §4: Core waits for the inbound peer's version first.
    this.sendFrame(this.ourVersion());
  }

  /** Our version frame; rttMs runs from here (it is built right before it is sent). */
  private ourVersion(): Buffer {
    this.versionSentAt = performance.now();
    return ourVersionFrame(this.host.net, OUR_VERSION, Math.floor(Date.now() / 1000), randomNonce(), this.remote ?? undefined);
  }

  protected onBytes(buf: Uint8Array, bytes: number): void {
    if (this.v2 !== null) this.v2.push(buf, bytes);
    else this.decoder?.push(buf, bytes);
  }

  protected onPeerClosed(what: string): void {
    // A peer closing after the handshake ends a crawl visit normally: we keep what it sent.
    if (this.state === 'open' && this.phase === 'getaddr') return this.complete();
    const v2 = this.v2;
    if (v2 !== null && this.state === 'open') {
      this.noteV2Failure();
      // The peer closed inside its garbage: a typed protocol error, not a plain close.
      const err = v2.end();
      if (err !== null) return this.finish({ code: 'ERR_PROTOCOL', message: `${err.code}: ${err.message}`, detail: err.code });
    }
    this.finish({ code: 'ERR_PEER_CLOSED', message: `${what} during ${this.state === 'open' ? this.phase : this.state}${this.fallBackPending ? ' (v2 handshake: retrying with v1)' : ''}` });
  }

  override handleError(err: NodeJS.ErrnoException): void {
    if (this.v2 !== null && this.state === 'open' && socketErrorCode(err.code) === 'ERR_CONNECTION_RESET') this.noteV2Failure();
    super.handleError(err);
  }

  /** Core's rule: a v2 dial closed or reset before the peer sent a byte is retried once with v1. */
  private noteV2Failure(): void {
    if (this.v2 !== null && this.v2.shouldReconnectV1 && !this.fellBack && mayFallBackToV1(this.host.transport ?? 'auto')) this.fallBackPending = true;
  }

  protected override redialInSameSlot(): boolean {
    if (!this.fallBackPending) return false;
    this.fallBackPending = false;
    this.fellBack = true;
    this.transport = 'v1';
    this.phase = 'handshaking';
    this.lastWireError = null;
    this.log?.debug('v2 handshake closed with nothing received: dialling again with v1');
    return true;
  }

  protected onFinishing(): void {
    // Reachable means the handshake completed, whatever ends the connection afterwards.
    if (this.success === null && this.phase === 'getaddr' && this.version !== null) this.success = this.successInfo(this.version);
    this.decoder = null;
    this.v2 = null;
  }

  protected onReleased(error: PlainError | null): void {
    let info: PeerSuccessInfo | undefined;
    if (this.success !== null) {
      // How long this visit held its cap slot, and how much of that was the close.
      const now = performance.now();
      info = this.slotAt === 0 ? this.success : { ...this.success, slotMs: Math.round(now - this.slotAt), closeMs: Math.round(now - this.finishedAt) };
    }
    // Via a proxy or not; the transport once a TCP connection was made; a fallback either way.
    const how = {
      ...(this.via === 'direct' ? {} : { via: this.via, ...(this.proxy !== null ? { proxy: this.proxy } : {}) }),
      ...(this.connectedAt !== 0 ? { transport: this.transport } : {}),
      ...(this.fellBack ? { v2Fallback: true } : {}),
    };
    const ev = error === null ? { kind: 'end' as const, addr: this.addr, info } : { kind: 'end' as const, addr: this.addr, info, error };
    this.host.emit({ ...ev, ...how });
    this.host.closed(this);
  }

  // ---- V2TransportSink (the v2 handshake's output) ----

  /** Handshake bytes (our key and garbage; our terminator and version packet). */
  send(data: Buffer): void {
    this.sendFrame(data);
  }

  /** Our version packet is out: our version message follows at once (BIP324's 1.5 round trips). */
  onReady(): void {
    this.sendFrame(this.v2!.sendFrame('version', this.ourVersion().subarray(HEADER_SIZE)));
  }

  // ---- MessageSink ----

  onMessage(msg: Message): void {
    // Messages still queued in the chunk being decoded when we finished are ignored.
    if (this.state !== 'open') return;
    // Core ignores every message before the peer's version (net_processing: "non-version message
    // before version handshake"): a verack sent first does not count, the handshake needs one after it.
    if (this.version === null && msg.command !== 'version') return;
    switch (msg.command) {
      case 'version':
        return this.onVersion(msg.payload);
      case 'verack':
        this.onReachable();
        return;
      case 'ping':
        // Pre-BIP31 pings have no nonce and expect no pong.
        if (this.version !== null && this.version.version > BIP0031_VERSION) this.sendMessage({ command: 'pong', nonce: msg.nonce });
        return;
      case 'pong':
        if (msg.nonce === this.pingNonce) {
          this.pingSentAt = 0;
          this.host.ticker.schedule(this.nextPingAt);
        }
        return;
      case 'addr':
      case 'addrv2':
        // Core ignores addresses before the handshake completes ("unsupported message prior to verack").
        if (this.phase === 'handshaking') return;
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
      if (this.phase === 'getaddr' && (command === 'addr' || command === 'addrv2') && this.quietAt === 0) this.startQuiet();
    }
  }

  private onVersion(v: VersionPayload): void {
    if (this.version !== null) return; // Core ignores a redundant version too
    if (this.versionSentAt !== 0) this.rttMs = Math.round(performance.now() - this.versionSentAt);
    if (v.version < MIN_PEER_PROTO_VERSION) {
      return this.finish({ code: 'ERR_VERSION_TOO_OLD', message: `peer protocol version ${v.version} < ${MIN_PEER_PROTO_VERSION}` });
    }
    this.version = peerVersion(v);
    // BIP155/BIP339: after the peer's version, before our verack.
    if (v.version >= WTXID_RELAY_VERSION) {
      this.sendMessage({ command: 'wtxidrelay' });
      this.sendMessage({ command: 'sendaddrv2' });
    }
    this.sendMessage({ command: 'verack' });
  }

  private onReachable(): void {
    if (this.phase !== 'handshaking') return;
    const now = performance.now();
    this.handshakeMs = Math.round(now - this.connectedAt);
    this.phase = 'getaddr';
    this.setDeadline(now + this.host.timeouts.getaddrMs);
    this.host.emit({ kind: 'reachable', addr: this.addr });
    // Only after our verack: Core drops a getaddr that comes before it (FACTS §4.6).
    this.sendMessage({ command: 'getaddr' });
    this.budget.grantGetaddr();
  }

  private onAddrs(msg: { readonly entries: readonly { address: NetAddress | null; time: number; services: bigint }[]; readonly list?: AddrList }): void {
    const texts: string[] = [];
    const networks: AddressNetwork[] = [];
    const times: number[] = [];
    const p2pV2: boolean[] = [];
    const list = msg.list;
    const count = list !== undefined ? list.length : msg.entries.length;
    const accepted = this.budget.take(count);
    if (accepted < count) this.log?.debug({ dropped: count - accepted, total: this.budget.dropped }, 'addresses over the per-peer budget dropped');
    const recent = this.host.recentAddresses;
    let valid = 0;
    if (list !== undefined) {
      // Decoded messages: text + network straight from the compact list, no entry objects.
      for (let i = 0; i < accepted; i++) {
        const network = list.networkAt(i);
        // Core's addrman never stores an invalid address (e.g. CJDNS outside fc00::/8, `::`, 0.0.0.0).
        if (network === null || !list.validAt(i)) continue;
        valid++;
        if (recent !== undefined) {
          // Keys from the bytes (IPv4: a number), so a duplicate is never formatted.
          const o = list.offsets[i]!;
          const fresh =
            network === 'ipv4'
              ? recent.firstIpv4(list.bytes, o, list.ports[i]!)
              : recent.firstBytes(list.kinds[i]!, list.bytes, o, list.offsets[i + 1]!, list.ports[i]!);
          if (!fresh) continue;
        }
        texts.push(list.textAt(i)!);
        networks.push(network);
        times.push(list.timeAt(i));
        p2pV2.push((list.servicesLo[i]! & P2P_V2_LOW_BIT) !== 0);
      }
    } else {
      for (let i = 0; i < accepted; i++) {
        const e = msg.entries[i]!;
        if (e.address === null || !isAddressValid(e.address)) continue;
        valid++;
        // Keyed from the bytes as above (not formatted and parsed back), so both paths share one set.
        if (recent !== undefined && !recent.firstAddress(e.address)) continue;
        texts.push(formatAddress(e.address));
        networks.push(e.address.network);
        times.push(e.time);
        p2pV2.push(advertisesV2(e.services));
      }
    }
    this.log?.debug(`received ${valid} addresses from ${this.addr} (${texts.length} not reported by this thread before)`);
    if (texts.length > 0) this.host.emit({ kind: 'addrs', addr: this.addr, texts, networks, times, p2pV2 });
    if (this.phase === 'getaddr') {
      this.addrsReturned += valid;
      // A full answer is all of it: Core's getaddr answer is one message of at most
      // MAX_ADDR_TO_SEND entries (FACTS §6), so nothing more can belong to it.
      if (count >= MAX_ADDR_PER_MESSAGE && this.host.timeouts.adaptiveQuiet === true) return this.complete();
      // One entry may be the peer's self-announcement ahead of the real answer (FACTS §6).
      if (count > 1) this.startQuiet();
    }
  }

  // ---- deadlines ----

  protected dueOpen(): number {
    switch (this.phase) {
      case 'handshaking':
        return this.deadline;
      case 'getaddr':
        return this.quietAt !== 0 && this.quietAt < this.deadline ? this.quietAt : this.deadline;
      case 'established':
        return this.pingSentAt !== 0 ? this.pingSentAt + this.host.timeouts.pingTimeoutMs : this.nextPingAt;
      default:
        return Infinity;
    }
  }

  /** A multi-entry answer (or an unusable one) arrived: the visit ends after a quiet period (quietMs()). */
  private startQuiet(): void {
    this.quietAt = performance.now() + this.quietMs();
    this.host.ticker.schedule(this.quietAt);
  }

  /**
   * How long to wait for more of the answer. An explicit addrQuietMs is used
   * as given. The adaptive default (timeouts.adaptiveQuiet) waits what this
   * peer's network could still be delivering of the same burst: a few round
   * trips (the TCP connect measured one: SYN to SYN-ACK), never less than
   * MIN_QUIET_MS nor more than addrQuietMs. Core sends its whole answer in one
   * flush, so anything later than that would be new gossip, not the answer.
   */
  private quietMs(): number {
    const t = this.host.timeouts;
    if (t.adaptiveQuiet !== true) return t.addrQuietMs;
    return Math.min(t.addrQuietMs, Math.max(MIN_QUIET_MS, QUIET_ROUND_TRIPS * this.connectMs));
  }

  protected tickOpen(now: number): void {
    switch (this.phase) {
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
      case 'established':
        if (this.pingSentAt !== 0 && now - this.pingSentAt >= this.host.timeouts.pingTimeoutMs) {
          this.finish({ code: 'ERR_PING_TIMEOUT', message: `no pong within ${this.host.timeouts.pingTimeoutMs} ms` });
        } else if (this.pingSentAt === 0 && now >= this.nextPingAt) {
          this.pingNonce = randomNonce();
          this.pingSentAt = now;
          this.nextPingAt = now + this.host.timeouts.pingIntervalMs;
          this.host.ticker.schedule(now + this.host.timeouts.pingTimeoutMs);
          this.sendMessage({ command: 'ping', nonce: this.pingNonce });
          // Gossip since the last ping (a big addr split across reads) may have left a reusable buffer behind.
          this.decoder?.releaseBuffers();
          this.v2?.packets?.releaseBuffers();
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
    if (this.host.mode === 'node' && this.readable) {
      this.phase = 'established';
      // The decoder keeps a body buffer as big as the largest message so far
      // (the getaddr answer, ~30 KB): a long-lived peer should not hold that.
      this.decoder?.releaseBuffers();
      this.v2?.packets?.releaseBuffers();
      const now = performance.now();
      this.nextPingAt = now + this.host.timeouts.pingIntervalMs;
      this.host.ticker.schedule(this.nextPingAt);
      this.budget.startRefill(now);
      this.host.emit({ kind: 'ready', addr: this.addr, info: this.success, ...(this.via === 'direct' ? {} : { via: this.via, ...(this.proxy !== null ? { proxy: this.proxy } : {}) }) });
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
      addrsDropped: this.budget.dropped,
      ...(this.rttMs >= 0 ? { rttMs: this.rttMs } : {}),
      transport: this.transport,
      ...(this.fellBack ? { v2Fallback: true } : {}),
    };
  }

  private sendMessage(msg: Message): void {
    this.sendFrame(this.v2 !== null ? this.v2.sendMessage(msg) : frameOf(this.host.net, msg));
  }
}
