import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { NodeRecord } from '../src/engine/record.js';
import { Store } from '../src/store/store.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/store/schema.js';
import { crawlRecords, dueAddresses, knownChecker, prune, reachableSince, timeline, uptimes, visitCount } from '../src/store/history.js';
import { diffCrawls, formatDiff } from '../src/store/diff.js';
import { readSnapshotFile } from '../src/store/sources.js';

const DIST_STORE = join(import.meta.dirname, '..', 'dist', 'src', 'store', 'store.js');
const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');

const HOUR = 3600_000;
const DAY = 24 * HOUR;

function tmp(name: string): string {
  return join(mkdtempSync(join(tmpdir(), 'bitspread-store-')), name);
}

function up(addr: string, crawlId: string, at: number, extra: Partial<NodeRecord> = {}): NodeRecord {
  return {
    addr,
    network: 'ipv4',
    state: 'reachable',
    crawlId,
    visitedAt: new Date(at).toISOString(),
    protocolVersion: 70016,
    userAgent: '/Satoshi:27.0.0/',
    services: 1033,
    startHeight: 100,
    relay: true,
    connectMs: 1,
    handshakeMs: 2,
    rttMs: 3,
    addrsReturned: 0,
    ...extra,
  };
}

function down(addr: string, crawlId: string, at: number): NodeRecord {
  return { addr, network: 'ipv4', state: 'failed', error: 'ERR_CONNECTION_REFUSED', crawlId, visitedAt: new Date(at).toISOString() };
}

