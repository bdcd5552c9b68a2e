/**
 * The engine's side of a multi-process crawl: a frontier whose queue is
 * work leased from Redis, plus the hooks the Crawler calls in cluster mode.
 * Loaded only when `redis` is set (dynamic import), so the single-process
 * path never loads the Redis client.
 *
 * What it does, on timers and on demand (each step one FCALL, see functions.ts):
 * - add(): dialable addresses learned locally are sent to the shared frontier
 *   (deduplicated there) in one call per event-loop turn.
 * - next(): hands out leased addresses. When the local queue runs low it
 *   leases more entries (a dead holder's first, then new ones).
 * - finish(): a leased address reached its final state here; when every
 *   address of an entry has, the entry is acknowledged. Records, learned
 *   addresses and acks leave in that order on one connection, so by the time
 *   an entry is acked what its visits learned is already in Redis: the crawl
 *   is done exactly when the work stream is empty.
 * - publish(): final records go to Redis (first record of an address wins).
 *   Every process tails the crawl-wide record stream: its summary and its
 *   snapshot (`out`) are the whole crawl's.
 * - The cap gate: this process holds slots of the global cap (Redis) and
 *   sets its local SharedArrayBuffer cap to what it holds, so the local cap
 *   is always beneath its share of the global one. It asks for what it can
 *   use (queued + in flight, up to a fair share) and gives back what it does
 *   not need, lowering the local cap before it releases.
 * - A heartbeat renews its leases (work entries and slots). If Redis cannot
 *   be reached for `timeoutMs` (< leaseMs / 2) the crawl stops with
 *   ERR_REDIS_UNAVAILABLE before any of its slots could expire elsewhere.
 */
import type { Logger } from 'pino';
import { ClusterError, isBitspreadError } from '../errors.js';
import type { AddressNetwork } from '../wire/types.js';
import type { PeerCap } from '../shared/peer-cap.js';
import { failedRecord, type NodeRecord } from '../engine/record.js';
import { recordToLine } from '../engine/snapshot.js';
import { Coordinator, type CapResult, type CoordinatorOptions, type Lease } from './coordinator.js';

export interface ClusterHooks {
  /** This process's local cap: its max follows the slots held in Redis. */
  readonly cap: PeerCap;
  /** Peers handed to workers and not ended (the demand for slots, with the queue). */
  inFlight(): number;
  /** New work or new slots: dispatch. Also called when the crawl is done. */
  wake(): void;
  /** An address leased here turned out poisoned: record it (the crawler's record(), which finishes and publishes it). */
  record(rec: NodeRecord): void;
  /** A crawl-wide record arrived from Redis (for the summary and the snapshot). */
  onRecord(rec: NodeRecord, line: string): void;
  /** Redis failed for good: stop the crawl with this error. */
  fail(err: ClusterError): void;
  readonly log: Logger;
}

export interface ClusterStartOptions {
  /** The global cap, if this process starts the crawl. */
  readonly maxPeers: number;
  /** True when this process brings seeds: it may start a new crawl. False: join a running one. */
  readonly start: boolean;
}

/** Dispatch, lease and slot-gate polling while there is something to do. */
const POLL_MS = 100;
/** Records read from the stream per XRANGE. */
const TAIL_PAGE = 1000;
const TAIL_MS = 200;
/** The slots' lease is renewed (and the fair share re-read) at least this often. */
const BEAT_MS = 250;
/** Slots this process does not need are kept this long while no other process wants them (demand dips between leases). */
const SURPLUS_HOLD_MS = 500;
/** Seconds a finished crawl's keys stay readable (late processes, tails). */
export const FINISHED_TTL_SECONDS = 3600;

export class ClusterFrontier {
  readonly coordinator: Coordinator;
  private readonly hooks: ClusterHooks;
  /** Every address this process has heard of or been leased (the local part of the dedupe). */
  private readonly seen = new Set<string>();
  /** Addresses this process wrote a final record for. */
  private readonly finished = new Set<string>();
  private queue: string[] = [];
  private head = 0;
  private readonly entryOf = new Map<string, string>();
  private readonly remaining = new Map<string, number>();
  /** Addresses of entries another process took over: skipped if still queued here. */
  private readonly lostAddrs = new Set<string>();
  private pendingLearn: string[] = [];
  private pendingRecords: Array<[string, string]> = [];
  private pendingAcks: string[] = [];
  private flushChain: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private leasing = false;
  private lastLease = 0;
  private held = 0;
  private fair = 0;
  private gating = false;
  private lastBeat = 0;
  /** Since when demand has stayed below the slots held (performance.now()). */
  private surplusSince = 0;
  /** When the local cap was last lowered below the slots held (performance.now()). */
  private loweredAt = 0;
  private tailId = '0-0';
  private tailBusy = false;
  private tailChain: Promise<void> = Promise.resolve();
  private timers: Array<ReturnType<typeof setInterval>> = [];
  private failed: ClusterError | null = null;
  private closed = false;
  /** Records this process sent (the crawl keeps the first of each address). */
  published = 0;
  /** Work entries leased by this process (taken over from dead holders included). */
  leased = 0;
  /** Crawl-wide done (seen in a reply). */
  done = false;
  /** The crawl's global cap. */
  max = 0;
  generation = 0;

