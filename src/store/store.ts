/**
 * The history store: one SQLite file (better-sqlite3) in WAL mode, so
 * readers (`bitspread report`, `diff`, `export`) never block the crawler.
 *
 * One writer, on the main thread: records are buffered and written in
 * batches, each batch one transaction (a visit row per record and an upsert
 * of its node), when `batchSize` records are waiting or `flushMs` after the
 * first one. A process killed at any point leaves every committed batch
 * intact (WAL + synchronous=NORMAL survive a process crash; a power cut may
 * lose the last batches, never corrupt the file).
 */
import { realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { DataError } from '../errors.js';
import type { CrawlSummary, NodeRecord } from '../engine/record.js';
import { migrate } from './schema.js';
import { recordToRow, type VisitRow } from './rows.js';

export type CrawlStatus = 'running' | 'done' | 'stopped' | 'interrupted';
export type CrawlKind = 'crawl' | 'watch';

export interface CrawlRow {
  readonly id: string;
  readonly seq: number;
  readonly kind: CrawlKind;
  readonly network: string;
  readonly startedAt: number;
  readonly finishedAt: number | null;
  readonly status: CrawlStatus;
  readonly summary: CrawlSummary | null;
}

export interface StoreOptions {
  /** Records per transaction at most (default 1000). */
  readonly batchSize?: number;
  /** Longest a record waits before its batch is written (default 200 ms). */
  readonly flushMs?: number;
  /** Open an existing store for reading only (no migration, no writes). */
  readonly readonly?: boolean;
}

interface RawCrawl {
  id: string;
  seq: number;
  kind: string;
  network: string;
  started_at: number;
  finished_at: number | null;
  status: string;
  summary: string | null;
}

function crawlFromRow(r: RawCrawl): CrawlRow {
  return {
    id: r.id,
    seq: r.seq,
    kind: r.kind as CrawlKind,
    network: r.network,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    status: r.status as CrawlStatus,
    summary: r.summary === null ? null : (JSON.parse(r.summary) as CrawlSummary),
  };
}

const UPSERT_NODE = `
  INSERT INTO nodes (addr, network, first_seen, last_seen, first_reachable, last_reachable, last_visit, last_state,
                     source, last_gossip, protocol_version, user_agent, services, start_height)
  VALUES (@addr, @network, @at, @at, @reachable_at, @reachable_at, @visit_at, @state,
          @source, @last_seen, @protocol_version, @user_agent, @services, @start_height)
  ON CONFLICT(addr) DO UPDATE SET
    last_seen        = max(last_seen, excluded.last_seen),
    first_reachable  = coalesce(first_reachable, excluded.first_reachable),
    last_reachable   = coalesce(excluded.last_reachable, last_reachable),
    last_visit       = coalesce(excluded.last_visit, last_visit),
    last_state       = CASE WHEN excluded.last_state = 'skipped' AND last_state IS NOT NULL THEN last_state ELSE excluded.last_state END,
    source           = coalesce(source, excluded.source),
    last_gossip      = nullif(max(coalesce(last_gossip, 0), coalesce(excluded.last_gossip, 0)), 0),
    protocol_version = coalesce(excluded.protocol_version, protocol_version),
    user_agent       = coalesce(excluded.user_agent, user_agent),
    services         = coalesce(excluded.services, services),
    start_height     = coalesce(excluded.start_height, start_height)`;

const INSERT_VISIT = `
  INSERT INTO visits (crawl_id, addr, network, at, state, error, detail, reason, protocol_version, user_agent, services,
                      start_height, relay, connect_ms, handshake_ms, rtt_ms, addrs_returned, addrs_dropped, source, last_seen, via, proxy, extra)
  VALUES (@crawl_id, @addr, @network, @at, @state, @error, @detail, @reason, @protocol_version, @user_agent, @services,
          @start_height, @relay, @connect_ms, @handshake_ms, @rtt_ms, @addrs_returned, @addrs_dropped, @source, @last_seen, @via, @proxy, @extra)`;

export class Store {
  readonly db: Database.Database;
  readonly path: string;
  private readonly batchSize: number;
  private readonly flushMs: number;
  private pending: VisitRow[] = [];
  private pendingRecords: NodeRecord[] = [];
  /**
   * Called with each batch's records right after it committed: whatever it
   * writes elsewhere (a watch round's snapshot file) holds only what the
   * store already has, whenever the process dies.
   */
  onCommit: ((records: readonly NodeRecord[]) => void) | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failure: DataError | null = null;
  private writeBatch: ((rows: VisitRow[]) => void) | null = null;
  /** Visits written (committed) by this handle. */
  written = 0;

  private constructor(db: Database.Database, path: string, opts: StoreOptions) {
    this.db = db;
    this.path = path;
    this.batchSize = opts.batchSize ?? 1000;
    this.flushMs = opts.flushMs ?? 200;
  }

  /** Opens (creating and migrating when writable) the store at `path`; ':memory:' for tests. */
  static open(path: string, opts: StoreOptions = {}): Store {
    // A writer locks first: a second writer must be refused before it touches the store
    // (a newer bitspread would otherwise migrate the schema under the running writer).
    const lock = opts.readonly !== true && path !== ':memory:' && path !== '' ? takeWriterLock(path) : null;
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true });
      // Fails here, not later, on a file that is not a database.
      db.pragma('schema_version', { simple: true });
    } catch (err) {
      lock?.close();
      throw new DataError('ERR_STORE_OPEN', `cannot open the store '${path}': ${(err as Error).message}`);
    }
    try {
      if (opts.readonly !== true) {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('foreign_keys = ON');
        migrate(db);
      } else if ((db.pragma('user_version', { simple: true }) as number) === 0) {
        throw new DataError('ERR_STORE_OPEN', `'${path}' is not a bitspread store (no schema)`);
      }
      db.pragma('busy_timeout = 5000');
    } catch (err) {
      db.close();
      lock?.close();
      if (err instanceof DataError) throw err;
      throw new DataError('ERR_STORE_OPEN', `cannot open the store '${path}': ${(err as Error).message}`);
    }
    const store = new Store(db, path, opts);
    store.writerLock = lock;
    return store;
  }

  /** The side database whose exclusive lock says "this process writes the store" (see takeWriterLock). */
  private writerLock: Database.Database | null = null;

  /** Registers a crawl (status running); its records can be added from now on. */
  beginCrawl(c: { id: string; kind: CrawlKind; network: string; startedAt?: number }): CrawlRow {
    const startedAt = c.startedAt ?? Date.now();
    const seq = ((this.db.prepare('SELECT coalesce(max(seq), 0) AS s FROM crawls').get() as { s: number }).s ?? 0) + 1;
    this.db
      .prepare("INSERT INTO crawls (id, seq, kind, network, started_at, status) VALUES (?, ?, ?, ?, ?, 'running')")
      .run(c.id, seq, c.kind, c.network, startedAt);
    return { id: c.id, seq, kind: c.kind, network: c.network, startedAt, finishedAt: null, status: 'running', summary: null };
  }

  /** Flushes, then marks the crawl finished with its summary. */
  finishCrawl(id: string, status: Exclude<CrawlStatus, 'running'>, summary: CrawlSummary | null, finishedAt = Date.now()): void {
    this.flush();
    this.db.prepare('UPDATE crawls SET status = ?, finished_at = ?, summary = ? WHERE id = ?').run(status, finishedAt, summary === null ? null : JSON.stringify(summary), id);
  }

  /**
   * Crawls a killed process left `running`: marked `interrupted`, finished
   * at their last visit. Returns how many. Call when no other process writes.
   */
  markInterrupted(): number {
    return this.db
      .prepare(
        `UPDATE crawls SET status = 'interrupted',
           finished_at = coalesce((SELECT max(at) FROM visits WHERE visits.crawl_id = crawls.id), started_at)
         WHERE status = 'running'`,
      )
      .run().changes;
  }

  /** Buffers one record of crawl `crawlId` (default: the record's own crawlId). */
  add(rec: NodeRecord, crawlId = rec.crawlId): void {
    if (crawlId === undefined) throw new DataError('ERR_STORE_WRITE', `record of ${rec.addr} has no crawlId`);
    const at = rec.visitedAt === undefined ? Date.now() : Date.parse(rec.visitedAt);
    this.pending.push(recordToRow(rec, crawlId, at));
    this.pendingRecords.push(rec);
    if (this.pending.length >= this.batchSize) this.flushSafely();
    else this.timer ??= setTimeout(() => this.flushSafely(), this.flushMs);
  }

  get queued(): number {
    return this.pending.length;
  }

  /** Writes the buffered records now, in one transaction. Throws DataError ERR_STORE_WRITE. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.failure !== null) throw this.failure;
    if (this.pending.length === 0) return;
    const rows = this.pending;
    const records = this.pendingRecords;
    this.pending = [];
    this.pendingRecords = [];
    if (this.writeBatch === null) {
      const visit = this.db.prepare(INSERT_VISIT);
      const node = this.db.prepare(UPSERT_NODE);
      this.writeBatch = this.db.transaction((batch: VisitRow[]) => {
        for (const r of batch) {
          visit.run(r);
          node.run({
            addr: r.addr,
            network: r.network,
            at: r.at,
            reachable_at: r.state === 'reachable' ? r.at : null,
            visit_at: r.state === 'skipped' ? null : r.at,
            state: r.state,
            source: r.source,
            last_seen: r.last_seen,
            protocol_version: r.state === 'reachable' ? r.protocol_version : null,
            user_agent: r.state === 'reachable' ? r.user_agent : null,
            services: r.state === 'reachable' ? r.services : null,
            start_height: r.state === 'reachable' ? r.start_height : null,
          });
        }
      });
    }
    try {
      this.writeBatch(rows);
      this.written += rows.length;
    } catch (err) {
      this.failure = new DataError('ERR_STORE_WRITE', `cannot write to the store '${this.path}': ${(err as Error).message}`);
      throw this.failure;
    }
    this.onCommit?.(records);
  }

  /** The first write failure, if any (a timer-driven flush cannot throw to anyone). */
  get error(): DataError | null {
    return this.failure;
  }

  /** Flushes and closes. Throws the write failure, if there was one, after closing. */
  close(): void {
    if (!this.db.open) return;
    try {
      this.flush();
    } finally {
      try {
        this.db.close();
      } finally {
        this.writerLock?.close();
        this.writerLock = null;
      }
    }
  }

  // ---- crawls ----

  crawls(): CrawlRow[] {
    return (this.db.prepare('SELECT * FROM crawls ORDER BY seq').all() as RawCrawl[]).map(crawlFromRow);
  }

  /**
   * A crawl by reference: its id, its sequence number, `latest`, or
   * `latest~N` (N crawls before the latest). DataError ERR_NO_SUCH_CRAWL if none.
   */
  crawl(ref: string): CrawlRow {
    let row: RawCrawl | undefined;
    const back = /^latest(?:~(\d+))?$/.exec(ref);
    if (back !== null) {
      row = this.db.prepare('SELECT * FROM crawls ORDER BY seq DESC LIMIT 1 OFFSET ?').get(Number(back[1] ?? 0)) as RawCrawl | undefined;
    } else if (/^\d+$/.test(ref)) {
      row = this.db.prepare('SELECT * FROM crawls WHERE seq = ?').get(Number(ref)) as RawCrawl | undefined;
    } else {
      row = this.db.prepare('SELECT * FROM crawls WHERE id = ?').get(ref) as RawCrawl | undefined;
    }
    if (row === undefined) throw new DataError('ERR_NO_SUCH_CRAWL', `no crawl '${ref}' in the store '${this.path}' (give an id, a number, latest or latest~N)`);
    return crawlFromRow(row);
  }

  private flushSafely(): void {
    try {
      this.flush();
    } catch {
      // Kept in `failure`: the next flush()/close() (a caller's) throws it.
    }
  }
}

