import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { RunError } from '../src/errors.js';
import { Crawler } from '../src/engine/crawler.js';
import { crawl } from '../src/engine/crawl.js';
import type { NodeRecord } from '../src/engine/record.js';
import { startLoopbackPeer, type LoopbackPeer } from './helpers/loopback-peer.js';
import { pollUntil, waitUntil } from './helpers/wait.js';

/**
 * Third octet of every loopback host here, random per run: other runs of this
 * suite on the same machine (other worktrees) must not collide on fixed ports.
 */
const R = 1 + Math.floor(Math.random() * 250);

const peers: LoopbackPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

/** Handles that a finished crawl must not leave behind. */
function liveHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) {
    if (r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout' || r === 'Immediate' || r === 'MessagePort' || r === 'Worker') {
      counts[r] = (counts[r] ?? 0) + 1;
    }
  }
  return counts;
}

const PORT = 18561;

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333';

describe('Crawler on a tiny loopback network', () => {
  it('visits every address once and writes a complete snapshot', async () => {
    const before = liveHandles();
    const hosts = [1, 2, 3, 4, 5, 6].map((i) => `127.62.${R}.${i}`);
    const all = hosts.map((h) => `${h}:${PORT}`);
    const refused = `127.62.${R}.50:${PORT}`;
    const outside = `127.99.0.1:${PORT}`;
    // A chain: each peer knows the next two, the last one also a dead address, an onion, one outside the allow-list.
    for (let i = 0; i < hosts.length; i++) {
      const addrs = [all[(i + 1) % all.length], all[(i + 2) % all.length]] as string[];
      if (i === hosts.length - 1) addrs.push(refused, ONION, outside);
      peers.push(await startLoopbackPeer({ host: hosts[i] as string, port: PORT, addrs, userAgent: `/peer:${i}/`, startHeight: 1000 + i }));
    }
    const dir = mkdtempSync(join(tmpdir(), 'bitspread-crawl-'));
    const out = join(dir, 'crawl.ndjson');
    const crawler = new Crawler({
      network: 'regtest',
      seeds: [all[0] as string],
      only: [`127.62.${R}.0/24`],
      workers: 2,
      maxPeers: 3,
      timeoutMs: 1000,
      addrQuietMs: 50,
      out,
    });
    let peakInFlight = 0;
    crawler.on('node', () => (peakInFlight = Math.max(peakInFlight, crawler.stats().inFlight)));
    const summary = await crawler.start();

    const recs = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as NodeRecord);
    const byAddr = new Map(recs.map((r) => [r.addr, r]));
    expect(recs).toHaveLength(byAddr.size); // exactly once each
    expect(byAddr.size).toBe(9);
    for (let i = 0; i < hosts.length; i++) {
      expect(byAddr.get(all[i] as string)).toMatchObject({ state: 'reachable', network: 'ipv4', userAgent: `/peer:${i}/`, startHeight: 1000 + i, protocolVersion: 70016, services: 1033, relay: true });
    }
    expect(byAddr.get(refused)).toMatchObject({ state: 'failed', error: 'ERR_CONNECTION_REFUSED' });
    expect(byAddr.get(ONION)).toMatchObject({ state: 'skipped', network: 'onion', reason: 'no-route' });
    expect(byAddr.get(outside)).toMatchObject({ state: 'skipped', reason: 'not-allowed' });
    expect(summary.byState).toEqual({ reachable: 6, failed: 1, skipped: 2 });
    expect(summary.stopped).toBe(false);
    expect(summary.peakOpen).toBeLessThanOrEqual(3);
    expect(peakInFlight).toBeLessThanOrEqual(3);
    expect(crawler.cap.open()).toBe(0);
    // Each peer was dialled exactly once.
    for (const p of peers) expect(p.accepted()).toBe(1);
    await Promise.all(peers.splice(0).map((p) => p.close()));
    // Closed handles leave on later turns of the loop: wait (with a deadline) for the counts to come down.
    const settled = (): boolean => {
      const now = liveHandles();
      return Object.keys(now).every((k) => (now[k] ?? 0) <= (before[k] ?? 0)) && (now.TCPSocketWrap ?? 0) === 0 && (now.Worker ?? 0) === 0;
    };
    await pollUntil(settled, 'the crawl\'s handles to be released').catch(() => undefined);
    const after = liveHandles();
    for (const kind of Object.keys(after)) expect(after[kind]).toBeLessThanOrEqual(before[kind] ?? 0);
    expect(after.TCPSocketWrap ?? 0).toBe(0);
    expect(after.Worker ?? 0).toBe(0);
  });

  it('streams records through crawl() and stops early with every address recorded once', async () => {
    const hosts = Array.from({ length: 12 }, (_, i) => `127.63.${R}.${i + 1}`);
    const all = hosts.map((h) => `${h}:${PORT}`);
    for (const h of hosts) {
      // Slow answers keep peers open so stop() finds some in flight.
      peers.push(await startLoopbackPeer({ host: h, port: PORT, addrs: all, answerDelayMs: 800 }));
    }
    const run = crawl({ network: 'regtest', seeds: [all[0] as string], only: [`127.63.${R}.0/24`], workers: 1, maxPeers: 4, timeoutMs: 3000, addrQuietMs: 2000 });
    const seen: NodeRecord[] = [];
    // Stop once every address is known (not after a fixed time): some peers are still in flight then.
    void until(() => run.crawler.stats().known === all.length, 'all 12 addresses known').finally(() => run.stop());
    for await (const rec of run) seen.push(rec);
    const summary = await run.done;
    expect(summary.stopped).toBe(true);
    const addrs = seen.map((r) => r.addr);
    expect(new Set(addrs).size).toBe(addrs.length);
    expect(new Set(addrs)).toEqual(new Set(all));
    // Stopped peers: reachable if their handshake completed, else failed ERR_STOPPED; never dialled: skipped 'stopped'.
    expect(seen.some((r) => r.state === 'skipped' && r.reason === 'stopped')).toBe(true);
    for (const r of seen) expect(['reachable', 'skipped', 'failed']).toContain(r.state);
    for (const r of seen.filter((x) => x.state === 'failed')) expect(r.error).toBe('ERR_STOPPED');
    expect(run.crawler.cap.open()).toBe(0);
  });
});