  private constructor(coordinator: Coordinator, hooks: ClusterHooks) {
    this.coordinator = coordinator;
    this.hooks = hooks;
  }

  static async open(options: CoordinatorOptions, start: ClusterStartOptions, hooks: ClusterHooks): Promise<ClusterFrontier> {
    const coordinator = await Coordinator.connect(options);
    const f = new ClusterFrontier(coordinator, hooks);
    try {
      const joined = await coordinator.join(start.start, start.maxPeers);
      if (!joined.joined) {
        throw new ClusterError('ERR_REDIS_STATE_LOST', `there is no crawl '${coordinator.opts.name}' to join: give --seed to start one`);
      }
      f.generation = joined.generation;
      f.max = joined.max;
      f.done = joined.done;
      if (start.start && start.maxPeers !== joined.max) {
        hooks.log.warn({ maxPeers: start.maxPeers, crawlMax: joined.max }, 'joined a running crawl: its global cap applies');
      }
    } catch (err) {
      await coordinator.close();
      throw err;
    }
    hooks.cap.setMax(0);
    const o = coordinator.opts;
    f.timers.push(setInterval(() => f.tick(), POLL_MS));
    f.timers.push(setInterval(() => f.heartbeat(), Math.max(50, Math.floor(o.leaseMs / 4))));
    f.timers.push(setInterval(() => void f.tail(), TAIL_MS));
    f.tick();
    return f;
  }

  // --- the Frontier surface the Crawler uses -------------------------------------

  /**
   * Learns an address. Returns true if this process had not seen it (the
   * crawler then records a no-route one as skipped). Dialable ones go to the
   * shared frontier (deduplicated there).
   */
  add(text: string, network: AddressNetwork, dial: boolean = network === 'ipv4' || network === 'ipv6'): boolean {
    if (this.seen.has(text)) return false;
    this.seen.add(text);
    if (dial) {
      this.pendingLearn.push(text);
      this.scheduleFlush();
    }
    return true;
  }

  next(): string | undefined {
    while (this.head < this.queue.length) {
      const a = this.queue[this.head++] as string;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (this.lostAddrs.delete(a)) continue;
      if (this.finished.has(a)) {
        // Recorded here already (leased again after a hand-back): its entry only needs the ack.
        this.settled(a);
        continue;
      }
      // Only the lease here, never the gate: between next() and the dial the address is in neither the
      // queue nor in flight, and a gate run then would see no demand and give the slot back.
      if (this.queued < this.lowWater()) this.maybeLease();
      return a;
    }
    this.maybeLease();
    return undefined;
  }

  /** connectToNode's address, taken out of turn: it is not leased, so nothing to acknowledge later. */
  take(text: string): boolean {
    return this.seen.has(text) && !this.finished.has(text);
  }

  /**
   * The address gets its final record here: true the first time (the crawler
   * then writes and publishes it). Its work entry is acknowledged once every
   * address of the entry has been finished.
   */
  finish(text: string): boolean {
    if (this.finished.has(text)) return false;
    this.finished.add(text);
    this.settled(text);
    return true;
  }

  requeue(text: string): void {
    if (this.head > 0) this.queue[--this.head] = text;
    else this.queue.unshift(text);
  }

  has(text: string): boolean {
    return this.seen.has(text);
  }

