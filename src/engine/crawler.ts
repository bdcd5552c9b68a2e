/**
 * The main-thread engine. It owns the frontier (what to dial next), the peer
 * cap, the dynamic supervisor (one child per peer connection, id = the
 * address text) and the worker pool (which owns the sockets).
 *
 * An address flows: frontier.next() → pump() (cap has room) → supervisor
 * child → runPeer() → least-loaded worker session (control.connect) → worker
 * dials, handshakes, getaddr → batched events on the data port → learn() into
 * the frontier + one snapshot record per address → the child exits.
 *
 * Decisions:
 * - ERR_MAX_PEERS / ERR_RESOURCE are our limits, not the peer's: the address
 *   is re-queued, never dropped.
 * - A crashed worker: its cap slots are reclaimed; in crawl mode its peers are
 *   re-queued once (a second loss records ERR_WORKER_CRASHED); in node mode
 *   the supervisor restarts them (transient) on another worker.
 * - stop() (Ctrl-C): no new dials; open peers are closed and recorded
 *   `failed` ERR_STOPPED (or `reachable` if their handshake had completed);
 *   queued, never-dialled addresses are recorded `skipped` reason `stopped`.
 *   Every learned address appears exactly once.
 * - Addresses outside the allow-list are recorded `skipped` reason
 *   `not-allowed` without being sent to a worker (the worker checks again at
 *   the dial site).
 */
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import type { PlainError } from '../errors.js';
import { formatAddress, NETWORKS, parseAddress } from '../wire/index.js';
import type { AddressNetwork, NetworkParams } from '../wire/types.js';
import { PeerCap } from '../shared/peer-cap.js';
import { DynamicSupervisor, type ExitReason } from '../supervisor/dynamic-supervisor.js';
import { Frontier } from './frontier.js';
import { AllowList } from '../shared/allow-list.js';
import { resolveDnsSeeds } from '../seeds/dns-seeds.js';
import { resolveOptions, type CrawlOptions, type ResolvedOptions } from './options.js';
import { REQUEUE_CODES, type PeerEvent, type PeerSuccessInfo, type WorkerMemory } from '../shared/messages.js';
import { failedRecord, reachableRecord, skippedRecord, SummaryCollector, type CrawlSummary, type NodeRecord } from './record.js';
import { SnapshotWriter } from './snapshot.js';
import { PeerWorkerPool, type Session } from './worker-pool.js';

export interface CrawlStats {
  readonly elapsedMs: number;
  /** Distinct addresses learned. */
  readonly known: number;
  readonly queued: number;
  /** Sockets open right now (the shared cap's count). */
  readonly open: number;
  /** Peers handed to workers and not yet ended. */
  readonly inFlight: number;
  /** Addresses with a final record. */
  readonly done: number;
  readonly reachable: number;
  readonly failed: number;
  readonly skipped: number;
  /** Visits (reachable + failed) per second since start. */
  readonly rate: number;
  /** Seconds until the queue drains at the current rate, or null when unknown. */
  readonly etaSeconds: number | null;
  readonly workers: number;
  readonly workerCrashes: number;
  readonly requeued: number;
  /** Addresses received after `maxKnown` was reached, not stored (duplicates included, except those a worker had already reported: each worker reports an address once while it remembers it). */
  readonly notStored: number;
}

interface InFlight {
  readonly addr: string;
  readonly network: AddressNetwork;
  readonly session: Session;
  readonly resolve: (reason: ExitReason) => void;
}

const DIALABLE: ReadonlySet<AddressNetwork> = new Set(['ipv4', 'ipv6']);
/** Dispatch pause after a worker refused a dial for our own limits (EMFILE, full shared cap). */
const REQUEUE_PAUSE_MS = 50;

