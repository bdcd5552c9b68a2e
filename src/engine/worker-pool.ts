/**
 * Main-thread side of the worker pool, and the one owner of in-flight peers:
 * `visit(addr)` sends the address to the least-loaded worker session and
 * returns a promise of how that peer connection ended. A Piscina pool of N
 * threads, each running ONE session task that holds many sockets; each
 * session gets two MessageChannels through the task's transferList: a
 * comlink control plane and a plain data plane (messages: src/shared/messages.ts).
 *
 * When a thread dies (uncaught exception, terminate), its session task
 * rejects: once the thread has exited we reclaim its cap slots, settle every
 * visit it held with ERR_WORKER_CRASHED and start a replacement session,
 * which Piscina places on the replacement thread.
 */
import type { Via } from '../shared/reach.js';
import type { Reached } from './record.js';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { nodeEndpoint } from '../shared/comlink-node.js';
import { Piscina } from 'piscina';
import type { PeerCap } from '../shared/peer-cap.js';
import { pickWorker } from './balancer.js';
import { countedConnections } from './socket-table.js';
import type { PlainError } from '../errors.js';
import type { AddressNetwork } from '../wire/types.js';
import type { PeerEvent, PeerSuccessInfo, SessionCommand, SessionControl, SessionInit } from '../shared/messages.js';
import type { Transport } from '../shared/transport.js';

/**
 * PeerCap worker slots a crawler's sessions cycle through: 0..254 of the
 * cap's default 256. Slot 255 is PROBE_CAP_SLOT (probeNode's own worker).
 */
const CAP_WORKER_SLOTS = 255;

/**
 * Worker slots of `cap` a pool can use: all of a small cap's slots, 0..254 of
 * a cap with 256 or more. A pool needs one per worker; a crashed worker's
 * replacement waits for a free slot (the dead one's, once reclaimed).
 */
export function usableWorkerSlots(cap: PeerCap): number {
  return Math.min(cap.workerSlots, CAP_WORKER_SLOTS);
}
/** The cap slot probeNode's one-thread pool counts under, so it can share a running crawler's cap. */
export const PROBE_CAP_SLOT = 255;

/** Longest wait for a crashed thread to exit before its cap slots are reclaimed anyway. */
const THREAD_EXIT_WAIT_MS = 2000;

/**
 * Longest hold of a dead worker's cap slots while its peers have not closed
 * their side yet. A peer that never acts on our FIN is then no longer waited
 * for (Linux itself drops such an orphaned FIN_WAIT2 socket after 60 s).
 */
const DEAD_SOCKETS_MAX_HOLD_MS = 10_000;
/** How often the kernel's socket table is read during that hold. */
const DEAD_SOCKETS_POLL_MS = 25;
/** Where the kernel cannot be asked (no /proc/net/tcp): hold the slots this long. */
const DEAD_SOCKETS_BLIND_HOLD_MS = 1000;
/**
 * After the table shows the peers closed their side: a moment more for them
 * to act on it (a peer's close reaches our kernel before its own bookkeeping
 * runs), as a normal failed visit holds its slot 100 ms after its reset.
 */
const DEAD_SOCKETS_SETTLE_MS = 100;

/**
 * Resolves once the kernel has none of our connections to `peers` in a state
 * the peer still counts (see socket-table.ts), or after the longest hold.
 */
async function afterPeersClosed(peers: readonly string[]): Promise<void> {
  const deadline = performance.now() + DEAD_SOCKETS_MAX_HOLD_MS;
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
  for (;;) {
    const open = await countedConnections(peers);
    if (open === null) return pause(DEAD_SOCKETS_BLIND_HOLD_MS);
    if (open === 0 || performance.now() >= deadline) return pause(DEAD_SOCKETS_SETTLE_MS);
    await pause(DEAD_SOCKETS_POLL_MS);
  }
}

/** How a test kills a worker thread: an uncaught exception, Worker.terminate(), or out of heap (needs workerMaxHeapMb). */
export type WorkerDeath = 'exception' | 'terminate' | 'oom';

