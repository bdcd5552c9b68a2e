/**
 * The per-address result a crawl produces (one snapshot line), and the
 * running summary built from those results.
 */
import type { ErrorCode } from '../errors.js';
import type { AddressNetwork } from '../wire/types.js';
import type { PeerSuccessInfo } from '../shared/messages.js';

export type NodeState = 'reachable' | 'failed' | 'skipped';

/** Why an address was never dialled. */
/**
 * Why an address was never dialled: non-ip (no proxy), not-allowed (outside
 * --only), stopped (the crawl stopped first), bad-port (gossiped with one of
 * Core's bad ports), port-limit (gossip gave its IP more than maxPortsPerHost
 * ports).
 */
export type SkipReason = 'non-ip' | 'not-allowed' | 'stopped' | 'bad-port' | 'port-limit';

export interface NodeRecord {
  /** Bitcoin Core's text form, port included. */
  readonly addr: string;
  readonly network: AddressNetwork;
  /** `reachable` only when both the peer's version and verack arrived. */
  readonly state: NodeState;
  /** For `failed`: the PeerErrorCode (or codec code) of what went wrong. */
  readonly error?: ErrorCode;
  /** For `skipped`. */
  readonly reason?: SkipReason;
  /** Failed: the finer cause, e.g. the wire error (ERR_BAD_MAGIC…) under ERR_PROTOCOL. */
  readonly detail?: ErrorCode;
  readonly protocolVersion?: number;
  readonly userAgent?: string;
  readonly services?: number;
  readonly startHeight?: number;
  readonly relay?: boolean;
  readonly connectMs?: number;
  readonly handshakeMs?: number;
  readonly addrsReturned?: number;
  /** Addresses this peer sent over its budget (see PeerSuccessInfo), dropped; present when > 0. */
  readonly addrsDropped?: number;
}

export function reachableRecord(addr: string, network: AddressNetwork, info: PeerSuccessInfo): NodeRecord {
  return {
    addr,
    network,
    state: 'reachable',
    protocolVersion: info.protocolVersion,
    userAgent: info.userAgent,
    services: info.services,
    startHeight: info.startHeight,
    relay: info.relay,
    connectMs: info.connectMs,
    handshakeMs: info.handshakeMs,
    addrsReturned: info.addrsReturned,
    ...(info.addrsDropped !== undefined && info.addrsDropped > 0 ? { addrsDropped: info.addrsDropped } : {}),
  };
}

export function failedRecord(addr: string, network: AddressNetwork, error: ErrorCode, detail?: ErrorCode): NodeRecord {
  return detail === undefined ? { addr, network, state: 'failed', error } : { addr, network, state: 'failed', error, detail };
}

export function skippedRecord(addr: string, network: AddressNetwork, reason: SkipReason): NodeRecord {
  return { addr, network, state: 'skipped', reason };
}

export interface CrawlSummary {
  readonly total: number;
  readonly byState: Record<NodeState, number>;
  readonly byError: Record<string, number>;
  /**
   * Failures that carry a `detail`, keyed `error/detail` (e.g.
   * `ERR_PROTOCOL/ERR_BAD_MAGIC`): tells garbage from an oversized frame.
   */
  readonly byErrorDetail: Record<string, number>;
  readonly byNetwork: Record<string, number>;
  readonly bySkipReason: Record<string, number>;
  /** Most common user agents of reachable nodes, most frequent first (top 10). */
  readonly topUserAgents: ReadonlyArray<readonly [string, number]>;
  readonly protocolVersions: ReadonlyArray<readonly [number, number]>;
  readonly durationMs: number;
  /** Addresses finished (reachable + failed) per second of crawl. */
  readonly visitsPerSecond: number;
  /** Highest number of simultaneously open sockets seen by the cap. */
  readonly peakOpen: number;
  readonly workerCrashes: number;
  /** True when the crawl was stopped before the frontier drained. */
  readonly stopped: boolean;
  /**
   * New addresses peers sent that were not stored (so neither recorded nor
   * dialled): over their learned-from peer's budget, over their source
   * group's budget, or past maxKnown.
   */
  readonly addrsDropped: { readonly perSource: number; readonly perSourceGroup: number; readonly maxKnown: number };
}

