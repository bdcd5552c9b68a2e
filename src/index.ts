/**
 * bitspread's public API. Each module adds its exports here.
 */
export * from './errors.js';
export type * from './wire/types.js';
export * from './supervisor/peer-cap.js';
export * from './supervisor/dynamic-supervisor.js';
export * from './crawl/frontier.js';
export * from './crawl/allow-list.js';
export { Crawler, type CrawlStats } from './crawl/crawler.js';
export { crawl, type CrawlRun } from './crawl/crawl.js';
export { connectToNode, type ConnectOptions, type ConnectResult } from './crawl/connect-to-node.js';
export type { CrawlOptions } from './crawl/options.js';
export type { CrawlMode, PeerTimeouts, LearnedAddress } from './crawl/protocol.js';
export { formatSummary, type CrawlSummary, type NodeRecord, type NodeState, type SkipReason } from './crawl/record.js';
export { SnapshotWriter } from './crawl/snapshot.js';
export { pickWorker } from './crawl/balancer.js';