export class Crawler extends EventEmitter {
  private readonly opts: ResolvedOptions;
  private readonly raw: CrawlOptions;
  private readonly net: NetworkParams;
  private readonly log: Logger;
  private readonly allow: AllowList | null;
  readonly cap: PeerCap;
  private readonly frontier = new Frontier();
  private readonly summary = new SummaryCollector();
  private readonly written = new Set<string>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly crashRetried = new Set<string>();
  private supervisor: DynamicSupervisor | null = null;
  private pool: PeerWorkerPool | null = null;
  private snapshot: SnapshotWriter | null = null;
  private startedAt = 0;
  private requeued = 0;
  private notStored = 0;
  /** No dispatch before this (performance.now() ms): set after a resource/cap refusal. */
  private pauseUntil = 0;
  private stopping = false;
  private started: Promise<CrawlSummary> | null = null;
  private finished: (() => void) | null = null;
  private pumpScheduled = false;
  private pumpTimer: ReturnType<typeof setInterval> | null = null;
  private progressTimer: ReturnType<typeof setInterval> | null = null;
  private readonly subscribers = new Set<(rec: NodeRecord | null) => void>();

  constructor(opts: CrawlOptions) {
    super();
    this.raw = opts;
    this.opts = resolveOptions(opts);
    this.net = NETWORKS[this.opts.network];
    this.log = opts.logger ?? pino({ level: this.opts.logLevel });
    this.allow = this.opts.allowAny ? null : AllowList.parse(this.opts.only);
    this.cap = opts.cap ?? PeerCap.create(this.opts.maxPeers);
  }

  /** Runs the crawl; resolves with the summary when it completes (crawl mode) or is stopped. */
  start(): Promise<CrawlSummary> {
    this.started ??= this.run().catch(async (err: unknown) => {
      // Bad seeds, an unwritable snapshot…: end any iterator and free what was opened.
      this.stopping = true;
      if (this.pumpTimer !== null) clearInterval(this.pumpTimer);
      if (this.progressTimer !== null) clearInterval(this.progressTimer);
      await this.pool?.close().catch(() => undefined);
      await this.snapshot?.close().catch(() => undefined);
      for (const s of this.subscribers) s(null);
      throw err;
    });
    return this.started;
  }

  /** Stops dialling, closes every socket, completes the snapshot. Resolves when done. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.started === null) return;
    this.finished?.();
    await this.started.catch(() => undefined);
  }

  countPeers(): { open: number; inFlight: number; max: number } {
    return { open: this.cap.open(), inFlight: this.inFlight.size, max: this.cap.max };
  }

  stats(): CrawlStats {
    const elapsedMs = this.startedAt === 0 ? 0 : performance.now() - this.startedAt;
    const visited = this.summary.visited;
    const rate = elapsedMs > 0 ? (visited * 1000) / elapsedMs : 0;
    const queued = this.frontier.queued;
    return {
      elapsedMs,
      known: this.frontier.known,
      queued,
      open: this.cap.open(),
      inFlight: this.inFlight.size,
      done: this.summary.total,
      reachable: this.summary.state('reachable'),
      failed: this.summary.state('failed'),
      skipped: this.summary.state('skipped'),
      rate,
      etaSeconds: rate > 0 ? (queued + this.inFlight.size) / rate : null,
      workers: this.pool?.size ?? 0,
      workerCrashes: this.pool?.crashes ?? 0,
      requeued: this.requeued,
      notStored: this.notStored,
    };
  }

  /** Records as they are written, from the moment of this call; ends with the crawl. */
  [Symbol.asyncIterator](): AsyncIterator<NodeRecord> {
    const queue: Array<NodeRecord | null> = [];
    let wake: (() => void) | null = null;
    const push = (rec: NodeRecord | null): void => {
      queue.push(rec);
      wake?.();
      wake = null;
    };
    this.subscribers.add(push);
    const unsubscribe = (): void => {
      this.subscribers.delete(push);
    };
    return {
      next: async (): Promise<IteratorResult<NodeRecord>> => {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        const rec = queue.shift() as NodeRecord | null;
        if (rec === null) {
          unsubscribe();
          queue.push(null); // stay done
          return { done: true, value: undefined };
        }
        return { done: false, value: rec };
      },
      return: async (): Promise<IteratorResult<NodeRecord>> => {
        unsubscribe();
        return { done: true, value: undefined };
      },
    };
  }

