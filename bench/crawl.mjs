#!/usr/bin/env node
// Crawl benchmark: time to a complete map of a simulated loopback network and
// reachable nodes/s, for bitspread's engine (1, 2 and the default number of
// workers), the plain node:net baseline and a bcoin-Peer crawler, first with
// realistic reply latency, then without (CPU-bound). Every measurement runs
// in a fresh pair of processes: the sim in one (bench/sim-host.mjs), the
// crawler in another (bench/crawl-child.mjs), so their CPU and memory never mix.
//
//   node bench/crawl.mjs [--quick] [--json out.json] [--only baseline,established,bitspread]
//        [--scenario latency|cpu-bound] [--workers N] [--nodes N] [--cpu-prof DIR]
// --scenario runs one scenario; --workers keeps only the bitspread row with N
// workers (default options); --cpu-prof DIR runs each crawler process with
// node --cpu-prof, one .cpuprofile per thread (main and workers) in DIR.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { distHas, ensureBuilt } from './dist.mjs';
import { runCrawlChild, startSimHost, tmpJson } from './children.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    only: { type: 'string' },
    nodes: { type: 'string' },
    scenario: { type: 'string' },
    workers: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const quick = args.quick;
const NODES = Number(args.nodes ?? (quick ? 1000 : 10_000));
const only = args.only ? new Set(args.only.split(',')) : null;
const onlyWorkers = args.workers === undefined ? null : Number(args.workers);

/** The same per-step limits for every crawler, so only the implementation differs. */
const TIMEOUTS = quick
  ? { connectMs: 1500, handshakeMs: 1500, firstAddrMs: 1500, quietMs: 250, peerMs: 8000 }
  : { connectMs: 3000, handshakeMs: 3000, firstAddrMs: 3000, quietMs: 500, peerMs: 15000 };
const MAX_PEERS = 125;
/** ~30 % of advertised addresses never answer: a third silent (they cost a timeout), the rest refused. */
const LATENCY_MIX = { silent: 0.1, refused: 0.2, old: 0.1, chatty: 0.05, slow: 0.02 };
/** Without latency we measure CPU: silent nodes would only add timeout waits, so they are refused instead. */
const CPU_MIX = { refused: 0.3, old: 0.1, chatty: 0.05, slow: 0.02 };
const SCENARIOS = [
  // --quick is a smoke test: half the latency, so the run stays well under a minute.
  { name: 'latency', latency: quick ? { medianMs: 50, tailMs: 500 } : { medianMs: 100, tailMs: 1000 }, mix: LATENCY_MIX, timeouts: TIMEOUTS },
  // Replies arrive within milliseconds, so a short quiet period loses nothing and the crawl is bound by CPU, not by waiting.
  { name: 'cpu-bound', latency: null, mix: CPU_MIX, timeouts: { ...TIMEOUTS, quietMs: 100 } },
];
/** The engine's default (src/crawl/worker-pool.ts defaultWorkerCount): one core left to the main thread. */
const DEFAULT_WORKERS = Math.max(1, os.availableParallelism() - 1);

ensureBuilt();

function startSim(scenario) {
  const simArgs = ['--nodes', String(NODES), '--seed', '7', '--mix', JSON.stringify(scenario.mix), '--max-seconds', '1200'];
  if (scenario.latency) simArgs.push('--latency', String(scenario.latency.medianMs), '--tail', String(scenario.latency.tailMs));
  return startSimHost(simArgs);
}

function runCrawler(crawler, workers, seeds, timeouts, engineOptions) {
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', args['cpu-prof']] : [];
  const childArgs = ['--crawler', crawler, '--seeds', seeds.join(','), '--timeouts', JSON.stringify(timeouts), '--max-peers', String(MAX_PEERS), '--deadline-seconds', quick ? '120' : '600'];
  if (workers) childArgs.push('--workers', String(workers));
  if (engineOptions) childArgs.push('--engine-options', JSON.stringify(engineOptions));
  return runCrawlChild({ nodeArgs, childArgs, out: tmpJson(`crawl-${crawler}`), killAfterMs: (quick ? 180 : 900) * 1000, label: crawler });
}

const engineThere = await (async () => {
  if (!distHas('src/index.js')) return false;
  const index = await import(new URL('../dist/src/index.js', import.meta.url).href);
  return typeof index.crawl === 'function';
})();
const simThere = await (async () => {
  if (!distHas('src/index.js')) return false;
  const index = await import(new URL('../dist/src/index.js', import.meta.url).href);
  return typeof index.startSimNetwork === 'function';
})();

const notes = [];
/** [crawler, workers, engine options, only in this scenario] */
const crawlers = [];
/**
 * The engine checks deadlines on a coarse per-worker tick (tickMs, default
 * 100 ms), so a 100 ms quiet period really lasts 100-200 ms. This extra row
 * shows what a finer tick buys when replies are instant.
 */
