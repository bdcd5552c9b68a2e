/**
 * Read-side queries over a store: a crawl's records, what a watch round must
 * revisit, per-node uptime over bitnodes' windows, pruning, and the figures
 * the report charts over time.
 */
import type { NodeRecord } from '../engine/record.js';
import type { Store } from './store.js';
import { rowToRecord, type VisitRow } from './rows.js';

/** bitnodes' uptime windows: 2 h, 8 h, 24 h, 7 d, 30 d. */
export const UPTIME_WINDOWS = [
  ['2h', 2 * 3600_000],
  ['8h', 8 * 3600_000],
  ['24h', 24 * 3600_000],
  ['7d', 7 * 86400_000],
  ['30d', 30 * 86400_000],
] as const;

export type UptimeWindow = (typeof UPTIME_WINDOWS)[number][0];

export interface NodeUptime {
  readonly addr: string;
  readonly network: string;
  /**
   * Share of the node's visits (reachable + failed) in each window that found
   * it reachable, 0-1; null when it was not visited in that window.
   */
  readonly uptime: Record<UptimeWindow, number | null>;
  /** Visits in the widest window. */
  readonly visits: number;
  /** Start of the current unbroken run of reachable visits (unix ms), null when the latest visit failed. */
  readonly reachableSince: number | null;
  readonly userAgent: string | null;
  readonly protocolVersion: number | null;
}

/** Every record of one crawl, in the order they were written. */
export function* crawlRecords(store: Store, crawlId: string): IterableIterator<NodeRecord> {
  const rows = store.db.prepare('SELECT * FROM visits WHERE crawl_id = ? ORDER BY id').iterate(crawlId) as IterableIterator<VisitRow>;
  for (const row of rows) yield rowToRecord(row);
}

/** Whether the store has ever recorded `addr` (prepared once per store handle). */
export function knownChecker(store: Store): (addr: string) => boolean {
  const stmt = store.db.prepare('SELECT 1 FROM nodes WHERE addr = ?').pluck();
  return (addr) => stmt.get(addr) !== undefined;
}

export interface RevisitPolicy {
  /** Revisit a node whose latest dial reached it once this old (ms). */
  readonly reachableAfterMs: number;
  /** Retry an address whose latest dial failed once this old (ms). */
  readonly failedAfterMs: number;
  /**
   * An address not reachable for this long (since its last reachable visit,
   * or since first seen) counts as dead: retried once per this period
   * (never more often than `failedAfterMs`) instead of every `failedAfterMs` (ms).
   */
  readonly deadAfterMs: number;
}

/**
 * Dialable addresses a round at `now` should visit: never dialled; reachable
 * last time and due; failed last time and due (a dead address — not
 * reachable for `deadAfterMs` — only once per `deadAfterMs`).
 */
export function dueAddresses(store: Store, now: number, p: RevisitPolicy): string[] {
  return store.db
    .prepare(
      `SELECT addr FROM nodes
       WHERE network IN ('ipv4', 'ipv6')
         AND (last_visit IS NULL
              OR (last_state = 'reachable' AND last_visit <= @reachable)
              OR (last_state <> 'reachable' AND last_visit <= @failed AND coalesce(last_reachable, first_seen) > @dead)
              OR (last_state <> 'reachable' AND last_visit <= @deadRetry AND coalesce(last_reachable, first_seen) <= @dead))
       ORDER BY (last_state = 'reachable') DESC, last_visit`,
    )
    .pluck()
    .all({ reachable: now - p.reachableAfterMs, failed: now - p.failedAfterMs, dead: now - p.deadAfterMs, deadRetry: now - Math.max(p.failedAfterMs, p.deadAfterMs) }) as string[];
}