/**
 * Cap on each worker's V8 young generation (default: up to 48 MB, two 16 MB
 * semi-spaces plus large objects). Every peer a worker opens survives its
 * first scavenges, so a burst of thousands of dials grows the semi-spaces to
 * their maximum, and an idle worker (node mode) never shrinks them again:
 * ~32 MB of RSS for nothing, the largest part of the memory per connection
 * (docs/PERFORMANCE.md, Memory). 8 MB keeps new space near 5 MB; the
 * cpu-bound crawl measured the same CPU per node with it (scavenges cost what
 * survives, not the space's size).
 */
const WORKER_YOUNG_GENERATION_MB = 8;

/** Locates dist/workers/peer-worker.js from src/ (vitest) or dist/src/ (built). */
export function peerWorkerUrl(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) return pathToFileURL(join(dir, 'dist', 'workers', 'peer-worker.js')).href;
    dir = dirname(dir);
  }
  throw new Error('cannot find the package root to locate dist/workers/peer-worker.js');
}

/**
 * One worker per core but one: the main thread (supervisor, frontier,
 * snapshot) needs a core of its own. Measured on 2 cores (cpu-bound crawl,
 * docs/PERFORMANCE.md): 2 workers used ~40 % more CPU per node than 1, for
 * the same nodes/s, because the threads kept preempting each other.
 */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism() - 1);
}

export interface Session {
  readonly slot: number;
  readonly control: Comlink.Remote<SessionControl>;
  /** Visits on this session not ended yet (the balancer's load). */
  load: number;
  /** Addresses waiting for the next batched dial command to this session. */
  outbox: string[];
  /** Their transports, in the same order. */
  outboxTransports: Transport[];
  /** False once its thread died (or it drained): no new peers go to it. */
  alive: boolean;
  /** True once a dead session's visits were settled; its events are ignored from then on. */
  reclaimed: boolean;
  /** The thread it runs on, once its 'hello' arrived (to wait for its exit after a crash). */
  thread: Worker | null;
}

/** How one peer connection ended: `info` when its handshake completed, `error` unless a crawl visit completed. */
export interface VisitEnd {
  readonly info?: PeerSuccessInfo;
  readonly error?: PlainError;
  /** How the peer was reached, when not directly. */
  readonly how?: Reached;
}

/** A peer in flight: the pool's record of it, the only one on the main thread. */
interface Visit {
  readonly session: Session;
  readonly settle: (end: VisitEnd) => void;
  readonly onReady: ((info: PeerSuccessInfo, how?: Reached) => void) | undefined;
  /** Node mode: set once 'ready' arrived (a crash after it still reports the node reachable). */
  info: PeerSuccessInfo | undefined;
}

export interface PoolOptions {
  readonly workers: number;
  readonly cap: PeerCap;
  /** V8 old-space limit of each worker thread in MB (default: V8's); over it the thread dies and is replaced. */
  readonly maxHeapMb?: number;
  /** Every session uses this cap slot instead of cycling through 0..254 (probeNode: PROBE_CAP_SLOT). */
  readonly slot?: number;
  /** Everything in SessionInit except the per-session fields. */
  readonly session: Omit<SessionInit, 'slot' | 'capBuffer' | 'control' | 'data'>;
  /**
   * Addresses peer `from` gossiped (text forms, their networks and gossip times: parallel arrays).
   * Returns the indices of those dropped for the source's budget (or null): the session is told to
   * forget them, so that the next peer that sends one gets it through. `p2pV2`: whether each was
   * gossiped with NODE_P2P_V2 (decides `auto` dials).
   */
  onAddrs(from: string, texts: readonly string[], networks: readonly AddressNetwork[], times: readonly number[], p2pV2: readonly boolean[] | undefined): readonly number[] | null;
  /** A batch of events was handled (visits settled meanwhile): a good moment to dispatch more. */
  onBatch(): void;
  /** Other shared caps the sessions hold slots of (the Tor proxies' budgets): reclaimed with the peer cap when a thread dies. */
  readonly extraCaps?: readonly PeerCap[];
  /** A session's thread died; the visits it held (`lost`) were settled with ERR_WORKER_CRASHED. */
  onCrash(slot: number, lost: readonly string[], error: unknown): void;
}

