#!/usr/bin/env node
// Memory benchmark. Two figures, each measured in a fresh child process:
//  1. bytes per open connection: hold 1,000 and 5,000 loopback connections
//     open and read RSS / heap at the plateau. Rows: bitspread's engine in
//     'node' mode (keeps its peers) against the simulated network, and the
//     floor: a bare net.Socket + MessageDecoder per connection against a plain
//     server. The headline is the marginal cost between 1,000 and 5,000, which
//     cancels fixed costs (worker threads, code): the median of RUNS runs (each
//     a fresh pair of processes), with its spread. The engine rows also read
//     every worker thread's heap (Crawler.workerMemory) to split the figure
//     into main heap / worker heap / the rest (native: sockets, libuv, malloc).
//  2. bytes per known address: synthetic addrv2 floods of 100,000 and
//     1,000,000 unique addresses through the real path (MessageDecoder →
//     AddrList.textAt → structured clone → Frontier.add, as the engine's
//     worker and main thread do), heap growth after a full GC / known.
//
//   node bench/memory.mjs [--quick] [--runs N] [--json out.json]
import { spawn } from 'node:child_process';
import net from 'node:net';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { distHas, ensureBuilt, loadDist, repoRoot } from './dist.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    json: { type: 'string' },
    child: { type: 'string' },
    impl: { type: 'string' },
    count: { type: 'string' },
    port: { type: 'string' },
    seeds: { type: 'string' },
    settle: { type: 'string' },
    out: { type: 'string' },
  },
});

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const gc = () => {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
};

/** Loopback addresses the plain server listens on, so 5,000 clients do not crowd one 4-tuple space. */
const PLAIN_HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

// ---------------------------------------------------------------- children

async function childHoldServer() {
  // Accepts and holds connections; never writes. Prints its port, stops on stdin end or after 10 min.
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  server.maxConnections = 20_000;
  await new Promise((r) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, r));
  const { port } = server.address();
  const extra = PLAIN_HOSTS.slice(1).map((host) => {
    const s2 = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); });
    s2.listen({ host, port, backlog: 4096 });
    return s2;
  });
  const stop = () => process.exit(0);
  setTimeout(stop, 600_000).unref();
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write(JSON.stringify({ port }) + '\n');
  void extra;
}

function snapshot() {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external + m.arrayBuffers };
}

/** Every worker thread's heap added up (Crawler.workerMemory), or null when the engine cannot tell. */
async function workerHeaps(crawler, collect) {
  if (typeof crawler.workerMemory !== 'function') return null;
  const all = await crawler.workerMemory(collect);
  const sum = (k) => all.reduce((n, w) => n + w[k], 0);
  return { threads: all.length, heapUsed: sum('heapUsed'), heapTotal: sum('heapTotal'), external: sum('external') + sum('arrayBuffers'), collected: all.every((w) => w.collected) };
}

async function childPlainConnections(count, port) {
  // The floor: one net.Socket and one MessageDecoder per connection, nothing else.
  const wire = await loadDist('src/wire/index.js');
  const params = wire.NETWORKS.regtest;
  const sink = { onMessage() {}, onMessageError() {} };
  await sleep(200);
  const before = snapshot();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const sockets = [];
  let open = 0;
  await new Promise((resolve, reject) => {
    let started = 0;
    const startMore = () => {
      // Open in waves so the listen backlog never overflows.
      while (started < count && started - open < 256) {
        const s = net.connect({ host: PLAIN_HOSTS[started % PLAIN_HOSTS.length], port });
        started++;
        s.setNoDelay(true);
        const decoder = new wire.MessageDecoder(params, sink);
        s.on('data', (c) => decoder.push(c));
        s.once('connect', () => {
          open++;
          if (open === count) resolve();
          else startMore();
        });
        s.on('error', reject);
        sockets.push(s);
      }
    };
    startMore();
  });
  await sleep(500);
  const after = snapshot();
  loop.disable();
  const mainLoop = { p50Ms: Math.max(0, loop.percentile(50) / 1e6 - 1), p99Ms: Math.max(0, loop.percentile(99) / 1e6 - 1), maxMs: Math.max(0, loop.max / 1e6 - 1) };
  for (const s of sockets) s.destroy();
  return { open, before, after, mainLoop };
}

/** Sockets the crawler holds open (the shared cap's count). */
function openPeers(crawler) {
  return crawler.stats().open;
}