/**
 * One writer per store: two processes writing one store (two `watch`es, or a
 * `crawl --store` next to a `watch`) would interleave their crawls and each
 * would mark the other's running crawl `interrupted`. The writer holds an
 * exclusive SQLite lock on a small side file, `<store>.lock`, for as long as
 * it has the store open. The operating system drops the lock when the
 * process ends, however it ends, so a killed writer never leaves a stale
 * lock behind; the file itself stays (removing it could let two processes
 * lock two different files). Readers (report, diff, export, uptime) take no
 * lock and are never blocked.
 */
function takeWriterLock(path: string): Database.Database {
  let lock: Database.Database;
  try {
    lock = new Database(lockPathFor(path));
  } catch (err) {
    throw new DataError('ERR_STORE_OPEN', `cannot open the store's lock file '${lockPathFor(path)}': ${(err as Error).message}`);
  }
  try {
    lock.pragma('busy_timeout = 0');
    lock.exec('BEGIN EXCLUSIVE');
    return lock;
  } catch (err) {
    lock.close();
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      throw new DataError('ERR_STORE_LOCKED', `the store '${path}' is being written by another bitspread process (its lock, '${lockPathFor(path)}', is held); stop that process or use another --store`);
    }
    throw new DataError('ERR_STORE_OPEN', `cannot lock the store '${path}': ${(err as Error).message}`);
  }
}

/**
 * `<store>.lock` for the store's real path, so that two spellings of one
 * store (a symlink, `./x.db` and `x.db`) share one lock. A store not created
 * yet: its directory's real path.
 */
function lockPathFor(path: string): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    try {
      real = join(realpathSync(dirname(path)), basename(path));
    } catch {
      real = path; // no such directory: opening the lock file says so
    }
  }
  return `${real}.lock`;
}