describe('maxKnown', () => {
  it('stores at most maxKnown distinct addresses; the rest are counted, never recorded nor dialled', async () => {
    const seed = `127.57.${R}.1:${PORT}`;
    const learned = [2, 3, 4, 5, 6].map((i) => `127.57.${R}.${i}:${PORT}`); // nothing listens there: refused
    peers.push(await startLoopbackPeer({ host: `127.57.${R}.1`, port: PORT, addrs: learned }));
    const crawler = new Crawler({ network: 'regtest', seeds: [seed], only: ['127.57.0.0/16'], workers: 1, maxPeers: 4, timeoutMs: 2000, addrQuietMs: 50, maxKnown: 3 });
    const recs: NodeRecord[] = [];
    crawler.on('node', (r: NodeRecord) => recs.push(r));
    const summary = await crawler.start();
    expect(recs.map((r) => r.addr).sort()).toEqual([seed, ...learned.slice(0, 2)].sort());
    expect(summary.total).toBe(3);
    // The self-announcement is a duplicate (not counted); 3 of the 5 answers did not fit.
    expect(crawler.stats()).toMatchObject({ known: 3, notStored: 3 });
  });
});

describe('a worker thread dying mid-crawl', () => {
  it.each(['exception', 'terminate'] as const)('(%s) loses only its own peers; the crawl completes with everything else intact', async (how) => {
    const hosts = Array.from({ length: 24 }, (_, i) => `127.64.${R}.${i + 1}`);
    const all = hosts.map((h) => `${h}:${PORT}`);
    for (const h of hosts) peers.push(await startLoopbackPeer({ host: h, port: PORT, behaviour: 'no-getaddr' }));
    const crawler = new Crawler({
      network: 'regtest',
      seeds: all,
      only: [`127.64.${R}.0/24`],
      workers: 2,
      maxPeers: 50,
      timeoutMs: 3000,
      // Long enough that every peer is still waiting for its getaddr answer when the worker dies.
      getaddrTimeoutMs: 6000,
      retryCrashedPeers: false,
    });
    const done = crawler.start();
    // Wait until every peer is connected and waiting for its getaddr answer.
    // Every peer has completed the handshake (it got our getaddr) and waits.
    await until(() => crawler.stats().open === all.length && peers.every((p) => p.sessions[0]?.includes('getaddr') === true), 'every peer waiting for getaddr');
    const held = await crawler.crashWorker(how);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(all.length);
    // The survivors' peers now hang up: a visit ended by the peer after the handshake is still reachable.
    await until(() => crawler.stats().workerCrashes === 1, 'the crash to be noticed');
    for (const p of peers) p.dropConnections();
    const summary = await done;
    expect(summary.workerCrashes).toBe(1);
    expect(summary.byError).toEqual({ ERR_WORKER_CRASHED: held });
    expect(summary.byState.reachable).toBe(all.length - held);
    expect(summary.total).toBe(all.length);
    expect(crawler.cap.open()).toBe(0);
  });

  it('re-queues the lost peers once by default, so nothing is lost', async () => {
    const hosts = Array.from({ length: 10 }, (_, i) => `127.65.${R}.${i + 1}`);
    const all = hosts.map((h) => `${h}:${PORT}`);
    for (const h of hosts) peers.push(await startLoopbackPeer({ host: h, port: PORT, behaviour: 'no-getaddr' }));
    const crawler = new Crawler({ network: 'regtest', seeds: all, only: [`127.65.${R}.0/24`], workers: 2, timeoutMs: 3000, getaddrTimeoutMs: 3000 });
    const done = crawler.start();
    // Every peer has completed the handshake (it got our getaddr) and waits.
    await until(() => crawler.stats().open === all.length && peers.every((p) => p.sessions[0]?.includes('getaddr') === true), 'every peer waiting for getaddr');
    const held = await crawler.crashWorker();
    await until(() => crawler.stats().workerCrashes === 1, 'the crash to be noticed');
    for (const p of peers) p.dropConnections();
    const summary = await done;
    expect(held).toBeGreaterThan(0);
    expect(summary.workerCrashes).toBe(1);
    expect(summary.byState).toEqual({ reachable: all.length, failed: 0, skipped: 0 });
    expect(crawler.stats().requeued).toBe(held);
    // The re-queued peers were dialled a second time.
    expect(peers.reduce((n, p) => n + p.accepted(), 0)).toBe(all.length + held);
  });
});