async function childEngineConnections(count, seeds, settleMs) {
  const { Crawler } = await loadDist('src/index.js');
  await sleep(200);
  const before = snapshot();
  // The main thread's event-loop delay from the first dial to the end of the plateau (bench/scale.mjs reads it).
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  // v1, as the comparator rows: what a v2 session adds is bench/bip324.mjs's figure.
  const crawler = new Crawler({ seeds, network: 'regtest', only: ['127.0.0.0/8'], mode: 'node', maxPeers: count, transport: 'v1' });
  const done = crawler.start();
  done.catch(() => {});
  const deadline = Date.now() + 120_000;
  let open = 0;
  let stableSince = Date.now();
  // Plateau: the open count stops growing (or reaches the cap) for 2 s.
  while (Date.now() < deadline) {
    await sleep(250);
    const now = openPeers(crawler);
    if (now !== open) {
      open = now;
      stableSince = Date.now();
    } else if (open > 0 && (open >= count || Date.now() - stableSince > 2000)) break;
  }
  await sleep(500);
  // The headline reading, half a second into the plateau (most peers still in their getaddr quiet period).
  const after = snapshot();
  loop.disable();
  const mainLoop = { p50Ms: Math.max(0, loop.percentile(50) / 1e6 - 1), p99Ms: Math.max(0, loop.percentile(99) / 1e6 - 1), maxMs: Math.max(0, loop.max / 1e6 - 1) };
  // The workers as they are (what RSS holds: their committed heaps).
  const workers = await workerHeaps(crawler, false);
  // Settled: the same peers, all established and idle for a few seconds. V8 shrinks a young generation
  // grown by the dial burst at a GC once allocation has been slow for ~5 s (on the main thread only:
  // an idle worker runs no GC).
  let settled = null;
  if (settleMs > 0) {
    await sleep(settleMs);
    settled = { ...snapshot(), open: openPeers(crawler), workers: await workerHeaps(crawler, false) };
  }
  // Last, as it runs a GC in each worker: what is live there.
  const workersLive = await workerHeaps(crawler, true);
  await Promise.race([crawler.stop(), sleep(20_000)]);
  return { open, before, after, workers, settled, workersLive, mainLoop };
}

async function childFrontier(size) {
  const wire = await loadDist('src/wire/index.js');
  const { Frontier } = await loadDist('src/engine/frontier.js');
  const params = wire.NETWORKS.regtest;
  // A realistic mix of what addrv2 gossip carries: IPv4, IPv6, Tor v3.
  const entry = (i) => {
    const kind = i % 20;
    if (kind < 12) return { network: 'ipv4', networkId: 1, bytes: Uint8Array.of(127, (i >>> 16) & 255, (i >>> 8) & 255, i & 255) };
    if (kind < 17) return { network: 'ipv6', networkId: 2, bytes: Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255, 0, 0, 0, 0, 0, 0, 0, 1) };
    const b = new Uint8Array(32);
    for (let k = 0; k < 32; k++) b[k] = (i * 2654435761 + k * 40503) >>> (k % 24) & 255;
    b[0] = i & 255; b[1] = (i >>> 8) & 255; b[2] = (i >>> 16) & 255; b[3] = (i >>> 24) & 255;
    return { network: 'onion', networkId: 4, bytes: b };
  };
  const frontier = new Frontier();
  const decoder = new wire.MessageDecoder(params, {
    // The engine's path: a worker turns each addr message into [text, network]
    // pairs (workers/peer-connection.ts) and posts them to the main thread,
    // whose Frontier keeps them. The structured clone matters: it hands the
    // main thread fresh flat strings, whatever shape the worker built.
    onMessage(msg) {
      const list = msg.list;
      const learned = [];
      for (let i = 0; i < list.length; i++) {
        const network = list.networkAt(i);
        if (network !== null) learned.push([list.textAt(i), network]);
      }
      for (const [text, network] of globalThis.structuredClone(learned)) frontier.add(text, network);
    },
    onMessageError(err) { throw err; },
  });
  const before = snapshot();
  const t0 = performance.now();
  for (let base = 0; base < size; base += 1000) {
    const entries = [];
    for (let i = base; i < Math.min(size, base + 1000); i++) {
      const e = entry(i);
      entries.push({ time: 1_700_000_000, services: 0x409n, networkId: e.networkId, address: { network: e.network, bytes: e.bytes, port: 8333 } });
    }
    decoder.push(wire.encodeMessage(params, { command: 'addrv2', entries }));
  }
  const ms = performance.now() - t0;
  const after = snapshot();
  return { known: frontier.known, queued: frontier.queued, ms, before, after };
}