function bump<K extends string | number>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Accumulates records as they are written; O(distinct keys) memory. */
export class SummaryCollector {
  private readonly states: Record<NodeState, number> = { reachable: 0, failed: 0, skipped: 0 };
  private readonly errors = new Map<string, number>();
  private readonly errorDetails = new Map<string, number>();
  private readonly networks = new Map<string, number>();
  private readonly skipReasons = new Map<string, number>();
  private readonly agents = new Map<string, number>();
  private readonly versions = new Map<number, number>();
  private count = 0;

  add(rec: NodeRecord): void {
    this.count++;
    this.states[rec.state]++;
    bump(this.networks, rec.network);
    if (rec.error !== undefined) {
      bump(this.errors, rec.error);
      if (rec.detail !== undefined) bump(this.errorDetails, `${rec.error}/${rec.detail}`);
    }
    if (rec.reason !== undefined) bump(this.skipReasons, rec.reason);
    if (rec.state === 'reachable') {
      bump(this.agents, rec.userAgent ?? '');
      bump(this.versions, rec.protocolVersion ?? 0);
    }
  }

  get total(): number {
    return this.count;
  }

  get visited(): number {
    return this.states.reachable + this.states.failed;
  }

  state(s: NodeState): number {
    return this.states[s];
  }

  finish(extra: { durationMs: number; peakOpen: number; workerCrashes: number; stopped: boolean; addrsDropped?: CrawlSummary['addrsDropped'] }): CrawlSummary {
    const sorted = <K>(m: Map<K, number>): Array<[K, number]> => [...m].sort((a, b) => b[1] - a[1]);
    return {
      total: this.count,
      byState: { ...this.states },
      byError: Object.fromEntries(sorted(this.errors)),
      byErrorDetail: Object.fromEntries(sorted(this.errorDetails)),
      byNetwork: Object.fromEntries(sorted(this.networks)),
      bySkipReason: Object.fromEntries(sorted(this.skipReasons)),
      topUserAgents: sorted(this.agents).slice(0, 10),
      protocolVersions: sorted(this.versions),
      durationMs: extra.durationMs,
      visitsPerSecond: extra.durationMs > 0 ? (this.visited * 1000) / extra.durationMs : 0,
      peakOpen: extra.peakOpen,
      workerCrashes: extra.workerCrashes,
      stopped: extra.stopped,
      addrsDropped: extra.addrsDropped ?? { perSource: 0, perSourceGroup: 0, maxKnown: 0 },
    };
  }
}

/** The human-readable summary the CLI prints. */
export function formatSummary(s: CrawlSummary): string {
  const lines: string[] = [];
  const pairs = (o: Record<string, number>): string =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  lines.push(
    `${s.stopped ? 'stopped' : 'done'}: ${s.total} addresses in ${(s.durationMs / 1000).toFixed(1)} s ` +
      `(${s.visitsPerSecond.toFixed(1)} visits/s, peak ${s.peakOpen} open)`,
  );
  lines.push(`  state:    reachable ${s.byState.reachable}, failed ${s.byState.failed}, skipped ${s.byState.skipped}`);
  lines.push(`  failures: ${pairs(s.byError)}`);
  if (Object.keys(s.byErrorDetail).length > 0) lines.push(`  details:  ${pairs(s.byErrorDetail)}`);
  if (s.byState.skipped > 0) lines.push(`  skipped:  ${pairs(s.bySkipReason)}`);
  lines.push(`  networks: ${pairs(s.byNetwork)}`);
  lines.push(`  versions: ${s.protocolVersions.map(([v, n]) => `${v} ${n}`).join(', ') || 'none'}`);
  lines.push('  user agents:');
  for (const [ua, n] of s.topUserAgents) lines.push(`    ${String(n).padStart(6)}  ${JSON.stringify(ua)}`);
  if (s.workerCrashes > 0) lines.push(`  worker crashes: ${s.workerCrashes}`);
  const d = s.addrsDropped;
  if (d.perSource + d.perSourceGroup + d.maxKnown > 0) {
    lines.push(`  dropped:  ${d.perSource} over a peer's budget, ${d.perSourceGroup} over a source group's budget, ${d.maxKnown} past max-known`);
  }
  return lines.join('\n');
}
