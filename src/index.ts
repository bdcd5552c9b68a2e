/**
 * bitspread's public API. Each module adds its exports here.
 */
export * from './errors.js';
export * from './wire/index.js';
export { PeerCap, OPEN_INDEX, MAX_INDEX, PEAK_INDEX, WORKER_BASE_INDEX, DEFAULT_WORKER_SLOTS, MAX_WORKER_SLOTS, MAX_PEER_CAP } from './shared/peer-cap.js';
export {
  DynamicSupervisor,
  restartDecision,
  backoffDelay,
  restartsInWindow,
  wantsRestart,
  isAbnormal,
  intensityExceeded,
  DEFAULT_BACKOFF,
  DEFAULT_CHILD_RESTART_LIMITS,
  DEFAULT_INTENSITY,
  DEFAULT_SHUTDOWN_MS,
  MAX_SHUTDOWN_MS,
} from './supervisor/dynamic-supervisor.js';
export type {
  ChildSpec,
  ChildCounts,
  ChildInfo,
  ChildState,
  ExitReason,
  IntensityLimits,
  Shutdown,
  StartChildError,
  TerminateChildResult,
  RestartType,
  RestartDecision,
  RestartLimits,
  BackoffOptions,
  StartChildResult,
  SupervisorClock,
  SupervisorEvents,
  SupervisorOptions,
} from './supervisor/dynamic-supervisor.js';
export { Frontier } from './engine/frontier.js';
export type { FrontierState } from './engine/frontier.js';
export { AllowList } from './shared/allow-list.js';
export { BAD_PORTS, isBadPort } from './shared/bad-ports.js';
export { netgroupOf } from './shared/netgroup.js';
export { Crawler, type CrawlStats } from './engine/crawler.js';
export { crawl, type CrawlRun } from './engine/crawl.js';
export { probeNode, type ProbeOptions, type ProbeResult, type LearnedAddress } from './engine/probe.js';
export type { CrawlOptions } from './engine/options.js';
export type { CrawlMode, PeerTimeouts, WorkerMemory } from './shared/messages.js';
export { dialTransport, advertisesV2, TRANSPORT_OPTIONS, type Transport, type TransportOption } from './shared/transport.js';
export * as v2 from './wire/v2/index.js';
export { formatSummary, type CrawlSummary, type NodeRecord, type NodeState, type SkipReason } from './engine/record.js';
export { SnapshotWriter } from './engine/snapshot.js';
export { RECORD_SCHEMA_VERSION, SOURCE_SEED, SOURCE_DNS, SOURCE_STORE, type RecordStamp } from './engine/record-schema.js';
// The SQLite-backed parts (Store, Watcher, history queries) are in 'bitspread/history' (src/history.ts),
// so importing the crawler never loads the native better-sqlite3 module.
export { diffCrawls, formatDiff, type CrawlDiff, type NodeChange } from './store/diff.js';
export { readSnapshotFile } from './store/sources.js';
export { recordsToCsv, CSV_COLUMNS } from './export/csv.js';
export { toBitnodes, latestHeight, type BitnodesSnapshot, type BitnodesRow } from './export/bitnodes.js';
export { buildReportData, type ReportData, type ChartData } from './report/data.js';
export { renderReport } from './report/html.js';
export { CrawlMetrics, parseListenAddress } from './metrics/metrics.js';
export { pickWorker } from './engine/balancer.js';
export { startSimNetwork, SIM_BEHAVIOURS, DEFAULT_MIX, completesHandshake, parseMix, SimChurn, churnIsUp, churnAgent, nodeRttUs } from './sim/index.js';
export type {
  SimOptions,
  SimNetwork,
  SimStats,
  SimListenMode,
  SimTruth,
  SimTruthNode,
  SimReachableNode,
  SimViolation,
  SimViolationKind,
  SimBehaviour,
  LatencyOptions,
  ChurnOptions,
  ChurnSchedule,
  ChurnTruth,
} from './sim/index.js';
// Cluster mode (`redis` option): types only here; the Redis client loads only when a crawl uses it.
export type { CoordinatorOptions as RedisOptions } from './cluster/options.js';
