/**
 * Continuous mode: rounds of crawls over a store (bitspread watch).
 *
 * Each round is one Crawler run (one crawl row, kind 'watch') that dials:
 * - the addresses the store says are due (history.dueAddresses): never
 *   dialled; reachable last time and older than `revisitReachableMs`; failed
 *   last time and older than `revisitFailedMs` (an address not reachable
 *   for `deadAfterMs`: once per `deadAfterMs`);
 * - seeds the store does not know yet;
 * - every address learned during the round that the store does not know
 *   (the crawler's `admit` hook keeps known, not-due addresses out).
 * Its records go to the store (batched) and to a rolling snapshot file.
 * Rounds start every `intervalMs` (a late round is followed at once).
 *
 * Restarts: the store is the whole state. A new process marks rounds a
 * killed one left running as `interrupted`, then carries on from the nodes
 * table (what is due, what is known); every batch that was committed stays.
 *
 * Defaults (docs/WATCH.md explains them): a round every 10 min and every
 * reachable node revisited each round, as bitnodes re-checks its reachable
 * set for each snapshot every few minutes (the uptime windows need visits
 * that dense); failed addresses retried every 4 h (most gossiped addresses
 * never answer; the Ethereum crawler waits 48 h, but a Bitcoin node that was
 * down for maintenance should come back within a working day); addresses
 * not reachable for 7 days are retried weekly; visits kept 30 days
 * (the widest uptime window).
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { formatAddress, NETWORKS, parseAddress } from '../wire/index.js';
import { Crawler, type CrawlStats } from './crawler.js';
import type { CrawlOptions } from './options.js';
import type { CrawlSummary, NodeRecord } from './record.js';
import { Store } from '../store/store.js';
import { dueAddresses, knownChecker, prune, uptimes, type NodeUptime, type RevisitPolicy } from '../store/history.js';
import type { NodeChange } from '../store/diff.js';
import { SnapshotWriter } from './snapshot.js';

export const DEFAULT_WATCH_INTERVAL_MS = 10 * 60_000;
export const DEFAULT_REVISIT_FAILED_MS = 4 * 3600_000;
export const DEFAULT_DEAD_AFTER_MS = 7 * 86400_000;
export const DEFAULT_RETENTION_MS = 30 * 86400_000;
export const DEFAULT_KEEP_SNAPSHOTS = 48;

export interface WatchOptions extends Omit<CrawlOptions, 'out' | 'crawlId' | 'revisit' | 'admit' | 'mode'> {
  /** The store: a path (opened and closed here) or an open Store (left open). */
  readonly store: string | Store;
  /** Time between the starts of two rounds (default 10 min). */
  readonly intervalMs?: number;
  /** Revisit a reachable node once its last visit is this old (default 0: every round). */
  readonly revisitReachableMs?: number;
  /** Retry a failed address once its last dial is this old (default 4 h). */
  readonly revisitFailedMs?: number;
  /** An address not reachable for this long is retried only once per this period (default 7 d). */
  readonly deadAfterMs?: number;
  /** Visits older than this are deleted after each round (default 30 d). */
  readonly retentionMs?: number;
  /** Stop after this many rounds (default: until stop()). */
  readonly rounds?: number;
  /** Directory for one NDJSON snapshot per round (`round-<seq>.ndjson`), the newest `keepSnapshots` kept. */
  readonly snapshotDir?: string;
  readonly keepSnapshots?: number;
}

export interface RoundStart {
  readonly seq: number;
  readonly crawlId: string;
  /** Addresses the store had due. */
  readonly due: number;
  readonly crawler: Crawler;
}

export interface RoundEnd {
  readonly seq: number;
  readonly crawlId: string;
  readonly summary: CrawlSummary;
  /** Reachable now, not at their previous visit (or never visited before). */
  readonly joined: string[];
  /** Reachable at their previous visit, failed now. */
  readonly left: string[];
  /** Reachable both times with another version, user agent or services. */
  readonly changed: NodeChange[];
  readonly pruned: number;
  readonly snapshot: string | null;
}

interface PreviousState {
  last_state: string | null;
  protocol_version: number | null;
  user_agent: string | null;
  services: number | null;
}

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v < 0) throw new UsageError('ERR_BAD_OPTION', `${name} must be a duration >= 0, got ${v}`);
  return v;
}

export class Watcher extends EventEmitter {
  private readonly opts: WatchOptions;
  readonly store: Store;
  private readonly ownsStore: boolean;
  private readonly intervalMs: number;
  private readonly policy: RevisitPolicy;
  private readonly retentionMs: number;
  private stopping = false;
  private crawler: Crawler | null = null;
  private wake: (() => void) | null = null;
  private rounds = 0;

  constructor(opts: WatchOptions) {
    super();
    this.intervalMs = positive('intervalMs', opts.intervalMs, DEFAULT_WATCH_INTERVAL_MS);
    this.policy = {
      reachableAfterMs: positive('revisitReachableMs', opts.revisitReachableMs, 0),
      failedAfterMs: positive('revisitFailedMs', opts.revisitFailedMs, DEFAULT_REVISIT_FAILED_MS),
      deadAfterMs: positive('deadAfterMs', opts.deadAfterMs, DEFAULT_DEAD_AFTER_MS),
    };
    this.retentionMs = positive('retentionMs', opts.retentionMs, DEFAULT_RETENTION_MS);
    if (opts.rounds !== undefined && (!Number.isInteger(opts.rounds) || opts.rounds < 1)) throw new UsageError('ERR_BAD_OPTION', `rounds must be a whole number >= 1, got ${opts.rounds}`);
    this.opts = opts;
    this.ownsStore = typeof opts.store === 'string';
    this.store = typeof opts.store === 'string' ? Store.open(opts.store) : opts.store;
    if (opts.snapshotDir !== undefined) mkdirSync(opts.snapshotDir, { recursive: true });
  }

