/**
 * Every message that crosses the main-thread / worker-thread boundary, and
 * nothing else. A structured clone drops class identity and custom error
 * fields, so every value here is plain data (errors as {@link PlainError}).
 *
 * - The task data of each worker's one session task: {@link SessionInit}
 *   (it carries the two ports below and the peer cap's SharedArrayBuffer).
 * - The control plane (comlink over a MessagePort): {@link SessionControl},
 *   one round trip per call; the rare commands.
 * - The data plane (a second, plain MessagePort): main → worker the per-peer
 *   commands ({@link SessionCommand}: dial, drop), fire-and-forget, in one
 *   ordered stream; worker → main arrays of {@link PeerEvent}, batched per
 *   event-loop turn, never one postMessage per address.
 */
import type { MessagePort } from 'node:worker_threads';
import type { PlainError } from '../errors.js';
import type { ReachConfig, Via } from './reach.js';
import type { AddressNetwork, NetworkName } from '../wire/types.js';
import type { Transport, TransportOption } from './transport.js';

export type CrawlMode = 'crawl' | 'node';

/** Per-step deadlines of one peer connection, in milliseconds. */
export interface PeerTimeouts {
  /** TCP connect (net.connect has none of its own). */
  readonly connectMs: number;
  /** From connect until both the peer's version and verack arrived. */
  readonly handshakeMs: number;
  /** From getaddr sent until we stop waiting for the answer. */
  readonly getaddrMs: number;
  /**
   * After a multi-entry addr/addrv2 arrives, wait this long for more before
   * calling the answer complete. Core answers getaddr with one message, but a
   * one-entry self-announcement may precede it (FACTS §6), so one entry never
   * ends the wait. With `adaptiveQuiet` this is the longest wait.
   */
  readonly addrQuietMs: number;
  /**
   * The default (no quiet period given): a full answer (1,000 entries) ends
   * the visit at once, a shorter one after a few of the peer's round trips
   * (at least 50 ms, at most addrQuietMs). See workers/peer-connection.ts.
   */
  readonly adaptiveQuiet?: boolean;
  /** Node mode: keepalive ping interval once established. */
  readonly pingIntervalMs: number;
  /** Node mode: an unanswered ping older than this drops the peer. */
  readonly pingTimeoutMs: number;
}

/** The task data of the one long-lived session task each worker runs. */
export interface SessionInit {
  /** PeerCap worker slot of this session (the cap counts per slot, so a dead worker's sockets can be reclaimed). */
  readonly slot: number;
  readonly capBuffer: SharedArrayBuffer;
  readonly control: MessagePort;
  readonly data: MessagePort;
  readonly network: NetworkName;
  /** CIDRs; every dial is checked against them inside the worker. */
  readonly allow: readonly string[];
  /** Explicit opt-out of the allow-list (never the default). */
  readonly allowAny: boolean;
  readonly mode: CrawlMode;
  readonly timeouts: PeerTimeouts;
  /** Coarse deadline tick: one interval per worker serves every socket. */
  readonly tickMs: number;
  readonly logLevel: string;
  /** Proxies, SAM bridge, CJDNS (absent: IPv4/IPv6 direct only). */
  readonly reach?: ReachConfig;
  /** One PeerCap buffer per Tor proxy (reach.torProxies order): the per-proxy budget across workers. */
  readonly torProxyCaps?: readonly SharedArrayBuffer[];
  /** The --transport option: decides the v1 fallback, and the transport of dials that do not name one. */
  readonly transport: TransportOption;
}

/**
 * The hot commands, sent by the main thread on the data port (not comlink):
 * no reply, no promise, no id per command, and in one ordered stream with
 * each other. Refused dials (a draining session) come back as 'end' events
 * with ERR_STOPPED.
 */
export type SessionCommand =
  /** `transports[i]`: the first dial of `addrs[i]` (absent: the session's option for unknown services). */
  | { readonly op: 'dial'; readonly addrs: readonly string[]; readonly transports?: readonly Transport[] }
  /** Close that peer (its 'end' event says ERR_STOPPED): with a FIN, or `abortive`ly with a reset. */
  | { readonly op: 'drop'; readonly addr: string; readonly abortive?: boolean }
  /** Addresses the main thread dropped (source over budget): the worker reports them again when heard next. */
  | { readonly op: 'forget'; readonly texts: readonly string[]; readonly networks: readonly AddressNetwork[] };

/**
 * One worker thread's V8 heap (its own isolate), for memory diagnostics
 * (bench/memory.mjs, docs/PERFORMANCE.md): bytes, from process.memoryUsage()
 * run inside the worker. RSS is per process, so it is not here.
 */