/** Uptime of every node visited in the last 30 days (or of `addrs` only). */
export function uptimes(store: Store, now: number, addrs?: readonly string[]): NodeUptime[] {
  const windows = UPTIME_WINDOWS.map(([, ms]) => now - ms);
  const widest = windows[windows.length - 1] as number;
  const cols = windows
    .map((_, i) => `sum(CASE WHEN v.at >= @w${i} THEN v.state = 'reachable' END) AS up${i}, sum(v.at >= @w${i}) AS n${i}`)
    .join(', ');
  const filter = addrs === undefined ? '' : `AND v.addr IN (SELECT value FROM json_each(@addrs))`;
  const params: Record<string, unknown> = { widest, now };
  windows.forEach((w, i) => (params[`w${i}`] = w));
  if (addrs !== undefined) params.addrs = JSON.stringify(addrs);
  const rows = store.db
    .prepare(
      `SELECT v.addr, n.network, count(*) AS visits, n.user_agent, n.protocol_version, ${cols}
       FROM visits v JOIN nodes n ON n.addr = v.addr
       WHERE v.at >= @widest AND v.at <= @now AND v.state <> 'skipped' ${filter}
       GROUP BY v.addr ORDER BY v.addr`,
    )
    .all(params) as Array<Record<string, number | string | null>>;
  const since = reachableSince(store, now);
  return rows.map((r) => {
    const uptime = {} as Record<UptimeWindow, number | null>;
    UPTIME_WINDOWS.forEach(([name], i) => {
      const n = Number(r[`n${i}`] ?? 0);
      uptime[name] = n === 0 ? null : Number(r[`up${i}`] ?? 0) / n;
    });
    const addr = r.addr as string;
    return {
      addr,
      network: r.network as string,
      uptime,
      visits: Number(r.visits),
      reachableSince: since.get(addr) ?? null,
      userAgent: (r.user_agent as string | null) ?? null,
      protocolVersion: (r.protocol_version as number | null) ?? null,
    };
  });
}

/**
 * For each node whose latest dial reached it: when its current unbroken run
 * of reachable visits began (bitnodes' "connected since").
 */
export function reachableSince(store: Store, now = Date.now()): Map<string, number> {
  const rows = store.db
    .prepare(
      `SELECT n.addr,
              (SELECT min(v.at) FROM visits v
                WHERE v.addr = n.addr AND v.state = 'reachable' AND v.at <= @now
                  AND v.at > coalesce((SELECT max(f.at) FROM visits f WHERE f.addr = n.addr AND f.state = 'failed' AND f.at <= @now), 0)) AS since
       FROM nodes n WHERE n.last_state = 'reachable'`,
    )
    .all({ now }) as Array<{ addr: string; since: number | null }>;
  const out = new Map<string, number>();
  for (const r of rows) if (r.since !== null) out.set(r.addr, r.since);
  return out;
}

/** Deletes visits older than `before` (unix ms) and crawls left without visits. */
export function prune(store: Store, before: number): { visits: number; crawls: number } {
  store.flush();
  return store.db.transaction(() => {
    const visits = store.db.prepare('DELETE FROM visits WHERE at < ?').run(before).changes;
    const crawls = store.db
      .prepare("DELETE FROM crawls WHERE status <> 'running' AND coalesce(finished_at, started_at) < ? AND NOT EXISTS (SELECT 1 FROM visits WHERE crawl_id = crawls.id)")
      .run(before).changes;
    return { visits, crawls };
  })();
}

export interface CrawlPoint {
  readonly crawlId: string;
  readonly seq: number;
  readonly startedAt: number;
  readonly reachable: number;
  readonly failed: number;
  readonly byNetwork: Record<string, number>;
}

/** Reachable / failed counts of every crawl (the report's "over time" chart). */
export function timeline(store: Store): CrawlPoint[] {
  const rows = store.db
    .prepare(
      `SELECT c.id, c.seq, c.started_at, v.network, sum(v.state = 'reachable') AS up, sum(v.state = 'failed') AS down
       FROM crawls c JOIN visits v ON v.crawl_id = c.id GROUP BY c.id, v.network ORDER BY c.seq`,
    )
    .all() as Array<{ id: string; seq: number; started_at: number; network: string; up: number; down: number }>;
  const points = new Map<string, { crawlId: string; seq: number; startedAt: number; reachable: number; failed: number; byNetwork: Record<string, number> }>();
  for (const r of rows) {
    let p = points.get(r.id);
    if (p === undefined) points.set(r.id, (p = { crawlId: r.id, seq: r.seq, startedAt: r.started_at, reachable: 0, failed: 0, byNetwork: {} }));
    p.reachable += r.up;
    p.failed += r.down;
    if (r.up > 0) p.byNetwork[r.network] = r.up;
  }
  return [...points.values()];
}

export function visitCount(store: Store): number {
  return store.db.prepare('SELECT count(*) FROM visits').pluck().get() as number;
}