const STOPPED: VisitEnd = Object.freeze({ error: Object.freeze({ code: 'ERR_STOPPED', message: 'the worker pool is closing' }) });

export class PeerWorkerPool {
  private readonly piscina: Piscina;
  private readonly opts: PoolOptions;
  private readonly sessions: Session[] = [];
  private readonly ports = new Map<Session, { control: MessagePort; data: MessagePort; done: Promise<unknown>; dataClosed: Promise<unknown> }>();
  private readonly visits = new Map<string, Visit>();
  private nextSlot = 0;
  /** Cap slots of sessions whose thread died and whose count is not reclaimed yet: never handed out. */
  private readonly unreclaimed = new Set<number>();
  /** Replacement sessions waiting for a free cap slot. */
  private waitingStarts = 0;
  private rotate = 0;
  private closing = false;
  crashes = 0;

  constructor(opts: PoolOptions) {
    this.opts = opts;
    this.piscina = new Piscina({
      filename: peerWorkerUrl(),
      minThreads: opts.workers,
      maxThreads: opts.workers,
      // One session per thread: the session multiplexes sockets itself.
      concurrentTasksPerWorker: 1,
      // 'sync' would park a worker in Atomics.wait between tasks, freezing its sockets.
      atomics: 'disabled',
      idleTimeout: Infinity,
      resourceLimits: {
        maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB,
        ...(opts.maxHeapMb !== undefined ? { maxOldGenerationSizeMb: opts.maxHeapMb } : {}),
      },
    });
    for (let i = 0; i < opts.workers; i++) this.startSession();
  }

  get size(): number {
    return this.sessions.filter((s) => s.alive).length;
  }

  /** Peers in flight: handed to a worker and not ended. */
  get inFlight(): number {
    return this.visits.size;
  }

  has(addr: string): boolean {
    return this.visits.has(addr);
  }

  /**
   * Visits one peer on the least-loaded live session: resolves when the
   * connection is gone, with how it ended (never rejects). `onReady` is
   * called when a node-mode peer is established (getaddr done, the
   * connection stays up). Every visit queued in one event-loop turn goes to
   * its session in one message on the data port.
   */
  visit(addr: string, onReady?: (info: PeerSuccessInfo) => void, transport: Transport = 'v1'): Promise<VisitEnd> {
    if (this.closing) return Promise.resolve(STOPPED);
    if (this.visits.has(addr)) {
      return Promise.resolve({ error: { code: 'ERR_ALREADY_STARTED', message: `${addr} is already in flight` } });
    }
    const session = this.pick();
    if (session === null) return Promise.resolve(STOPPED);
    return new Promise<VisitEnd>((settle) => {
      this.visits.set(addr, { session, settle, onReady, info: undefined });
      session.load++;
      session.outbox.push(addr);
      session.outboxTransports.push(transport);
      if (session.outbox.length === 1) queueMicrotask(() => this.flushDials(session));
    });
  }

  /** Closes one peer: with a FIN, or `abortive`ly with a reset. Its visit settles with ERR_STOPPED. */
  drop(addr: string, abortive = false): void {
    const v = this.visits.get(addr);
    if (v !== undefined && v.session.alive) this.send(v.session, abortive ? { op: 'drop', addr, abortive } : { op: 'drop', addr });
  }

  liveSessions(): readonly Session[] {
    return this.sessions.filter((s) => s.alive);
  }

  /** Least-loaded live session, or null when none is alive. */
  private pick(): Session | null {
    const loads = this.sessions.map((s) => (s.alive ? s.load : Infinity));
    const i = pickWorker(loads, this.rotate++ % Math.max(1, loads.length));
    return i < 0 ? null : (this.sessions[i] ?? null);
  }

  private flushDials(session: Session): void {
    const batch = session.outbox;
    const transports = session.outboxTransports;
    session.outbox = [];
    session.outboxTransports = [];
    // A session that died meanwhile: its crash handling settles these visits.
    if (!session.alive || batch.length === 0) return;
    this.send(session, { op: 'dial', addrs: batch, transports });
  }

