/**
 * The store's SQL schema and its migrations. `PRAGMA user_version` holds the
 * number of migrations applied; opening a store applies the missing ones in
 * one transaction each. A store written by a newer bitspread (user_version
 * above what this one knows) is refused rather than guessed at.
 *
 * Times are unix milliseconds (INTEGER). docs/SCHEMA.md describes the tables.
 */
import type Database from 'better-sqlite3';
import { DataError } from '../errors.js';

export const MIGRATIONS: readonly string[] = [
  // 1: crawls, nodes, visits.
  `
  CREATE TABLE crawls (
    id          TEXT PRIMARY KEY,          -- the crawlId stamped on its records
    seq         INTEGER NOT NULL UNIQUE,   -- 1, 2, 3… in the order crawls started in this store
    kind        TEXT NOT NULL,             -- 'crawl' or 'watch' (one watch round)
    network     TEXT NOT NULL,             -- mainnet, testnet4, regtest…
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    status      TEXT NOT NULL,             -- running, done, stopped, interrupted
    summary     TEXT                       -- the CrawlSummary as JSON, once finished
  );
  CREATE TABLE nodes (
    addr             TEXT PRIMARY KEY,     -- Core text form, port included
    network          TEXT NOT NULL,        -- ipv4, ipv6, onion, i2p, cjdns
    first_seen       INTEGER NOT NULL,     -- first record of any kind
    last_seen        INTEGER NOT NULL,     -- latest record of any kind
    first_reachable  INTEGER,
    last_reachable   INTEGER,
    last_visit       INTEGER,              -- latest dial (reachable or failed)
    last_state       TEXT,                 -- state of the latest dial; 'skipped' only if never dialled
    source           TEXT,                 -- who first told us (a peer, seed, dns, store)
    last_gossip      INTEGER,              -- newest addr timestamp heard (unix seconds)
    protocol_version INTEGER,              -- the latest reachable visit's version fields
    user_agent       TEXT,
    services         INTEGER,
    start_height     INTEGER
  );
  CREATE INDEX nodes_network ON nodes(network);
  CREATE TABLE visits (
    id               INTEGER PRIMARY KEY,
    crawl_id         TEXT NOT NULL REFERENCES crawls(id) ON DELETE CASCADE,
    addr             TEXT NOT NULL,
    network          TEXT NOT NULL,
    at               INTEGER NOT NULL,     -- the record's visitedAt
    state            TEXT NOT NULL,        -- reachable, failed, skipped
    error            TEXT,
    detail           TEXT,
    reason           TEXT,
    protocol_version INTEGER,
    user_agent       TEXT,
    services         INTEGER,
    start_height     INTEGER,
    relay            INTEGER,
    connect_ms       INTEGER,
    handshake_ms     INTEGER,
    rtt_ms           INTEGER,
    addrs_returned   INTEGER,
    addrs_dropped    INTEGER,
    source           TEXT,
    last_seen        INTEGER,
    extra            TEXT                  -- JSON of record fields without a column (e.g. transport)
  );
  CREATE INDEX visits_addr_at ON visits(addr, at);
  CREATE INDEX visits_crawl ON visits(crawl_id);
  CREATE INDEX visits_at ON visits(at);
  `,
  // 2: how each dialled node was reached (records gained via/proxy with Tor/I2P/CJDNS support).
  `
  ALTER TABLE visits ADD COLUMN via TEXT;     -- direct, socks5, sam
  ALTER TABLE visits ADD COLUMN proxy TEXT;   -- the SOCKS5 proxy / SAM bridge, host:port
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies the missing migrations; returns the version the store is now at. */
export function migrate(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new DataError('ERR_STORE_VERSION', `the store is at schema version ${current}, newer than this bitspread knows (${SCHEMA_VERSION}); upgrade bitspread`);
  }
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return SCHEMA_VERSION;
}