const FINE_TICK = { tickMs: 10 };
if (engineThere) {
  // --quick keeps only the default worker count.
  if (!quick) crawlers.push(['bitspread', 1], ['bitspread', 2]);
  if (quick || (DEFAULT_WORKERS !== 1 && DEFAULT_WORKERS !== 2)) crawlers.push(['bitspread', null]);
  else notes.push(`bitspread's default worker count is os.availableParallelism() - 1 = ${DEFAULT_WORKERS} here, so the ${DEFAULT_WORKERS}-worker row is the default`);
  if (!quick) crawlers.push(['bitspread', null, FINE_TICK, 'cpu-bound']);
} else {
  notes.push('bitspread rows skipped: the engine (crawl() in dist/src/index.js) is not built yet');
}
crawlers.push(['baseline', null], ['established', null]);

const runs = [];
if (!simThere) {
  notes.push('skipped: startSimNetwork is not in dist/src/index.js yet');
} else {
  for (const scenario of SCENARIOS) {
    if (args.scenario && scenario.name !== args.scenario) continue;
    for (const [crawler, workers, engineOptions, onlyIn] of crawlers) {
      if (only && !only.has(crawler)) continue;
      if (onlyWorkers !== null && crawler === 'bitspread' && (engineOptions || (workers ?? DEFAULT_WORKERS) !== onlyWorkers)) continue;
      if (onlyIn && onlyIn !== scenario.name) continue;
      const sim = startSim(scenario);
      try {
        const { seeds } = await sim.ready;
        const r = await runCrawler(crawler, workers, seeds, scenario.timeouts, engineOptions);
        const truth = await sim.truth();
        const truthSet = new Set(truth.reachable);
        const found = r.reachable.filter((x) => truthSet.has(x)).length;
        const cpuMs = r.cpuUserMs + r.cpuSystemMs;
        runs.push({
          scenario: scenario.name,
          crawler,
          workers: crawler === 'bitspread' ? (workers ?? DEFAULT_WORKERS) : 1,
          engineOptions: engineOptions ?? null,
          nodes: NODES,
          seconds: r.ms / 1000,
          reachableFound: r.reachable.length,
          truthReachable: truthSet.size,
          completeness: truthSet.size ? found / truthSet.size : null,
          failed: r.failed,
          failureCodes: r.failureCodes,
          nodesPerSec: r.reachable.length / (r.ms / 1000),
          cpuMs,
          cpuMsPerNode: r.reachable.length ? cpuMs / r.reachable.length : null,
          loopP50Ms: r.loopP50Ms,
          loopP99Ms: r.loopP99Ms,
          loopMaxMs: r.loopMaxMs,
          maxRssBytes: r.maxRssBytes,
          simPeakInbound: truth.stats.peakInbound,
          simViolations: truth.stats.violations,
        });
        const x = runs.at(-1);
        console.log(`  ${scenario.name.padEnd(9)} ${label(x).padEnd(38)} ${x.seconds.toFixed(1).padStart(6)} s  ${x.reachableFound}/${x.truthReachable} reachable  ${x.nodesPerSec.toFixed(0).padStart(5)} nodes/s  cpu ${fmt(x.cpuMsPerNode, 3)} ms/node  loop p99 ${x.loopP99Ms.toFixed(1)} ms`);
      } catch (err) {
        notes.push(`${scenario.name} ${crawler}${workers ? ` ×${workers}` : ''}: ${err.message}`);
        console.log(`  ${scenario.name} ${crawler}: FAILED ${err.message}`);
      } finally {
        await sim.close();
      }
    }
  }
}

function label(r) {
  if (r.crawler === 'bitspread') return `bitspread, ${r.workers} worker${r.workers === 1 ? '' : 's'}${r.engineOptions ? `, tickMs ${r.engineOptions.tickMs}` : ''}`;
  return r.crawler === 'baseline' ? 'baseline (node:net + codec)' : 'established (bcoin Peer)';
}
function fmt(x, d = 1) {
  return x == null ? 'n/a' : x.toFixed(d);
}
const pick = (scenario, crawler, workers) => runs.find((r) => r.scenario === scenario && r.crawler === crawler && r.engineOptions === null && (workers === undefined || r.workers === workers));
const oursFineTick = runs.find((r) => r.scenario === 'cpu-bound' && r.crawler === 'bitspread' && r.engineOptions !== null);

