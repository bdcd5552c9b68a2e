/**
 * The watch / uptime / diff / export commands as a user runs them (the
 * built CLI in a child process), over the sim: killing a watch with SIGKILL
 * mid-round loses no visit that was written and a new process carries on;
 * the exports parse back in the formats they claim.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimNetwork, type SimNetwork } from '../src/sim/index.js';
import { Store } from '../src/store/store.js';
import { crawlRecords } from '../src/store/history.js';
import { CSV_COLUMNS } from '../src/export/csv.js';
import type { BitnodesSnapshot } from '../src/export/bitnodes.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'main.js');
const execP = promisify(execFile);

let sim: SimNetwork;
let dir: string;
let db: string;

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 150, seed: 61, baseAddress: '127.199.0.0', mix: { modern: 0.8, refused: 0.1, silent: 0.1 }, latency: { medianMs: 10, tailMs: 40 } });
  dir = mkdtempSync(join(tmpdir(), 'bitspread-watchcli-'));
  db = join(dir, 'h.db');
});

afterAll(async () => {
  await sim.close();
});

function watchArgs(extra: string[]): string[] {
  return [CLI, 'watch', '--store', db, '--network', 'regtest', '--only', '127.0.0.0/8', '--timeout', '1s', '--addr-quiet', '30ms', '--interval', '0', '--revisit-failed', '0',
    '--snapshot-dir', join(dir, 'snaps'), '--progress-interval', '100ms', '--workers', '1', '--max-peers', '12', '--log-level', 'warn', ...extra];
}

/** Collects a child's output and resolves when `test` matches the text so far (or rejects at the deadline). */
function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', test: (text: string) => boolean, ms = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting on ${stream}; got:\n${text}`)), ms);
    child[stream]!.on('data', (c: Buffer) => {
      text += c.toString();
      if (test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
  });
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await execP(process.execPath, [CLI, ...args], { maxBuffer: 32 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('watch CLI: SIGKILL mid-round, restart, carry on', () => {
  it('keeps every committed visit and snapshot line, marks the killed round interrupted, and runs on', async () => {
    const first = spawn(process.execPath, watchArgs(['--seed', sim.seeds[0]!]), { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => first.on('exit', (_code, signal) => resolve(signal)));
    // Round 2 finished, and round 3 has finished at least 40 addresses (its progress line says so).
    const stdout = waitFor(first, 'stdout', (t) => /^round 2: /m.test(t));
    const stderr = await waitFor(first, 'stderr', (t) => /round 3 +known \d+ +queued \d+ +open \d+\/\d+ +done ([4-9]\d|\d{3,})/.test(t));
    expect(await stdout).toMatch(/^round 1: \d+ reachable, \d+ failed, \d+ skipped in [\d.]+ s; \d+ joined, 0 left, 0 changed$/m);
    // Without a terminal the progress is plain timestamped lines, no carriage returns.
    expect(stderr).toMatch(/^\d{4}-\d\d-\d\dT\S+Z round \d+ +known \d+/m);
    expect(stderr).not.toContain('\r');
    first.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const before = Store.open(db, { readonly: true });
    const killed = before.crawl('3');
    expect(killed.status).toBe('running');
    const visits = before.db.prepare('SELECT id, crawl_id, addr, state, at FROM visits ORDER BY id').all() as Array<{ id: number; crawl_id: string; addr: string }>;
    const roundThree = visits.filter((v) => v.crawl_id === killed.id);
    expect(roundThree.length).toBeGreaterThan(0);
    // The killed round's snapshot holds only lines the store had committed.
    const lines = readFileSync(join(dir, 'snaps', 'round-000003.ndjson'), 'utf8').split('\n').filter((l) => l.endsWith('}'));
    const stored = new Set(roundThree.map((v) => v.addr));
    for (const l of lines) expect(stored.has((JSON.parse(l) as { addr: string }).addr)).toBe(true);
    before.close();

    const second = spawn(process.execPath, watchArgs(['--rounds', '2']), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err2 = '';
    second.stderr!.on('data', (c: Buffer) => (err2 += c.toString()));
    const out2 = waitFor(second, 'stdout', (t) => /^round 5: /m.test(t));
    const code = await new Promise<number | null>((resolve) => second.on('exit', resolve));
    expect(code, err2).toBe(0);
    expect(err2).toContain('1 round(s) a previous process left unfinished marked interrupted; carrying on');
    expect(await out2).toMatch(/^round 4: /m);

    const after = Store.open(db, { readonly: true });
    const kept = after.db.prepare('SELECT id, crawl_id, addr, state, at FROM visits WHERE id <= ? ORDER BY id').all(visits.at(-1)!.id);
    expect(kept).toEqual(visits);
    expect(after.crawls().map((c) => [c.seq, c.status])).toEqual([[1, 'done'], [2, 'done'], [3, 'interrupted'], [4, 'done'], [5, 'done']]);
    // Round 4 revisited every node the store knew: the whole reachable set, from the store alone.
    const r4 = [...crawlRecords(after, after.crawl('4').id)];
    expect(r4.filter((r) => r.state === 'reachable').map((r) => r.addr).sort()).toEqual(sim.truth().reachable.map((r) => r.addr).sort());
    after.close();
  });
});

describe('uptime, diff, export from that store', () => {
  it('uptime: every reachable node 100 %, refused and silent ones 0 %', async () => {
    const r = await cli(['uptime', '--store', db, '--json']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { addr: string; uptime: Record<string, number | null> });
    const up = new Set(sim.truth().reachable.map((n) => n.addr));
    const failed = new Set(sim.truth().failed.map((n) => n.addr));
    expect(rows.filter((x) => up.has(x.addr)).length).toBe(up.size);
    for (const x of rows) expect([x.addr, x.uptime['2h']]).toEqual([x.addr, up.has(x.addr) ? 1 : failed.has(x.addr) ? 0 : x.uptime['2h']]);
    const table = await cli(['uptime', '--store', db]);
    expect(table.stdout.split('\n')[0]).toMatch(/^node +2h +8h +24h +7d +30d +visits +reachable since +user agent$/);
  });

  it('diff of the last two rounds: nothing joined, left or changed (no churn)', async () => {
    const r = await cli(['diff', '--store', db, 'latest~1', 'latest', '--json']);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as { joined: unknown[]; left: unknown[]; changed: unknown[]; unchanged: number; reachableA: number };
    expect(d).toMatchObject({ joined: [], left: [], changed: [], unchanged: sim.truth().reachable.length, reachableA: sim.truth().reachable.length });
    const text = await cli(['diff', '--store', db, '4', '5']);
    expect(text.stdout.trim().split('\n').at(-1)).toBe(`reachable ${d.reachableA} -> ${d.reachableA}: 0 joined, 0 left, 0 changed, ${d.unchanged} unchanged`);
  });

  it('CSV parses back (csv-parse) to the records of the crawl', async () => {
    const r = await cli(['export', '--store', db, '--format', 'csv']);
    expect(r.code).toBe(0);
    const rows = parse(r.stdout, { columns: true, skip_empty_lines: true }) as Array<Record<string, string>>;
    const store = Store.open(db, { readonly: true });
    const recs = [...crawlRecords(store, store.crawl('latest').id)];
    store.close();
    expect(Object.keys(rows[0]!)).toEqual([...CSV_COLUMNS]);
    expect(rows).toHaveLength(recs.length);
    rows.forEach((row, i) => {
      const rec = recs[i]!;
      expect(row.addr).toBe(rec.addr);
      expect(row.state).toBe(rec.state);
      expect(row.userAgent).toBe(rec.userAgent ?? '');
      expect(row.services).toBe(rec.services === undefined ? '' : String(rec.services));
      expect(row.serviceNames).toBe((rec.serviceNames ?? []).join('|'));
      expect(row.visitedAt).toBe(rec.visitedAt);
    });
  });

  it("bitnodes JSON has bitnodes' layout and the truth's version fields", async () => {
    const out = join(dir, 'bitnodes.json');
    const r = await cli(['export', '--store', db, '--format', 'bitnodes', '--out', out]);
    expect(r.code).toBe(0);
    const snap = JSON.parse(readFileSync(out, 'utf8')) as BitnodesSnapshot;
    const truth = sim.truth().reachable;
    expect(Object.keys(snap).sort()).toEqual(['latest_height', 'nodes', 'timestamp', 'total_nodes']);
    expect(Number.isInteger(snap.timestamp)).toBe(true);
    expect(snap.total_nodes).toBe(truth.length);
    expect(snap.latest_height).toBe([...truth.map((n) => n.startHeight)].sort((a, b) => b - a)[2]);
    for (const n of truth) {
      const row = snap.nodes[n.addr]!;
      expect(row).toHaveLength(13);
      expect(row.slice(0, 2)).toEqual([n.protocolVersion, n.userAgent]);
      expect(row.slice(3, 5)).toEqual([n.services, n.startHeight]);
      expect(row[2]).toBeLessThanOrEqual(snap.timestamp + 60);
      expect(row.slice(5)).toEqual([null, null, null, null, null, null, null, null]);
    }
  });

  it('bad arguments and missing inputs exit 2 with a clear message', async () => {
    expect(await cli(['diff', '--store', db, 'latest'])).toMatchObject({ code: 2, stderr: expect.stringContaining('expected two crawls or snapshot files, got 1') });
    expect(await cli(['export', '--store', db, '--format', 'xml'])).toMatchObject({ code: 2, stderr: expect.stringContaining("--format: expected csv or bitnodes, got 'xml'") });
    expect(await cli(['diff', '--store', db, '1', '99'])).toMatchObject({ code: 2, stderr: expect.stringContaining("ERR_NO_SUCH_CRAWL: no crawl '99'") });
    expect(await cli(['uptime', '--store', join(dir, 'missing.db')])).toMatchObject({ code: 2, stderr: expect.stringContaining('ERR_STORE_OPEN') });
    expect(await cli(['diff', join(dir, 'nope.ndjson'), join(dir, 'nope2.ndjson')])).toMatchObject({ code: 2, stderr: expect.stringContaining('ERR_NO_SUCH_FILE') });
    expect(await cli(['watch', '--store', join(dir, 'empty.db'), '--only', '127.0.0.0/8'])).toMatchObject({ code: 2, stderr: expect.stringContaining('knows no node yet') });
  });
});