  /**
   * Each live worker thread's V8 heap (diagnostics: bench/memory.mjs splits
   * memory per connection into main heap / worker heap / the rest with it).
   * `collect`: a full GC in each worker first, if node runs with --expose-gc.
   */
  async workerMemory(collect = false): Promise<WorkerMemory[]> {
    const pool = this.pool;
    if (pool === null) return [];
    return Promise.all(pool.liveSessions().map((s) => s.control.memory(collect)));
  }

  /**
   * Test hook: kills the thread of the busiest worker session (an uncaught
   * exception in it, or Worker.terminate()). Resolves with the peers it held.
   */
  async crashWorker(how: 'exception' | 'terminate' = 'exception'): Promise<number> {
    const pool = this.pool;
    if (pool === null) return 0;
    const sessions = [...pool.liveSessions()].sort((a, b) => b.peers.size - a.peers.size);
    const victim = sessions[0];
    if (victim === undefined) return 0;
    const held = victim.peers.size;
    await pool.crashSession(victim, how);
    return held;
  }

  // ---------------------------------------------------------------------------

  private async run(): Promise<CrawlSummary> {
    this.startedAt = performance.now();
    const o = this.opts;
    this.snapshot = this.raw.out === undefined ? null : new SnapshotWriter(this.raw.out);
    this.log.info({ network: o.network, mode: o.mode, maxPeers: this.cap.max, workers: o.workers }, 'crawl starting');

    for (const seed of o.seeds) this.learnText(seed);
    if (o.dnsSeeds) {
      const dns = await resolveDnsSeeds(this.net.dnsSeeds, this.net.defaultPort, { servers: o.dnsServers, allow: this.allow });
      for (const a of dns.addresses) this.learnText(a);
      this.log.info({ addresses: dns.addresses.length, failures: dns.failures }, 'dns seeds resolved');
    }

    const done = new Promise<void>((resolve) => {
      this.finished = resolve;
    });
    if (this.stopping) this.finished?.();

    this.supervisor = new DynamicSupervisor(this.raw.supervisor ?? {});
    this.supervisor.on('giveup', (id: string, reason: ExitReason) => this.onGiveUp(id, reason));
    // Restart intensity exceeded (a network flap in node mode): the supervisor is gone, so is the crawl.
    this.supervisor.on('shutdown', (error) => {
      this.log.error({ err: error.message }, 'supervisor shut down');
      void this.stop();
    });
    this.pool = new PeerWorkerPool({
      workers: o.workers,
      cap: this.cap,
      session: {
        network: o.network,
        allow: o.only,
        allowAny: o.allowAny,
        mode: o.mode,
        timeouts: o.timeouts,
        tickMs: o.tickMs,
        logLevel: o.logLevel,
      },
      onEvents: (session, events) => this.onEvents(session, events),
      onCrash: (session, lost, err) => this.onCrash(session, lost, err),
    });
    // Re-pumps when slots free up outside our view (a shared cap) or a restart raced a start.
    this.pumpTimer = setInterval(() => this.pump(), 100);
    this.progressTimer = setInterval(() => this.emit('progress', this.stats()), o.progressMs);
    this.pump();
    this.checkDone();

    await done;
    return this.shutdown();
  }

