/**
 * The crawler's public API on the main thread: start/stop, the seed's
 * `connectToNode` / `countPeers` on the running engine, live stats, and the
 * records (events and an async iterator).
 *
 * The parts, one concept each: the frontier (every address and where it
 * stands), the dispatcher (queued addresses → supervised peers while the cap
 * has room), the dynamic supervisor (one child per peer), the peers (child
 * specs; a visit's end → exit reason, record or requeue), the worker pool
 * (owns the in-flight peers; workers own the sockets), the recorder (summary,
 * snapshot, events, iterators).
 *
 * Decisions:
 * - ERR_MAX_PEERS / ERR_RESOURCE are our limits, not the peer's: the address
 *   is re-queued, never dropped.
 * - A crashed worker: its cap slots are reclaimed; its peers are re-queued
 *   once (a second loss records ERR_WORKER_CRASHED); node-mode children are
 *   restarted by the supervisor (transient) on another worker.
 * - stop() (Ctrl-C): no new dials; open peers are closed and recorded
 *   `failed` ERR_STOPPED (or `reachable` if their handshake had completed);
 *   queued, never-dialled addresses are recorded `skipped` reason `stopped`.
 *   Every learned address appears exactly once.
 * - Addresses outside the allow-list are recorded `skipped` reason
 *   `not-allowed` without being sent to a worker (the worker checks again at
 *   the dial site).
 * - `redis` (cluster mode, src/cluster/, loaded by dynamic import only
 *   then): the frontier is work leased from Redis, records go to Redis (the
 *   summary and the snapshot are read back from the crawl-wide record
 *   stream), the local cap follows the slots this process holds of the
 *   global cap, and the crawl ends when the shared work stream is empty.
 *   A stop hands unfinished work back instead of recording it `stopped`.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { pino, type Logger } from 'pino';
import { PeerError, RunError, SupervisorError, UsageError, type BitspreadError } from '../errors.js';
import { formatAddress, NETWORKS, parseAddress } from '../wire/index.js';
import type { AddressNetwork, NetAddress, NetworkParams } from '../wire/types.js';
import { PeerCap } from '../shared/peer-cap.js';
import { AllowList } from '../shared/allow-list.js';
import type { WorkerFigures, WorkerMemory } from '../shared/messages.js';
import { DynamicSupervisor, type ExitReason } from '../supervisor/dynamic-supervisor.js';
import { resolveDnsSeeds } from '../seeds/dns-seeds.js';
import { fixedSeeds } from '../seeds/fixed-seeds.js';
import { NetworkGate, type NetworkLoad } from './network-gate.js';
import { DIALABLE, Dispatcher } from './dispatcher.js';
import { Frontier } from './frontier.js';
import { GossipPolicy } from './gossip-policy.js';
import { resolveOptions, type CrawlOptions, type ResolvedOptions } from './options.js';
import { dialTransport } from '../shared/transport.js';
import { Peers } from './peers.js';
import { Recorder } from './recorder.js';
import { failedRecord, skippedRecord, type CrawlSummary, type NodeRecord } from './record.js';
import { SnapshotWriter } from './snapshot.js';
import { Provenance, SOURCE_DNS, SOURCE_FIXED, SOURCE_SEED, SOURCE_STORE } from './record-schema.js';
import { PeerWorkerPool, usableWorkerSlots, type WorkerDeath } from './worker-pool.js';
import { parseRedisUrl, resolveCoordinatorOptions, type CoordinatorOptions } from '../cluster/options.js';
import type { ClusterFrontier } from '../cluster/cluster-frontier.js';

/** What the crawler needs of a frontier: the local one, or the Redis-backed one of a cluster crawl. */
type CrawlFrontier = Pick<Frontier, 'add' | 'next' | 'take' | 'finish' | 'requeue' | 'has' | 'known' | 'queued'>
  // The local frontier keeps what gossip said about NODE_P2P_V2; the Redis one (cluster mode) does not, so there `auto` dials v1.
  & Partial<Pick<Frontier, 'advertisesV2'>>;