  private send(session: Session, cmd: SessionCommand): void {
    this.ports.get(session)?.data.postMessage(cmd);
  }

  private onEvents(session: Session, events: readonly PeerEvent[]): void {
    for (const ev of events) {
      switch (ev.kind) {
        case 'addrs':
        {
          const dropped = this.opts.onAddrs(ev.addr, ev.texts, ev.networks, ev.times, ev.p2pV2);
          // The worker reports each address once while it remembers it: without this, a peer that spent
          // its budget could hide an honest address from the peers that send it later on that worker.
          if (dropped !== null && session.alive) {
            this.send(session, { op: 'forget', texts: dropped.map((i) => ev.texts[i] as string), networks: dropped.map((i) => ev.networks[i] as AddressNetwork) });
          }
          break;
        }
        case 'ready': {
          const v = this.visits.get(ev.addr);
          if (v === undefined || v.session !== session) break;
          v.info = ev.info;
          v.onReady?.(ev.info, howOf(ev));
          break;
        }
        case 'end': {
          const v = this.visits.get(ev.addr);
          // Stale: already settled (crash, close).
          if (v === undefined || v.session !== session) break;
          const how = howOf(ev);
          this.settle(ev.addr, v, { info: ev.info, ...(ev.error !== undefined ? { error: ev.error } : {}), ...(how !== undefined ? { how } : {}) });
          break;
        }
        default:
          break;
      }
    }
    this.opts.onBatch();
  }

  private settle(addr: string, v: Visit, end: VisitEnd): void {
    this.visits.delete(addr);
    v.session.load--;
    v.settle(end);
  }

  /** A free cap slot, or -1. A dead session's slot is never reused while its count may still be settling. */
  private allocateSlot(): number {
    if (this.opts.slot !== undefined) return this.unreclaimed.has(this.opts.slot) ? -1 : this.opts.slot;
    const slots = usableWorkerSlots(this.opts.cap);
    for (let k = 0; k < slots; k++) {
      const slot = (this.nextSlot + k) % slots;
      if (!this.unreclaimed.has(slot) && !this.sessions.some((s) => s.slot === slot)) {
        this.nextSlot = slot + 1;
        return slot;
      }
    }
    return -1;
  }

  private startSession(): void {
    const slot = this.allocateSlot();
    if (slot < 0) {
      // Every slot is held (a cap shared with exactly as many slots as workers, and a crash):
      // start when the dead session's slot is reclaimed.
      this.waitingStarts++;
      return;
    }
    const control = new MessageChannel();
    const data = new MessageChannel();
    const session: Session = {
      slot,
      control: Comlink.wrap<SessionControl>(nodeEndpoint(control.port1)),
      load: 0,
      outbox: [],
      outboxTransports: [],
      alive: true,
      reclaimed: false,
      thread: null,
    };
    data.port1.on('message', (events: PeerEvent[]) => {
      const first = events[0];
      if (first?.kind === 'hello') session.thread = this.piscina.threads.find((t) => t.threadId === first.threadId) ?? null;
      // A dead session's last batches still count (peers that ended, addresses learned) until it is reclaimed.
      if (!session.reclaimed) this.onEvents(session, events);
    });
    // The worker closes its end after the last batch, so 'close' here means every event was delivered.
    const dataClosed = new Promise((resolve) => data.port1.once('close', resolve));
    const init: SessionInit = { ...this.opts.session, slot, capBuffer: this.opts.cap.buffer, control: control.port2, data: data.port2 };
    const done = (this.piscina.run(init, { transferList: [control.port2, data.port2] as never }) as Promise<void>).then(
      () => this.sessionEnded(session, null),
      (err: unknown) => this.sessionEnded(session, err ?? new Error('session failed')),
    );
    this.sessions.push(session);
    this.ports.set(session, { control: control.port1, data: data.port1, done, dataClosed });
  }

