/**
 * The mainnet-shaped sim with Tor and I2P nodes behind its fronts
 * (gossip.overlay, src/sim/gossip.ts): each node's own connect delay and
 * round trip, dead .onion / .b32.i2p names that the fronts fail after their
 * give-up delay, padding that gossips a Tor / I2P node by its overlay name
 * (never the hidden 127.x address it listens on), and serve times that count
 * the front's connect delay, so a visit is never shorter than its serve time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { startSamFront, startSimNetwork, startSocksFront, type SamFront, type SimNetwork, type SocksFront } from '../src/sim/index.js';

const OVERLAY = {
  onion: { connectMs: [150, 250] as [number, number], rttMs: [40, 80] as [number, number], failMs: [400, 500] as [number, number], dead: 25 },
  i2p: { connectMs: [200, 300] as [number, number], rttMs: [60, 100] as [number, number], failMs: [400, 500] as [number, number], dead: 15 },
};

let sim: SimNetwork;
let tor: SocksFront;
let sam: SamFront;
const records = new Map<string, NodeRecord>();

beforeAll(async () => {
  sim = await startSimNetwork({
    nodes: 240,
    seed: 33,
    baseAddress: '127.94.0.0',
    port: 19474,
    mix: { modern: 0.8, old: 0.05, refused: 0.15 },
    overlays: { onion: 0.25, i2p: 0.1 },
    gossip: { answerSize: 300, dead: { count: 100, base: '127.94.200.0' }, nonIpShare: 0.1, rttMs: { minMs: 5, maxMs: 20 }, overlay: OVERLAY },
  });
  // No delays of the fronts' own: every wait comes from the sim's per-node draws.
  // Small logs: a front keeps the first logLimit lines of its stats logs and counts the rest.
  tor = await startSocksFront(sim, { delayMs: { onion: 0 }, logLimit: 5 });
  sam = await startSamFront(sim, { connectDelayMs: 0, logLimit: 7 });
  const crawler = new Crawler({
    network: sim.network,
    seeds: sim.seeds,
    only: ['127.0.0.0/8'],
    maxPeers: 60,
    workers: 2,
    timeoutMs: 4000,
    addrQuietMs: 100,
    reach: { viaTor: true, torProxies: [tor.address], viaI2p: true, i2pSam: sam.address, connectMs: { onion: 5000, i2p: 5000 } },
  });
  crawler.on('node', (r: NodeRecord) => records.set(r.addr, r));
  await crawler.start();
}, 120_000);

afterAll(async () => {
  await Promise.all([tor?.close(), sam?.close()]);
  await sim?.close();
});

describe('mainnet-shaped sim with Tor and I2P nodes behind the fronts', () => {
  it('finds every reachable node on each network and nothing else: no hidden 127.x address leaks through padding', () => {
    const truth = sim.truth();
    const byNet: Record<string, number> = {};
    for (const t of truth.reachable) {
      expect(records.get(t.addr), t.addr).toMatchObject({ state: 'reachable', network: t.network });
      byNet[t.network] = (byNet[t.network] ?? 0) + 1;
    }
    expect(byNet.onion).toBeGreaterThan(20);
    expect(byNet.i2p).toBeGreaterThan(5);
    const truthAddrs = new Set(truth.reachable.map((t) => t.addr));
    const extra = [...records.values()].filter((r) => r.state === 'reachable' && !truthAddrs.has(r.addr)).map((r) => r.addr);
    expect(extra).toEqual([]);
    // The hidden listening addresses of Tor / I2P nodes are never learned at all.
    const hidden = new Set(truth.nodes.filter((n) => n.network !== 'ipv4').map((n) => sim.overlayTarget(n.addr.slice(0, n.addr.lastIndexOf(':')))!).map((t) => `${t.host}:${t.port}`));
    expect(hidden.size).toBeGreaterThan(50);
    expect([...records.keys()].filter((a) => hidden.has(a))).toEqual([]);
  });

  it('counts each Tor / I2P node\'s connect delay in its serve time, which no visit beats', () => {
    const serve = sim.serveTimes();
    let checked = 0;
    for (const r of records.values()) {
      if (r.state !== 'reachable' || (r.network !== 'onion' && r.network !== 'i2p')) continue;
      const least = serve[r.addr];
      expect(least, r.addr).toBeDefined();
      const o = OVERLAY[r.network];
      // connect delay + at least two round trips of the node's own (version reply, getaddr answer)
      expect(least!).toBeGreaterThanOrEqual(o.connectMs[0] + 2 * o.rttMs[0]);
      expect(r.slotMs!).toBeGreaterThanOrEqual(least! - 1);
      expect(r.connectMs!).toBeGreaterThanOrEqual(o.connectMs[0] - 1);
      checked++;
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('gossips dead .onion and .b32.i2p names; the fronts fail them after their give-up delay, as a Tor client or I2P router would', () => {
    const dead = [...records.values()].filter((r) => r.state === 'failed' && (r.network === 'onion' || r.network === 'i2p'));
    const codes = new Set(dead.map((r) => `${r.network} ${r.error}`));
    expect(codes).toContain('onion ERR_TOR_ONION_DESCRIPTOR_NOT_FOUND');
    expect(codes).toContain('i2p ERR_SAM_KEY_NOT_FOUND');
    const notFound = dead.filter((r) => r.error === 'ERR_TOR_ONION_DESCRIPTOR_NOT_FOUND' || r.error === 'ERR_SAM_KEY_NOT_FOUND');
    // 25 + 15 dead names plus the plan's own unserved ones: most are learned and dialled.
    expect(notFound.length).toBeGreaterThan(30);
    for (const r of notFound) expect(r.slotMs ?? r.connectMs ?? Infinity, r.addr).toBeGreaterThanOrEqual(OVERLAY.onion.failMs[0] - 1);
    // The fronts saw the traffic: Tor tunnels and I2P streams opened through them.
    expect(tor.stats().peak.onion).toBeGreaterThan(0);
    expect(sam.stats().peak).toBeGreaterThan(0);
    // Their logs stay bounded (the first logLimit lines) while counting everything.
    const t = tor.stats();
    const s = sam.stats();
    expect(t.requests.length).toBe(5);
    expect(t.credentials.length).toBe(5);
    expect(t.requestCount).toBeGreaterThan(20);
    expect(s.commands.length).toBe(7);
    expect(s.commands[0]).toMatch(/^HELLO VERSION/);
    expect(s.commandCount).toBeGreaterThan(20);
  });
});