const ours = pick('latency', 'bitspread', DEFAULT_WORKERS);
const oursCpu = pick('cpu-bound', 'bitspread', DEFAULT_WORKERS);
const base = pick('latency', 'baseline');
const baseCpu = pick('cpu-bound', 'baseline');
const est = pick('latency', 'established');
const estCpu = pick('cpu-bound', 'established');
const ratio = (x, y) => (x != null && y ? x / y : null);

const results = {
  nodes: NODES,
  maxPeers: MAX_PEERS,
  timeouts: TIMEOUTS,
  cpuBoundTimeouts: SCENARIOS[1].timeouts,
  latency: SCENARIOS[0].latency,
  latencyMix: LATENCY_MIX,
  cpuBoundMix: CPU_MIX,
  defaultWorkers: DEFAULT_WORKERS,
  nodesPerSec: ours?.nodesPerSec ?? null,
  secondsToCompleteMap: ours?.seconds ?? null,
  completeness: ours?.completeness ?? null,
  cpuMsPerNode: oursCpu?.cpuMsPerNode ?? null,
  cpuMsPerNodeWithLatency: ours?.cpuMsPerNode ?? null,
  mainLoopP99Ms: ours?.loopP99Ms ?? null,
  baselineNodesPerSec: base?.nodesPerSec ?? null,
  baselineCpuMsPerNode: baseCpu?.cpuMsPerNode ?? null,
  baselineMainLoopP99Ms: base?.loopP99Ms ?? null,
  establishedPeerNodesPerSec: est?.nodesPerSec ?? null,
  establishedPeerCpuMsPerNode: estCpu?.cpuMsPerNode ?? null,
  establishedPeerMainLoopP99Ms: est?.loopP99Ms ?? null,
  cpuBoundNodesPerSec: oursCpu?.nodesPerSec ?? null,
  cpuBoundFineTickNodesPerSec: oursFineTick?.nodesPerSec ?? null,
  cpuBoundFineTickCpuMsPerNode: oursFineTick?.cpuMsPerNode ?? null,
  cpuBoundBaselineNodesPerSec: baseCpu?.nodesPerSec ?? null,
  cpuBoundEstablishedPeerNodesPerSec: estCpu?.nodesPerSec ?? null,
  ratioNodesPerSecVsBaseline: ratio(ours?.nodesPerSec, base?.nodesPerSec),
  ratioNodesPerSecVsEstablished: ratio(ours?.nodesPerSec, est?.nodesPerSec),
  ratioCpuBoundNodesPerSecVsBaseline: ratio(oursCpu?.nodesPerSec, baseCpu?.nodesPerSec),
  ratioCpuPerNodeVsBaseline: ratio(oursCpu?.cpuMsPerNode, baseCpu?.cpuMsPerNode),
  // Main-thread responsiveness: below 1 means bitspread's main thread lagged less than the baseline's.
  ratioMainLoopP99VsBaseline: ratio(ours?.loopP99Ms, base?.loopP99Ms),
  ratioCpuBoundMainLoopP99VsBaseline: ratio(oursCpu?.loopP99Ms, baseCpu?.loopP99Ms),
  cpuBoundMainLoopP99Ms: oursCpu?.loopP99Ms ?? null,
  cpuBoundBaselineMainLoopP99Ms: baseCpu?.loopP99Ms ?? null,
  runs,
  notes,
};

console.log(`\nCrawl: ${NODES.toLocaleString('en-US')} simulated nodes on 127.0.0.0/8, cap ${MAX_PEERS} connections, timeouts ${JSON.stringify(TIMEOUTS)} (cpu-bound: quietMs ${SCENARIOS[1].timeouts.quietMs})`);
console.log(`${'scenario'.padEnd(10)} ${'crawler'.padEnd(38)} ${'s'.padStart(7)} ${'found/truth'.padStart(12)} ${'nodes/s'.padStart(8)} ${'cpu ms/node'.padStart(12)} ${'loop lag p50/p99/max ms'.padStart(24)} ${'peak RSS MB'.padStart(12)}`);
for (const r of runs) {
  console.log(`${r.scenario.padEnd(10)} ${label(r).padEnd(38)} ${r.seconds.toFixed(1).padStart(7)} ${`${r.reachableFound}/${r.truthReachable}`.padStart(12)} ${r.nodesPerSec.toFixed(0).padStart(8)} ${fmt(r.cpuMsPerNode, 3).padStart(12)} ${`${r.loopP50Ms.toFixed(1)}/${r.loopP99Ms.toFixed(1)}/${r.loopMaxMs.toFixed(0)}`.padStart(24)} ${(r.maxRssBytes / 2 ** 20).toFixed(0).padStart(12)}`);
}
for (const [k, v] of Object.entries(results)) if (k.startsWith('ratio') && v != null) console.log(`${k}: ${v.toFixed(2)}`);
for (const n of notes) console.log(`note: ${n}`);

if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