// ---------------------------------------------------------------- parent

function runChild(childArgs, { limitMs = 300_000 } = {}) {
  const out = join(os.tmpdir(), `bitspread-memory-${process.pid}-${Date.now()}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', here('./memory.mjs'), ...childArgs, '--out', out], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`memory child ${childArgs.join(' ')} exited with ${code}`));
      const r = JSON.parse(readFileSync(out, 'utf8'));
      rmSync(out, { force: true });
      resolve(r);
    });
  });
}

/** A helper process on stdio (hold-server or sim-host) that prints one JSON line when ready. */
function startHelper(argv) {
  const child = spawn(process.execPath, argv, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (code) => reject(new Error(`helper exited (${code})`)));
  });
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', resolve);
    child.stdin.end('close\n');
    setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
  });
  return { ready, stop };
}

async function parent() {
  ensureBuilt();
  const quick = args.quick;
  const counts = quick ? [1000] : [1000, 5000];
  // Repeats: the machine is shared and one reading moved by ±20 % between runs.
  const runs = Math.max(1, Number(args.runs ?? (quick ? 1 : 3)));
  const sizes = quick ? [100_000] : [100_000, 1_000_000];
  // The settled reading (see childEngineConnections) costs this much per engine row: first run only; --quick skips it.
  const SETTLE_MS = quick ? 0 : 6000;
  const notes = [];
  const connections = [];
  const index = await loadDist('src/index.js');
  const engineThere = typeof index.Crawler === 'function';
  const simThere = typeof index.startSimNetwork === 'function';

  // Runs interleaved (1,000 then 5,000, again), so that a load change hits both counts of a run alike.
  for (let run = 0; run < runs; run++) {
    for (const count of counts) {
      const server = startHelper([here('./memory.mjs'), '--child', 'hold-server']);
      try {
        const { port } = await server.ready;
        const r = await runChild(['--child', 'connections', '--impl', 'plain', '--count', String(count), '--port', String(port)]);
        connections.push({ impl: 'plain', run, count, ...r });
      } catch (err) {
        notes.push(`plain ${count} connections (run ${run + 1}): ${err.message}`);
      } finally {
        await server.stop();
      }
      if (engineThere && simThere) {
        // No latency, every node well-behaved, more nodes than the cap: the engine fills the cap and holds.
        const sim = startHelper([here('./sim-host.mjs'), '--nodes', String(count + Math.ceil(count / 10)), '--seed', '3', '--mix', '{"modern":1}', '--max-seconds', '600']);
        try {
          const { seeds } = await sim.ready;
          const r = await runChild(['--child', 'connections', '--impl', 'bitspread', '--count', String(count), '--seeds', seeds.join(','), '--settle', String(run === 0 ? SETTLE_MS : 0)]);
          connections.push({ impl: 'bitspread', run, count, ...r });
        } catch (err) {
          notes.push(`bitspread ${count} connections (run ${run + 1}): ${err.message}`);
        } finally {
          await sim.stop();
        }
      }
    }
  }
  if (!engineThere || !simThere) notes.push('bitspread connection rows skipped: Crawler/startSimNetwork not in dist/src/index.js yet');

  const frontier = [];
  if (distHas('src/engine/frontier.js')) {
    for (const size of sizes) {
      try {
        frontier.push({ size, ...(await runChild(['--child', 'frontier', '--count', String(size)], { limitMs: 600_000 })) });
      } catch (err) {
        notes.push(`frontier ${size}: ${err.message}`);
      }
    }
  } else {
    notes.push('frontier rows skipped: dist/src/engine/frontier.js not built yet');
  }

  const perConn = (r) => ({
    ...r,
    rssPerConnection: (r.after.rss - r.before.rss) / r.open,
    heapPerConnection: (r.after.heapUsed - r.before.heapUsed) / r.open,
  });
  const conns = connections.map(perConn);
  const median = (xs) => {
    const v = xs.filter((x) => x != null).sort((a, b) => a - b);
    if (v.length === 0) return null;
    return v.length % 2 === 1 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  /** Per run: the marginal cost per connection between the 1,000 and 5,000 rows of that run. */
  const marginals = (impl) => {
    const out = [];
    for (let run = 0; run < runs; run++) {
      const lo = conns.find((c) => c.impl === impl && c.run === run && c.count === 1000);
      const hi = conns.find((c) => c.impl === impl && c.run === run && c.count === 5000);
      if (!lo || !hi || hi.open === lo.open) continue;
      const per = (f) => (f(hi) == null || f(lo) == null ? null : (f(hi) - f(lo)) / (hi.open - lo.open));
      const rss = per((c) => c.after.rss);
      const settledRss = per((c) => c.settled?.rss);
      const mainHeapCommitted = per((c) => c.after.heapTotal);
      const workerHeapCommitted = per((c) => c.workers?.heapTotal);
      out.push({
        run,
        rss,
        settledRss,
        settledMainHeapCommitted: per((c) => c.settled?.heapTotal),
        settledWorkerHeapCommitted: per((c) => c.settled?.workers?.heapTotal),
        heap: per((c) => c.after.heapUsed),
        mainHeapCommitted,
        workerHeapUsed: per((c) => c.workers?.heapUsed),
        workerHeapCommitted,
        workerHeapLive: per((c) => (c.workersLive?.collected ? c.workersLive.heapUsed : null)),

      });
    }
    return out;
  };
  // rest: what no live object explains: native memory (sockets, libuv handles, ArrayBuffer contents,
  // malloc) plus heap committed beyond the live objects (GC headroom, a grown young generation).
  const withRest = (ms) => ms.map((m) => ({ ...m, rest: m.heap == null || m.workerHeapLive == null ? null : m.rss - m.heap - m.workerHeapLive }));
  const summarise = (ms0) => {
    const ms = withRest(ms0);
    if (ms.length === 0) return null;
    const keys = Object.keys(ms[0]).filter((k) => k !== 'run');
    const med = Object.fromEntries(keys.map((k) => [k, median(ms.map((m) => m[k]))]));
    const rss = ms.map((m) => m.rss);
    const settled = ms.map((m) => m.settledRss).filter((x) => x != null);
    return {
      ...med,
      runs: rss,
      min: Math.min(...rss),
      max: Math.max(...rss),
      settledRuns: settled,
      settledMin: settled.length > 0 ? Math.min(...settled) : null,
      settledMax: settled.length > 0 ? Math.max(...settled) : null,
    };
  };
  const fr = frontier.map((f) => ({
    ...f,
    heapPerAddress: (f.after.heapUsed - f.before.heapUsed) / f.known,
    rssPerAddress: (f.after.rss - f.before.rss) / f.known,
    addressesPerSec: f.known / (f.ms / 1000),
  }));

  const ours = conns.filter((c) => c.impl === 'bitspread');
  const plains = conns.filter((c) => c.impl === 'plain');
  const oursMarginal = summarise(marginals('bitspread'));
  const plainMarginal = summarise(marginals('plain'));
  // Without a 5,000 row (--quick): growth per connection at the one count, median over runs (includes worker start-up).
  const atLargest = (rows) => {
    const largest = Math.max(...rows.map((c) => c.count));
    const at = rows.filter((c) => c.count === largest);
    return at.length === 0 ? null : { rss: median(at.map((c) => c.rssPerConnection)), heap: median(at.map((c) => c.heapPerConnection)) };
  };
  const oursLargest = ours.length > 0 ? atLargest(ours) : null;
  const plainLargest = plains.length > 0 ? atLargest(plains) : null;
  const largestFrontier = fr.at(-1);
  const breakdown = oursMarginal && {
    mainHeapLive: oursMarginal.heap,
    mainHeapCommitted: oursMarginal.mainHeapCommitted,
    workerHeapUsed: oursMarginal.workerHeapUsed,
    workerHeapCommitted: oursMarginal.workerHeapCommitted,
    workerHeapLive: oursMarginal.workerHeapLive,
    rest: oursMarginal.rest,
  };
  const results = {
    bytesPerConnection: oursMarginal?.rss ?? oursLargest?.rss ?? null,
    bytesPerConnectionMethod: oursMarginal
      ? `marginal RSS between 1,000 and 5,000 open connections (all threads), median of ${oursMarginal.runs.length} runs`
      : 'RSS growth / open connections (all threads; includes worker start-up)',
    bytesPerConnectionRuns: oursMarginal?.runs ?? ours.map((c) => c.rssPerConnection),
    bytesPerConnectionSpread: oursMarginal ? { min: oursMarginal.min, max: oursMarginal.max } : null,
    // Marginal bytes per connection, medians over the runs. Live: main heap after a full GC, worker heap
    // after one in the worker; used: the worker heap as it was (garbage included); committed: each heap's
    // size (young generation included), at most what it holds in RSS; rest = RSS - both live heaps.
    bytesPerConnectionBreakdown: breakdown,
    // The same marginal RSS read again SETTLE_MS later, every peer established and idle (first run only).
    bytesPerConnectionSettled: oursMarginal?.settledRss ?? null,
    bytesPerConnectionSettledRuns: oursMarginal?.settledRuns ?? [],
    settleMs: SETTLE_MS,
    heapBytesPerConnectionMainThread: oursMarginal?.heap ?? oursLargest?.heap ?? null,
    plainBytesPerConnection: plainMarginal?.rss ?? plainLargest?.rss ?? null,
    plainBytesPerConnectionRuns: plainMarginal?.runs ?? plains.map((c) => c.rssPerConnection),
    plainHeapBytesPerConnection: plainMarginal?.heap ?? plainLargest?.heap ?? null,
    bytesPerKnownAddress: largestFrontier?.heapPerAddress ?? null,
    bytesPerKnownAddressAt: largestFrontier?.size ?? null,
    addressMix: '60 % IPv4, 25 % IPv6, 15 % Tor v3 (addrv2), all unique',
    runs,
    connections: conns,
    frontier: fr,
    goals: { bytesPerConnection: 20_000, bytesPerKnownAddress: 200 },
    notes,
  };

  const kb = (x) => (x == null ? 'n/a' : `${(x / 1024).toFixed(1)} KiB`);
  console.log('\nMemory per open connection (loopback; RSS covers every thread, heap the main thread only)');
  console.log(`${'implementation'.padEnd(38)} ${'open'.padStart(6)} ${'RSS/conn'.padStart(11)} ${'heap/conn'.padStart(11)} ${'peak RSS MB'.padStart(12)}`);
  for (const c of conns) {
    console.log(`${((c.impl === 'plain' ? 'net.Socket + MessageDecoder (floor)' : 'bitspread engine, node mode') + (runs > 1 ? ` #${c.run + 1}` : '')).padEnd(38)} ${String(c.open).padStart(6)} ${kb(c.rssPerConnection).padStart(11)} ${kb(c.heapPerConnection).padStart(11)} ${(c.after.rss / 2 ** 20).toFixed(0).padStart(12)}`);
  }
  const runsText = (m) => (m ? ` (runs ${m.runs.map((x) => kb(x)).join(', ')})` : '');
  console.log(`marginal 1,000→5,000, median of ${runs}: bitspread ${kb(oursMarginal?.rss)} RSS/conn${runsText(oursMarginal)}, floor ${kb(plainMarginal?.rss)} RSS/conn${runsText(plainMarginal)} (goal < 20 KB)`);
  if (oursMarginal?.settledRss != null) {
    console.log(`  settled (${SETTLE_MS / 1000} s later, every peer established and idle): ${kb(oursMarginal.settledRss)} RSS/conn (runs ${oursMarginal.settledRuns.map((x) => kb(x)).join(', ')})`);
  }
  if (breakdown) {
    console.log(`  made of: main heap ${kb(breakdown.mainHeapLive)} live (${kb(breakdown.mainHeapCommitted)} committed), worker heap ${kb(breakdown.workerHeapLive)} live (${kb(breakdown.workerHeapUsed)} used, ${kb(breakdown.workerHeapCommitted)} committed), rest ${kb(breakdown.rest)} (native + heap headroom)`);
  }
  console.log('\nMemory per known address (addrv2 flood → MessageDecoder → AddrList.textAt → structured clone → Frontier.add; heap growth after full GC)');
  for (const f of fr) {
    console.log(`${f.size.toLocaleString('en-US').padStart(10)} addresses: ${f.heapPerAddress.toFixed(0)} B heap/address, ${f.rssPerAddress.toFixed(0)} B RSS/address, ${f.addressesPerSec.toFixed(0)} addresses/s (goal < 200 B)`);
  }
  for (const n of notes) console.log(`note: ${n}`);
  if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
}

// ---------------------------------------------------------------- dispatch

if (args.child === 'hold-server') {
  await childHoldServer();
} else if (args.child) {
  let r;
  if (args.child === 'connections' && args.impl === 'plain') r = await childPlainConnections(Number(args.count), Number(args.port));
  else if (args.child === 'connections' && args.impl === 'bitspread') r = await childEngineConnections(Number(args.count), args.seeds.split(','), Number(args.settle ?? 0));
  else if (args.child === 'frontier') r = await childFrontier(Number(args.count));
  else throw new Error(`unknown child ${args.child}`);
  writeFileSync(args.out, JSON.stringify(r) + '\n');
  process.exit(0);
} else {
  await parent();
}