  private async shutdown(): Promise<CrawlSummary> {
    const stopped = this.stopping || this.frontier.queued > 0 || this.inFlight.size > 0;
    this.stopping = true;
    if (this.pumpTimer !== null) clearInterval(this.pumpTimer);
    if (this.progressTimer !== null) clearInterval(this.progressTimer);
    this.log.info({ inFlight: this.inFlight.size, queued: this.frontier.queued }, 'crawl stopping');
    // Draining closes every socket; their 'end' events (ERR_STOPPED) arrive before close() resolves.
    await this.pool?.close();
    for (const p of [...this.inFlight.values()]) {
      this.inFlight.delete(p.addr);
      this.writeOnce(failedRecord(p.addr, p.network, 'ERR_STOPPED'));
      p.resolve({ kind: 'shutdown' });
    }
    for (let a = this.frontier.next(); a !== undefined; a = this.frontier.next()) {
      this.writeOnce(skippedRecord(a, this.networkOf(a), 'stopped'));
    }
    await this.supervisor?.stop();
    await this.snapshot?.close();
    const summary = this.summary.finish({
      durationMs: Math.round(performance.now() - this.startedAt),
      // The cap records its exact high-water mark (shared caps: includes other users').
      peakOpen: this.cap.peak(),
      workerCrashes: this.pool?.crashes ?? 0,
      stopped,
    });
    this.emit('progress', this.stats());
    for (const s of this.subscribers) s(null);
    this.log.info({ total: summary.total, reachable: summary.byState.reachable, durationMs: summary.durationMs }, 'crawl finished');
    this.emit('done', summary);
    return summary;
  }

  private networkOf(text: string): AddressNetwork {
    try {
      return parseAddress(text).network;
    } catch {
      return 'ipv4';
    }
  }

  /** Seeds and DNS answers: canonicalise the text first. */
  private learnText(text: string): void {
    const addr = parseAddress(text, this.net.defaultPort);
    this.learn(formatAddress(addr), addr.network);
  }

  private learn(text: string, network: AddressNetwork): void {
    if (this.frontier.known >= this.opts.maxKnown && !this.frontier.has(text)) {
      if (this.notStored++ === 0) this.log.warn({ maxKnown: this.opts.maxKnown }, 'maxKnown reached: further new addresses are not stored');
      return;
    }
    if (!this.frontier.add(text, network)) return;
    if (!DIALABLE.has(network)) this.writeOnce(skippedRecord(text, network, 'non-ip'));
  }

