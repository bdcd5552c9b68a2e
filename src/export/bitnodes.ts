/**
 * bitnodes' snapshot JSON (its API's /snapshots/<timestamp>/ layout), so
 * tools written for bitnodes can read our crawls:
 *
 *   { "timestamp": 1700000000, "total_nodes": 2, "latest_height": 925000,
 *     "nodes": { "1.2.3.4:8333": [protocol_version, user_agent, connected_since,
 *                services, height, hostname, city, country, latitude,
 *                longitude, timezone, asn, organization_name], … } }
 *
 * Reachable nodes only, as bitnodes lists. We fill what a crawl knows and
 * null for what bitnodes adds from reverse DNS and GeoIP/ASN databases
 * (hostname, city, country, latitude, longitude, timezone, asn,
 * organization_name). `connected_since` is when the node's current unbroken
 * run of reachable visits began (from a store) or its visit time (from a
 * single snapshot), unix seconds.
 */
import type { NodeRecord } from '../engine/record.js';

export type BitnodesRow = [
  protocolVersion: number,
  userAgent: string,
  connectedSince: number,
  services: number,
  height: number,
  hostname: null,
  city: null,
  country: null,
  latitude: null,
  longitude: null,
  timezone: null,
  asn: null,
  organizationName: null,
];

export interface BitnodesSnapshot {
  readonly timestamp: number;
  readonly total_nodes: number;
  readonly latest_height: number;
  readonly nodes: Record<string, BitnodesRow>;
}

/** How many reachable nodes must report (at least) a height for it to count as the chain tip. */
const TIP_QUORUM = 3;

/**
 * The chain tip as the crawl saw it: the highest start height that at least
 * 3 reachable nodes reported or exceeded (one node lying about its height
 * cannot move it); with fewer nodes, the lowest of them.
 */
export function latestHeight(heights: readonly number[]): number {
  if (heights.length === 0) return 0;
  const sorted = [...heights].sort((a, b) => b - a);
  return sorted[Math.min(TIP_QUORUM, sorted.length) - 1] as number;
}

export function toBitnodes(records: Iterable<NodeRecord>, opts: { timestamp: number; connectedSince?: ReadonlyMap<string, number> }): BitnodesSnapshot {
  const nodes: Record<string, BitnodesRow> = {};
  const heights: number[] = [];
  for (const r of records) {
    if (r.state !== 'reachable') continue;
    const seen = opts.connectedSince?.get(r.addr) ?? (r.visitedAt === undefined ? opts.timestamp * 1000 : Date.parse(r.visitedAt));
    const height = r.startHeight ?? 0;
    heights.push(height);
    nodes[r.addr] = [r.protocolVersion ?? 0, r.userAgent ?? '', Math.floor(seen / 1000), r.services ?? 0, height, null, null, null, null, null, null, null, null];
  }
  return { timestamp: opts.timestamp, total_nodes: Object.keys(nodes).length, latest_height: latestHeight(heights), nodes };
}
