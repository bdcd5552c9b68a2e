/**
 * Main-thread side of the worker pool: a Piscina pool of N threads, each
 * running ONE session task that holds many sockets. Each session gets two
 * MessageChannels through the task's transferList: a comlink control plane
 * and a plain data plane for batched peer events.
 *
 * When a thread dies (uncaught exception, terminate), its session task
 * rejects: we reclaim its cap slots, report every peer it held as lost
 * (ERR_WORKER_CRASHED) and start a replacement session, which Piscina places
 * on the replacement thread.
 */
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
import type { PeerEvent, SessionCommand, SessionControl, SessionInit, SessionResult } from '../shared/messages.js';

/**
 * PeerCap worker slots sessions cycle through: 0..254 of the cap's default
 * 256. Slot 255 is MAIN_THREAD_CAP_SLOT (connectToNode on the caller's thread).
 */
const CAP_WORKER_SLOTS = 255;

/** Longest wait for a crashed thread to exit before its cap slots are reclaimed anyway. */
const THREAD_EXIT_WAIT_MS = 2000;

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
  /** Peers dispatched to this session and not yet ended. */
  readonly peers: Set<string>;
  /** Addresses waiting for the next batched dial command to this session. */
  outbox: string[];
  /** False once its thread died (or it drained): no new peers go to it. */
  alive: boolean;
  /** True once a dead session's peers were handed back; its events are ignored from then on. */
  reclaimed: boolean;
  /** The thread it runs on, once its 'hello' arrived (to wait for its exit after a crash). */
  thread: Worker | null;
}

export interface PoolOptions {
  readonly workers: number;
  readonly cap: PeerCap;
  /** Everything in SessionInit except the per-session fields. */
  readonly session: Omit<SessionInit, 'slot' | 'capBuffer' | 'control' | 'data'>;
  /** A batch of peer events from one session. */
  onEvents(session: Session, events: readonly PeerEvent[]): void;
  /** A session's thread died; `lost` are the peers it held (already removed from it). */
  onCrash(session: Session, lost: readonly string[], error: unknown): void;
}

export class PeerWorkerPool {
  private readonly piscina: Piscina;
  private readonly opts: PoolOptions;
  private readonly sessions: Session[] = [];
  private readonly ports = new Map<Session, { control: MessagePort; data: MessagePort; done: Promise<unknown>; dataClosed: Promise<unknown> }>();
  private nextSlot = 0;
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
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
    for (let i = 0; i < opts.workers; i++) this.startSession();
  }

  get size(): number {
    return this.sessions.filter((s) => s.alive).length;
  }

  /** Least-loaded live session, or null when none is alive. */
  pick(): Session | null {
    const loads = this.sessions.map((s) => (s.alive ? s.peers.size : Infinity));
    const i = pickWorker(loads, this.rotate++ % Math.max(1, loads.length));
    return i < 0 ? null : (this.sessions[i] ?? null);
  }

  /**
   * Queues a dial on `session`; every dial queued in one event-loop turn goes
   * out in one message on the data port (no reply: a draining session answers
   * each refused address with an 'end' event, ERR_STOPPED; a dead one is
   * reported by its crash handling).
   */
  dial(session: Session, addr: string): void {
    session.outbox.push(addr);
    if (session.outbox.length > 1) return;
    queueMicrotask(() => {
      const batch = session.outbox;
      session.outbox = [];
      if (!session.alive || batch.length === 0) return;
      this.send(session, { op: 'dial', addrs: batch });
    });
  }

  /** Closes one peer (its outcome arrives as an 'end' event, ERR_STOPPED). */
  drop(session: Session, addr: string): void {
    if (session.alive) this.send(session, { op: 'drop', addr });
  }

  private send(session: Session, cmd: SessionCommand): void {
    this.ports.get(session)?.data.postMessage(cmd);
  }

  liveSessions(): readonly Session[] {
    return this.sessions.filter((s) => s.alive);
  }

  private allocateSlot(): number {
    // A fresh slot per session: a dead session's slot is reclaimed, never reused while its count may still be settling.
    for (let k = 0; k < CAP_WORKER_SLOTS; k++) {
      const slot = (this.nextSlot + k) % CAP_WORKER_SLOTS;
      if (!this.sessions.some((s) => s.slot === slot)) {
        this.nextSlot = slot + 1;
        return slot;
      }
    }
    throw new Error('no free peer-cap worker slot');
  }

  private startSession(): void {
    const control = new MessageChannel();
    const data = new MessageChannel();
    const slot = this.allocateSlot();
    const session: Session = {
      slot,
      control: Comlink.wrap<SessionControl>(nodeEndpoint(control.port1)),
      peers: new Set(),
      outbox: [],
      alive: true,
      reclaimed: false,
      thread: null,
    };
    data.port1.on('message', (events: PeerEvent[]) => {
      const first = events[0];
      if (first?.kind === 'hello') session.thread = this.piscina.threads.find((t) => t.threadId === first.threadId) ?? null;
      // A dead session's last batches still count (peers that ended, addresses learned) until it is reclaimed.
      if (!session.reclaimed) this.opts.onEvents(session, events);
    });
    // The worker closes its end after the last batch, so 'close' here means every event was delivered.
    const dataClosed = new Promise((resolve) => data.port1.once('close', resolve));
    const init: SessionInit = { ...this.opts.session, slot, capBuffer: this.opts.cap.buffer, control: control.port2, data: data.port2 };
    const done = (this.piscina.run(init, { transferList: [control.port2, data.port2] as never }) as Promise<SessionResult>).then(
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
    if (!this.closing) this.startSession();
    // The thread's sockets close only as the thread tears down, after the
    // error that failed its task: reclaim its cap slots (and let its peers be
    // dialled again) once it has exited, so no peer ever sees our old and new
    // connections at once beyond the cap.
    const reclaim = (): void => {
      session.reclaimed = true;
      ports?.data.close();
      ports?.control.close();
      this.opts.cap.reclaimWorker(session.slot);
      const lost = [...session.peers];
      session.peers.clear();
      this.opts.onCrash(session, lost, err);
    };
    const thread = session.thread;
    if (thread === null || thread.threadId === -1) return reclaim();
    const timer = setTimeout(finish, THREAD_EXIT_WAIT_MS);
    thread.once('exit', finish);
    let finished = false;
    function finish(): void {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      thread?.removeListener('exit', finish);
      // One more moment for the peers to notice the closed sockets.
      setTimeout(reclaim, 20);
    }
  }

  /**
   * Test hook: kills one session's thread, by an uncaught exception inside it
   * or by Worker.terminate() (which runs nothing in the thread).
   */
  async crashSession(session: Session, how: 'exception' | 'terminate' = 'exception'): Promise<void> {
    if (how === 'terminate' && session.thread !== null) {
      await session.thread.terminate();
      return;
    }
    // The reply may be lost with the thread: the session's end is the answer too.
    await Promise.race([session.control.crash().catch(() => undefined), this.ports.get(session)?.done]);
  }

  /** Drains every session (closing their sockets) and destroys the threads. */
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
    await this.piscina.destroy();
  }
}
