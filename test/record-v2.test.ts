/**
 * Record schema v2 on a real crawl of the sim: every record is stamped with
 * its time and crawl id; `source` is the seed or a peer that really knows the
 * address; `lastSeen` is a gossiped timestamp; reachable nodes have a
 * round-trip time and their service bits by name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { CrawlSummary, NodeRecord } from '../src/engine/record.js';
import { recordToLine } from '../src/engine/snapshot.js';
import { Provenance } from '../src/engine/record-schema.js';
import { serviceNames } from '../src/wire/services.js';
import { startSimNetwork, type SimNetwork } from '../src/sim/index.js';

let sim: SimNetwork;
const records: NodeRecord[] = [];
let summary: CrawlSummary;
let started: number;
let ended: number;

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 120, seed: 71, baseAddress: '127.201.0.0', mix: { modern: 0.8, old: 0.1, refused: 0.1 } });
  const crawler = new Crawler({ seeds: [sim.seeds[0]!], network: 'regtest', only: ['127.0.0.0/8'], timeoutMs: 1500, addrQuietMs: 30, workers: 1, crawlId: 'crawl-under-test' });
  crawler.on('node', (r: NodeRecord) => records.push(r));
  started = Date.now();
  summary = await crawler.start();
  ended = Date.now();
});

afterAll(async () => {
  await sim.close();
});

describe('record schema v2', () => {
  it('stamps every record with its time and the crawl id', () => {
    expect(records.length).toBe(summary.total);
    for (const r of records) {
      expect(r.crawlId).toBe('crawl-under-test');
      const t = Date.parse(r.visitedAt!);
      expect(t).toBeGreaterThanOrEqual(started);
      expect(t).toBeLessThanOrEqual(ended);
    }
  });

  it('names as source the seed, or a peer that knows the address, and keeps a gossiped lastSeen', () => {
    const truth = sim.truth();
    for (const r of records) {
      if (r.addr === sim.seeds[0]) {
        expect(r.source).toBe('seed');
        expect(r.lastSeen).toBeUndefined();
        continue;
      }
      const teller = sim.knownBy(r.source!);
      expect(teller, `${r.addr} from ${r.source}`).toBeDefined();
      const knows = [...teller!.peers, ...teller!.nonIp];
      expect(knows).toContain(r.addr);
      // The sim gossips times up to 3 days old.
      expect(r.lastSeen!).toBeGreaterThanOrEqual(Math.floor(started / 1000) - 3 * 86400 - 5);
      expect(r.lastSeen!).toBeLessThanOrEqual(Math.ceil(ended / 1000) + 5);
    }
    expect(new Set(records.map((r) => r.source)).size).toBeGreaterThan(3);
    expect(records.filter((r) => r.state === 'reachable')).toHaveLength(truth.reachable.length);
  });

  it('gives each reachable node a round-trip time and its service bits by name, in the snapshot line too', () => {
    const truth = new Map(sim.truth().reachable.map((n) => [n.addr, n]));
    for (const r of records.filter((x) => x.state === 'reachable')) {
      expect(r.rttMs).toBeGreaterThanOrEqual(0);
      expect(r.serviceNames).toEqual(serviceNames(truth.get(r.addr)!.services));
      expect(r.serviceNames!.every((n) => n.startsWith('NODE_'))).toBe(true);
      const line = JSON.parse(recordToLine(r)) as Record<string, unknown>;
      // Fixed key order: identity, then the v2 stamp, then the version fields.
      const order = ['addr', 'network', 'state', 'visitedAt', 'crawlId', 'source', 'lastSeen', 'protocolVersion', 'userAgent', 'services', 'serviceNames'];
      expect(Object.keys(line).filter((k) => order.includes(k))).toEqual(order.filter((k) => k in line));
      expect(line.rttMs).toBe(r.rttMs);
    }
  });

  it('names unknown service bits as Core does', () => {
    expect(serviceNames(0)).toEqual([]);
    expect(serviceNames(1 + 2 + 8 + 0x400 + 0x800)).toEqual(['NODE_NETWORK', 'NODE_GETUTXO', 'NODE_WITNESS', 'NODE_NETWORK_LIMITED', 'NODE_P2P_V2']);
    expect(serviceNames((1n << 24n) | (1n << 63n) | 0x40n)).toEqual(['NODE_COMPACT_FILTERS', 'UNKNOWN[2^24]', 'UNKNOWN[2^63]']);
  });

  it('provenance: first source wins, the newest gossip time is kept, an entry is forgotten once taken', () => {
    const p = new Provenance();
    p.note('a:1', 'peer1', 1_700_000_000);
    p.note('a:1', 'peer2', 1_700_000_500);
    p.note('a:1', 'peer3', 1_600_000_000);
    p.note('b:1', 'seed');
    expect(p.size).toBe(2);
    expect(p.take('a:1')).toEqual({ source: 'peer1', lastSeen: 1_700_000_500 });
    expect(p.take('a:1')).toEqual({});
    expect(p.take('b:1')).toEqual({ source: 'seed' });
    expect(p.size).toBe(0);
    // The largest uint32 time survives the packing exactly.
    p.note('c:1', 'x', 0xffffffff);
    expect(p.take('c:1')).toEqual({ source: 'x', lastSeen: 0xffffffff });
  });
});