describe('store: schema and writing', () => {
  it('creates a WAL store at the current schema version, reopens it unchanged, refuses a newer one', () => {
    const path = tmp('h.db');
    Store.open(path).close();
    const raw = new Database(path);
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    raw.close();
    Store.open(path).close();
    const raw2 = new Database(path);
    raw2.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw2.close();
    expect(() => Store.open(path)).toThrow(expect.objectContaining({ code: 'ERR_STORE_VERSION' }));
  });

  it('migrates a schema-1 store to the current version, keeping its rows', () => {
    const path = tmp('v1.db');
    const raw = new Database(path);
    raw.exec(MIGRATIONS[0] as string);
    raw.pragma('user_version = 1');
    raw.prepare("INSERT INTO crawls (id, seq, kind, network, started_at, status) VALUES ('old', 1, 'crawl', 'regtest', 5, 'done')").run();
    raw.prepare("INSERT INTO visits (crawl_id, addr, network, at, state, error) VALUES ('old', '127.0.0.1:1', 'ipv4', 1000, 'failed', 'ERR_CONNECTION_REFUSED')").run();
    raw.close();
    const store = Store.open(path);
    expect(store.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect([...crawlRecords(store, 'old')]).toEqual([
      { addr: '127.0.0.1:1', network: 'ipv4', state: 'failed', error: 'ERR_CONNECTION_REFUSED', crawlId: 'old', visitedAt: new Date(1000).toISOString() },
    ]);
    store.beginCrawl({ id: 'new', kind: 'crawl', network: 'regtest' });
    store.add({ addr: '127.0.0.2:1', network: 'ipv4', state: 'failed', error: 'ERR_PROXY_TIMEOUT', via: 'socks5', proxy: '127.0.0.1:9050', crawlId: 'new', visitedAt: new Date(2000).toISOString() });
    store.flush();
    expect([...crawlRecords(store, 'new')][0]).toMatchObject({ via: 'socks5', proxy: '127.0.0.1:9050' });
    expect(store.crawl('latest').seq).toBe(2);
    store.close();
  });

  it('refuses a file that is not a database with ERR_STORE_OPEN', () => {
    const path = tmp('junk.db');
    writeFileSync(path, 'this is not sqlite, just text that is long enough to look like a header\n'.repeat(20));
    expect(() => Store.open(path)).toThrow(expect.objectContaining({ code: 'ERR_STORE_OPEN' }));
    expect(() => Store.open(tmp('missing.db'), { readonly: true })).toThrow(expect.objectContaining({ code: 'ERR_STORE_OPEN' }));
  });

  it('writes in batches of batchSize (one transaction each) and gives the records back as they were', () => {
    const store = Store.open(tmp('b.db'), { batchSize: 3, flushMs: 60_000 });
    const c = store.beginCrawl({ id: 'c1', kind: 'crawl', network: 'regtest', startedAt: 1000 });
    expect(c.seq).toBe(1);
    const t = Date.UTC(2026, 0, 1);
    const recs = [
      up('127.0.0.1:1', 'c1', t, { source: 'seed', transport: 'v2' } as Partial<NodeRecord>),
      down('127.0.0.2:1', 'c1', t + 1),
      up('127.0.0.3:1', 'c1', t + 2, { source: '127.0.0.1:1', lastSeen: 1_700_000_000 }),
      { addr: 'a'.repeat(56) + '.onion:8333', network: 'onion', state: 'skipped', reason: 'no-route', crawlId: 'c1', visitedAt: new Date(t + 3).toISOString() } as NodeRecord,
    ];
    for (const r of recs.slice(0, 2)) store.add(r);
    expect(store.written).toBe(0);
    expect(store.queued).toBe(2);
    store.add(recs[2] as NodeRecord);
    expect(store.written).toBe(3); // the third record filled the batch
    store.add(recs[3] as NodeRecord);
    store.finishCrawl('c1', 'done', null);
    expect(store.written).toBe(4);
    const back = [...crawlRecords(store, 'c1')];
    expect(back[0]).toEqual({ ...recs[0], serviceNames: ['NODE_NETWORK', 'NODE_WITNESS', 'NODE_NETWORK_LIMITED'] });
    expect(back[1]).toEqual(recs[1]);
    expect(back[2]).toMatchObject({ source: '127.0.0.1:1', lastSeen: 1_700_000_000 });
    expect(back[3]).toEqual(recs[3]);
    expect(store.crawl('latest')).toMatchObject({ id: 'c1', status: 'done', finishedAt: expect.any(Number) });
    expect(() => store.crawl('latest~1')).toThrow(expect.objectContaining({ code: 'ERR_NO_SUCH_CRAWL' }));
    const known = knownChecker(store);
    expect(known('127.0.0.3:1')).toBe(true);
    expect(known('127.0.0.9:1')).toBe(false);
    store.close();
  });

  it('keeps per-node first/last seen and the latest version fields across crawls', () => {
    const store = Store.open(':memory:');
    const t = Date.UTC(2026, 0, 1);
    store.beginCrawl({ id: 'a', kind: 'watch', network: 'regtest' });
    store.add(up('127.0.0.1:1', 'a', t, { source: 'seed' }));
    store.beginCrawl({ id: 'b', kind: 'watch', network: 'regtest' });
    store.add(down('127.0.0.1:1', 'b', t + HOUR));
    store.beginCrawl({ id: 'c', kind: 'watch', network: 'regtest' });
    store.add(up('127.0.0.1:1', 'c', t + 2 * HOUR, { userAgent: '/Satoshi:28.0.0/', source: 'store' }));
    store.flush();
    const node = store.db.prepare('SELECT * FROM nodes').get() as Record<string, unknown>;
    expect(node).toMatchObject({
      first_seen: t,
      last_seen: t + 2 * HOUR,
      first_reachable: t,
      last_reachable: t + 2 * HOUR,
      last_visit: t + 2 * HOUR,
      last_state: 'reachable',
      source: 'seed',
      user_agent: '/Satoshi:28.0.0/',
    });
    expect(store.crawl('2').id).toBe('b');
    expect(store.crawl('latest~2').id).toBe('a');
    expect(reachableSince(store, t + 3 * HOUR).get('127.0.0.1:1')).toBe(t + 2 * HOUR);
    store.close();
  });
});

describe('store: one writer at a time', () => {
  it('refuses a second writer with ERR_STORE_LOCKED, lets readers in, and frees the lock on close', () => {
    const path = tmp('locked.db');
    const first = Store.open(path);
    first.beginCrawl({ id: 'c1', kind: 'crawl', network: 'regtest' });
    expect(() => Store.open(path)).toThrow(expect.objectContaining({ code: 'ERR_STORE_LOCKED', message: expect.stringContaining('another bitspread process') }));
    // Another spelling of the same store (a symlink) is the same store, and locked too.
    const alias = join(dirname(path), 'alias.db');
    symlinkSync(path, alias);
    expect(() => Store.open(alias)).toThrow(expect.objectContaining({ code: 'ERR_STORE_LOCKED' }));
    const reader = Store.open(path, { readonly: true });
    expect(reader.crawls().map((c) => c.id)).toEqual(['c1']);
    reader.close();
    first.close();
    const second = Store.open(path);
    expect(second.crawls().map((c) => c.id)).toEqual(['c1']);
    second.close();
  });

  it('a writer in another process that is killed (SIGKILL) leaves no stale lock; the CLI refuses with exit 2 while it lives', async () => {
    const path = tmp('killed.db');
    const holder = spawn(
      process.execPath,
      ['--input-type=module', '-e', `const { Store } = await import(${JSON.stringify(DIST_STORE)}); Store.open(${JSON.stringify(path)}); console.log('held'); setInterval(() => {}, 1000);`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [line] = (await once(holder.stdout, 'data')) as [Buffer];
    expect(line.toString()).toContain('held');
    expect(() => Store.open(path)).toThrow(expect.objectContaining({ code: 'ERR_STORE_LOCKED' }));
    const cli = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'crawl', '--store', path, '--network', 'regtest', '--only', '127.0.0.0/8', '--seed', '127.0.0.1:1'], { timeout: 60_000 }, (err, _out, stderr) =>
        resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? null), stderr }),
      );
    });
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('ERR_STORE_LOCKED');
    expect(cli.stderr).not.toMatch(/\n\s+at /); // no stack trace
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    const after = Store.open(path);
    after.close();
  });
});

