/**
 * What runs inside a worker thread: one long-lived session that owns many
 * peer sockets. The Piscina task that started it stays pending until the
 * session drains, so Piscina never treats the worker as idle while it holds
 * sockets (and the pool uses atomics:'disabled', so an idle worker is never
 * parked in Atomics.wait either).
 *
 * Commands arrive over comlink on the control port; peer events leave on the
 * data port, batched per event-loop turn.
 */
import { threadId, type MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from './comlink-node.js';
import { pino, type Logger } from 'pino';
import { NETWORKS } from '../wire/index.js';
import { PeerCap } from '../supervisor/peer-cap.js';
import { AllowList } from './allow-list.js';
import { PeerConnection, type PeerHost } from './peer-connection.js';
import type { PeerEvent, SessionCommand, SessionControl, SessionInit, SessionResult, SessionStats } from './protocol.js';
import { DeadlineTicker, type Tickable } from './ticker.js';
import { RecentAddresses } from './recent-addresses.js';

/**
 * While dials wait here for a free slot the main thread has no hurry to hear
 * about ends (it only tops the queue up), so batches may wait this long: on a
 * latency-bound crawl, where ends trickle in one at a time, that turns one
 * message (and two thread wake-ups) per peer into one per few peers.
 */
const RELAXED_FLUSH_GAP_MS = 20;
/** Flush early when a turn produces this many events, to bound one message's size. */
const MAX_EVENTS_PER_BATCH = 512;
/**
 * At most one batch per this many ms (a turn after a quiet spell flushes at
 * once). Every message wakes the main thread, and on a busy machine each
 * wake-up is a context switch: when peers end one or two per event-loop turn,
 * posting every turn cost more CPU than the events themselves. 2 ms is small
 * next to any peer's lifetime (a visit lasts at least its quiet period).
 */
const MIN_FLUSH_GAP_MS = 2;

export class WorkerSession implements PeerHost, Tickable {
  readonly net;
  readonly cap: PeerCap;
  readonly slot: number;
  readonly allow: AllowList | null;
  readonly mode;
  readonly timeouts;
  readonly ticker: DeadlineTicker;
  readonly log: Logger;
  readonly recentAddresses = new RecentAddresses();

  private readonly conns = new Map<string, PeerConnection>();
  /**
   * Dialled while the cap was full (the main thread dials a few ahead of
   * free slots), oldest first: each starts the moment a slot frees, without
   * waiting for an 'end' to reach the main thread and a dial to come back.
   */
  private readonly waiting = new Set<string>();
  private startingWaiting = false;
  /** The flush pending is the relaxed one (RELAXED_FLUSH_GAP_MS). */
  private relaxedFlush = false;
  private readonly dataPort: MessagePort;
  private batch: PeerEvent[] = [];
  private flushScheduled = false;
  private lastFlushAt = 0;
  private draining = false;
  private endSession: (() => void) | null = null;
  readonly ended: Promise<void>;

  private dialled = 0;
  private reachableCount = 0;
  private failedCount = 0;
  private addrsReceived = 0;

  constructor(init: SessionInit, log: Logger) {
    const net = NETWORKS[init.network];
    this.net = net;
    this.cap = PeerCap.attach(init.capBuffer);
    this.slot = init.slot;
    this.allow = init.allowAny ? null : AllowList.parse(init.allow);
    this.mode = init.mode;
    this.timeouts = init.timeouts;
    this.ticker = new DeadlineTicker(init.tickMs);
    this.log = log;
    this.dataPort = init.data;
    this.dataPort.on('message', (cmd: SessionCommand) => this.command(cmd));
    this.ended = new Promise<void>((resolve) => {
      this.endSession = resolve;
    });
    this.emit({ kind: 'hello', addr: '', threadId });
  }

  readonly control: SessionControl = {
    connect: (addr: string): boolean => {
      if (this.draining) return false;
      this.dial(addr);
      return true;
    },
    connectMany: (addrs: readonly string[]): boolean => {
      if (this.draining) return false;
      for (const addr of addrs) this.dial(addr);
      return true;
    },
    drop: (addr: string): boolean => {
      if (this.waiting.delete(addr)) {
        this.emit({ kind: 'end', addr, error: { code: 'ERR_STOPPED', message: 'stopped before it was dialled' }, undialled: true });
        return true;
      }
      const conn = this.conns.get(addr);
      if (conn === undefined) return false;
      conn.stop();
      return true;
    },
    drain: async (): Promise<void> => {
      this.draining = true;
      for (const addr of this.waiting) this.emit({ kind: 'end', addr, error: { code: 'ERR_STOPPED', message: 'worker is draining' }, undialled: true });
      this.waiting.clear();
      for (const conn of [...this.conns.values()]) conn.stop(true);
      this.ticker.stop();
      this.flush();
      this.endSession?.();
    },
    stats: (): SessionStats => ({
      slot: this.slot,
      open: this.conns.size,
      waiting: this.waiting.size,
      dialled: this.dialled,
      reachable: this.reachableCount,
      failed: this.failedCount,
      addrsReceived: this.addrsReceived,
    }),
    crash: (): void => {
      setImmediate(() => {
        throw new Error('simulated worker crash');
      });
    },
  };

  /** Dial / drop from the data port. */
  private command(cmd: SessionCommand): void {
    if (cmd.op === 'drop') {
      this.control.drop(cmd.addr);
      return;
    }
    if (this.draining) {
      for (const addr of cmd.addrs) this.emit({ kind: 'end', addr, error: { code: 'ERR_STOPPED', message: 'worker is draining' } });
      return;
    }
    for (const addr of cmd.addrs) this.dial(addr);
  }

  private dial(addr: string): void {
    if (this.conns.has(addr) || this.waiting.has(addr)) {
      // The main thread never dials one address twice at once; refuse rather than leak.
      this.emit({ kind: 'end', addr, error: { code: 'ERR_SUPERVISOR', message: `${addr} is already open on this worker` } });
      return;
    }
    if (this.waiting.size > 0 || !this.cap.tryAcquire(this.slot)) {
      this.waiting.add(addr);
      // Slots freed by other workers (or other users of a shared cap) are noticed on the tick.
      this.ticker.add(this);
      return;
    }
    this.open(addr);
  }

  /** Dials `addr` on a cap slot already taken for it. */
  private open(addr: string): void {
    this.dialled++;
    const conn = PeerConnection.dial(this, addr, true);
    if (conn.isOpen) this.conns.set(addr, conn);
  }

  /** Starts waiting dials, oldest first, while slots are free. */
  private startWaiting(): void {
    if (this.startingWaiting || this.draining) return;
    this.startingWaiting = true;
    try {
      for (const addr of this.waiting) {
        if (!this.cap.tryAcquire(this.slot)) return;
        this.waiting.delete(addr);
        this.open(addr);
      }
    } finally {
      this.startingWaiting = false;
      if (this.waiting.size === 0) {
        this.ticker.delete(this);
        // The main thread must hear of the ends now, or this worker idles until the relaxed flush.
        if (this.relaxedFlush) this.flushSoon();
      }
    }
  }

  tick(): void {
    this.startWaiting();
  }

  emit(ev: PeerEvent): void {
    switch (ev.kind) {
      case 'addrs':
        this.addrsReceived += ev.texts.length;
        break;
      case 'end':
        if (ev.error === undefined) this.reachableCount++;
        else this.failedCount++;
        break;
      case 'connected':
      case 'reachable':
        // The main thread acts on none of these: posting them would only cost a
        // structured clone and, often, a message (and a wake-up) of their own.
        return;
      default:
        break;
    }
    this.batch.push(ev);
    if (this.batch.length >= MAX_EVENTS_PER_BATCH) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.relaxedFlush = this.waiting.size > 0;
      const wait = this.lastFlushAt + (this.relaxedFlush ? RELAXED_FLUSH_GAP_MS : MIN_FLUSH_GAP_MS) - performance.now();
      if (wait > 0) setTimeout(flushSession, wait, this);
      else setImmediate(flushSession, this);
    }
  }

  /** Replaces a pending relaxed flush by one within MIN_FLUSH_GAP_MS (the old timer then finds nothing to send). */
  private flushSoon(): void {
    this.relaxedFlush = false;
    const wait = this.lastFlushAt + MIN_FLUSH_GAP_MS - performance.now();
    if (wait > 0) setTimeout(flushSession, wait, this);
    else setImmediate(flushSession, this);
  }

  /**
   * Last act of a thread dying from an uncaught exception: reset every socket
   * now. Left to the thread's teardown they would get a FIN instead, which a
   * peer that stopped reading never acts on, so it would keep counting a
   * connection whose cap slot we reclaim.
   */
  resetAll(): void {
    for (const conn of this.conns.values()) conn.resetSocket();
  }

  closed(conn: PeerConnection): void {
    if (this.conns.get(conn.addr) === conn) this.conns.delete(conn.addr);
    if (this.waiting.size > 0) this.startWaiting();
  }

  flush(): void {
    this.flushScheduled = false;
    this.relaxedFlush = false;
    if (this.batch.length === 0) return;
    this.lastFlushAt = performance.now();
    const out = this.batch;
    this.batch = [];
    this.dataPort.postMessage(out);
  }
}

