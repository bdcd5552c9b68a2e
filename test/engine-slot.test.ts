/**
 * How long a visit holds its cap slot (issue 16): the deadline ticker runs
 * only when something is due, the adaptive quiet period ends a visit as soon
 * as the answer is complete, an explicit quiet period is still honoured, and
 * a worker never turns a duplicate address into text.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PeerConnection, type PeerHost } from '../workers/peer-connection.js';
import { DeadlineTicker, type Tickable } from '../workers/ticker.js';
import { RecentAddresses, binaryKey } from '../workers/recent-addresses.js';
import type { PeerEvent, PeerTimeouts } from '../src/shared/messages.js';
import { AllowList } from '../src/shared/allow-list.js';
import { PeerCap } from '../src/shared/peer-cap.js';
import { AddrList, NETWORKS, formatAddress, parseAddress } from '../src/wire/index.js';
import { startLoopbackPeer, type LoopbackPeer } from './helpers/loopback-peer.js';

const peers: LoopbackPeer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

/** A member with one deadline, counting its ticks. */
class Member implements Tickable {
  ticks = 0;
  fired = 0;
  constructor(public at: number) {}
  tick(now: number): void {
    this.ticks++;
    if (now >= this.at) {
      this.fired++;
      this.at = Infinity;
    }
  }
  dueAt(): number {
    return this.at;
  }
}

describe('DeadlineTicker: runs only when a deadline is due', () => {
  it('holds no timer while empty, and one run serves a deadline 10 s away (a fixed 20 ms tick would have run 500 times)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const t = new DeadlineTicker(20);
    expect(vi.getTimerCount()).toBe(0);
    const m = new Member(performance.now() + 10_000);
    t.add(m);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(9_990);
    expect(m.ticks).toBe(0);
    vi.advanceTimersByTime(20);
    expect(m.fired).toBe(1);
    expect(t.runs).toBe(1);
    // Nothing due any more: no timer left, though the member is still registered.
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(t.runs).toBe(1);
    t.delete(m);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a deadline that moves earlier is served at its new time; one run serves every deadline within the resolution', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const t = new DeadlineTicker(20);
    const start = performance.now();
    const late = new Member(start + 5_000);
    t.add(late);
    const a = new Member(start + 100);
    const b = new Member(start + 105);
    t.add(a);
    t.add(b);
    vi.advanceTimersByTime(99);
    expect(a.fired + b.fired).toBe(0);
    vi.advanceTimersByTime(30);
    expect(a.fired).toBe(1);
    expect(b.fired).toBe(1);
    // a fired at 100, b within the next resolution step: two runs at most, none in between.
    expect(t.runs).toBeLessThanOrEqual(2);
    late.at = performance.now() + 50;
    t.schedule(late.at);
    vi.advanceTimersByTime(60);
    expect(late.fired).toBe(1);
    expect(t.runs).toBeLessThanOrEqual(3);
  });

  it('runs at most once per resolution step however many deadlines fall inside it', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const t = new DeadlineTicker(20);
    const start = performance.now();
    const members = Array.from({ length: 100 }, (_, i) => new Member(start + 1 + i * 0.2));
    for (const m of members) t.add(m);
    vi.advanceTimersByTime(100);
    expect(members.every((m) => m.fired === 1)).toBe(true);
    expect(t.runs).toBeLessThanOrEqual(2);
  });
});

function host(events: PeerEvent[], timeouts: Partial<PeerTimeouts>, ticker = new DeadlineTicker(5), recent?: RecentAddresses): PeerHost {
  return {
    net: NETWORKS.regtest,
    cap: PeerCap.create(10),
    slot: 0,
    allow: AllowList.parse(['127.0.0.0/8']),
    mode: 'crawl',
    timeouts: { connectMs: 5000, handshakeMs: 5000, getaddrMs: 30_000, addrQuietMs: 30_000, pingIntervalMs: 60_000, pingTimeoutMs: 60_000, ...timeouts },
    ticker,
    log: pino({ level: 'silent' }),
    ...(recent === undefined ? {} : { recentAddresses: recent }),
    emit: (ev) => events.push(ev),
    closed: () => undefined,
  };
}