describe('Crawler options', () => {
  it('refuses to run without an allow-list unless allowAny is explicit', () => {
    expect(() => new Crawler({ seeds: ['127.0.0.1:8333'] })).toThrow(/allow-list is required/);
  });

  it('bad options, a bad seed among them, throw a typed UsageError at once from crawl() and new Crawler()', () => {
    const bad = { seeds: ['not an address'], only: ['127.0.0.0/8'], workers: 1 };
    expect(() => crawl(bad)).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION', message: expect.stringMatching(/seeds: expected an IP address and port/) }));
    expect(() => new Crawler(bad)).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(() => crawl({ seeds: ['127.0.0.1:8333'] })).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(() => crawl({ seeds: ['127.0.0.1:8333'], only: ['127.0.0.0/33'] })).toThrow(expect.objectContaining({ code: 'ERR_BAD_CIDR' }));
  });

  it('finishes at once with an empty summary when there is nothing to dial', async () => {
    const crawler = new Crawler({ seeds: [], only: ['127.0.0.0/8'], workers: 1 });
    const s = await crawler.start();
    expect(s.total).toBe(0);
    expect(s.stopped).toBe(false);
  });
});

describe('a cap shared with other users', () => {
  it('waits for slots held elsewhere instead of dropping addresses, and never goes over', async () => {
    const { PeerCap } = await import('../src/shared/peer-cap.js');
    const hosts = [1, 2, 3, 4, 5].map((i) => `127.71.${R}.${i}`);
    for (const h of hosts) peers.push(await startLoopbackPeer({ host: h, port: PORT }));
    const cap = PeerCap.create(2);
    // Someone else (slot 200) holds both slots for a while.
    expect(cap.tryAcquire(200)).toBe(true);
    expect(cap.tryAcquire(200)).toBe(true);
    const crawler = new Crawler({ network: 'regtest', seeds: hosts.map((h) => `${h}:${PORT}`), only: [`127.71.${R}.0/24`], workers: 2, cap, timeoutMs: 1000, addrQuietMs: 30, progressMs: 20 });
    const done = crawler.start();
    // The crawler re-tries a full cap every 100 ms: by its own clock, several tries have passed, each found no room.
    await waitUntil([[crawler, ['progress']]], () => crawler.stats().elapsedMs > 350, 'the crawler to run 350 ms against a full cap');
    expect(crawler.stats()).toMatchObject({ queued: 5, inFlight: 0, done: 0 });
    expect(peers.reduce((n, p) => n + p.accepted(), 0)).toBe(0);
    cap.release(200);
    const summary = await done.finally(() => cap.release(200));
    expect(summary.byState).toEqual({ reachable: 5, failed: 0, skipped: 0 });
    expect(cap.peak()).toBe(2);
    expect(cap.open()).toBe(0);
  });
});

