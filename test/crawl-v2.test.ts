/**
 * BIP324 end to end: the engine crawls a simulated network of v2 nodes,
 * v1-only nodes, false v2 advertisers (fakev2) and the five v2 breakers, and
 * records every node's transport (and fallback) exactly as the simulator's
 * truth says; the v1 fallback reuses its cap slot; --transport v1 and v2 do
 * what they say.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { CrawlOptions } from '../src/engine/options.js';
import type { CrawlSummary, NodeRecord } from '../src/engine/record.js';
import { probeNode } from '../src/engine/probe.js';
import { PeerCap } from '../src/shared/peer-cap.js';
import { startSimNetwork, type SimBehaviour, type SimNetwork, type SimTruthNode } from '../src/sim/index.js';

const MIX = { modern: 0.5, old: 0.1, fakev2: 0.1, v2noterminator: 0.06, v2longgarbage: 0.06, v2badtag: 0.06, v2noversion: 0.06, v2oversize: 0.06 };
const CAP = 40;

/** What a correct auto crawl records for each v2 breaker: ERR_PROTOCOL with this detail. */
const V2_DETAIL: Partial<Record<SimBehaviour, string>> = {
  v2noterminator: 'ERR_V2_NO_GARBAGE_TERMINATOR',
  v2longgarbage: 'ERR_V2_GARBAGE_TOO_LONG',
  v2badtag: 'ERR_V2_BAD_TAG',
  v2noversion: 'ERR_V2_BAD_VERSION_PACKET',
  v2oversize: 'ERR_MESSAGE_TOO_LARGE',
};

interface Run {
  records: Map<string, NodeRecord>;
  summary: CrawlSummary;
  crawler: Crawler;
}

async function crawl(sim: SimNetwork, opts: Partial<CrawlOptions>): Promise<Run> {
  const records = new Map<string, NodeRecord>();
  const crawler = new Crawler({ network: sim.network, seeds: sim.seeds, only: ['127.0.0.0/8'], timeoutMs: 2000, addrQuietMs: 100, maxPeers: CAP, workers: 2, ...opts });
  crawler.on('node', (r: NodeRecord) => records.set(r.addr, r));
  const summary = await crawler.start();
  return { records, summary, crawler };
}

