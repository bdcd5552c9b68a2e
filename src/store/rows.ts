/**
 * NodeRecord ⇄ visits row. Every schema-v2 field has a column; any other
 * field a record carries (added by later versions or other modules, e.g. a
 * transport name) is kept as JSON in `extra`, so reading a crawl back gives
 * the records its snapshot had. `serviceNames` is derived from `services`.
 */
import type { ErrorCode } from '../errors.js';
import type { AddressNetwork } from '../wire/types.js';
import { serviceNames } from '../wire/services.js';
import type { NodeRecord, NodeState, SkipReason } from '../engine/record.js';

export interface VisitRow {
  crawl_id: string;
  addr: string;
  network: string;
  at: number;
  state: string;
  error: string | null;
  detail: string | null;
  reason: string | null;
  protocol_version: number | null;
  user_agent: string | null;
  services: number | null;
  start_height: number | null;
  relay: number | null;
  connect_ms: number | null;
  handshake_ms: number | null;
  rtt_ms: number | null;
  addrs_returned: number | null;
  addrs_dropped: number | null;
  source: string | null;
  last_seen: number | null;
  via: string | null;
  proxy: string | null;
  extra: string | null;
}

/** Record fields with a column of their own (or derived: serviceNames, visitedAt → at, crawlId → crawl_id). */
const MAPPED = new Set<string>([
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
  'protocolVersion',
  'userAgent',
  'services',
  'serviceNames',
  'startHeight',
  'relay',
  'connectMs',
  'handshakeMs',
  'rttMs',
  'addrsReturned',
  'addrsDropped',
]);

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);

export function recordToRow(rec: NodeRecord, crawlId: string, at: number): VisitRow {
  let extra: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(rec)) {
    if (MAPPED.has(k) || v === undefined) continue;
    (extra ??= {})[k] = v;
  }
  return {
    crawl_id: crawlId,
    addr: rec.addr,
    network: rec.network,
    at,
    state: rec.state,
    error: orNull(rec.error),
    detail: orNull(rec.detail),
    reason: orNull(rec.reason),
    protocol_version: orNull(rec.protocolVersion),
    user_agent: orNull(rec.userAgent),
    services: orNull(rec.services),
    start_height: orNull(rec.startHeight),
    relay: rec.relay === undefined ? null : rec.relay ? 1 : 0,
    connect_ms: orNull(rec.connectMs),
    handshake_ms: orNull(rec.handshakeMs),
    rtt_ms: orNull(rec.rttMs),
    addrs_returned: orNull(rec.addrsReturned),
    addrs_dropped: orNull(rec.addrsDropped),
    source: orNull(rec.source),
    last_seen: orNull(rec.lastSeen),
    via: orNull(rec.via),
    proxy: orNull(rec.proxy),
    extra: extra === null ? null : JSON.stringify(extra),
  };
}

export function rowToRecord(row: VisitRow): NodeRecord {
  const rec: Record<string, unknown> = { addr: row.addr, network: row.network as AddressNetwork, state: row.state as NodeState };
  const put = (key: string, value: unknown): void => {
    if (value !== null && value !== undefined) rec[key] = value;
  };
  put('error', row.error as ErrorCode | null);
  put('detail', row.detail as ErrorCode | null);
  put('reason', row.reason as SkipReason | null);
  rec.visitedAt = new Date(row.at).toISOString();
  rec.crawlId = row.crawl_id;
  put('source', row.source);
  put('lastSeen', row.last_seen);
  put('via', row.via);
  put('proxy', row.proxy);
  put('protocolVersion', row.protocol_version);
  put('userAgent', row.user_agent);
  put('services', row.services);
  if (row.services !== null) rec.serviceNames = serviceNames(row.services);
  put('startHeight', row.start_height);
  if (row.relay !== null) rec.relay = row.relay === 1;
  put('connectMs', row.connect_ms);
  put('handshakeMs', row.handshake_ms);
  put('rttMs', row.rtt_ms);
  put('addrsReturned', row.addrs_returned);
  put('addrsDropped', row.addrs_dropped);
  if (row.extra !== null) Object.assign(rec, JSON.parse(row.extra) as Record<string, unknown>);
  return rec as unknown as NodeRecord;
}
