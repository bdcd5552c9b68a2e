/**
 * The main thread stays responsive while a large cap fills: Dispatcher.pump() starts a
 * bounded batch of dials per event-loop turn and continues on the next one.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import { PeerWorkerPool } from '../src/engine/worker-pool.js';
import { startLoopbackPeer, type LoopbackPeer } from './helpers/loopback-peer.js';

const peers: LoopbackPeer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

describe('Crawler: filling a large cap', () => {
  it('dials 1,000 learned addresses over several event-loop turns, never all in one', async () => {
    // 1,000 addresses nobody listens on (refused at once), learned from one seed's answer (on a
    // port Core does not count as bad: port 1 would be skipped `bad-port`, never dialled).
    const addrs = Array.from({ length: 1000 }, (_, i) => `127.94.${Math.floor(i / 250)}.${(i % 250) + 1}:18444`);
    const seed = await startLoopbackPeer({ host: '127.94.200.1', addrs });
    peers.push(seed);
    let turn = 0;
    let counting = true;
    const nextTurn = (): void => {
      turn++;
      if (counting) setImmediate(nextTurn);
    };
    setImmediate(nextTurn);
    const perTurn = new Map<number, number>();
    const visit = PeerWorkerPool.prototype.visit;
    vi.spyOn(PeerWorkerPool.prototype, 'visit').mockImplementation(function (this: PeerWorkerPool, ...args: Parameters<typeof visit>) {
      perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
      return visit.apply(this, args);
    });
    const crawler = new Crawler({ network: 'regtest', seeds: [seed.address], only: ['127.94.0.0/16'], workers: 1, maxPeers: 1000, timeoutMs: 3000, addrQuietMs: 50 });
    const summary = await crawler.start();
    counting = false;
    expect(summary.byState.failed).toBe(1000);
    const total = [...perTurn.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(1001);
    // At most one bounded batch from the pump's immediate and one from its interval timer per turn.
    expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(512);
    expect(perTurn.size).toBeGreaterThanOrEqual(3);
  });
});
