// Runs ONE crawler in this process and measures it: wall time, CPU of the whole
// process (user + system, every thread), main-thread event-loop delay, peak RSS.
// bench/crawl.mjs starts one of these per measurement, next to a sim-host.
//
//   node bench/crawl-child.mjs --crawler bitspread|baseline|established [--workers N]
//        --seeds a,b,c --json out.json [--timeouts json] [--max-peers 125]
//        [--defaults] [--engine-options json]
// --defaults: bitspread with its own defaults (no cap, timeouts or quiet period
// from the scenario; --engine-options still apply). bitspread's result also
// lists every reachable visit as [addr, slotMs, closeMs, addrsReturned] and
// the time of the last reachable record (lastReachableMs).
import { readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadDist } from './dist.mjs';
import { procCpuMs } from './proc-cpu.mjs';
import { engineTimeoutOptions } from './scenarios.mjs';

const { values: a } = parseArgs({
  options: {
    crawler: { type: 'string' },
    workers: { type: 'string' },
    seeds: { type: 'string' },
    json: { type: 'string' },
    timeouts: { type: 'string', default: '{}' },
    'max-peers': { type: 'string', default: '125' },
    'deadline-seconds': { type: 'string', default: '600' },
    'engine-options': { type: 'string', default: '{}' },
    defaults: { type: 'boolean', default: false },
  },
});
const seeds = a.seeds.split(',');
const timeouts = JSON.parse(a.timeouts);
const maxPeers = Number(a['max-peers']);
const deadlineMs = Number(a['deadline-seconds']) * 1000;

/** Reachable records so far (bitspread), for the CPU timeline. */
const progress = { reachable: 0 };

/** Each runner returns { reachable: string[], failed: number, known?: number }. */
const runners = {
  async bitspread() {
    const { crawl } = await loadDist('src/index.js');
    const run = crawl({
      seeds,
      network: 'regtest',
      only: ['127.0.0.0/8'],
      ...(a.defaults ? {} : { maxPeers, ...engineTimeoutOptions(timeouts) }),
      ...(a.workers ? { workers: Number(a.workers) } : {}),
      // The comparators speak v1 only, so bitspread's rows do too unless told
      // otherwise (bench/bip324.mjs compares the transports).
      transport: 'v1',
      ...JSON.parse(a['engine-options']),
    });
    // Bounded like every benchmark: stop the crawl if it outlives the deadline.
    const stopper = setTimeout(() => run.stop(), deadlineMs);
    // Every 10 s: what is known, queued and in flight per network (where a crawl's time goes).
    const networkTimeline = [];
    const sample = () => {
      const st = run.crawler.stats();
      const inFlight = Object.fromEntries(Object.entries(st.networks).filter(([, l]) => l.peak > 0).map(([n, l]) => [n, l.inFlight]));
      networkTimeline.push({ s: Math.round(st.elapsedMs / 1000), known: st.known, queued: st.queued, open: st.open, done: st.done, inFlight, dropped: st.droppedPerSource + st.droppedPerSourceGroup });
    };
    const sampler = setInterval(sample, 10_000);
    const reachable = [];
    const failureCodes = {};
    let failed = 0;
    let skipped = 0;
    const visits = [];
    const handshakeTimeouts = [];
    let lastReachableMs = 0;
    const t0 = performance.now();
    for await (const rec of run) {
      if (rec.state === 'reachable') {
        reachable.push(rec.addr);
        progress.reachable++;
        visits.push([rec.addr, rec.slotMs ?? null, rec.closeMs ?? null, rec.addrsReturned ?? 0, rec.connectMs ?? null, rec.handshakeMs ?? null]);
        lastReachableMs = performance.now() - t0;
      }
      else if (rec.state === 'failed') {
        failed++;
        const code = rec.error ?? 'unknown';
        failureCodes[code] = (failureCodes[code] ?? 0) + 1;
        if (code === 'ERR_HANDSHAKE_TIMEOUT' && handshakeTimeouts.length < 100) handshakeTimeouts.push([rec.addr, rec.connectMs ?? null, rec.slotMs ?? null]);
      } else skipped++;
    }
    const summary = await run.done;
    clearTimeout(stopper);
    clearInterval(sampler);
    sample();
    return { reachable, failed, skipped, failureCodes, summary, visits, lastReachableMs, maxPeers: run.crawler.stats().maxPeers, networkTimeline, handshakeTimeouts };
  },
  async baseline() {
    const { baselineCrawl } = await import('./baseline-crawler.mjs');
    const r = await baselineCrawl({ seeds, concurrency: maxPeers, timeouts, deadlineMs });
    return { reachable: r.reachable.map((n) => n.addr), failed: r.failed.length, failureCodes: countCodes(r.failed), known: r.known, refused: r.refused };
  },
  async established() {
    const { establishedCrawl } = await import('./established-crawler.mjs');
    const r = await establishedCrawl({ seeds, concurrency: maxPeers, timeouts, deadlineMs });
    return { reachable: r.reachable.map((n) => n.addr), failed: r.failed.length, failureCodes: countCodes(r.failed), known: r.known, refused: r.refused };
  },
};