function flushSession(s: WorkerSession): void {
  s.flush();
}

/** Worker-side logger: synchronous to fd 1 (async output is lost when a thread is terminated). */
function workerLogger(level: string, slot: number): Logger {
  return pino({ level, base: { worker: slot } }, pino.destination({ dest: 1, sync: true }));
}

/**
 * Refused and reset connections are a third of a crawl's dials or more, and
 * node:net builds an Error with a full stack trace for each: it raises
 * Error.stackTraceLimit to Infinity while capturing, unless the limit is
 * read-only. A peer's failure leaves the worker as { code, message } and
 * its stack is never read, so below debug logging the thread captures none
 * (~20 µs saved per failed dial). Node's internals check writability before
 * assigning, and no dependency here assigns it.
 */
function captureNoStackTraces(): void {
  Object.defineProperty(Error, 'stackTraceLimit', { value: 0, writable: false, configurable: true });
}

/** The body of the session task: serve until drained. */
export async function runSession(init: SessionInit): Promise<SessionResult> {
  if (init.logLevel !== 'debug' && init.logLevel !== 'trace') captureNoStackTraces();
  const session = new WorkerSession(init, workerLogger(init.logLevel, init.slot));
  // A monitor runs before the thread dies and does not stop it from dying.
  process.on('uncaughtExceptionMonitor', () => session.resetAll());
  Comlink.expose(session.control, nodeEndpoint(init.control));
  await session.ended;
  const stats = session.control.stats();
  // Let the last batch and the drain() reply leave before the ports close.
  await new Promise((r) => setImmediate(r));
  init.data.close();
  init.control.close();
  return { dialled: stats.dialled };
}
