/**
 * bitspread/history: the SQLite-backed parts (the store, continuous mode,
 * history queries). A separate entry point so that `import 'bitspread'`
 * never loads the native better-sqlite3 module.
 */
export {
  Watcher,
  DEFAULT_WATCH_INTERVAL_MS,
  DEFAULT_REVISIT_FAILED_MS,
  DEFAULT_DEAD_AFTER_MS,
  DEFAULT_RETENTION_MS,
  type WatchOptions,
  type RoundStart,
  type RoundEnd,
} from './engine/watch.js';
export { Store, type CrawlRow, type CrawlStatus, type CrawlKind, type StoreOptions } from './store/store.js';
export { SCHEMA_VERSION as STORE_SCHEMA_VERSION } from './store/schema.js';
export {
  UPTIME_WINDOWS,
  crawlRecords,
  dueAddresses,
  uptimes,
  reachableSince,
  prune,
  timeline,
  type NodeUptime,
  type UptimeWindow,
  type RevisitPolicy,
  type CrawlPoint,
} from './store/history.js';