describe('store: history queries', () => {
  it('computes uptime over the 2h/8h/24h/7d/30d windows from the visits in each', () => {
    const store = Store.open(':memory:');
    const now = Date.UTC(2026, 5, 1);
    store.beginCrawl({ id: 'x', kind: 'watch', network: 'regtest' });
    // Node A: up in the last 2 h (2 visits), down 2-8 h ago (2 visits), up 8-24 h ago (4), down 1-7 d ago (4), up 7-30 d ago (8).
    const A = '127.0.0.1:1';
    for (const h of [0.5, 1.5]) store.add(up(A, 'x', now - h * HOUR));
    for (const h of [3, 5]) store.add(down(A, 'x', now - h * HOUR));
    for (const h of [9, 12, 15, 20]) store.add(up(A, 'x', now - h * HOUR));
    for (const d of [2, 3, 4, 5]) store.add(down(A, 'x', now - d * DAY));
    for (const d of [8, 10, 12, 14, 16, 18, 20, 25]) store.add(up(A, 'x', now - d * DAY));
    store.add(up(A, 'x', now - 40 * DAY)); // outside every window
    // Node B: only visited 10 days ago.
    store.add(down('127.0.0.2:1', 'x', now - 10 * DAY));
    store.flush();
    const [a, b] = uptimes(store, now);
    expect(a?.addr).toBe(A);
    expect(a?.uptime).toEqual({ '2h': 1, '8h': 2 / 4, '24h': 6 / 8, '7d': 6 / 12, '30d': 14 / 20 });
    expect(a?.visits).toBe(20);
    expect(a?.reachableSince).toBe(now - 1.5 * HOUR);
    expect(b?.uptime).toEqual({ '2h': null, '8h': null, '24h': null, '7d': null, '30d': 0 });
    store.close();
  });

  it('picks the addresses a round must revisit, and prunes visits past the retention', () => {
    const store = Store.open(':memory:');
    const now = Date.UTC(2026, 5, 1);
    store.beginCrawl({ id: 'old', kind: 'watch', network: 'regtest', startedAt: now - 40 * DAY });
    store.add(up('127.0.0.9:1', 'old', now - 40 * DAY));
    store.finishCrawl('old', 'done', null, now - 40 * DAY);
    store.beginCrawl({ id: 'r', kind: 'watch', network: 'regtest' });
    store.add(up('127.0.0.1:1', 'r', now - 20 * 60_000)); // reachable, 20 min ago: due at 10 min
    store.add(up('127.0.0.2:1', 'r', now - 5 * 60_000)); // reachable, 5 min ago: not due
    store.add(down('127.0.0.3:1', 'r', now - 2 * HOUR)); // failed 2 h ago: not due at 4 h
    store.add(down('127.0.0.4:1', 'r', now - 5 * HOUR)); // failed 5 h ago: due
    store.add({ addr: '127.0.0.5:1', network: 'ipv4', state: 'skipped', reason: 'stopped', crawlId: 'r', visitedAt: new Date(now - HOUR).toISOString() }); // never dialled: due
    store.add({ addr: 'b'.repeat(56) + '.onion:8333', network: 'onion', state: 'skipped', reason: 'no-route', crawlId: 'r', visitedAt: new Date(now).toISOString() });
    store.flush();
    const policy = { reachableAfterMs: 10 * 60_000, failedAfterMs: 4 * HOUR, deadAfterMs: 7 * DAY };
    expect(dueAddresses(store, now, policy).sort()).toEqual(['127.0.0.1:1', '127.0.0.4:1', '127.0.0.5:1', '127.0.0.9:1']);
    // A dead address is never retried more often than a failed one: with a 1 h dead-after, 127.0.0.3
    // (never reachable, first seen and last dialled 2 h ago) still waits for the 4 h failed-retry.
    expect(dueAddresses(store, now, { ...policy, deadAfterMs: HOUR }).sort()).toEqual(['127.0.0.1:1', '127.0.0.4:1', '127.0.0.5:1', '127.0.0.9:1']);
    // 127.0.0.6: first seen 10 d ago, never reachable, last dialled 5 h ago: dead, so not due until a week after that dial.
    store.add(down('127.0.0.6:1', 'r', now - 10 * DAY));
    store.add(down('127.0.0.6:1', 'r', now - 5 * HOUR));
    store.flush();
    expect(dueAddresses(store, now, policy)).not.toContain('127.0.0.6:1');
    expect(dueAddresses(store, now, { ...policy, failedAfterMs: 4 * HOUR, deadAfterMs: 30 * DAY })).toContain('127.0.0.6:1');
    expect(dueAddresses(store, now + 7 * DAY, policy)).toContain('127.0.0.6:1');
    expect(visitCount(store)).toBe(9);
    expect(prune(store, now - 30 * DAY)).toEqual({ visits: 1, crawls: 1 });
    expect(visitCount(store)).toBe(8);
    expect(store.crawls().map((c) => c.id)).toEqual(['r']);
    expect(timeline(store)).toEqual([{ crawlId: 'r', seq: 2, startedAt: expect.any(Number), reachable: 2, failed: 4, byNetwork: { ipv4: 2 } }]);
    store.close();
  });

  it('marks crawls a killed process left running as interrupted', async () => {
    const path = tmp('k.db');
    // A writer in its own process, killed with SIGKILL after its first committed batch: no close(), no finishCrawl().
    const writer = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { Store } = await import(${JSON.stringify(DIST_STORE)});
         const s = Store.open(${JSON.stringify(path)});
         s.beginCrawl({ id: 'k', kind: 'watch', network: 'regtest', startedAt: 5 });
         s.add(${JSON.stringify(up('127.0.0.1:1', 'k', 1_000_000))});
         s.flush();
         console.log('committed');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [line] = (await once(writer.stdout, 'data')) as [Buffer];
    expect(line.toString()).toContain('committed');
    writer.kill('SIGKILL');
    await once(writer, 'exit');
    const s2 = Store.open(path);
    expect(s2.markInterrupted()).toBe(1);
    expect(s2.crawl('k')).toMatchObject({ status: 'interrupted', finishedAt: 1_000_000 });
    s2.close();
  });
});

