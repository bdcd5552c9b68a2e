/**
 * A crawl of the simulated network on all five address networks: IPv4
 * directly, IPv6 directly on ::1, Tor v3 through two SOCKS5 fronts, I2P
 * through the SAM front, CJDNS through a SOCKS5 front (--proxy ...=cjdns).
 * Every record is compared with the sim's truth, including how it was
 * reached, and the per-network budgets are checked where they matter: at the
 * sim, which counts the connections its nodes see per network.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { CrawlSummary, NodeRecord } from '../src/engine/record.js';
import { startSamFront, startSimNetwork, startSocksFront, type SamFront, type SimNetwork, type SocksFront } from '../src/sim/index.js';
import type { AddressNetwork } from '../src/wire/types.js';

const BUDGETS = { onion: 4, i2p: 3, cjdns: 2 } as const;
const CAP = 40;

let sim: SimNetwork;
let tor1: SocksFront;
let tor2: SocksFront;
let cjdnsProxy: SocksFront;
let sam: SamFront;
let records: Map<string, NodeRecord>;
let summary: CrawlSummary;
let crawler: Crawler;

beforeAll(async () => {
  sim = await startSimNetwork({
    nodes: 400,
    seed: 21,
    mix: { modern: 0.8, old: 0.06, refused: 0.05, silent: 0.03, chatty: 0.03, garbage: 0.03 },
    overlays: { ipv6: 0.1, onion: 0.1, i2p: 0.08, cjdns: 0.05 },
  });
  tor1 = await startSocksFront(sim, { delayMs: { onion: [5, 30] } });
  tor2 = await startSocksFront(sim, { delayMs: { onion: [5, 30] } });
  cjdnsProxy = await startSocksFront(sim, { delayMs: { cjdns: [2, 10] } });
  sam = await startSamFront(sim, { connectDelayMs: [5, 30] });
  records = new Map();
  crawler = new Crawler({
    network: sim.network,
    seeds: sim.seeds,
    only: ['127.0.0.0/8', '::1/128', 'fc00::/8'],
    maxPeers: CAP,
    workers: 2,
    // 3 s steps: on a loaded 2-core machine a healthy node's reply can be late, and every record is asserted exactly.
    timeoutMs: 3000,
    addrQuietMs: 100,
    // The sim's IPv6 nodes all live on ::1, one port each: lift the gossip limit of 3 ports per IP.
    maxPortsPerHost: 100_000,
    budgets: BUDGETS,
    reach: {
      viaTor: true,
      torProxies: [tor1.address, tor2.address],
      torProxyBudget: 3,
      viaI2p: true,
      i2pSam: sam.address,
      cjdns: true,
      proxy: `${cjdnsProxy.address}=cjdns`,
      connectMs: { onion: 5000, i2p: 5000 },
    },
  });
  crawler.on('node', (r: NodeRecord) => records.set(r.addr, r));
  summary = await crawler.start();
}, 120_000);

afterAll(async () => {
  await Promise.all([tor1?.close(), tor2?.close(), cjdnsProxy?.close(), sam?.close()]);
  await sim?.close();
});

const EXPECTED_VIA: Record<AddressNetwork, string> = { ipv4: 'direct', ipv6: 'direct', onion: 'socks5', i2p: 'sam', cjdns: 'socks5' };

describe('a crawl of the sim on all five networks', () => {
  it('finds every reachable node, on each network, saying how it was reached', () => {
    const truth = sim.truth();
    const perNetwork: Record<string, number> = {};
    for (const t of truth.reachable) {
      const r = records.get(t.addr);
      expect(r, `${t.addr} (${t.network})`).toMatchObject({ state: 'reachable', network: t.network, via: EXPECTED_VIA[t.network], userAgent: t.userAgent, services: t.services });
      perNetwork[t.network] = (perNetwork[t.network] ?? 0) + 1;
      if (t.network === 'onion') expect([tor1.address, tor2.address]).toContain(r?.proxy);
      else if (t.network === 'i2p') expect(r?.proxy).toBe(sam.address);
      else if (t.network === 'cjdns') expect(r?.proxy).toBe(cjdnsProxy.address);
      else expect(r?.proxy).toBeUndefined();
    }
    for (const net of ['ipv4', 'ipv6', 'onion', 'i2p', 'cjdns']) expect(perNetwork[net], net).toBeGreaterThan(3);
    // Both Tor proxies carried onion peers.
    const viaTor = [...records.values()].filter((r) => r.state === 'reachable' && r.network === 'onion');
    expect(new Set(viaTor.map((r) => r.proxy)).size).toBe(2);
  });

  it('records every failing node failed, through the same route, and the unreachable overlay addresses with the proxy’s typed error', () => {
    const truth = sim.truth();
    for (const f of truth.failed) {
      const r = records.get(f.addr);
      expect(r, `${f.addr} (${f.network}, ${f.behaviour})`).toMatchObject({ state: 'failed', network: f.network, via: EXPECTED_VIA[f.network] });
    }
    const expected: Record<string, string> = { onion: 'ERR_TOR_ONION_DESCRIPTOR_NOT_FOUND', i2p: 'ERR_SAM_KEY_NOT_FOUND', cjdns: 'ERR_SOCKS_HOST_UNREACHABLE' };
    expect(truth.nonIp.length).toBeGreaterThan(5);
    for (const a of truth.nonIp) {
      const r = records.get(a);
      expect(r, a).toMatchObject({ state: 'failed', error: expected[r!.network] });
    }
    expect(records.size).toBe(truth.reachable.length + truth.failed.length + truth.nonIp.length);
    expect(summary.byState.skipped).toBe(0);
  });

  it('holds the per-network budgets: at the sim, at each Tor proxy, and in the summary', () => {
    const peak = sim.stats().peakInboundByNetwork;
    expect(peak.onion).toBeGreaterThan(0);
    expect(peak.onion).toBeLessThanOrEqual(BUDGETS.onion);
    expect(peak.i2p).toBeLessThanOrEqual(BUDGETS.i2p);
    expect(peak.cjdns).toBeLessThanOrEqual(BUDGETS.cjdns);
    expect(sim.stats().peakInbound).toBeLessThanOrEqual(CAP);
    expect(tor1.stats().peak.onion).toBeLessThanOrEqual(3);
    expect(tor2.stats().peak.onion).toBeLessThanOrEqual(3);
    expect(sam.stats().peak).toBeLessThanOrEqual(BUDGETS.i2p);
    const b = summary.networkBudgets!;
    expect(b.onion).toEqual({ budget: BUDGETS.onion, peak: expect.any(Number) });
    expect(b.onion!.peak).toBeLessThanOrEqual(BUDGETS.onion);
    expect(b.onion!.peak).toBeGreaterThan(1);
    expect(b.i2p!.peak).toBeLessThanOrEqual(BUDGETS.i2p);
    expect(b.ipv4!.budget).toBe(CAP);
    expect(sim.stats().violationCount).toBe(0);
  });

  it('isolates every Tor stream (fresh SOCKS5 credentials per connection) and keeps one SAM session per worker', () => {
    const creds = [...tor1.stats().credentials, ...tor2.stats().credentials];
    expect(creds.length).toBeGreaterThan(10);
    expect(new Set(creds).size).toBe(creds.length);
    const sessions = sam.stats().commands.filter((c) => c.startsWith('SESSION CREATE'));
    expect(sessions.length).toBeGreaterThanOrEqual(1);
    expect(sessions.length).toBeLessThanOrEqual(2);
  });
});

describe('without the reach flags', () => {
  it('never touches a proxy: overlay addresses are recorded skipped no-route', async () => {
    const small = await startSimNetwork({ nodes: 120, seed: 3, mix: { modern: 1 }, overlays: { onion: 0.1, i2p: 0.1, cjdns: 0.1 } });
    const front = await startSocksFront(small);
    try {
      const recs: NodeRecord[] = [];
      const c = new Crawler({ network: small.network, seeds: small.seeds, only: ['127.0.0.0/8', '::1/128', 'fc00::/8'], workers: 1, timeoutMs: 2000, addrQuietMs: 50 });
      c.on('node', (r: NodeRecord) => recs.push(r));
      await c.start();
      const overlay = small.truth().nodes.filter((n) => n.network !== 'ipv4' && n.discoverable);
      expect(overlay.length).toBeGreaterThan(10);
      const byAddr = new Map(recs.map((r) => [r.addr, r]));
      for (const n of overlay) expect(byAddr.get(n.addr), n.addr).toMatchObject({ state: 'skipped', reason: 'no-route' });
      expect(front.stats().accepted).toBe(0);
      expect(small.stats().peakInboundByNetwork.onion).toBe(0);
    } finally {
      await front.close();
      await small.close();
    }
  });

  it('refuses a proxy outside --only, and a proxy without the network named, before any socket', () => {
    expect(() => new Crawler({ seeds: ['127.0.0.1:1'], only: ['127.0.0.0/8'], reach: { viaTor: true, torProxies: ['10.0.0.1:9050'] } })).toThrow(/--tor-proxy 10\.0\.0\.1:9050 is outside the allow-list/);
    expect(() => new Crawler({ seeds: ['127.0.0.1:1'], only: ['127.0.0.0/8'], reach: { torProxies: ['127.0.0.1:9050'] } })).toThrow(/without --via-tor/);
    expect(() => new Crawler({ seeds: ['127.0.0.1:1'], only: ['127.0.0.0/8'], reach: { viaI2p: true } })).toThrow(/--via-i2p needs a SAM bridge/);
    expect(() => new Crawler({ seeds: ['127.0.0.1:1'], only: ['127.0.0.0/8'], reach: { i2pSam: '[::1]:7656', viaI2p: true } })).toThrow(/--i2p-sam \[::1\]:7656 is outside/);
  });
});
