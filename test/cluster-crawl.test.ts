/**
 * Several `bitspread crawl --redis` processes (the built CLI, each its own
 * process) crawl one simulated network through a real redis-server: they
 * must find exactly what one process finds, keep the sim's inbound peak
 * under the global cap, survive `kill -9` of one of them without losing an
 * address or leaving work or slots behind, and stop cleanly with a typed
 * error (exit 8) when Redis restarts empty or goes away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { Coordinator } from '../src/cluster/coordinator.js';
import { startLocalRedis, type LocalRedis } from '../src/cluster/local-server.js';
import { DEFAULT_MIX, startSimNetwork, type SimNetwork } from '../src/sim/index.js';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const MAX_PEERS = 24;
/** Generous step timeouts: three crawlers, the sim and Redis share two loaded cores, and a reachable node must never time out. */
const STEP = ['--timeout', '4s', '--addr-quiet', '100ms'];

let redis: LocalRedis;
const dir = mkdtempSync(join(tmpdir(), 'bitspread-cluster-'));
let runs = 0;

beforeAll(async () => {
  redis = await startLocalRedis();
});
afterAll(async () => {
  await redis.stop();
});

interface Proc {
  readonly child: ChildProcess;
  readonly out: string;
  stdout: string;
  stderr: string;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startProc(args: string[], out: string): Proc {
  const child = spawn(process.execPath, [CLI, 'crawl', ...args, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = {
    child,
    out,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  child.stdout?.on('data', (d: Buffer) => (p.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (p.stderr += d.toString()));
  return p;
}

function clusterArgs(sim: SimNetwork, name: string, extra: string[] = []): string[] {
  return ['--network', 'regtest', ...sim.seeds.flatMap((s) => ['--seed', s]), '--only', '127.0.0.0/8', '--max-peers', String(MAX_PEERS), '--workers', '1', ...STEP, '--redis', `${redis.url}/0`, '--redis-name', name, '--log-level', 'info', ...extra];
}

function readRecords(file: string): NodeRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as NodeRecord);
}

/** addr → what a crawl concluded about it (timings aside). */
function outcome(records: readonly NodeRecord[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const r of records) {
    expect(m.has(r.addr), `${r.addr} recorded twice`).toBe(false);
    m.set(r.addr, [r.state, r.error ?? '', r.detail ?? '', r.reason ?? '', r.userAgent ?? ''].join('|'));
  }
  return m;
}

/** The entries two outcome maps disagree on (readable in a failure message). */
function differences(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(`${k}: ${v} vs ${b.get(k) ?? 'missing'}`);
  for (const k of b.keys()) if (!a.has(k)) out.push(`${k}: missing vs ${b.get(k) ?? ''}`);
  return out;
}

/** The 'left the cluster crawl' log line of a process. */
function leftLine(p: Proc): { published: number; leased: number; done: boolean } {
  // Logs go to stderr (JSON lines when it is not a terminal); the summary to stdout.
  const line = p.stderr.split('\n').find((l) => l.includes('left the cluster crawl'));
  expect(line, `no 'left the cluster crawl' line in: ${p.stderr.slice(-2000)}`).toBeDefined();
  return JSON.parse(line as string) as { published: number; leased: number; done: boolean };
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function singleProcess(sim: SimNetwork): Promise<Map<string, string>> {
  const records: NodeRecord[] = [];
  const crawler = new Crawler({ network: 'regtest', seeds: sim.seeds, only: ['127.0.0.0/8'], maxPeers: MAX_PEERS, workers: 1, timeoutMs: 4000, addrQuietMs: 100 });
  crawler.on('node', (r: NodeRecord) => records.push(r));
  await crawler.start();
  return outcome(records);
}

describe('a crawl shared by several processes through Redis', () => {
  it('three processes find exactly what one process finds, under one global cap', async () => {
    const sim = await startSimNetwork({ nodes: 250, seed: 41 });
    try {
      const name = `three${runs++}`;
      const procs = [0, 1, 2].map((i) => startProc(clusterArgs(sim, name), join(dir, `${name}-${i}.ndjson`)));
      const exits = await Promise.all(procs.map((p) => p.exit));
      for (const [i, e] of exits.entries()) expect(e, (procs[i] as Proc).stderr).toEqual({ code: 0, signal: null });
      const peakCluster = sim.stats().peakInbound;
      expect(peakCluster).toBeLessThanOrEqual(MAX_PEERS);
      expect(peakCluster).toBeGreaterThan(MAX_PEERS / 2);

      // Every process wrote the whole crawl's snapshot, the same one.
      const files = procs.map((p) => outcome(readRecords(p.out)));
      expect(differences(files[1] as Map<string, string>, files[0] as Map<string, string>)).toEqual([]);
      expect(differences(files[2] as Map<string, string>, files[0] as Map<string, string>)).toEqual([]);
      // The work was shared, and every record was sent by exactly one process.
      const left = procs.map(leftLine);
      expect(left.every((l) => l.done)).toBe(true);
      expect(left.filter((l) => l.published > 0).length).toBeGreaterThanOrEqual(2);
      expect(left.reduce((n, l) => n + l.published, 0)).toBeGreaterThanOrEqual((files[0] as Map<string, string>).size);

      const single = await singleProcess(sim);
      expect(differences(files[0] as Map<string, string>, single)).toEqual([]);
      const truth = sim.truth();
      expect(single.size).toBe(truth.reachable.length + truth.failed.length + truth.nonIp.length);
      for (const r of truth.reachable) expect(single.get(r.addr)?.startsWith('reachable|')).toBe(true);
    } finally {
      await sim.close();
    }
  });

  it('kill -9 of one process mid-crawl loses no address and leaves no work or slot behind', async () => {
    // No silent nodes here: a node that never reads never sees the FIN the kernel sends for a killed
    // process's sockets, so the sim would count the dead process's connections to it as open forever.
    const sim = await startSimNetwork({ nodes: 250, seed: 43, latency: { medianMs: 15, tailMs: 60 }, mix: { ...DEFAULT_MIX, silent: 0 } });
    try {
      const name = `kill${runs++}`;
      const args = clusterArgs(sim, name, ['--redis-lease', '3s']);
      const procs = [0, 1, 2].map((i) => startProc(args, join(dir, `${name}-${i}.ndjson`)));
      const [victim, ...rest] = procs as [Proc, Proc, Proc];
      // Mid-crawl: the victim holds leased work (it has published records) and the crawl is far from done.
      await until(() => /"msg":"joined the cluster crawl"/.test(victim.stderr) && readRecords((rest[0] as Proc).out).length > 40, 'the crawl to be under way');
      victim.child.kill('SIGKILL');
      expect(await victim.exit).toEqual({ code: null, signal: 'SIGKILL' });
      const exits = await Promise.all(rest.map((p) => p.exit));
      for (const [i, e] of exits.entries()) expect(e, (rest[i] as Proc).stderr).toEqual({ code: 0, signal: null });

      const got = outcome(readRecords((rest[0] as Proc).out));
      expect(outcome(readRecords((rest[1] as Proc).out))).toEqual(got);
      const truth = sim.truth();
      for (const r of truth.reachable) expect(got.get(r.addr)?.startsWith('reachable|'), r.addr).toBe(true);
      for (const f of truth.failed) expect(got.get(f.addr)?.startsWith('failed|'), f.addr).toBe(true);
      for (const a of truth.nonIp) expect(got.get(a)?.startsWith('skipped|'), a).toBe(true);
      expect(got.size).toBe(truth.reachable.length + truth.failed.length + truth.nonIp.length);
      expect(sim.stats().peakInbound).toBeLessThanOrEqual(MAX_PEERS);
      // Nothing stuck: no work queued or pending; the dead process's slots came back when its lease ran out.
      const c = await Coordinator.connect({ url: redis.url, name, leaseMs: 3000, timeoutMs: 1000 });
      try {
        expect((await c.join(false, 0)).done).toBe(true);
        // The slots held in Redis (all processes) never passed the cap, the dead one's included.
        expect(await c.status()).toMatchObject({ done: true, entries: 0, peak: MAX_PEERS });
        await until(async () => (await c.cap('leave', 0, 0)).total === 0, 'the dead process’s slots to expire', 10_000);
      } finally {
        await c.close();
      }
    } finally {
      await sim.close();
    }
  });
  it('Ctrl-C in one process hands its unfinished work back: the others still map everything', async () => {
    const sim = await startSimNetwork({ nodes: 200, seed: 45, latency: { medianMs: 15, tailMs: 60 } });
    try {
      const name = `sigint${runs++}`;
      const procs = [0, 1].map((i) => startProc(clusterArgs(sim, name), join(dir, `${name}-${i}.ndjson`)));
      const [quitter, stayer] = procs as [Proc, Proc];
      await until(() => /"msg":"joined the cluster crawl"/.test(quitter.stderr) && readRecords(stayer.out).length > 30, 'the crawl to be under way');
      quitter.child.kill('SIGINT');
      // 128 + SIGINT: stopped by the signal, after a complete snapshot and the summary.
      expect(await quitter.exit).toEqual({ code: 130, signal: null });
      expect(leftLine(quitter)).toMatchObject({ done: false });
      expect(leftLine(quitter).leased).toBeGreaterThan(0);
      expect(quitter.stdout).toMatch(/^stopped: /m);
      expect(await stayer.exit).toEqual({ code: 0, signal: null });
      const got = outcome(readRecords(stayer.out));
      const truth = sim.truth();
      for (const r of truth.reachable) expect(got.get(r.addr)?.startsWith('reachable|'), r.addr).toBe(true);
      expect(got.size).toBe(truth.reachable.length + truth.failed.length + truth.nonIp.length);
      // Nothing was recorded 'stopped' or ERR_STOPPED: the quitter's work went back to the crawl.
      expect([...got.values()].some((v) => v.includes('stopped') || v.includes('ERR_STOPPED'))).toBe(false);
    } finally {
      await sim.close();
    }
  });
});

describe('Redis failing under a cluster crawl', () => {
  it('a Redis restart that loses the crawl stops every process cleanly with ERR_REDIS_STATE_LOST (exit 8)', async () => {
    const own = await startLocalRedis();
    const sim = await startSimNetwork({ nodes: 400, seed: 47, latency: { medianMs: 40, tailMs: 150 } });
    let restarted: LocalRedis | null = null;
    try {
      const name = `restart${runs++}`;
      const args = clusterArgs(sim, name, ['--redis-lease', '6s']).map((a) => (a === `${redis.url}/0` ? own.url : a));
      const procs = [0, 1].map((i) => startProc(args, join(dir, `${name}-${i}.ndjson`)));
      await until(() => readRecords((procs[0] as Proc).out).length > 20, 'the crawl to be under way');
      restarted = await own.restart();
      const exits = await Promise.all(procs.map((p) => p.exit));
      for (const [i, e] of exits.entries()) {
        const p = procs[i] as Proc;
        expect(e, p.stderr).toEqual({ code: 8, signal: null });
        expect(p.stderr).toMatch(/^bitspread crawl: ERR_REDIS_STATE_LOST: /m);
        // The snapshot is complete lines up to the failure; no stack trace.
        expect(p.stderr).not.toMatch(/\n\s+at /);
        const lines = readFileSync(p.out, 'utf8').split('\n');
        expect(lines.at(-1)).toBe('');
        for (const l of lines.slice(0, -1)) expect(() => JSON.parse(l) as unknown).not.toThrow();
      }
    } finally {
      await sim.close();
      await (restarted ?? own).stop();
    }
  });

  it('Redis going away for longer than the timeout stops the crawl with ERR_REDIS_UNAVAILABLE (exit 8)', async () => {
    const own = await startLocalRedis();
    const sim = await startSimNetwork({ nodes: 300, seed: 53, latency: { medianMs: 40, tailMs: 150 } });
    try {
      const name = `down${runs++}`;
      const args = clusterArgs(sim, name, ['--redis-lease', '3s']).map((a) => (a === `${redis.url}/0` ? own.url : a));
      const p = startProc(args, join(dir, `${name}.ndjson`));
      await until(() => readRecords(p.out).length > 10, 'the crawl to be under way');
      await own.stop();
      const e = await p.exit;
      expect(e, p.stderr).toEqual({ code: 8, signal: null });
      expect(p.stderr).toMatch(/^bitspread crawl: ERR_REDIS_UNAVAILABLE: /m);
    } finally {
      await sim.close();
      await own.stop();
    }
  });
});
