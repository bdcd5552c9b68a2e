/**
 * bitspread watch over a churning simulated network: each round is one
 * churn epoch (the test advances the sim when a round ends), so the truth
 * says exactly which nodes each round must find up, which joined, left or
 * changed version, and what their uptime is.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { churnAgent, churnIsUp, startSimNetwork, type ChurnSchedule, type SimNetwork } from '../src/sim/index.js';
import { Watcher, type RoundEnd } from '../src/engine/watch.js';
import { Store } from '../src/store/store.js';
import { crawlRecords, uptimes } from '../src/store/history.js';
import { diffCrawls } from '../src/store/diff.js';

const ROUNDS = 5;
let sim: SimNetwork;
let dir: string;
let ends: RoundEnd[];
let schedules: readonly ChurnSchedule[];

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 80, seed: 31, baseAddress: '127.193.0.0', mix: { modern: 0.85, old: 0.1, refused: 0.05 }, churn: { downShare: 0.25, upgradeShare: 0.15 } });
  schedules = sim.churn!.truth().nodes;
  dir = mkdtempSync(join(tmpdir(), 'bitspread-watch-'));
  const watcher = new Watcher({
    store: join(dir, 'history.db'),
    seeds: sim.seeds,
    network: 'regtest',
    only: ['127.0.0.0/8'],
    timeoutMs: 1500,
    addrQuietMs: 30,
    workers: 1,
    intervalMs: 0,
    revisitReachableMs: 0,
    revisitFailedMs: 0,
    rounds: ROUNDS,
    snapshotDir: join(dir, 'snapshots'),
    keepSnapshots: 3,
  });
  ends = [];
  // Round r runs in epoch r: the next epoch starts the moment a round ends.
  watcher.on('roundEnd', (e: RoundEnd) => {
    ends.push(e);
    sim.churn!.advance();
  });
  expect(await watcher.start()).toBe(ROUNDS);
}, 120_000);

afterAll(async () => {
  await sim.close();
});

const isUp = (addr: string, epoch: number): boolean => {
  const s = schedules.find((n) => n.addr === addr);
  return s === undefined || churnIsUp(s, epoch);
};

describe('watch over a churning sim', () => {
  it('visits every discoverable node in every round, with the outcome the truth gives for that epoch', () => {
    const store = Store.open(join(dir, 'history.db'), { readonly: true });
    const truth = sim.truth();
    const crawls = store.crawls();
    expect(crawls.map((c) => [c.seq, c.kind, c.status])).toEqual([1, 2, 3, 4, 5].map((s) => [s, 'watch', 'done']));
    for (const [epoch, c] of crawls.entries()) {
      const recs = [...crawlRecords(store, c.id)];
      const reachable = recs.filter((r) => r.state === 'reachable').map((r) => r.addr).sort();
      const expected = truth.reachable.map((r) => r.addr).filter((a) => isUp(a, epoch)).sort();
      expect({ epoch, reachable }).toEqual({ epoch, reachable: expected });
      // Every record carries schema v2's stamp.
      for (const r of recs) expect(r).toMatchObject({ crawlId: c.id, visitedAt: expect.any(String) });
      for (const r of recs.filter((x) => x.state === 'reachable')) {
        const s = schedules.find((n) => n.addr === r.addr);
        const ua = s === undefined ? undefined : churnAgent(s, epoch);
        if (ua !== undefined) expect(r.userAgent).toBe(ua);
      }
      // From round 2 on the store supplies the addresses: source 'store'.
      if (epoch > 0) expect(recs.filter((r) => r.state !== 'skipped').every((r) => r.source === 'store')).toBe(true);
    }
    store.close();
  });

  it('reports joined, left and changed nodes per round exactly as the churn truth says', () => {
    const truth = sim.truth();
    for (let epoch = 1; epoch < ROUNDS; epoch++) {
      const e = ends[epoch]!;
      const all = truth.reachable.map((r) => r.addr);
      expect(e.left).toEqual(all.filter((a) => isUp(a, epoch - 1) && !isUp(a, epoch)).sort());
      expect(e.joined).toEqual(all.filter((a) => !isUp(a, epoch - 1) && isUp(a, epoch)).sort());
      const upgraded = schedules.filter((s) => s.upgrade !== undefined && isUp(s.addr, epoch) && churnAgent(s, epoch) !== churnAgent(s, epoch - 1) && isUp(s.addr, epoch - 1));
      expect(e.changed.map((c) => [c.addr, c.field, c.to]).sort()).toEqual(upgraded.map((s) => [s.addr, 'userAgent', s.upgrade!.to]).sort());
    }
    expect(ends.flatMap((e) => e.left).length).toBeGreaterThan(0);
    expect(ends.flatMap((e) => e.changed).length).toBeGreaterThan(0);
    // The first round found everything: all joined.
    expect(ends[0]!.joined).toEqual(truth.reachable.map((r) => r.addr).sort());
  });

  it('diff of two rounds in the store agrees with the round events', () => {
    const store = Store.open(join(dir, 'history.db'), { readonly: true });
    const d = diffCrawls(crawlRecords(store, store.crawl('latest~1').id), crawlRecords(store, store.crawl('latest').id));
    const last = ends[ROUNDS - 1]!;
    expect(d.joined.map((r) => r.addr)).toEqual(last.joined);
    expect(d.left.map((r) => r.addr)).toEqual(last.left);
    expect(d.changed).toEqual(last.changed.slice().sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0)));
    store.close();
  });

  it('computes each node uptime as the share of rounds the truth has it up', () => {
    const store = Store.open(join(dir, 'history.db'), { readonly: true });
    const truth = sim.truth();
    const byAddr = new Map(uptimes(store, Date.now()).map((u) => [u.addr, u]));
    for (const r of truth.reachable) {
      const upRounds = Array.from({ length: ROUNDS }, (_, e) => isUp(r.addr, e)).filter(Boolean).length;
      const u = byAddr.get(r.addr);
      expect({ addr: r.addr, uptime: u?.uptime['2h'], visits: u?.visits }).toEqual({ addr: r.addr, uptime: upRounds / ROUNDS, visits: ROUNDS });
      expect(u?.uptime['30d']).toBe(upRounds / ROUNDS);
    }
    const flappers = schedules.filter((s) => s.flap !== undefined);
    expect(flappers.some((s) => (byAddr.get(s.addr)?.uptime['2h'] ?? 1) < 1)).toBe(true);
    store.close();
  });

  it('keeps rolling snapshot files, each holding exactly its round', () => {
    const files = readdirSync(join(dir, 'snapshots')).sort();
    expect(files).toEqual(['round-000003.ndjson', 'round-000004.ndjson', 'round-000005.ndjson']);
    const store = Store.open(join(dir, 'history.db'), { readonly: true });
    const lines = readFileSync(join(dir, 'snapshots', files[2]!), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { addr: string; crawlId: string });
    const fromStore = [...crawlRecords(store, store.crawl('5').id)];
    expect(lines.map((l) => l.addr).sort()).toEqual(fromStore.map((r) => r.addr).sort());
    expect(new Set(lines.map((l) => l.crawlId))).toEqual(new Set([store.crawl('5').id]));
    store.close();
  });
});