export interface WorkerMemory {
  readonly slot: number;
  /** Live objects plus garbage not collected yet (all of it when `collected`). */
  readonly heapUsed: number;
  /** What the heap has committed (young generation included): what it costs in RSS, at most. */
  readonly heapTotal: number;
  /** Memory outside the heap that V8 knows of (ArrayBuffer contents among it). */
  readonly external: number;
  readonly arrayBuffers: number;
  /** The young generation's size limit in MB in force on this thread (V8 default: 48), null outside a worker. */
  readonly youngGenerationLimitMb: number | null;
  /** True when a full GC ran first (only possible when node runs with --expose-gc). */
  readonly collected: boolean;
}

/**
 * What one worker thread counts itself, for metrics (`/metrics` per-worker
 * gauges): the thread's own view, since this session started.
 */
export interface WorkerFigures {
  readonly slot: number;
  /** Connections this thread holds right now. */
  readonly open: number;
  /** Dials this thread started. */
  readonly dialled: number;
  /** Visits it ended with a completed handshake / without one. */
  readonly reachable: number;
  readonly failed: number;
  /** Addresses it reported to the main thread (each once while it remembers it). */
  readonly addrsReported: number;
}

/** The control plane a worker session exposes over comlink. */
export interface SessionControl {
  /** This thread's own counters (metrics). */
  figures(): WorkerFigures;
  /** Closes every socket (ERR_STOPPED), flushes events, then ends the session task (it resolves with nothing). */
  drain(): Promise<void>;
  /** This thread's heap; `collect` runs a full GC first when node was started with --expose-gc. */
  memory(collect: boolean): WorkerMemory;
  /** Test hook: throws an uncaught exception in the worker, killing the thread. */
  /** Test hook: kill this thread by an uncaught exception, or by running out of heap. */
  crash(how?: 'exception' | 'oom'): void;
}

/** The version fields recorded for a reachable node. */
export interface PeerVersionInfo {
  readonly protocolVersion: number;
  readonly userAgent: string;
  /** Service bits as a number (the defined bits are all below 2^53). */
  readonly services: number;
  readonly startHeight: number;
  readonly relay: boolean;
}

export interface PeerSuccessInfo extends PeerVersionInfo {
  readonly connectMs: number;
  readonly handshakeMs: number;
  readonly addrsReturned: number;
  /** Addresses over the per-peer budget (one getaddr answer + a few unsolicited; node mode: 0.1/s), dropped. */
  readonly addrsDropped?: number;
  /** Our version sent → the peer's version received (ms): one round trip plus the peer's processing. */
  readonly rttMs?: number;
  /** How long the visit held its cap slot, from the dial to both sides closed (set when it ends). */
  readonly slotMs?: number;
  /** Of slotMs, the close: from the end of the visit to both sides closed. */
  readonly closeMs?: number;
  /** The transport the handshake completed over (always set by the worker). */
  readonly transport?: Transport;
  /** True when v1 was used after the v2 attempt was closed or reset with nothing received. */
  readonly v2Fallback?: boolean;
}

export type PeerEvent =
  /** First event of every session: which thread it runs on (to watch that thread's exit). */
  | { readonly kind: 'hello'; readonly addr: ''; readonly threadId: number }
  | { readonly kind: 'connected'; readonly addr: string; readonly connectMs: number }
  /** Both version and verack arrived: the node is reachable; getaddr was sent. */
  | { readonly kind: 'reachable'; readonly addr: string }
  /**
   * Parallel arrays (text forms; their networks) rather than one array per
   * entry: a structured clone of N tuples costs N extra objects.
   */
  | {
      readonly kind: 'addrs';
      readonly addr: string;
      readonly texts: readonly string[];
      readonly networks: readonly AddressNetwork[];
      /** Each address's own timestamp as gossiped (uint32 seconds since the epoch). */
      readonly times: readonly number[];
      /** Whether each address was gossiped with NODE_P2P_V2 (decides `auto` dials). */
      readonly p2pV2?: readonly boolean[];
    }
  /** Node mode: the getaddr phase is over, the connection stays up. */
  | { readonly kind: 'ready'; readonly addr: string; readonly info: PeerSuccessInfo; readonly via?: Via; readonly proxy?: string }
  /**
   * The connection is gone (exactly one per connect()). `info` is present when
   * the full handshake completed; `error` when it ended for any reason other
   * than a completed crawl visit.
   */
  | {
      readonly kind: 'end';
      readonly addr: string;
      readonly info?: PeerSuccessInfo;
      readonly error?: PlainError;
      /** Set when the dial went through a proxy or SAM bridge (absent: direct). */
      readonly via?: Via;
      readonly proxy?: string;
      /** The transport of the last attempt, when a TCP connection was made (failures too). */
      readonly transport?: Transport;
      readonly v2Fallback?: boolean;
    };
