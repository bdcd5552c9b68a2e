import { afterEach, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { startLoopbackPeer, type LoopbackPeer } from './helpers/loopback-peer.js';

/**
 * Third octet of every loopback host here, random per run: other runs of this
 * suite on the same machine (other worktrees) must not collide on fixed ports.
 */
const R = 1 + Math.floor(Math.random() * 250);

const peers: LoopbackPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('node mode', () => {
  it('keeps long-lived peers with ping keepalive and restarts one that drops (transient)', async () => {
    const PORT = 18562;
    const all = [1, 2, 3].map((i) => `127.67.${R}.${i}:${PORT}`);
    for (let i = 0; i < 3; i++) {
      peers.push(await startLoopbackPeer({ host: `127.67.${R}.${i + 1}`, port: PORT, addrs: all }));
    }
    const crawler = new Crawler({
      network: 'regtest',
      mode: 'node',
      seeds: [all[0] as string],
      only: [`127.67.${R}.0/24`],
      workers: 2,
      maxPeers: 10,
      timeoutMs: 2000,
      addrQuietMs: 30,
      pingIntervalMs: 100,
      supervisor: { childMaxRestarts: 3, childMaxSeconds: 5, backoff: { initialMs: 20, maxMs: 100, factor: 2 } },
    });
    const records: NodeRecord[] = [];
    crawler.on('node', (r: NodeRecord) => records.push(r));
    const done = crawler.start();
    await until(() => crawler.countPeers() === 3 && records.length === 3, 'three established peers');
    expect(records.map((r) => r.state)).toEqual(['reachable', 'reachable', 'reachable']);
    // Keepalive: every peer gets pinged while it stays connected.
    await until(() => peers.every((p) => p.sessions[0]?.includes('ping') === true), 'pings');
    for (const p of peers) expect(p.open()).toBe(1);
    // Memory diagnostics: one heap reading per worker thread, from inside that thread.
    const heaps = await crawler.workerMemory();
    expect(heaps.map((h) => h.slot)).toHaveLength(2);
    expect(new Set(heaps.map((h) => h.slot)).size).toBe(2);
    for (const h of heaps) {
      expect(h.heapUsed).toBeGreaterThan(0);
      expect(h.heapTotal).toBeGreaterThanOrEqual(h.heapUsed);
      // Workers run with a capped young generation (an idle worker never shrinks a grown one).
      expect(h.youngGenerationLimitMb).toBeGreaterThan(0);
      expect(h.youngGenerationLimitMb).toBeLessThanOrEqual(8);
    }

    // One peer drops us: the transient child is restarted and reconnects.
    (peers[1] as LoopbackPeer).dropConnections();
    await until(() => (peers[1] as LoopbackPeer).accepted() === 2 && crawler.countPeers() === 3, 'the restart');

    await crawler.stop();
    const summary = await done;
    expect(summary.byState.reachable).toBe(3);
    expect(summary.total).toBe(3);
    expect(crawler.cap.open()).toBe(0);
    for (const p of peers) expect(p.accepted()).toBe(p === peers[1] ? 2 : 1);
  });
});

describe('node mode, peer behaviour', () => {
  it('answers a peer\'s ping with a pong carrying the same nonce', async () => {
    const PORT = 18563;
    // A multi-entry answer (outside the allow-list: recorded, never dialled) ends the getaddr wait early.
    const p = await startLoopbackPeer({ host: `127.67.${R}.11`, port: PORT, addrs: ['127.99.0.1:1', '127.99.0.2:1'] });
    peers.push(p);
    const crawler = new Crawler({ network: 'regtest', mode: 'node', seeds: [p.address], only: [`127.67.${R}.0/24`], workers: 1, timeoutMs: 2000, addrQuietMs: 30 });
    const records: NodeRecord[] = [];
    crawler.on('node', (r: NodeRecord) => records.push(r));
    const done = crawler.start();
    try {
      await until(() => records.some((r) => r.addr === p.address && r.state === 'reachable'), 'the peer established');
      p.broadcast({ command: 'ping', nonce: 0x1234_5678_9abc_def0n });
      await until(() => p.pongs.length > 0, 'a pong');
      expect(p.pongs).toEqual([0x1234_5678_9abc_def0n]);
    } finally {
      await crawler.stop();
      await done;
    }
  });

  it('gives up on a peer that keeps dropping once its own restart limit (childMaxRestarts) is exceeded', async () => {
    const PORT = 18564;
    const p = await startLoopbackPeer({ host: `127.67.${R}.12`, port: PORT, addrs: ['127.99.0.1:1', '127.99.0.2:1'] });
    peers.push(p);
    const maxRestarts = 2;
    const crawler = new Crawler({
      network: 'regtest',
      mode: 'node',
      seeds: [p.address],
      only: [`127.67.${R}.0/24`],
      workers: 1,
      timeoutMs: 2000,
      addrQuietMs: 30,
      pingIntervalMs: 50,
      supervisor: { childMaxRestarts: maxRestarts, childMaxSeconds: 60, backoff: { initialMs: 10, maxMs: 50, factor: 2 } },
    });
    const giveups: Array<{ id: string; code: string | undefined }> = [];
    crawler.on('giveup', (id: string, reason: { kind: string; error?: { code: string } }) => giveups.push({ id, code: reason.error?.code }));
    const done = crawler.start();
    try {
      // Each time the connection is established (our keepalive ping arrived), the peer drops it.
      await until(() => p.accepted() >= 1, 'the first connection');
      while (giveups.length === 0) {
        const n = p.accepted();
        await until(() => giveups.length > 0 || (p.sessions[n - 1]?.includes('ping') === true && p.open() === 1), `connection ${n} established`);
        if (giveups.length > 0) break;
        p.dropConnections();
        await until(() => giveups.length > 0 || p.accepted() > n, `redial after drop ${n}`);
      }
      expect(giveups).toEqual([{ id: p.address, code: 'ERR_PEER_CLOSED' }]);
      // The first connection plus maxRestarts restarts, then no more.
      expect(p.accepted()).toBe(maxRestarts + 1);
      expect(crawler.stats().inFlight).toBe(0);
    } finally {
      await crawler.stop();
      await done;
    }
  });
});
