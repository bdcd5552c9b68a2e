/**
 * The per-address result a crawl produces (one snapshot line), and the
 * running summary built from those results.
 */
import type { ErrorCode } from '../errors.js';
import type { AddressNetwork } from '../wire/types.js';
import { serviceNames } from '../wire/services.js';
import type { PeerSuccessInfo } from '../shared/messages.js';
import type { Via } from '../shared/reach.js';
import type { HygieneVerdict } from '../shared/routable.js';
import type { RecordStamp } from './record-schema.js';
import type { Transport } from '../shared/transport.js';

export type NodeState = 'reachable' | 'failed' | 'skipped';

/**
 * Why an address was never dialled: `no-route` (an onion/I2P/CJDNS address
 * without --via-tor / --via-i2p / --cjdns), `i2p-port` (an I2P address with
 * a port other than 0), `not-allowed` (outside --only), `stopped`, and under
 * --allow-any the hygiene verdicts (src/shared/routable.ts: `private`,
 * `loopback`, `documentation`…, `denied`, `bad-port`, `netgroup-full`).
 */
export type SkipReason = 'no-route' | 'i2p-port' | 'not-allowed' | 'stopped' | HygieneVerdict | GossipSkip;

/**
 * Gossip policy (engine/gossip-policy.ts), whatever the allow-list: `bad-port`
 * (a gossiped address on one of Core's bad ports) and `port-limit` (gossip gave
 * its IP more than maxPortsPerHost ports). Seeds are not subject to them.
 */
export type GossipSkip = 'bad-port' | 'port-limit';

/** How a dialled node was reached. */
export interface Reached {
  readonly via: Via;
  /** The SOCKS5 proxy or SAM bridge, `host:port` (absent when direct). */
  readonly proxy?: string;
  /** BIP324: what the last attempt spoke (absent before a TCP connection), and whether v1 followed a failed v2 attempt. */
  readonly transport?: Transport;
  readonly v2Fallback?: true;
}

/** Schema v2 (docs/SCHEMA.md): the stamp fields come from {@link RecordStamp}. */
export interface NodeRecord extends Partial<RecordStamp> {
  /** Bitcoin Core's text form, port included. */
  readonly addr: string;
  readonly network: AddressNetwork;
  /** `reachable` only when both the peer's version and verack arrived. */
  readonly state: NodeState;
  /** Reachable and failed records: `direct`, `socks5` or `sam`. */
  readonly via?: Via;
  /** The proxy or SAM bridge used (`host:port`), when not direct. */
  readonly proxy?: string;
  /** For `failed`: the PeerErrorCode (or codec code) of what went wrong. */
  readonly error?: ErrorCode;
  /** For `skipped`. */
  readonly reason?: SkipReason;
  /** Failed: the finer cause, e.g. the wire error (ERR_BAD_MAGIC…) under ERR_PROTOCOL. */
  readonly detail?: ErrorCode;
  readonly protocolVersion?: number;
  readonly userAgent?: string;
  readonly services?: number;
  /** `services` as names (NODE_NETWORK, NODE_WITNESS, …; unknown bits `UNKNOWN[2^n]`). */
  readonly serviceNames?: readonly string[];
  readonly startHeight?: number;
  readonly relay?: boolean;
  readonly connectMs?: number;
  readonly handshakeMs?: number;
  /** Round-trip time: our version sent → the peer's version received (ms). */
  readonly rttMs?: number;
  readonly addrsReturned?: number;
  /** Addresses this peer sent over its budget (see PeerSuccessInfo), dropped; present when > 0. */
  readonly addrsDropped?: number;
  /** How long the visit held a connection slot (dial to both sides closed), and of that the close. */
  readonly slotMs?: number;
  readonly closeMs?: number;
  /**
   * `v1` or `v2` (BIP324): what the last attempt spoke, present once a TCP
   * connection was made (a failed record too: a hostile v2 peer is `v2`).
   */
  readonly transport?: Transport;
  /** Present (true) when v1 was used after the v2 attempt was closed or reset with nothing received. */
  readonly v2Fallback?: true;
}

/** What a record says about the transport, from a worker event or success info. */
function transportFields(how: { transport?: Transport; v2Fallback?: boolean } | undefined): { transport?: Transport; v2Fallback?: true } {
  if (how === undefined) return {};
  return { ...(how.transport !== undefined ? { transport: how.transport } : {}), ...(how.v2Fallback === true ? { v2Fallback: true as const } : {}) };
}

/**
 * Every field of a record, in the fixed order the NDJSON snapshot and the CSV export use (so
 * snapshots diff cleanly between runs). One list: a field added to NodeRecord and not here would
 * be silently missing from both.
 */