describe('diff', () => {
  it('lists joined, left and changed nodes between two crawls', async () => {
    const a = [up('127.0.0.1:1', 'a', 0), up('127.0.0.2:1', 'a', 0), up('127.0.0.3:1', 'a', 0), down('127.0.0.4:1', 'a', 0)];
    const b = [
      up('127.0.0.1:1', 'b', 0),
      up('127.0.0.2:1', 'b', 0, { userAgent: '/Satoshi:28.0.0/', protocolVersion: 70017 }),
      down('127.0.0.3:1', 'b', 0),
      up('127.0.0.4:1', 'b', 0),
    ];
    const d = diffCrawls(a, b);
    expect(d.joined.map((r) => r.addr)).toEqual(['127.0.0.4:1']);
    expect(d.left.map((r) => r.addr)).toEqual(['127.0.0.3:1']);
    expect(d.changed).toEqual([
      { addr: '127.0.0.2:1', field: 'protocolVersion', from: 70016, to: 70017 },
      { addr: '127.0.0.2:1', field: 'userAgent', from: '/Satoshi:27.0.0/', to: '/Satoshi:28.0.0/' },
    ]);
    expect(d.unchanged).toBe(1);
    expect(formatDiff(d).split('\n').at(-1)).toBe('reachable 3 -> 3: 1 joined, 1 left, 1 changed, 1 unchanged');
    const file = tmp('bad.ndjson');
    writeFileSync(file, JSON.stringify(a[0]) + '\n{"addr": 1}\n');
    await expect(readSnapshotFile(file)).rejects.toMatchObject({ code: 'ERR_BAD_SNAPSHOT', message: expect.stringContaining(':2:') });
  });
});