function countCodes(failed) {
  const codes = {};
  for (const f of failed) codes[f.code] = (codes[f.code] ?? 0) + 1;
  return codes;
}

const runner = runners[a.crawler];
if (!runner) throw new Error(`unknown --crawler ${a.crawler}`);

// Load code before the clock starts, so module loading is not counted as crawl time.
if (a.crawler === 'bitspread') await loadDist('src/index.js');
else await import(a.crawler === 'baseline' ? './baseline-crawler.mjs' : './established-crawler.mjs');

/** The histogram records the interval between 1 ms timer ticks; lag is what exceeds the tick. */
const LOOP_RESOLUTION_MS = 1;
const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
loop.enable();
const threads0 = threadCpu();
const lastSeen = new Map();
// Worker threads are gone by the time the crawl returns: sample every thread's CPU while it runs.
// With it, the process's CPU against reachable nodes found: the steady per-node cost, past warm-up.
const timeline = [];
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const sampler = setInterval(() => {
  threadCpu(lastSeen);
  const c = process.cpuUsage(cpu0);
  timeline.push([Math.round(performance.now() - t0), (c.user + c.system) / 1000, progress.reachable]);
}, 250);
const result = await runner();
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
clearInterval(sampler);
threadCpu(lastSeen);
loop.disable();

/** CPU ms per thread of this process (tid → ms), into `into`; empty where /proc is not. */
function threadCpu(into = new Map()) {
  let tids;
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return into;
  }
  for (const tid of tids) {
    // A thread that ended between readdir and read keeps its last sample.
    const c = procCpuMs(`/proc/self/task/${tid}/stat`);
    if (c !== null) into.set(tid, c.user + c.system);
  }
  return into;
}

/** CPU ms per kind of thread over the run: main, the worker threads, libuv's pool, V8's helpers. */
function threadCpuSummary() {
  // Node names its worker threads and V8's helpers alike ("node"): the busiest other
  // threads are the pool's workers (one per worker thread), the rest are V8 and libuv helpers.
  const used = [];
  let main = 0;
  for (const [tid, total] of lastSeen) {
    const ms = Math.max(0, total - (threads0.get(tid) ?? 0));
    if (tid === String(process.pid)) main = ms;
    else used.push(ms);
  }
  used.sort((x, y) => y - x);
  const workers = a.crawler === 'bitspread' ? (a.workers ? Number(a.workers) : Math.max(1, availableParallelism() - 1)) : 0;
  const out = { main };
  used.slice(0, workers).forEach((ms, i) => (out[`worker${i + 1}`] = ms));
  out.helpers = used.slice(workers).reduce((x, y) => x + y, 0);
  return out;
}

function lagMs(ns) {
  return Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS);
}

const out = {
  crawler: a.crawler,
  workers: a.workers ? Number(a.workers) : null,
  ms,
  reachable: result.reachable,
  failed: result.failed,
  failureCodes: result.failureCodes,
  skipped: result.skipped ?? 0,
  refused: result.refused ?? 0,
  cpuUserMs: cpu.user / 1000,
  cpuSystemMs: cpu.system / 1000,
  cpuMsByThread: threadCpuSummary(),
  cpuTimeline: timeline,
  loopP50Ms: lagMs(loop.percentile(50)),
  loopP99Ms: lagMs(loop.percentile(99)),
  loopMaxMs: lagMs(loop.max),
  visits: result.visits ?? null,
  lastReachableMs: result.lastReachableMs ?? null,
  maxPeers: result.maxPeers ?? null,
  networkTimeline: result.networkTimeline ?? null,
  handshakeTimeouts: result.handshakeTimeouts ?? null,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
};
writeFileSync(a.json, JSON.stringify(out) + '\n');
// Worker threads or stray sockets must not keep a finished measurement alive.
process.exit(0);