  /** The crawler of the round in progress, if any. */
  get current(): Crawler | null {
    return this.crawler;
  }

  stats(): (CrawlStats & { round: number }) | null {
    return this.crawler === null ? null : { ...this.crawler.stats(), round: this.rounds };
  }

  uptimes(now = Date.now()): NodeUptime[] {
    this.store.flush();
    return uptimes(this.store, now);
  }

  /** Runs rounds until stop() or `rounds`; resolves with the number of rounds completed. */
  async start(): Promise<number> {
    const interrupted = this.store.markInterrupted();
    if (interrupted > 0) this.emit('resumed', interrupted);
    try {
      while (!this.stopping) {
        const began = Date.now();
        await this.round();
        if (this.opts.rounds !== undefined && this.rounds >= this.opts.rounds) break;
        await this.pause(began + this.intervalMs - Date.now());
      }
    } finally {
      if (this.ownsStore) this.store.close();
      else this.store.flush();
    }
    return this.rounds;
  }

  /** Stops the round in progress (its records are kept) and ends start(). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.crawler?.stop();
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private async round(): Promise<void> {
    const store = this.store;
    const now = Date.now();
    const known = knownChecker(store);
    const due = dueAddresses(store, now, this.policy);
    // Known seeds are revisited on the store's schedule like any node (compared in Core's text form).
    const port = NETWORKS[this.opts.network ?? 'mainnet'].defaultPort;
    const seeds = (this.opts.seeds ?? []).filter((s) => !known(formatAddress(parseAddress(s, port))));
    const crawlId = randomUUID();
    const row = store.beginCrawl({ id: crawlId, kind: 'watch', network: this.opts.network ?? 'mainnet', startedAt: now });
    const snapshot = this.opts.snapshotDir === undefined ? null : join(this.opts.snapshotDir, `round-${String(row.seq).padStart(6, '0')}.ndjson`);
    // The snapshot gets each batch after the store committed it (never a line the store lacks).
    const writer = snapshot === null ? null : new SnapshotWriter(snapshot);
    store.onCommit = writer === null ? null : (recs) => recs.forEach((r) => writer.write(r));
    const crawler = new Crawler({ ...this.opts, mode: 'crawl', seeds, revisit: due, crawlId, admit: (addr) => !known(addr) });
    this.crawler = crawler;
    const previous = store.db.prepare('SELECT last_state, protocol_version, user_agent, services FROM nodes WHERE addr = ?');
    const joined: string[] = [];
    const left: string[] = [];
    const changed: NodeChange[] = [];
    crawler.on('node', (rec: NodeRecord) => {
      // The nodes table still holds the previous visit: this round's rows are written after this look-up.
      const prev = previous.get(rec.addr) as PreviousState | undefined;
      if (rec.state === 'reachable') {
        if (prev?.last_state !== 'reachable') joined.push(rec.addr);
        else {
          if (prev.protocol_version !== null && rec.protocolVersion !== undefined && prev.protocol_version !== rec.protocolVersion) {
            changed.push({ addr: rec.addr, field: 'protocolVersion', from: prev.protocol_version, to: rec.protocolVersion });
          }
          if (prev.user_agent !== null && rec.userAgent !== undefined && prev.user_agent !== rec.userAgent) {
            changed.push({ addr: rec.addr, field: 'userAgent', from: prev.user_agent, to: rec.userAgent });
          }
          if (prev.services !== null && rec.services !== undefined && prev.services !== rec.services) {
            changed.push({ addr: rec.addr, field: 'services', from: prev.services, to: rec.services });
          }
        }
      } else if (rec.state === 'failed' && prev?.last_state === 'reachable') {
        left.push(rec.addr);
      }
      store.add(rec, crawlId);
    });
    this.emit('roundStart', { seq: row.seq, crawlId, due: due.length, crawler } satisfies RoundStart);
    let summary: CrawlSummary | null = null;
    try {
      summary = await crawler.start();
    } finally {
      this.crawler = null;
      store.finishCrawl(crawlId, summary === null || summary.stopped ? 'stopped' : 'done', summary);
      store.onCommit = null;
      await writer?.close();
    }
    const pruned = prune(store, Date.now() - this.retentionMs).visits;
    if (snapshot !== null) this.rotateSnapshots();
    this.rounds++;
    const end: RoundEnd = { seq: row.seq, crawlId, summary, joined: joined.sort(), left: left.sort(), changed, pruned, snapshot };
    this.emit('roundEnd', end);
  }

  private rotateSnapshots(): void {
    const dir = this.opts.snapshotDir as string;
    const keep = this.opts.keepSnapshots ?? DEFAULT_KEEP_SNAPSHOTS;
    const files = readdirSync(dir)
      .filter((f) => /^round-\d+\.ndjson$/.test(f))
      .sort();
    for (const f of files.slice(0, Math.max(0, files.length - keep))) rmSync(join(dir, f), { force: true });
  }
}