export const RECORD_KEYS = [
  'addr',
  'network',
  'state',
  'error',
  'detail',
  'reason',
  'visitedAt',
  'crawlId',
  'source',
  'lastSeen',
  'via',
  'proxy',
  'transport',
  'v2Fallback',
  'protocolVersion',
  'userAgent',
  'services',
  'serviceNames',
  'startHeight',
  'relay',
  'connectMs',
  'handshakeMs',
  'rttMs',
  'slotMs',
  'closeMs',
  'addrsReturned',
  'addrsDropped',
] as const satisfies ReadonlyArray<keyof NodeRecord>;

export function reachableRecord(addr: string, network: AddressNetwork, info: PeerSuccessInfo, how: Reached = { via: 'direct' }): NodeRecord {
  return {
    addr,
    network,
    state: 'reachable',
    ...how,
    protocolVersion: info.protocolVersion,
    userAgent: info.userAgent,
    services: info.services,
    serviceNames: serviceNames(info.services),
    startHeight: info.startHeight,
    relay: info.relay,
    connectMs: info.connectMs,
    handshakeMs: info.handshakeMs,
    ...(info.rttMs !== undefined ? { rttMs: info.rttMs } : {}),
    addrsReturned: info.addrsReturned,
    ...(info.addrsDropped !== undefined && info.addrsDropped > 0 ? { addrsDropped: info.addrsDropped } : {}),
    ...(info.slotMs !== undefined ? { slotMs: info.slotMs, closeMs: info.closeMs ?? 0 } : {}),
    ...transportFields(info),
  };
}

export function failedRecord(addr: string, network: AddressNetwork, error: ErrorCode, detail?: ErrorCode, how: Reached = { via: 'direct' }): NodeRecord {
  return detail === undefined ? { addr, network, state: 'failed', ...how, error } : { addr, network, state: 'failed', ...how, error, detail };
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
  /** Reachable nodes by the transport their handshake completed over. */
  readonly byTransport: Record<Transport, number>;
  /** Share of reachable nodes reached over v2 (0 when none is reachable). */
  readonly v2Share: number;
  /** Records (reachable or failed) where v1 was used after a failed v2 attempt. */
  readonly v2Fallbacks: number;
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
  /** Per network: its budget of peers in flight and the most it had at once. */
  readonly networkBudgets?: Partial<Record<AddressNetwork, { readonly budget: number; readonly peak: number }>>;
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
  private readonly transports: Record<Transport, number> = { v1: 0, v2: 0 };
  private fallbacks = 0;
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
    if (rec.v2Fallback === true) this.fallbacks++;
    if (rec.state === 'reachable') {
      bump(this.agents, rec.userAgent ?? '');
      bump(this.versions, rec.protocolVersion ?? 0);
      if (rec.transport !== undefined) this.transports[rec.transport]++;
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

  finish(extra: {
    durationMs: number;
    peakOpen: number;
    workerCrashes: number;
    stopped: boolean;
    networkBudgets?: Partial<Record<AddressNetwork, { budget: number; peak: number }>>;
    addrsDropped?: CrawlSummary['addrsDropped'];
  }): CrawlSummary {
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
      byTransport: { ...this.transports },
      v2Share: this.states.reachable > 0 ? this.transports.v2 / this.states.reachable : 0,
      v2Fallbacks: this.fallbacks,
      durationMs: extra.durationMs,
      visitsPerSecond: extra.durationMs > 0 ? (this.visited * 1000) / extra.durationMs : 0,
      peakOpen: extra.peakOpen,
      workerCrashes: extra.workerCrashes,
      stopped: extra.stopped,
      addrsDropped: extra.addrsDropped ?? { perSource: 0, perSourceGroup: 0, maxKnown: 0 },
      ...(extra.networkBudgets !== undefined ? { networkBudgets: extra.networkBudgets } : {}),
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
  const budgets = Object.entries(s.networkBudgets ?? {}).filter(([, b]) => b !== undefined && b.peak > 0);
  if (budgets.length > 0) lines.push(`  budgets:  ${budgets.map(([n, b]) => `${n} peak ${b!.peak}/${b!.budget}`).join(', ')}`);
  lines.push(`  versions: ${s.protocolVersions.map(([v, n]) => `${v} ${n}`).join(', ') || 'none'}`);
  lines.push(
    `  transport: v2 ${s.byTransport.v2}, v1 ${s.byTransport.v1} (v2 share ${(s.v2Share * 100).toFixed(1)} % of reachable` +
      `${s.v2Fallbacks > 0 ? `; ${s.v2Fallbacks} fell back to v1` : ''})`,
  );
  lines.push('  user agents:');
  for (const [ua, n] of s.topUserAgents) lines.push(`    ${String(n).padStart(6)}  ${JSON.stringify(ua)}`);
  if (s.workerCrashes > 0) lines.push(`  worker crashes: ${s.workerCrashes}`);
  const d = s.addrsDropped;
  if (d.perSource + d.perSourceGroup + d.maxKnown > 0) {
    lines.push(`  dropped:  ${d.perSource} over a peer's budget, ${d.perSourceGroup} over a source group's budget, ${d.maxKnown} past max-known`);
  }
  return lines.join('\n');
}