function ended(events: PeerEvent[]): Promise<Extract<PeerEvent, { kind: 'end' }>> {
  return new Promise((resolve) => {
    const check = (): void => {
      const e = events.find((x) => x.kind === 'end');
      if (e !== undefined && e.kind === 'end') resolve(e);
      else setTimeout(check, 5);
    };
    check();
  });
}

const learned = (events: PeerEvent[]): string[] => events.flatMap((e) => (e.kind === 'addrs' ? e.texts : []));
const many = (n: number, b: number): string[] => Array.from({ length: n }, (_, i) => `127.${b}.${(i >> 8) & 255}.${i & 255}:8333`);

describe('PeerConnection: the adaptive quiet period', () => {
  it('a full 1,000-entry answer ends the visit at once: the 30 s quiet ceiling and getaddr deadline are never waited for', async () => {
    const p = await startLoopbackPeer({ host: '127.79.0.1', addrs: many(1000, 80) });
    peers.push(p);
    const events: PeerEvent[] = [];
    PeerConnection.dial(host(events, { adaptiveQuiet: true }), p.address);
    const end = await ended(events);
    expect(end.error).toBeUndefined();
    // Nothing learned is lost: the self-announcement and all 1,000 entries.
    expect(new Set(learned(events)).size).toBe(1001);
    expect(end.info?.addrsReturned).toBe(1001);
    expect(end.info?.slotMs).toBeLessThan(30_000);
    expect(end.info?.closeMs).toBeLessThanOrEqual(end.info?.slotMs ?? -1);
  });

  it('a short answer ends after the adaptive wait (at most the ceiling), keeping every address', async () => {
    const p = await startLoopbackPeer({ host: '127.79.0.2', addrs: many(20, 81) });
    peers.push(p);
    const events: PeerEvent[] = [];
    PeerConnection.dial(host(events, { adaptiveQuiet: true }), p.address);
    const end = await ended(events);
    expect(end.error).toBeUndefined();
    expect(new Set(learned(events)).size).toBe(21);
    expect(end.info?.slotMs).toBeLessThan(30_000);
  });

  it('an explicit quiet period is honoured as given, even after a full answer', async () => {
    const p = await startLoopbackPeer({ host: '127.79.0.3', addrs: many(1000, 82) });
    peers.push(p);
    const events: PeerEvent[] = [];
    PeerConnection.dial(host(events, { addrQuietMs: 400 }), p.address);
    const end = await ended(events);
    expect(end.error).toBeUndefined();
    expect(new Set(learned(events)).size).toBe(1001);
    // The slot is held at least the quiet period after the answer (a deadline never fires early).
    expect(end.info?.slotMs).toBeGreaterThanOrEqual(400);
    expect(end.info?.closeMs).toBeLessThan(end.info?.slotMs ?? 0);
  });
});