  get known(): number {
    return this.seen.size;
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  // --- cluster hooks ---------------------------------------------------------------

  /** A leased address reached its final state here: acknowledge its entry once all of the entry's have. */
  private settled(addr: string): void {
    const id = this.entryOf.get(addr);
    if (id === undefined) return;
    this.entryOf.delete(addr);
    const left = (this.remaining.get(id) ?? 1) - 1;
    if (left > 0) {
      this.remaining.set(id, left);
      return;
    }
    this.remaining.delete(id);
    this.pendingAcks.push(id);
    this.scheduleFlush();
  }

  /** Sends a final record to Redis (the crawl keeps the first record of each address). */
  publish(rec: NodeRecord): void {
    this.published++;
    const line = recordToLine(rec);
    this.pendingRecords.push([rec.addr, line.slice(0, -1)]);
    this.scheduleFlush();
  }

  /** The fatal error, if Redis failed. */
  get failure(): ClusterError | null {
    return this.failed;
  }

  /** Slots of the global cap this process holds. */
  get heldSlots(): number {
    return this.held;
  }

  /**
   * Ends this process's part: flushes, hands back what it had leased and not
   * finished (when stopped early), gives its slots back, reads the rest of
   * the record stream (when the crawl is done) and disconnects. Never
   * throws: after a Redis failure it only disconnects.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.hooks.cap.setMax(0);
    try {
      if (this.failed === null) {
        this.flush();
        await this.flushChain;
        if (this.failed === null) {
          const ids = [...this.remaining.keys()];
          if (ids.length > 0) {
            const unfinished = [...this.entryOf.keys()];
            this.done = await this.coordinator.giveBack(ids, unfinished);
          }
          await this.coordinator.cap('leave', 0, 0);
          // Every record of a done crawl is in the stream (records are flushed before acks): read to its end.
          await this.tailChain;
          await this.tail();
          if (this.done) await this.coordinator.expireCrawl(FINISHED_TTL_SECONDS);
        }
      }
    } catch (err) {
      this.noteFailure(err);
    } finally {
      await this.coordinator.close();
      this.hooks.log.info(
        { published: this.published, leased: this.leased, done: this.done, redisCommands: this.coordinator.commands, failure: this.failed?.code },
        'left the cluster crawl',
      );
    }
  }

  // --- internals -----------------------------------------------------------------

  private lowWater(): number {
    return Math.max(this.coordinator.opts.batchSize, this.hooks.cap.max * 2);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Learned addresses, then records, then acks: one ordered chain of calls. */
  private flush(): void {
    const learn = this.pendingLearn;
    const records = this.pendingRecords;
    const acks = this.pendingAcks;
    if (learn.length === 0 && records.length === 0 && acks.length === 0) return;
    this.pendingLearn = [];
    this.pendingRecords = [];
    this.pendingAcks = [];
    const c = this.coordinator;
    this.flushChain = this.flushChain.then(async () => {
      if (this.failed !== null) return;
      try {
        if (learn.length > 0) this.noteDone((await c.learn(learn)).done);
        if (records.length > 0) await c.record(records);
        if (acks.length > 0) this.noteDone((await c.ack(acks)).done);
      } catch (err) {
        this.noteFailure(err);
      }
    });
  }

  private noteDone(done: boolean): void {
    if (done && !this.done) {
      this.done = true;
      this.hooks.wake();
    }
  }

  private noteFailure(err: unknown): void {
    if (this.failed !== null) return;
    const e = err instanceof ClusterError ? err : new ClusterError('ERR_REDIS_UNAVAILABLE', isBitspreadError(err) || err instanceof Error ? err.message : String(err));
    this.failed = e;
    for (const t of this.timers) clearInterval(t);
    // No new dials: our slots may not be ours much longer.
    this.hooks.cap.setMax(0);
    this.hooks.log.error({ code: e.code, err: e.message }, 'cluster coordination failed: stopping');
    this.hooks.fail(e);
  }

  /** Leases more work when the local queue runs low, and adjusts the slots held. */
  private tick(): void {
    if (this.closed || this.failed !== null) return;
    this.maybeLease();
    void this.gate();
  }

  private maybeLease(): void {
    if (this.leasing || this.done || this.queued >= this.lowWater()) return;
    const now = performance.now();
    // An empty answer: wait a poll period before asking again.
    if (now - this.lastLease < POLL_MS) return;
    this.leasing = true;
    this.lastLease = now;
    const want = Math.max(1, Math.ceil((this.lowWater() * 2 - this.queued) / this.coordinator.opts.batchSize));
    this.coordinator
      .lease(want)
      .then((r) => {
        for (const p of r.poisoned) {
          this.hooks.log.warn({ addr: p.addr, deaths: p.deaths }, 'address poisoned: every process that held it died');
          this.entryOf.set(p.addr, p.id);
          this.remaining.set(p.id, 1);
          // Recording it (through finish()) acknowledges the entry; already recorded here: just acknowledge.
          if (this.finished.has(p.addr)) this.settled(p.addr);
          else this.hooks.record(failedRecord(p.addr, networkOf(p.addr), 'ERR_POISONED'));
        }
        this.leased += r.leases.length;
        for (const l of r.leases) this.takeLease(l);
        this.noteDone(r.done);
        if (r.leases.length > 0) {
          this.lastLease = 0;
          this.hooks.wake();
        }
      })
      .catch((err: unknown) => this.noteFailure(err))
      .finally(() => {
        this.leasing = false;
      });
  }

  private takeLease(l: Lease): void {
    this.remaining.set(l.id, l.addrs.length);
    for (const a of l.addrs) {
      const prev = this.entryOf.get(a);
      if (prev !== undefined && prev !== l.id) {
        // Already leased here through another entry (given back and re-leased, or split): one visit settles both.
        this.remaining.set(l.id, (this.remaining.get(l.id) ?? 1) - 1);
        continue;
      }
      this.entryOf.set(a, l.id);
      this.seen.add(a);
      this.lostAddrs.delete(a);
      this.queue.push(a);
    }
    if ((this.remaining.get(l.id) ?? 0) <= 0) {
      this.remaining.delete(l.id);
      this.pendingAcks.push(l.id);
      this.scheduleFlush();
    }
  }

  /**
   * Holds what this process can use of the global cap, never more than its
   * fair share; renews the slots' lease at least every BEAT_MS.
   */
  private async gate(): Promise<void> {
    if (this.gating || this.closed || this.failed !== null) return;
    this.gating = true;
    try {
      const cap = this.hooks.cap;
      const demand = this.done ? 0 : this.queued + this.hooks.inFlight();
      const target = Math.min(demand, this.fair > 0 ? this.fair : this.max, this.max);
      const now = performance.now();
      if (target >= this.held) this.surplusSince = now;
      let r: CapResult | null = null;
      if (target > this.held) {
        r = await this.coordinator.cap('acquire', target - this.held, demand);
      } else if (target < this.held && this.held <= this.fair && !this.done && now - this.surplusSince < SURPLUS_HOLD_MS) {
        // A dip in demand (the queue ran dry for a moment between leases) while nobody else waits for
        // slots: keep them. Lowering the local cap would refuse dials already on their way (a pause).
      } else if (target < this.held) {
        // Lower the local cap first, and give slots back only a tick later: a worker that read the old
        // max just before the change may still complete its acquire, and must be counted in open().
        if (cap.max > target) {
          cap.setMax(target);
          this.loweredAt = now;
        } else if (now - this.loweredAt >= POLL_MS) {
          const release = this.held - Math.max(cap.max, cap.open());
          if (release > 0) r = await this.coordinator.cap('release', release, demand);
        }
      }
      if (r === null && now - this.lastBeat >= Math.min(BEAT_MS, this.coordinator.opts.leaseMs / 4)) r = await this.coordinator.cap('beat', 0, demand);
      if (r === null) return;
      this.lastBeat = now;
      if (r.held < this.held - Math.max(0, -r.granted)) {
        // Redis holds fewer for us than we thought: we stalled past the lease and our slots expired.
        this.hooks.log.warn({ held: this.held, redis: r.held }, 'cap slots lost (stalled past the lease)');
      }
      this.held = r.held;
      this.fair = r.fair;
      if (this.closed || this.failed !== null) return;
      cap.setMax(r.granted > 0 ? r.held : Math.min(cap.max, r.held));
      if (r.granted > 0) this.hooks.wake();
    } catch (err) {
      this.noteFailure(err);
    } finally {
      this.gating = false;
    }
  }

  /** Renews this process's leases on its work entries (the slots' lease is renewed by the gate). */
  private heartbeat(): void {
    if (this.closed || this.failed !== null) return;
    const ids = [...this.remaining.keys()];
    if (ids.length === 0) return;
    this.coordinator.touch(ids).then(
      (gone) => {
        for (const id of gone) this.forget(id);
      },
      (err: unknown) => this.noteFailure(err),
    );
  }

  /** Another process took this entry over (we stalled past the lease): do not dial what is still queued of it. */
  private forget(id: string): void {
    this.remaining.delete(id);
    for (const [a, e] of this.entryOf) {
      if (e !== id) continue;
      this.entryOf.delete(a);
      this.lostAddrs.add(a);
    }
  }

  /** Reads the crawl-wide record stream up to its current end (one reader at a time). */
  private tail(): Promise<void> {
    if (this.tailBusy) return this.tailChain;
    this.tailBusy = true;
    this.tailChain = this.tailChain
      .then(async () => {
        for (;;) {
          const page = await this.coordinator.readRecords(this.tailId, TAIL_PAGE);
          for (const r of page) {
            this.tailId = r.id;
            this.hooks.onRecord(JSON.parse(r.line) as NodeRecord, r.line);
          }
          if (page.length < TAIL_PAGE) break;
        }
      })
      .catch((err: unknown) => this.noteFailure(err))
      .finally(() => {
        this.tailBusy = false;
      });
    return this.tailChain;
  }
}

function networkOf(addr: string): AddressNetwork {
  return addr.startsWith('[') ? 'ipv6' : 'ipv4';
}