export interface CrawlStats {
  readonly elapsedMs: number;
  /** Distinct addresses learned. */
  readonly known: number;
  readonly queued: number;
  /** Sockets open right now (the shared cap's count). */
  readonly open: number;
  /** The cap on open sockets (maxPeers, or the shared cap's max). */
  readonly maxPeers: number;
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
  /** New addresses dropped because their learned-from peer, or its source netgroup, had used its budget. */
  readonly droppedPerSource: number;
  readonly droppedPerSourceGroup: number;
  /** Per network: peers in flight, its budget, the most at once. */
  readonly networks: Record<AddressNetwork, NetworkLoad>;
}

/** What is built once the crawl starts. */
interface Running {
  readonly supervisor: DynamicSupervisor;
  readonly pool: PeerWorkerPool;
  readonly peers: Peers;
  readonly dispatcher: Dispatcher;
}

export class Crawler extends EventEmitter {
  private readonly opts: ResolvedOptions;
  private readonly raw: CrawlOptions;
  private readonly net: NetworkParams;
  private readonly log: Logger;
  private readonly allow: AllowList | null;
  readonly cap: PeerCap;
  private frontier: CrawlFrontier = new Frontier();
  /** Cluster mode (`redis`): the Redis-backed frontier. */
  private cluster: ClusterFrontier | null = null;
  /** Why the crawl stopped on its own (Redis failed): start() rejects with it after a clean stop. */
  private failure: BitspreadError | null = null;
  private readonly recorder = new Recorder(this);
  private parts: Running | null = null;
  private startedAt = 0;
  private requeued = 0;
  private notStored = 0;
  private readonly gossip: GossipPolicy;
  private gossipDropsLogged = 0;
  private stopping = false;
  private started: Promise<CrawlSummary> | null = null;
  private finished: (() => void) | null = null;
  private pumpTimer: ReturnType<typeof setInterval> | null = null;
  private progressTimer: ReturnType<typeof setInterval> | null = null;
  /** Routes, hygiene and per-network budgets. */
  private readonly gate: NetworkGate;
  /** Stamped on every record (schema v2). */
  readonly crawlId: string;
  /** Who first told us each address not recorded yet, and its gossip time. */
  private readonly provenance = new Provenance();

  constructor(opts: CrawlOptions) {
    super();
    this.raw = opts;
    this.opts = resolveOptions(opts);
    this.net = NETWORKS[this.opts.network];
    this.log = opts.logger ?? pino({ level: this.opts.logLevel }, pino.destination({ dest: 2, sync: true }));
    this.allow = this.opts.allowAny ? null : AllowList.parse(this.opts.only);
    this.crawlId = opts.crawlId ?? randomUUID();
    this.gossip = new GossipPolicy(this.opts.gossip);
    this.cap = opts.cap ?? PeerCap.create(this.opts.maxPeers);
    // Each worker counts its sockets in its own cap slot: refuse now what would fail in a worker later.
    if (usableWorkerSlots(this.cap) < this.opts.workers) {
      throw new UsageError(
        'ERR_BAD_OPTION',
        `the shared cap has ${this.cap.workerSlots} worker slots, fewer than the ${this.opts.workers} workers: create it with PeerCap.create(max, ${this.opts.workers}) or more`,
      );
    }
    this.gate = new NetworkGate(this.opts, this.allow, this.cap.max, this.opts.denyList.length > 0 ? AllowList.parse(this.opts.denyList) : null);
    if (opts.redis !== undefined) checkRedisOption(opts, this.allow);
  }