describe('crawling v2, v1-only, fakev2 and hostile v2 nodes', () => {
  let sim: SimNetwork;
  let truth: SimTruthNode[];

  beforeAll(async () => {
    sim = await startSimNetwork({ nodes: 220, seed: 31, mix: MIX, baseAddress: '127.189.0.0' });
    truth = sim.truth().nodes.filter((n) => n.discoverable);
  });

  afterAll(async () => {
    await sim.close();
  });

  it('auto: records every node with the transport and fallback the truth says, each breaker with its typed code', async () => {
    const { records, summary, crawler } = await crawl(sim, {});
    const count = (f: (n: SimTruthNode) => boolean): number => truth.filter(f).length;
    // The network really has every kind (a vacuous pass is impossible).
    expect(count((n) => n.transport === 'v2' && n.behaviour === 'modern')).toBeGreaterThan(10);
    expect(count((n) => n.transport === 'v1' && n.behaviour === 'modern')).toBeGreaterThan(5);
    expect(count((n) => n.v2Fallback)).toBeGreaterThan(3);
    for (const b of Object.keys(V2_DETAIL)) expect(count((n) => n.behaviour === b), b).toBeGreaterThan(0);

    for (const n of truth) {
      const r = records.get(n.addr);
      const label = `${n.addr} (${n.behaviour}${n.seed ? ', seed' : ''}) ${r?.error ?? ''} ${r?.detail ?? ''}`;
      expect(r, label).toBeDefined();
      expect(r!.transport, label).toBe(n.transport ?? undefined);
      expect(r!.v2Fallback === true, label).toBe(n.v2Fallback);
      const detail = V2_DETAIL[n.behaviour];
      if (detail !== undefined) expect(r, label).toMatchObject({ state: 'failed', error: 'ERR_PROTOCOL', detail });
      else expect(r!.state, label).toBe('reachable');
    }
    const reachableV2 = count((n) => n.transport === 'v2' && V2_DETAIL[n.behaviour] === undefined);
    expect(summary.byTransport).toEqual({ v2: reachableV2, v1: summary.byState.reachable - reachableV2 });
    expect(summary.v2Share).toBeCloseTo(reachableV2 / summary.byState.reachable, 10);
    expect(summary.v2Fallbacks).toBe(count((n) => n.v2Fallback));

    const stats = sim.stats();
    expect(stats.violationCount).toBe(0);
    // Each fallback is one v2 key a v1-only node turned down, and nothing else is.
    expect(stats.v2Refused).toBe(count((n) => n.v2Fallback));
    // The fallback redials inside its slot: never over the cap, nothing left open.
    expect(stats.peakInbound).toBeLessThanOrEqual(CAP);
    expect(crawler.cap.peak()).toBeLessThanOrEqual(CAP);
    expect(crawler.cap.open()).toBe(0);
  });

  it('--transport v1: every connection speaks v1 (v2 nodes accept it), no fallback', async () => {
    const before = sim.stats();
    const { records, summary } = await crawl(sim, { transport: 'v1' });
    for (const n of truth) {
      const r = records.get(n.addr);
      expect(r?.transport, n.addr).toBe(n.behaviour === 'refused' ? undefined : 'v1');
      expect(r?.v2Fallback, n.addr).toBeUndefined();
      if (n.behaviour === 'modern') expect(r?.state, n.addr).toBe('reachable');
    }
    expect(summary.byTransport.v2).toBe(0);
    expect(summary.v2Share).toBe(0);
    const after = sim.stats();
    expect(after.v2Sessions).toBe(before.v2Sessions);
    expect(after.v1OnV2Nodes - before.v1OnV2Nodes).toBeGreaterThan(10);
  });

  it('--transport v2: every connection speaks v2, seeds too; a v1-only node fails (no fallback)', async () => {
    const { records, summary } = await crawl(sim, { transport: 'v2' });
    let v1Only = 0;
    for (const n of truth) {
      const r = records.get(n.addr);
      if (n.behaviour === 'refused') continue;
      expect(r?.transport, n.addr).toBe('v2');
      expect(r?.v2Fallback, n.addr).toBeUndefined();
      if (n.behaviour === 'modern' && n.speaksV2) expect(r?.state, n.addr).toBe('reachable');
      if ((n.behaviour === 'modern' || n.behaviour === 'old') && !n.speaksV2) {
        v1Only++;
        expect(r, n.addr).toMatchObject({ state: 'failed', error: 'ERR_PEER_CLOSED' });
      }
    }
    expect(v1Only).toBeGreaterThan(0);
    expect(summary.v2Share).toBe(1);
  });
});

describe('the v1 fallback of one dial', () => {
  it('probeNode with NODE_P2P_V2 services: v2 closed by a fakev2 node, v1 in the same slot, one connection at a time', async () => {
    const sim = await startSimNetwork({ nodes: 6, seed: 3, mix: { fakev2: 1 }, baseAddress: '127.189.200.0' });
    try {
      const node = sim.truth().nodes.find((n) => n.behaviour === 'fakev2')!;
      const cap = PeerCap.create(1);
      const rec = await probeNode(node.addr, { network: sim.network, only: ['127.0.0.0/8'], cap, services: node.services, timeoutMs: 2000, addrQuietMs: 50 });
      expect(rec).toMatchObject({ state: 'reachable', transport: 'v1', v2Fallback: true, userAgent: node.userAgent });
      const stats = sim.stats();
      expect(stats.connectionsAccepted).toBe(2);
      expect(stats.v2Refused).toBe(1);
      // The slot was held through the retry but the two sockets never overlapped.
      expect(stats.peakInbound).toBe(1);
      expect(cap.peak()).toBe(1);
      expect(cap.open()).toBe(0);

      // Without the services hint (unknown), auto dials v1 straight away.
      const plain = await probeNode(node.addr, { network: sim.network, only: ['127.0.0.0/8'], timeoutMs: 2000, addrQuietMs: 50 });
      expect(plain).toMatchObject({ state: 'reachable', transport: 'v1' });
      expect(plain.v2Fallback).toBeUndefined();
    } finally {
      await sim.close();
    }
  });
});