describe('worker-side dedupe on the binary form', () => {
  it('binaryKey is one-to-one with the Core text form across networks and ports', () => {
    const texts = [
      '[2001:db8::1]:8333',
      '[2001:db8::1]:8334',
      '[2001:db8::2]:8333',
      '[fc00::1]:8333',
      'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333',
      'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8334',
      'ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:0',
    ];
    const keys = new Set<string>();
    for (const t of texts) {
      const a = parseAddress(t);
      expect(formatAddress(a)).toBe(t);
      const kind = ['ipv6', 'onion', 'i2p', 'cjdns'].indexOf(a.network) + 10;
      keys.add(binaryKey(kind, a.bytes, 0, a.bytes.length, a.port));
    }
    expect(keys.size).toBe(texts.length);
  });

  it('two peers gossiping the same 1,000 addresses: each address is formatted and reported once per worker', async () => {
    // Global IPv6 (2001:db8::/32 is documentation space, which Core never learns and neither do we).
    const addrs = [...many(500, 83), ...Array.from({ length: 500 }, (_, i) => `[2a02:c7f::${(i + 1).toString(16)}]:8333`)];
    const a = await startLoopbackPeer({ host: '127.79.0.4', addrs });
    const b = await startLoopbackPeer({ host: '127.79.0.5', addrs });
    peers.push(a, b);
    const textAt = vi.spyOn(AddrList.prototype, 'textAt');
    const recent = new RecentAddresses();
    const events1: PeerEvent[] = [];
    const ticker = new DeadlineTicker(5);
    PeerConnection.dial(host(events1, { adaptiveQuiet: true }, ticker, recent), a.address);
    await ended(events1);
    const events2: PeerEvent[] = [];
    PeerConnection.dial(host(events2, { adaptiveQuiet: true }, ticker, recent), b.address);
    const end2 = await ended(events2);
    // The second peer's answer is all duplicates except its own self-announcement.
    expect(end2.info?.addrsReturned).toBe(1001);
    expect(learned(events2)).toEqual([b.address]);
    expect(new Set(learned(events1))).toEqual(new Set([a.address, ...addrs]));
    // Text was made for the 1,002 distinct addresses only, not for the 1,000 repeats.
    expect(textAt).toHaveBeenCalledTimes(1002);
  });
});

describe('default concurrency', () => {
  it('crawl mode: derived from the open-file limit (all but a reserve, 125-1,000); node mode keeps Core\'s 125', async () => {
    const { crawlMaxPeersFor, openFileLimit, resolveOptions, FD_RESERVE, CRAWL_MAX_PEERS_CEILING, DEFAULT_MAX_PEERS } = await import('../src/engine/options.js');
    expect(crawlMaxPeersFor(1024)).toBe(1024 - FD_RESERVE);
    expect(crawlMaxPeersFor(200)).toBe(DEFAULT_MAX_PEERS);
    expect(crawlMaxPeersFor(1_048_576)).toBe(CRAWL_MAX_PEERS_CEILING);
    expect(crawlMaxPeersFor(Infinity)).toBe(CRAWL_MAX_PEERS_CEILING);
    expect(crawlMaxPeersFor(null)).toBe(DEFAULT_MAX_PEERS);
    const limit = openFileLimit();
    // This test runs on Linux, where /proc/self/limits says it.
    expect(limit).toBeGreaterThan(0);
    const only = ['127.0.0.0/8'];
    expect(resolveOptions({ only }).maxPeers).toBe(crawlMaxPeersFor(limit));
    expect(resolveOptions({ only, mode: 'node' }).maxPeers).toBe(DEFAULT_MAX_PEERS);
    expect(resolveOptions({ only, maxPeers: 40 }).maxPeers).toBe(40);
    // The adaptive quiet period is the default; an explicit one is fixed.
    expect(resolveOptions({ only }).timeouts.adaptiveQuiet).toBe(true);
    expect(resolveOptions({ only, addrQuietMs: 200 }).timeouts).toMatchObject({ adaptiveQuiet: false, addrQuietMs: 200 });
  });

  it('the progress line shows the cap next to the open sockets', async () => {
    const { progressLine } = await import('../src/cli/progress.js');
    type CrawlStats = Parameters<typeof progressLine>[0];
    const line = progressLine({ elapsedMs: 1, known: 5, queued: 2, open: 3, maxPeers: 744, inFlight: 3, done: 0, reachable: 0, failed: 0, skipped: 0, rate: 0, etaSeconds: null, workers: 1, workerCrashes: 0, requeued: 0, notStored: 0, droppedPerSource: 0, droppedPerSourceGroup: 0, networks: {} as CrawlStats['networks'] });
    expect(line).toContain('open 3/744');
  });
});