  private sessionEnded(session: Session, err: unknown): void {
    const idx = this.sessions.indexOf(session);
    if (idx >= 0) this.sessions.splice(idx, 1);
    // A drained session closes its own data port once its last batch is out.
    if (err === null) return;
    const wasAlive = session.alive;
    session.alive = false;
    const ports = this.ports.get(session);
    if (!wasAlive) return;
    this.crashes++;
    this.unreclaimed.add(session.slot);
    if (!this.closing) this.startSession();
    // The thread's sockets close only as the thread tears down, after the
    // error that failed its task: reclaim its cap slots (and let its peers be
    // dialled again) once it has exited AND the kernel says the peers have
    // closed their side, so no peer ever sees our old and new connections at
    // once beyond the cap, whatever killed the thread.
    const reclaim = (): void => {
      session.reclaimed = true;
      ports?.data.close();
      ports?.control.close();
      this.opts.cap.reclaimWorker(session.slot);
      for (const c of this.opts.extraCaps ?? []) c.reclaimWorker(session.slot);
      this.unreclaimed.delete(session.slot);
      if (this.waitingStarts > 0 && !this.closing) {
        this.waitingStarts--;
        this.startSession();
      }
      const lost: string[] = [];
      const error: PlainError = { code: 'ERR_WORKER_CRASHED', message: 'the worker thread holding this peer died' };
      for (const [addr, v] of [...this.visits]) {
        if (v.session !== session) continue;
        lost.push(addr);
        this.settle(addr, v, v.info === undefined ? { error } : { info: v.info, error });
      }
      this.opts.onBatch();
      this.opts.onCrash(session.slot, lost, err);
    };
    const thread = session.thread;
    const peers: string[] = [];
    for (const [addr, v] of this.visits) if (v.session === session) peers.push(addr);
    if (thread === null || thread.threadId === -1) return void afterPeersClosed(peers).then(reclaim);
    const timer = setTimeout(finish, THREAD_EXIT_WAIT_MS);
    thread.once('exit', finish);
    let finished = false;
    function finish(): void {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      thread?.removeListener('exit', finish);
      // The thread's teardown closed its sockets (FIN): wait for the peers to close theirs.
      void afterPeersClosed(peers).then(reclaim);
    }
  }

  /**
   * Test hook: kills one session's thread, by an uncaught exception inside it
   * or by Worker.terminate() (which runs nothing in the thread).
   */
  async crashSession(session: Session, how: WorkerDeath = 'exception'): Promise<void> {
    if (how === 'terminate' && session.thread !== null) {
      await session.thread.terminate();
      return;
    }
    // The reply may be lost with the thread: the session's end is the answer too.
    await Promise.race([session.control.crash(how === 'oom' ? 'oom' : 'exception').catch(() => undefined), this.ports.get(session)?.done]);
  }

  /**
   * Drains every session (closing their sockets: their visits settle with
   * ERR_STOPPED, or reachable if their handshake had completed) and destroys
   * the threads. Visits started from now on settle at once with ERR_STOPPED;
   * any visit still unsettled at the end (a thread that died meanwhile) too.
   */
  async close(): Promise<void> {
    this.closing = true;
    const live = [...this.sessions];
    await Promise.all(
      live.map(async (s) => {
        const ports = this.ports.get(s);
        // A thread that dies meanwhile never answers drain(): its task settling is the answer.
        await Promise.race([s.control.drain().catch(() => undefined), ports?.done]);
        await ports?.done;
        if (s.alive) await ports?.dataClosed;
        s.alive = false;
        ports?.control.close();
      }),
    );
    this.ports.clear();
    for (const [addr, v] of [...this.visits]) this.settle(addr, v, v.info === undefined ? STOPPED : { info: v.info, error: STOPPED.error as PlainError });
    await this.piscina.destroy();
  }
}

/** How a worker says the peer was reached (absent: directly). */
function howOf(ev: { readonly via?: Via; readonly proxy?: string; readonly transport?: Transport; readonly v2Fallback?: boolean }): Reached | undefined {
  if (ev.via === undefined && ev.transport === undefined && ev.v2Fallback !== true) return undefined;
  return {
    via: ev.via ?? 'direct',
    ...(ev.proxy !== undefined ? { proxy: ev.proxy } : {}),
    ...(ev.transport !== undefined ? { transport: ev.transport } : {}),
    ...(ev.v2Fallback === true ? { v2Fallback: true as const } : {}),
  };
}
