/**
 * Issue 11 item 15: a shared PeerCap with fewer worker slots than workers
 * (`new Crawler({ cap: PeerCap.create(10, 2), workers: 3 })`) killed the
 * process with an uncaught error when a worker took a slot the cap does not
 * have. It is refused at construction with a typed error; a cap with exactly
 * as many slots as workers still survives a worker crash (the replacement
 * waits for the dead worker's slot to be reclaimed).
 */
import { describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import { PeerCap } from '../src/shared/peer-cap.js';
import { startHostilePeer, until, type HostilePeer } from './helpers/hostile-peer.js';

describe('a shared cap with too few worker slots (issue 11, item 15)', () => {
  it('is refused at construction with ERR_BAD_OPTION', () => {
    expect(() => new Crawler({ cap: PeerCap.create(10, 2), workers: 3, only: ['127.0.0.0/8'] })).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_OPTION', message: expect.stringContaining('2 worker slots') }),
    );
    expect(() => new Crawler({ cap: PeerCap.create(10, 3), workers: 3, only: ['127.0.0.0/8'] })).not.toThrow();
  });

  it('with exactly as many slots as workers, a worker crash is survived (the replacement waits for the slot)', async () => {
    // Peers that never answer: each holds a connection until the handshake deadline.
    const peers: HostilePeer[] = [];
    for (let i = 0; i < 12; i++) peers.push(await startHostilePeer({ host: '127.0.0.1' }));
    const cap = PeerCap.create(10, 2);
    const crawler = new Crawler({ network: 'regtest', cap, workers: 2, seeds: peers.map((p) => p.address), only: ['127.0.0.0/8'], timeoutMs: 1500 });
    try {
      const done = crawler.start();
      await until(() => cap.open() >= 4, 'four open connections');
      const held = await crawler.crashWorker('exception');
      expect(held).toBeGreaterThan(0);
      const summary = await done;
      expect(summary.workerCrashes).toBe(1);
      expect(summary.total).toBe(12);
      expect(summary.byError).toEqual({ ERR_HANDSHAKE_TIMEOUT: 12 });
      expect(cap.open()).toBe(0);
    } finally {
      await crawler.stop();
      await Promise.all(peers.map((p) => p.close()));
    }
  });
});