  private writeOnce(rec: NodeRecord): void {
    if (this.written.has(rec.addr)) return;
    this.written.add(rec.addr);
    this.summary.add(rec);
    this.snapshot?.write(rec);
    this.emit('node', rec);
    for (const s of this.subscribers) s(rec);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
      this.checkDone();
    });
  }

  /** Dials queued addresses while the cap has room. */
  private pump(): void {
    if (this.stopping || this.pool === null || this.supervisor === null) return;
    if (this.pauseUntil !== 0 && performance.now() < this.pauseUntil) return;
    const max = this.cap.max;
    while (this.inFlight.size < max && this.cap.open() < max) {
      const addr = this.frontier.next();
      if (addr === undefined) break;
      if (this.written.has(addr)) continue;
      const parsed = parseAddress(addr);
      const network = parsed.network;
      if (!DIALABLE.has(network)) continue; // recorded skipped when learned
      if (this.allow !== null && !this.allow.allows(parsed)) {
        this.writeOnce(skippedRecord(addr, network, 'not-allowed'));
        continue;
      }
      const started = this.supervisor.startChild({
        id: addr,
        restart: this.opts.mode === 'node' ? 'transient' : 'temporary',
        start: () => this.runPeer(addr, network),
        // No AbortSignal per peer (one per dial was a measurable share of the main thread's CPU).
        terminate: () => this.dropPeer(addr),
      });
      if (!started.ok) {
        // The previous child of this address has not been removed yet: try again on the next pump.
        this.frontier.requeue(addr);
        break;
      }
    }
  }

  /** One supervisor child: a peer connection on some worker. Settles when it ends. */
  private runPeer(addr: string, network: AddressNetwork): Promise<ExitReason> {
    return new Promise<ExitReason>((resolve) => {
      const pool = this.pool;
      const session = this.stopping || pool === null ? null : pool.pick();
      if (session === null) {
        this.writeOnce(failedRecord(addr, network, 'ERR_STOPPED'));
        return resolve({ kind: 'shutdown' });
      }
      this.inFlight.set(addr, { addr, network, session, resolve });
      session.peers.add(addr);
      pool?.dial(session, addr);
    });
  }

  /** The supervisor terminates a child: close that peer (its 'end' event settles the child). */
  private dropPeer(addr: string): void {
    const p = this.inFlight.get(addr);
    if (p !== undefined) this.pool?.drop(p.session, addr);
  }

  private onEvents(session: Session, events: readonly PeerEvent[]): void {
    for (const ev of events) {
      switch (ev.kind) {
        case 'addrs':
          for (let i = 0; i < ev.texts.length; i++) this.learn(ev.texts[i] as string, ev.networks[i] as AddressNetwork);
          break;
        case 'ready':
          this.writeOnce(reachableRecord(ev.addr, this.inFlight.get(ev.addr)?.network ?? this.networkOf(ev.addr), ev.info));
          break;
        case 'end':
          this.endPeer(session, ev.addr, ev.info, ev.error);
          break;
        default:
          break;
      }
    }
    this.schedulePump();
  }

  private endPeer(session: Session, addr: string, info: PeerSuccessInfo | undefined, error: PlainError | undefined): void {
    const p = this.inFlight.get(addr);
    if (p === undefined || p.session !== session) return; // stale: already settled (crash, stop)
    this.inFlight.delete(addr);
    session.peers.delete(addr);
    if (error !== undefined && REQUEUE_CODES.has(error.code) && !this.stopping) {
      this.requeued++;
      this.frontier.requeue(addr);
      // Out of descriptors, or the shared cap is full: redialling at once would spin.
      this.pauseUntil = performance.now() + REQUEUE_PAUSE_MS;
      p.resolve({ kind: 'normal' });
      return;
    }
    if (info !== undefined) this.writeOnce(reachableRecord(addr, p.network, info));
    else this.writeOnce(failedRecord(addr, p.network, error?.code ?? 'ERR_PEER_CLOSED', error?.detail));
    if (error === undefined) p.resolve({ kind: 'normal' });
    else if (error.code === 'ERR_STOPPED') p.resolve({ kind: 'shutdown' });
    // Node mode restarts (transient) only peers that had been up: a dead address is not retried forever.
    else if (this.opts.mode === 'node' && info === undefined) p.resolve({ kind: 'normal' });
    else p.resolve({ kind: 'error', error });
  }

  private onCrash(session: Session, lost: readonly string[], err: unknown): void {
    this.log.warn({ slot: session.slot, lost: lost.length, err: err instanceof Error ? err.message : String(err) }, 'worker thread died');
    this.emit('workerCrash', { slot: session.slot, lost: [...lost] });
    const error: PlainError = { code: 'ERR_WORKER_CRASHED', message: 'the worker thread holding this peer died' };
    for (const addr of lost) {
      const p = this.inFlight.get(addr);
      if (p === undefined || p.session !== session) continue;
      this.inFlight.delete(addr);
      if (this.opts.mode === 'crawl' && this.opts.retryCrashedPeers && !this.crashRetried.has(addr) && !this.stopping) {
        this.crashRetried.add(addr);
        this.requeued++;
        this.frontier.requeue(addr);
      } else if (this.opts.mode === 'crawl') {
        this.writeOnce(failedRecord(addr, p.network, 'ERR_WORKER_CRASHED'));
      }
      p.resolve({ kind: 'error', error });
    }
    this.schedulePump();
  }

  private onGiveUp(id: string, reason: ExitReason): void {
    this.emit('giveup', id, reason);
    const code = reason.kind === 'error' ? reason.error.code : 'ERR_STOPPED';
    this.writeOnce(failedRecord(id, this.networkOf(id), code, reason.kind === 'error' ? reason.error.detail : undefined));
  }

  private checkDone(): void {
    if (this.opts.mode !== 'crawl' || this.stopping) return;
    if (this.frontier.queued === 0 && this.inFlight.size === 0) this.finished?.();
  }
}
