/**
 * Watch progress: one line rewritten in place on a terminal, plain
 * timestamped lines without one.
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { attachWatchProgress } from '../src/cli/watch-progress.js';
import type { CrawlStats } from '../src/engine/crawler.js';
import type { Watcher } from '../src/engine/watch.js';

const stats: CrawlStats = {
  elapsedMs: 1000, known: 10, queued: 2, open: 3, maxPeers: 12, inFlight: 3, done: 5, reachable: 4, failed: 1, skipped: 0, rate: 5, etaSeconds: 1,
  workers: 1, workerCrashes: 0, requeued: 0, notStored: 0, networks: {},
} as unknown as CrawlStats;

function sink(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString()));
  Object.assign(s, { isTTY });
  return { out: s as unknown as NodeJS.WriteStream, text: () => text };
}

describe('watch progress', () => {
  it('on a terminal: one live line per round, rewritten in place, cleared before other output', async () => {
    const watcher = new EventEmitter() as unknown as Watcher;
    const { out, text } = sink(true);
    const p = attachWatchProgress(watcher, out, 10_000);
    const crawler = new EventEmitter();
    watcher.emit('roundStart', { seq: 7, crawlId: 'x', due: 3, crawler });
    crawler.emit('progress', stats);
    crawler.emit('progress', { ...stats, done: 6 });
    p.clear();
    p.detach();
    await new Promise((r) => setImmediate(r));
    expect(text()).toBe(
      '\r\x1b[Kround 7  known 10  queued 2  open 3/12  done 5 (reachable 4, failed 1, skipped 0)  5.0/s  eta 1s' +
        '\r\x1b[Kround 7  known 10  queued 2  open 3/12  done 6 (reachable 4, failed 1, skipped 0)  5.0/s  eta 1s' +
        '\r\x1b[K',
    );
  });

  it('without a terminal: a timestamped line every period, never a carriage return', async () => {
    const watcher = Object.assign(new EventEmitter(), { stats: () => ({ ...stats, round: 2 }) }) as unknown as Watcher;
    const { out, text } = sink(false);
    const p = attachWatchProgress(watcher, out, 20);
    watcher.emit('roundStart', { seq: 2, crawlId: 'x', due: 3, crawler: new EventEmitter() });
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (text().split('\n').length > 2) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    p.detach();
    const lines = text().trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z round 2 {2}known 10 {2}queued 2 {2}open 3\/12 {2}done 5 \(reachable 4, failed 1, skipped 0\) {2}5\.0\/s {2}eta 1s$/);
    expect(text()).not.toContain('\r');
  });
});
