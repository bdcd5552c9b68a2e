/**
 * The default per-Tor-proxy budget in a real crawl: with a cap whose onion
 * share (a quarter) is over DEFAULT_TOR_PROXY_BUDGET, one SOCKS5 front never
 * carries more than that many tunnels at once, the crawler's onion budget is
 * held to it and filled when the onion nodes are slow to connect, and every
 * onion node is still found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { CrawlSummary, NodeRecord } from '../src/engine/record.js';
import { DEFAULT_TOR_PROXY_BUDGET } from '../src/shared/reach.js';
import { startSimNetwork, startSocksFront, type SimNetwork, type SocksFront } from '../src/sim/index.js';

let sim: SimNetwork;
let tor: SocksFront;
const records = new Map<string, NodeRecord>();
let summary: CrawlSummary;

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 400, seed: 41, baseAddress: '127.95.0.0', port: 19484, mix: { modern: 1 }, overlays: { onion: 0.6 } });
  // Slow circuits (300-400 ms per connect): the onion nodes pile up at the proxy.
  tor = await startSocksFront(sim, { delayMs: { onion: [300, 400] } });
  const crawler = new Crawler({
    network: sim.network,
    seeds: sim.seeds,
    only: ['127.0.0.0/8'],
    maxPeers: 400, // onion budget a quarter: 100, over the per-proxy default
    workers: 2,
    timeoutMs: 5000,
    addrQuietMs: 100,
    reach: { viaTor: true, torProxies: [tor.address] },
  });
  crawler.on('node', (r: NodeRecord) => records.set(r.addr, r));
  summary = await crawler.start();
}, 120_000);

afterAll(async () => {
  await tor?.close();
  await sim?.close();
});

describe('default Tor proxy budget', () => {
  it(`one Tor proxy carries at most ${DEFAULT_TOR_PROXY_BUDGET} streams at once, the crawl fills that budget, and every onion node is found`, () => {
    const onion = sim.truth().reachable.filter((t) => t.network === 'onion');
    expect(onion.length).toBeGreaterThan(200);
    for (const t of onion) expect(records.get(t.addr), t.addr).toMatchObject({ state: 'reachable', via: 'socks5' });
    // The proxy side: never more tunnels at once than the budget (without the default it carried ~100 here).
    expect(tor.stats().peak.onion).toBeLessThanOrEqual(DEFAULT_TOR_PROXY_BUDGET);
    // The crawler side: the onion budget is held to what the one proxy carries, and the crawl fills it.
    expect(summary.networkBudgets?.onion).toMatchObject({ budget: DEFAULT_TOR_PROXY_BUDGET });
    expect(summary.networkBudgets!.onion!.peak).toBeLessThanOrEqual(DEFAULT_TOR_PROXY_BUDGET);
    expect(summary.networkBudgets!.onion!.peak).toBeGreaterThanOrEqual((DEFAULT_TOR_PROXY_BUDGET * 3) / 4);
  });
});
