/**
 * The Redis coordinator against a real redis-server (started here on a free
 * loopback port, persistence off, stopped by pid): leasing, ack, takeover of
 * a dead consumer's entries, poisoning after N deliveries, and the global
 * cap under concurrent acquirers in separate processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator, type CoordinatorOptions, type Lease } from '../src/cluster/coordinator.js';
import { startLocalRedis, type LocalRedis } from '../src/cluster/local-server.js';
import { ClusterError } from '../src/errors.js';

const CHILD = new URL('./fixtures/cluster-cap-child.mjs', import.meta.url);

let redis: LocalRedis;
const open: Coordinator[] = [];
let names = 0;

beforeAll(async () => {
  redis = await startLocalRedis();
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await redis.stop();
});

async function coordinator(name: string, extra: Partial<CoordinatorOptions> = {}): Promise<Coordinator> {
  const c = await Coordinator.connect({ url: redis.url, name, leaseMs: 2000, timeoutMs: 500, batchSize: 10, ...extra });
  open.push(c);
  return c;
}

function addrs(n: number, base = '127.9.0.'): string[] {
  return Array.from({ length: n }, (_, i) => `${base}${i + 1}:18444`);
}

/** Polls `probe` until it returns a value, with a deadline (no fixed sleeps). */
async function until<T>(probe: () => Promise<T | undefined>, deadlineMs: number, what: string): Promise<T> {
  const end = performance.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('work leasing', () => {
  it('leases every address exactly once across consumers, in batches; acking all finishes the crawl', async () => {
    const name = `lease${names++}`;
    const a = await coordinator(name);
    const b = await coordinator(name);
    expect((await a.join(true, 10)).joined).toBe(true);
    const joinedB = await b.join(false, 0);
    expect(joinedB).toMatchObject({ joined: true, max: 10, done: false });

    const all = addrs(95);
    expect(await a.learn(all)).toEqual({ fresh: 95, done: false });
    // The shared dedupe: the same addresses again (from another process) are not new.
    expect((await b.learn([...all.slice(0, 20), '127.9.1.1:18444'])).fresh).toBe(1);

    const seen: string[] = [];
    const leases: Array<[Coordinator, Lease]> = [];
    for (let round = 0; round < 20; round++) {
      for (const c of [a, b]) {
        const r = await c.lease(2);
        for (const l of r.leases) {
          leases.push([c, l]);
          seen.push(...l.addrs);
          expect(l.delivery).toBe(1);
          expect(l.addrs.length).toBeLessThanOrEqual(10);
        }
      }
    }
    expect(seen.sort()).toEqual([...all, '127.9.1.1:18444'].sort());
    expect(leases.length).toBe(11); // 10 + 1 entries (batch size 10)
    expect((await a.status()).entries).toBe(11);

    // Ack all but one: not done; the last ack finishes the crawl.
    for (const [c, l] of leases.slice(0, -1)) expect((await c.ack([l.id])).done).toBe(false);
    const [lastC, last] = leases.at(-1) as [Coordinator, Lease];
    expect(await lastC.ack([last.id])).toEqual({ acked: 1, done: true });
    expect(await lastC.ack([last.id])).toEqual({ acked: 0, done: true });
    const st = await a.status();
    expect(st).toMatchObject({ done: true, entries: 0, known: 96 });

    // A process without seeds joins the finished crawl and sees it done; one with seeds starts a new generation.
    const late = await coordinator(name);
    expect(await late.join(false, 0)).toMatchObject({ done: true, joined: true });
    const next = await coordinator(name);
    const j = await next.join(true, 7);
    expect(j).toMatchObject({ done: false, max: 7, generation: 2 });
    expect((await next.learn(all.slice(0, 3))).fresh).toBe(3);
  });

  it('publishes one record per address, whoever finishes it first', async () => {
    const name = `rec${names++}`;
    const a = await coordinator(name);
    const b = await coordinator(name);
    await a.join(true, 10);
    await b.join(false, 0);
    expect(await a.record([['127.9.0.1:18444', '{"x":1}'], ['127.9.0.2:18444', '{"x":2}']])).toBe(2);
    expect(await b.record([['127.9.0.1:18444', '{"x":3}'], ['127.9.0.3:18444', '{"x":4}']])).toBe(1);
    const first = await b.readRecords('0-0', 2);
    expect(first.map((r) => r.line)).toEqual(['{"x":1}', '{"x":2}']);
    const rest = await b.readRecords((first.at(-1) as { id: string }).id, 100);
    expect(rest.map((r) => r.line)).toEqual(['{"x":4}']);
  });

  it('a stopping process gives its unfinished addresses back', async () => {
    const name = `give${names++}`;
    const a = await coordinator(name);
    const b = await coordinator(name);
    await a.join(true, 10);
    await b.join(false, 0);
    await a.learn(addrs(5));
    const [l] = (await a.lease(1)).leases as [Lease];
    await a.record([[l.addrs[0] as string, '{}']]);
    expect(await a.giveBack([l.id], l.addrs.slice(1))).toBe(false);
    const r = await b.lease(5);
    expect(r.leases.flatMap((x) => x.addrs).sort()).toEqual(l.addrs.slice(1).sort());
  });
});

describe('takeover of a dead consumer', () => {
  it('another consumer claims entries idle past the lease, split per address; touch keeps a live lease', async () => {
    const name = `claim${names++}`;
    const dead = await coordinator(name, { leaseMs: 600, timeoutMs: 200 });
    const live = await coordinator(name, { leaseMs: 600, timeoutMs: 200 });
    const toucher = await coordinator(name, { leaseMs: 600, timeoutMs: 200 });
    await dead.join(true, 10);
    await live.join(false, 0);
    await toucher.join(false, 0);
    await dead.learn(addrs(10, '127.9.2.'));
    await dead.learn(addrs(4, '127.9.3.'));
    const [held] = (await dead.lease(1)).leases as [Lease];
    expect(held.addrs).toHaveLength(10);
    const [kept] = (await toucher.lease(1)).leases as [Lease];
    expect(kept.addrs).toHaveLength(4);
    // One of the dead consumer's addresses was finished before it died: not redelivered.
    await dead.record([[held.addrs[0] as string, '{}']]);

    // Right away nothing is idle long enough to take over.
    expect((await live.lease(10)).leases).toEqual([]);
    const taken: string[] = [];
    await until(
      async () => {
        // The live toucher renews its lease; the dead one's lapses.
        expect(await toucher.touch([kept.id])).toEqual([]);
        const r = await live.lease(20);
        for (const l of r.leases) {
          expect(l.addrs).toHaveLength(1);
          expect(l.delivery).toBe(2);
          taken.push(...l.addrs);
        }
        return taken.length >= 9 ? true : undefined;
      },
      10_000,
      'the dead consumer’s entries',
    );
    expect(taken.sort()).toEqual(held.addrs.slice(1).sort());
    // The toucher's batch was never taken: it renewed its lease.
    expect(taken.some((a) => kept.addrs.includes(a))).toBe(false);
    expect(await dead.touch([held.id])).toEqual([held.id]);
  });

  it('an address whose holders keep dying is returned as poisoned after maxDeliveries', async () => {
    const name = `poison${names++}`;
    const opts = { leaseMs: 400, timeoutMs: 100, maxDeliveries: 2 };
    const c1 = await coordinator(name, opts);
    await c1.join(true, 10);
    await c1.learn(['127.9.4.1:18444']);
    expect((await c1.lease(1)).leases[0]).toMatchObject({ delivery: 1, addrs: ['127.9.4.1:18444'] });
    // c1 "dies" (never acks, never touches). c2 takes it over: delivery 2.
    const c2 = await coordinator(name, opts);
    await c2.join(false, 0);
    const second = await until(async () => (await c2.lease(1)).leases[0], 10_000, 'the second delivery');
    expect(second).toMatchObject({ delivery: 2, addrs: ['127.9.4.1:18444'] });
    // c2 dies too: the next taker gets it as poisoned, not as work.
    const c3 = await coordinator(name, opts);
    await c3.join(false, 0);
    const poisoned = await until(
      async () => {
        const r = await c3.lease(1);
        expect(r.leases).toEqual([]);
        return r.poisoned[0];
      },
      10_000,
      'the poisoned entry',
    );
    expect(poisoned).toMatchObject({ addr: '127.9.4.1:18444', deaths: 2 });
    await c3.record([[poisoned.addr, '{"state":"failed","error":"ERR_POISONED"}']]);
    expect((await c3.ack([poisoned.id])).done).toBe(true);
  });
});

interface ChildLine {
  witnessMax?: number;
  granted?: number;
  refusedRounds?: number;
  held?: number;
}

function startChild(cfg: Record<string, unknown>): { child: ChildProcess; lines: AsyncIterator<string> } {
  const child = spawn(process.execPath, [CHILD.pathname, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  return { child, lines };
}

async function firstLine(lines: AsyncIterator<string>): Promise<ChildLine> {
  const r = await lines.next();
  if (r.done === true) throw new Error('child exited without a result');
  return JSON.parse(r.value) as ChildLine;
}

describe('global peer cap', () => {
  it('is never exceeded by concurrent acquirers in several processes', async () => {
    const name = `cap${names++}`;
    const admin = await coordinator(name);
    const MAX = 12;
    await admin.join(true, MAX);
    const parties = 4;
    const kids = Array.from({ length: parties }, (_, i) =>
      startChild({ mode: 'hammer', url: redis.url, name, leaseMs: 5000, consumer: `hammer${i}`, parties, rounds: 150, burst: 6 }),
    );
    const results = await Promise.all(kids.map((k) => firstLine(k.lines)));
    for (const r of results) {
      expect(r.witnessMax).toBeLessThanOrEqual(MAX);
      expect(r.granted).toBeGreaterThan(0);
    }
    // They really contended: at some point the witness saw the cap nearly full, and some rounds were refused.
    expect(Math.max(...results.map((r) => r.witnessMax ?? 0))).toBeGreaterThan(MAX / 2);
    const st = await admin.status();
    expect(st.peak).toBeLessThanOrEqual(MAX);
    expect(st.held).toBe(0);
  });

  it('a killed process’s slots come back after its lease expires, not before', async () => {
    const name = `capdead${names++}`;
    const leaseMs = 1500;
    const admin = await coordinator(name, { leaseMs, timeoutMs: 200 });
    await admin.join(true, 10);
    const { child, lines } = startChild({ mode: 'hold', url: redis.url, name, leaseMs, consumer: 'holder', hold: 7 });
    expect(await firstLine(lines)).toEqual({ held: 7 });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    // Still within its lease: only 3 slots free (the fair share of two wanting consumers is 5).
    const now = await admin.cap('acquire', 10, 10);
    expect(now.total).toBeLessThanOrEqual(10);
    expect(now.granted).toBe(3);
    const later = await until(
      async () => {
        const r = await admin.cap('acquire', 10, 10);
        return r.held === 10 ? r : undefined;
      },
      10_000,
      'the dead holder’s slots',
    );
    expect(later.total).toBe(10);
  });
});

describe('Redis failures', () => {
  it('an unreachable Redis is ERR_REDIS_UNAVAILABLE within the timeout', async () => {
    const gone = await startLocalRedis();
    const url = gone.url;
    await gone.stop();
    const err = await Coordinator.connect({ url, leaseMs: 1000, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as ClusterError).code).toBe('ERR_REDIS_UNAVAILABLE');
  });

  it('a restart that lost the state is ERR_REDIS_STATE_LOST; staying down is ERR_REDIS_UNAVAILABLE', async () => {
    let own = await startLocalRedis();
    const c = await Coordinator.connect({ url: own.url, name: 'restart', leaseMs: 4000, timeoutMs: 2000 });
    open.push(c);
    await c.join(true, 10);
    await c.learn(addrs(3));
    own = await own.restart();
    const lost = await c.lease(1).catch((e: unknown) => e);
    expect(lost).toMatchObject({ code: 'ERR_REDIS_STATE_LOST' });
    await own.stop();
    const down = await c.status().catch((e: unknown) => e);
    expect(down).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
  });
});
