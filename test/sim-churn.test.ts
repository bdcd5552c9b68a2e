/**
 * Sim churn: scheduled downtime and version changes, visible on the wire
 * exactly as the churn truth says, epoch by epoch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { churnAgent, churnIsUp, startSimNetwork, type SimNetwork } from '../src/sim/index.js';

let sim: SimNetwork;

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 60, seed: 21, baseAddress: '127.191.0.0', mix: { modern: 1 }, churn: { downShare: 0.3, upgradeShare: 0.2 } });
});

afterAll(async () => {
  await sim.close();
});

const base = { network: 'regtest' as const, only: ['127.0.0.0/8'], timeoutMs: 2000, addrQuietMs: 20 };

describe('sim churn', () => {
  it('draws flapping and upgrading nodes from the seed, never a seed node, and everything is up in epoch 0', () => {
    const t = sim.churn!.truth();
    const flapping = t.nodes.filter((n) => n.flap !== undefined);
    const upgrading = t.nodes.filter((n) => n.upgrade !== undefined);
    expect(flapping.length).toBe(Math.round(57 * 0.3));
    expect(upgrading.length).toBeGreaterThan(0);
    for (const n of t.nodes) expect(sim.seeds).not.toContain(n.addr);
    for (const n of flapping) expect(churnIsUp(n, 0)).toBe(true);
    // Every flapping node is down in at least one of the epochs 1-4 and up in another.
    for (const n of flapping) {
      const states = [1, 2, 3, 4].map((e) => churnIsUp(n, e));
      expect(states).toContain(false);
      expect(states).toContain(true);
    }
    expect(t.epoch).toBe(0);
  });

  it('serves each epoch as the truth says: down nodes reset the connection, upgraded nodes announce the new agent', async () => {
    const t = sim.churn!.truth();
    for (let epoch = 0; epoch <= 4; epoch++) {
      if (epoch > 0) expect(sim.churn!.advance()).toBe(epoch);
      // One crawl of exactly the churning nodes (nothing they gossip is admitted).
      const crawler = new Crawler({ ...base, workers: 1, revisit: t.nodes.map((n) => n.addr), admit: () => false });
      const got = new Map<string, NodeRecord>();
      crawler.on('node', (r: NodeRecord) => got.set(r.addr, r));
      await crawler.start();
      expect(got.size).toBe(t.nodes.length);
      t.nodes.forEach((n) => {
        const rec = got.get(n.addr)!;
        expect({ addr: n.addr, epoch, state: rec.state }).toEqual({ addr: n.addr, epoch, state: churnIsUp(n, epoch) ? 'reachable' : 'failed' });
        const ua = churnAgent(n, epoch);
        if (ua !== undefined) expect(rec.userAgent).toBe(ua);
      });
    }
    expect(sim.churn!.truth().epochStartedAt).toHaveLength(5);
  });
});