describe('crawl() when the crawl cannot start', () => {
  // Options are checked at once (above); what fails once the crawl runs, e.g. an unwritable snapshot, rejects done.
  const unwritable = join(tmpdir(), 'bitspread-no-such-dir', 'x.ndjson');

  it('an iterating caller gets the start error from next(), and nothing rejects unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown): void => void unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const run = crawl({ network: 'regtest', seeds: ['127.0.0.1:1'], only: ['127.0.0.0/8'], workers: 1, out: unwritable });
      const seen: NodeRecord[] = [];
      const iterate = async (): Promise<void> => {
        for await (const rec of run) seen.push(rec);
      };
      await expect(iterate()).rejects.toMatchObject({ code: 'ERR_BAD_OPTION', message: expect.stringMatching(/cannot write the snapshot/) });
      expect(seen).toEqual([]);
      // Unhandled rejections are reported once the microtasks of a turn have run: one more turn, and they would be in.
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a caller that only awaits done gets the error, and no record buffer is subscribed', async () => {
    const run = crawl({ network: 'regtest', seeds: ['127.0.0.1:1'], only: ['127.0.0.0/8'], workers: 1, out: unwritable });
    const subscribers = (run.crawler as unknown as { recorder: { subscribers: Set<unknown> } }).recorder.subscribers;
    expect(subscribers.size).toBe(0);
    await expect(run.done).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
  });

  it('a snapshot stream that fails mid-crawl rejects done with ERR_WRITE, carrying the summary so far', async () => {
    peers.push(await startLoopbackPeer({ host: `127.67.${R}.1`, port: PORT, addrs: [`127.67.${R}.2:${PORT}`, `127.67.${R}.3:${PORT}`] }));
    const out = new Writable({
      write(_chunk, _enc, callback): void {
        callback(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
      },
    });
    const run = crawl({ network: 'regtest', seeds: [`127.67.${R}.1:${PORT}`], only: [`127.67.${R}.0/24`], workers: 1, maxPeers: 1, timeoutMs: 2000, addrQuietMs: 50, out });
    const err = (await run.done.catch((e: unknown) => e)) as RunError;
    expect(err).toBeInstanceOf(RunError);
    expect(err).toMatchObject({ code: 'ERR_WRITE', message: expect.stringMatching(/ENOSPC/) });
    // It stopped at the first failed write: the two learned addresses were never dialled (recorded skipped stopped).
    expect(err.summary).toMatchObject({ stopped: true, byState: { reachable: 1, failed: 0, skipped: 2 }, bySkipReason: { stopped: 2 } });
  });

  it('buffers records only once iterated: a done-only caller of a real crawl holds none', async () => {
    peers.push(await startLoopbackPeer({ host: `127.66.${R}.1`, port: PORT, addrs: [`127.66.${R}.2:${PORT}`] }));
    const run = crawl({ network: 'regtest', seeds: [`127.66.${R}.1:${PORT}`], only: ['127.66.0.0/16'], workers: 1, timeoutMs: 2000, addrQuietMs: 50 });
    const subscribers = (run.crawler as unknown as { recorder: { subscribers: Set<unknown> } }).recorder.subscribers;
    const summary = await run.done;
    expect(summary.total).toBe(2);
    expect(subscribers.size).toBe(0);
    // Iterating right after crawl() still sees every record.
    const run2 = crawl({ network: 'regtest', seeds: [`127.66.${R}.1:${PORT}`], only: ['127.66.0.0/16'], workers: 1, timeoutMs: 2000, addrQuietMs: 50 });
    const seen: string[] = [];
    for await (const rec of run2) seen.push(rec.addr);
    expect(seen.sort()).toEqual([`127.66.${R}.1:${PORT}`, `127.66.${R}.2:${PORT}`]);
  });
});