  /** Runs the crawl; resolves with the summary when it completes (crawl mode) or is stopped. */
  start(): Promise<CrawlSummary> {
    this.started ??= this.run().catch(async (err: unknown) => {
      // Bad seeds, an unwritable snapshot…: end any iterator and free what was opened.
      this.stopping = true;
      this.clearTimers();
      await this.parts?.pool.close().catch(() => undefined);
      await this.recorder.snapshot?.close().catch(() => undefined);
      this.recorder.end();
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

  /**
   * Starts a supervised peer in the worker pool, in either mode, at any time
   * while the crawl runs: `connectToNode('1.2.3.4', 8333)`,
   * `connectToNode(netAddress)` or `connectToNode('[::1]:8333')` (no port:
   * the network's default). Resolves with the child's id (the address text):
   * in crawl mode once the child is started (its visit is the child), in node
   * mode once the peer is established (handshake and getaddr done), as OTP's
   * start_child returns after the child's init. Rejects with a PeerError:
   * ERR_MAX_PEERS when countPeers() is at maxPeers, ERR_NOT_ALLOWED outside
   * the allow-list, or (node mode) why the peer could not be established; a
   * SupervisorError for a peer already connected (ERR_ALREADY_STARTED) or a
   * supervisor that refuses children (ERR_MAX_CHILDREN, ERR_SUPERVISOR_STOPPED);
   * a UsageError for a bad address or a crawler not running (ERR_NOT_RUNNING).
   */
  async connectToNode(target: string | NetAddress, port?: number): Promise<string> {
    const addr = this.addressOf(target, port);
    const parsed = parseAddress(addr);
    if (!DIALABLE.has(parsed.network)) throw new UsageError('ERR_BAD_ARGUMENT', `${addr}: only IPv4 and IPv6 peers can be dialled`);
    if (this.allow !== null && !this.allow.allows(parsed)) throw new PeerError('ERR_NOT_ALLOWED', `${addr} is outside the allow-list`);
    const parts = this.parts;
    if (parts === null || this.stopping) throw new UsageError('ERR_NOT_RUNNING', 'connectToNode needs a running crawler (after start(), before the crawl ends)');
    if (parts.supervisor.has(addr) || parts.pool.has(addr)) throw new SupervisorError('ERR_ALREADY_STARTED', `${addr} is already connected`);
    const peers = this.countPeers();
    if (peers >= this.cap.max) throw new PeerError('ERR_MAX_PEERS', `countPeers() is at maxPeers (${peers} of ${this.cap.max})`);
    // The frontier knows every address of the crawl: this one is added if new, and taken out of turn.
    this.frontier.add(addr, parsed.network);
    this.frontier.take(addr);
    return new Promise<string>((resolve, reject) => {
      parts.peers.start(addr, parsed.network, { resolve, reject });
    });
  }

  /** Active supervised peers (the supervisor's active children). */
  countPeers(): number {
    return this.parts?.supervisor.countChildren().active ?? 0;
  }

  stats(): CrawlStats {
    const elapsedMs = this.startedAt === 0 ? 0 : performance.now() - this.startedAt;
    const summary = this.recorder.summary;
    const visited = summary.visited;
    const rate = elapsedMs > 0 ? (visited * 1000) / elapsedMs : 0;
    const queued = this.frontier.queued + this.gate.waitingTotal;
    const inFlight = this.parts?.pool.inFlight ?? 0;
    return {
      elapsedMs,
      known: this.frontier.known,
      queued,
      open: this.cap.open(),
      maxPeers: this.cap.max,
      inFlight,
      done: summary.total,
      reachable: summary.state('reachable'),
      failed: summary.state('failed'),
      skipped: summary.state('skipped'),
      rate,
      etaSeconds: rate > 0 ? (queued + inFlight) / rate : null,
      workers: this.parts?.pool.size ?? 0,
      workerCrashes: this.parts?.pool.crashes ?? 0,
      requeued: this.requeued,
      notStored: this.notStored,
      droppedPerSource: this.gossip.drops.perSource,
      droppedPerSourceGroup: this.gossip.drops.perSourceGroup,
      networks: this.gate.load(),
    };
  }

  /** Records as they are written, from the moment of this call; ends with the crawl. */
  [Symbol.asyncIterator](): AsyncIterator<NodeRecord> {
    return this.recorder.iterator();
  }

  /**
   * Each live worker thread's V8 heap (diagnostics: bench/memory.mjs splits
   * memory per connection into main heap / worker heap / the rest with it).
   * `collect`: a full GC in each worker first, if node runs with --expose-gc.
   */
  async workerMemory(collect = false): Promise<WorkerMemory[]> {
    const pool = this.parts?.pool;
    if (pool === undefined) return [];
    return Promise.all(pool.liveSessions().map((s) => s.control.memory(collect)));
  }

  /** Each live worker thread's own counters (open sockets, dials, outcomes, addresses reported), asked of the thread. */
  async workerFigures(): Promise<WorkerFigures[]> {
    const pool = this.parts?.pool;
    if (pool === undefined) return [];
    return Promise.all(pool.liveSessions().map((s) => s.control.figures()));
  }

  /**
   * Test hook: kills the thread of the busiest worker session (an uncaught
   * exception in it, Worker.terminate(), or running it out of heap: needs
   * workerMaxHeapMb). Resolves with the peers it held.
   */
  async crashWorker(how: WorkerDeath = 'exception'): Promise<number> {
    const pool = this.parts?.pool;
    if (pool === undefined) return 0;
    const victim = [...pool.liveSessions()].sort((a, b) => b.load - a.load)[0];
    if (victim === undefined) return 0;
    const held = victim.load;
    await pool.crashSession(victim, how);
    return held;
  }

  // ---------------------------------------------------------------------------

  private async run(): Promise<CrawlSummary> {
    this.startedAt = performance.now();
    const o = this.opts;
    this.recorder.snapshot = this.raw.out === undefined ? null : new SnapshotWriter(this.raw.out, (err) => this.onWriteError(err));
    this.log.info({ network: o.network, mode: o.mode, maxPeers: this.cap.max, workers: o.workers }, 'crawl starting');
    if (this.raw.redis !== undefined) await this.joinCluster(this.raw.redis);
    for (const seed of o.seeds) this.learnText(seed, SOURCE_SEED);
    for (const addr of this.raw.revisit ?? []) this.learnText(addr, SOURCE_STORE);
    // Built before the first await, so connectToNode works right after start().
    const parts = this.startParts();
    const done = new Promise<void>((resolve) => {
      this.finished = resolve;
    });
    if (this.stopping) this.finished?.();

    let seeded = o.seeds.length;
    if (o.dnsSeeds) {
      const dns = await resolveDnsSeeds({ network: o.network, servers: o.dnsServers, allow: this.allow, serviceBits: o.dnsServiceBits });
      for (const a of dns.addresses) this.learnText(a, SOURCE_DNS, true);
      seeded += dns.addresses.length;
      this.log.info({ addresses: dns.addresses.length, seeds: dns.seeds }, 'dns seeds resolved');
    }
    // Core dials its fixed seeds when the DNS seeds give nothing (or at once when asked).
    if (o.fixedSeeds === true || (o.fixedSeeds === 'fallback' && o.dnsSeeds && seeded === 0)) {
      const fixed = fixedSeeds(o.network);
      for (const f of fixed) this.learn(f.addr, f.network, SOURCE_FIXED, 0, true);
      this.log.info({ addresses: fixed.length }, 'fixed seeds added');
    }
    // Re-pumps when slots free up outside our view (a shared cap) or a restart raced a start.
    this.pumpTimer = setInterval(() => parts.dispatcher.pump(), 100);
    this.progressTimer = setInterval(() => this.emit('progress', this.stats()), o.progressMs);
    // On the next turn: a connectToNode made in the same turn as start() counts before the end check.
    parts.dispatcher.schedule();

    await done;
    const summary = await this.shutdown(parts);
    if (this.failure !== null) throw this.failure;
    return summary;
  }

  /** Cluster mode: connect, join (or start) the crawl; from here the frontier is Redis's. */
  private async joinCluster(redis: string | CoordinatorOptions): Promise<void> {
    const { ClusterFrontier } = await import('../cluster/cluster-frontier.js');
    const o = this.opts;
    const cluster = await ClusterFrontier.open(
      typeof redis === 'string' ? { url: redis } : redis,
      { maxPeers: o.maxPeers, start: o.seeds.length > 0 || o.dnsSeeds || o.fixedSeeds === true },
      {
        cap: this.cap,
        log: this.log,
        inFlight: () => this.parts?.pool.inFlight ?? 0,
        wake: () => this.parts?.dispatcher.schedule(),
        record: (rec) => this.record(rec),
        onRecord: (rec, line) => this.recorder.fromCluster(rec, line),
        fail: (err) => {
          this.failure ??= err;
          this.stopping = true;
          this.finished?.();
        },
      },
    );
    this.cluster = cluster;
    this.frontier = cluster;
    this.recorder.publish = (rec) => cluster.publish(rec);
    this.log.info({ generation: cluster.generation, maxPeers: cluster.max, consumer: cluster.coordinator.opts.consumer }, 'joined the cluster crawl');
  }

  private startParts(): Running {
    const o = this.opts;
    const supervisor = new DynamicSupervisor(this.raw.supervisor ?? {});
    supervisor.on('giveup', (id: string, reason: ExitReason) => this.onGiveUp(id, reason));
    // Each peer's true exit reason, for callers watching the peers they started.
    supervisor.on('exit', (id: string, reason: ExitReason, willRestart: boolean) => this.emit('exit', id, reason, willRestart));
    // Restart intensity exceeded (e.g. a network flap in node mode): the supervisor has given up, so does the crawl.
    supervisor.on('shutdown', (error: SupervisorError) => {
      this.log.error({ code: error.code, err: error.message }, 'supervisor shut down');
      this.emit('supervisorShutdown', error);
      void this.stop();
    });
    let dispatcher: Dispatcher | null = null;
    const pool = new PeerWorkerPool({
      workers: o.workers,
      cap: this.cap,
      ...(o.workerMaxHeapMb !== undefined ? { maxHeapMb: o.workerMaxHeapMb } : {}),
      session: {
        network: o.network,
        allow: o.only,
        allowAny: o.allowAny,
        mode: o.mode,
        timeouts: o.timeouts,
        tickMs: o.tickMs,
        logLevel: o.logLevel,
        reach: this.gate.reach,
        torProxyCaps: this.gate.torProxyCaps.map((c) => c.buffer),
        transport: o.transport,
      },
      extraCaps: this.gate.torProxyCaps,
      onAddrs: (from, texts, networks, times, p2pV2) => {
        let dropped: number[] | null = null;
        for (let i = 0; i < texts.length; i++) {
          if (this.learn(texts[i] as string, networks[i] as AddressNetwork, from, times[i] ?? 0, true, true, p2pV2?.[i] === true)) (dropped ??= []).push(i);
        }
        return dropped;
      },
      onBatch: () => dispatcher?.schedule(),
      onCrash: (slot, lost, err) => {
        this.log.warn({ slot, lost: lost.length, err: err instanceof Error ? err.message : String(err) }, 'worker thread died');
        this.emit('workerCrash', { slot, lost: [...lost] });
      },
    });
    const peers = new Peers({
      mode: o.mode,
      retryCrashedPeers: o.retryCrashedPeers,
      pool,
      supervisor,
      gate: this.gate,
      isStopping: () => this.stopping,
      handsBackStopped: () => this.cluster !== null,
      record: (rec) => this.record(rec),
      // --transport auto: v2 when gossip said the address advertises NODE_P2P_V2.
      transportOf: (addr) => dialTransport(o.transport, this.frontier.advertisesV2?.(addr) || undefined),
      requeue: (addr, pause) => {
        this.requeued++;
        this.frontier.requeue(addr);
        if (pause) dispatcher?.pause();
      },
    });
    dispatcher = new Dispatcher({
      frontier: this.frontier,
      cap: this.cap,
      gate: this.gate,
      pool,
      peers,
      record: (rec) => this.record(rec),
      reserved: () => {
        const c = supervisor.countChildren();
        return c.specs - c.active;
      },
      isStopping: () => this.stopping,
      afterPump: () => this.checkDone(),
    });
    this.parts = { supervisor, pool, peers, dispatcher };
    return this.parts;
  }

  private async shutdown(parts: Running): Promise<CrawlSummary> {
    const cluster = this.cluster;
    const stopped = this.stopping || this.frontier.queued > 0 || parts.pool.inFlight > 0 || (cluster !== null && !cluster.done);
    this.stopping = true;
    this.clearTimers();
    this.log.info({ inFlight: parts.pool.inFlight, queued: this.frontier.queued }, 'crawl stopping');
    // Draining closes every socket; every visit settles (and is recorded) before close() resolves.
    await parts.pool.close();
    // Cluster mode: what this process leased and did not finish goes back to the crawl (cluster.close), unrecorded.
    const parked = this.gate.drainWaiting();
    if (cluster === null) {
      for (const a of parked) this.record(skippedRecord(a, this.networkOf(a), 'stopped'));
      for (let a = this.frontier.next(); a !== undefined; a = this.frontier.next()) {
        this.record(skippedRecord(a, this.networkOf(a), 'stopped'));
      }
    }
    await parts.supervisor.stop();
    // Hands back unfinished work, gives back the slots, reads the rest of the crawl's records.
    await cluster?.close();
    const writeError = await this.recorder.snapshot?.close().then(
      () => null,
      (err: unknown) => err,
    );
    const summary = this.recorder.summary.finish({
      durationMs: Math.round(performance.now() - this.startedAt),
      // The cap records its exact high-water mark (shared caps: includes other users'; cluster: this process's).
      peakOpen: this.cap.peak(),
      workerCrashes: parts.pool.crashes,
      stopped,
      addrsDropped: { ...this.gossip.drops, maxKnown: this.notStored },
      networkBudgets: Object.fromEntries(Object.entries(this.gate.load()).map(([n, l]) => [n, { budget: l.budget, peak: l.peak }])),
    });
    this.emit('progress', this.stats());
    this.recorder.end();
    this.log.info({ total: summary.total, reachable: summary.byState.reachable, durationMs: summary.durationMs }, 'crawl finished');
    this.emit('done', summary);
    if (writeError instanceof RunError) throw new RunError(writeError.code, writeError.message, summary);
    if (writeError !== null && writeError !== undefined) throw writeError;
    return summary;
  }

  /** The snapshot cannot be written (disk full, closed pipe…): stop dialling now; start() rejects ERR_WRITE. */
  private onWriteError(err: RunError): void {
    this.log.error({ err: err.message }, 'snapshot write failed: stopping the crawl');
    this.stopping = true;
    this.finished?.();
  }

  private clearTimers(): void {
    if (this.pumpTimer !== null) clearInterval(this.pumpTimer);
    if (this.progressTimer !== null) clearInterval(this.progressTimer);
  }

  /** The address text of connectToNode's argument(s), in Core's form. */
  private addressOf(target: string | NetAddress, port: number | undefined): string {
    if (typeof target === 'string') {
      if (port === undefined) return formatAddress(parseAddress(target, this.net.defaultPort));
      if (!Number.isInteger(port) || port < 1 || port > 0xffff) throw new UsageError('ERR_BAD_ARGUMENT', `port must be 1-65535, got ${String(port)}`);
      const addr = parseAddress(target, port);
      if (addr.port !== port) throw new UsageError('ERR_BAD_ARGUMENT', `${target} already has a port: give it once`);
      return formatAddress(addr);
    }
    if (typeof target !== 'object' || target === null) throw new UsageError('ERR_BAD_ARGUMENT', 'connectToNode needs an address text, an IP and a port, or a NetAddress');
    return formatAddress(target);
  }

  private networkOf(text: string): AddressNetwork {
    try {
      return parseAddress(text).network;
    } catch {
      return 'ipv4';
    }
  }

  /** Seeds, revisits and DNS answers: canonicalise the text first. `filtered`: the `admit` hook applies (DNS). Not subject to the gossip policy. */
  private learnText(text: string, source: string, filtered = false): void {
    const addr = parseAddress(text, this.net.defaultPort);
    this.learn(formatAddress(addr), addr.network, source, 0, filtered);
  }

  /**
   * One address. `source`: the peer that sent it, or where it came from (seed, dns, fixed-seed,
   * store). `filtered`: heard from a peer, a DNS seed or the fixed seeds (the `admit` hook applies),
   * not given by the caller. `gossiped`: sent by a peer, so the gossip policy's budgets apply.
   * Returns true when it was dropped because its source was over its budget
   * (not stored: it may still be learned from another peer).
   */
  private learn(text: string, network: AddressNetwork, source: string, lastSeen: number, filtered = true, gossiped = false, p2pV2 = false): boolean {
    if (this.frontier.has(text)) {
      // Known: only a newer gossip time matters, until the address has its record;
      // and what gossip says about NODE_P2P_V2 is added (OR-ed).
      if (lastSeen > 0) this.provenance.note(text, source, lastSeen, true);
      if (p2pV2) this.frontier.add(text, network, true, true);
      return false;
    }
    if (filtered && this.raw.admit !== undefined && !this.raw.admit(text, network)) return false;
    if (this.frontier.known >= this.opts.maxKnown) {
      if (this.notStored++ === 0) this.log.warn({ maxKnown: this.opts.maxKnown }, 'maxKnown reached: further new addresses are not stored');
      return false;
    }
    if (!gossiped) {
      this.gossip.noteSeed(text, network);
    } else {
      const verdict = this.gossip.judge(text, network, source);
      if (verdict === 'over-source' || verdict === 'over-group') {
        if (this.gossipDropsLogged++ === 0) this.log.warn({ source, verdict }, 'a source went over its address budget: its further new addresses are dropped');
        return true;
      }
      if (verdict === 'bad-port' || verdict === 'port-limit') {
        // Never dialled: the record is written now (the frontier holds it as skipped).
        this.frontier.add(text, network, false);
        this.provenance.note(text, source, lastSeen);
        this.recorder.write(this.stamp(skippedRecord(text, network, verdict)));
        return false;
      }
    }
    // No route (onion/I2P/CJDNS not enabled, an I2P port): never queued, recorded now (the frontier holds it as skipped).
    const skip = this.gate.skipWhenLearned(network, portOf(text));
    if (!this.frontier.add(text, network, skip === null, p2pV2)) return false;
    this.provenance.note(text, source, lastSeen);
    if (skip !== null) this.recorder.write(this.stamp(skippedRecord(text, network, skip)));
    return false;
  }

  /** Schema v2: when, by which crawl, and from whom (docs/SCHEMA.md). */
  private stamp(rec: NodeRecord): NodeRecord {
    return { ...rec, visitedAt: new Date().toISOString(), crawlId: this.crawlId, ...this.provenance.take(rec.addr) };
  }

  /** Writes the address's record, unless it already has one. */
  private record(rec: NodeRecord): void {
    // Cluster mode: a visit cut short by our own stop goes back to the crawl instead.
    if (this.cluster !== null && this.stopping && rec.error === 'ERR_STOPPED') return;
    if (this.frontier.finish(rec.addr)) this.recorder.write(this.stamp(rec));
  }

  private onGiveUp(id: string, reason: ExitReason): void {
    this.emit('giveup', id, reason);
    const error = reason.kind === 'error' ? reason.error : undefined;
    this.record(failedRecord(id, this.networkOf(id), error?.code ?? 'ERR_STOPPED', error?.detail));
  }

  private checkDone(): void {
    if (this.opts.mode !== 'crawl' || this.stopping || this.parts === null) return;
    // Cluster mode: done when the crawl-wide work stream is empty, not when this process runs dry.
    const drained = this.cluster === null ? this.frontier.queued === 0 : this.cluster.done;
    if (drained && this.parts.pool.inFlight === 0 && this.gate.waitingTotal === 0) this.finished?.();
  }
}

/**
 * `redis` is allowed in crawl mode only, and the Redis host is a connection
 * like any other: an IP literal inside the allow-list (any host with allowAny).
 */
function checkRedisOption(opts: CrawlOptions, allow: AllowList | null): void {
  const redis = opts.redis as string | CoordinatorOptions;
  const url = typeof redis === 'string' ? redis : redis?.url;
  if (typeof url !== 'string') throw new UsageError('ERR_BAD_OPTION', 'redis: expected a redis:// URL');
  if ((opts.mode ?? 'crawl') !== 'crawl') throw new UsageError('ERR_BAD_OPTION', 'redis: a multi-process crawl runs in crawl mode only');
  resolveCoordinatorOptions(typeof redis === 'string' ? { url } : redis);
  const { host, port } = parseRedisUrl(url);
  if (allow === null) return;
  let parsed: NetAddress;
  try {
    parsed = parseAddress(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  } catch {
    throw new UsageError('ERR_BAD_OPTION', `redis: the host must be an IP address inside --only (names are not resolved), got '${host}'`);
  }
  if (!allow.allows(parsed)) throw new UsageError('ERR_BAD_OPTION', `redis: ${host} is outside the allow-list (--only)`);
}

/** The port of an address text (`host:port`, `[v6]:port`); 0 when there is none. */
function portOf(text: string): number {
  const port = Number(text.slice(text.lastIndexOf(':') + 1));
  return Number.isInteger(port) ? port : 0;
}
