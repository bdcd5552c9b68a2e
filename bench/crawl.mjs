#!/usr/bin/env node
// Crawl benchmark: time to a complete map of a simulated loopback network and
// reachable nodes/s, for bitspread's engine (1, 2 and the default number of
// workers), the plain node:net baseline and a bcoin-Peer crawler, first with
// realistic reply latency, then without (CPU-bound). Every measurement runs
// in a fresh pair of processes: the sim in one (bench/sim-host.mjs), the
// crawler in another (bench/crawl-child.mjs), so their CPU and memory never mix.
//
// The latency rows are bound by waiting (each crawler uses a few per cent of
// a core), so they run side by side, each crawler against its own sim on its
// own addresses and ports (--parallel; default: all of them at once). The
// cpu-bound rows run one at a time, in --rounds interleaved rounds (every row
// once per round), and report the median and the min-max of the rounds.
//
//   node bench/crawl.mjs [--quick] [--json out.json] [--only baseline,established,bitspread]
//        [--scenario latency|cpu-bound] [--workers N] [--nodes N] [--cpu-prof DIR]
//        [--parallel N] [--rounds N] [--cpu-bound-max-peers N]
// --scenario runs one scenario; --workers keeps only the bitspread row with N
// workers (default options); --cpu-prof DIR runs each crawler process with
// node --cpu-prof, one .cpuprofile per thread (main and workers) in DIR;
// --parallel 1 runs the latency rows one after another (as before);
// --cpu-bound-max-peers sets the cpu-bound cap (default 500, see scenarios.mjs).
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { distHas, ensureBuilt, loadDist } from './dist.mjs';
import { runCrawlChild, simLaneArgs, startSimHost, tmpJson } from './children.mjs';
import { groupsOf, median, spread } from './repeat.mjs';
import { CPU_BOUND_MAX_PEERS, CPU_MIX, LATENCY_MIX, MAX_PEERS, QUICK_TIMEOUTS, TIMEOUTS as FULL_TIMEOUTS, cpuBoundTimeouts, engineTimeoutOptions } from './scenarios.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    only: { type: 'string' },
    nodes: { type: 'string' },
    scenario: { type: 'string' },
    workers: { type: 'string' },
    'cpu-prof': { type: 'string' },
    parallel: { type: 'string' },
    rounds: { type: 'string' },
    'cpu-bound-max-peers': { type: 'string' },
  },
});
const quick = args.quick;
const NODES = Number(args.nodes ?? (quick ? 1000 : 10_000));
const only = args.only ? new Set(args.only.split(',')) : null;
const onlyWorkers = args.workers === undefined ? null : Number(args.workers);
/** Interleaved rounds of the cpu-bound rows: enough for a median and a range; --quick is a smoke test. */
const ROUNDS = positiveInt('rounds', args.rounds ?? (quick ? 1 : 3));
/** How many latency crawls run side by side; default (null): all of them. */
const PARALLEL = args.parallel === undefined ? null : positiveInt('parallel', args.parallel);

function positiveInt(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

const TIMEOUTS = quick ? QUICK_TIMEOUTS : FULL_TIMEOUTS;
const SCENARIOS = [
  // --quick is a smoke test: half the latency, so the run stays well under a minute.
  { name: 'latency', latency: quick ? { medianMs: 50, tailMs: 500 } : { medianMs: 100, tailMs: 1000 }, mix: LATENCY_MIX, timeouts: TIMEOUTS, maxPeers: MAX_PEERS },
  // Replies arrive within milliseconds, so a short quiet period loses nothing; with enough slots the crawl is bound by CPU, not by waiting.
  {
    name: 'cpu-bound',
    latency: null,
    mix: CPU_MIX,
    timeouts: cpuBoundTimeouts(TIMEOUTS),
    maxPeers: args['cpu-bound-max-peers'] === undefined ? CPU_BOUND_MAX_PEERS : positiveInt('cpu-bound-max-peers', args['cpu-bound-max-peers']),
  },
];
/** The engine's default (src/engine/worker-pool.ts defaultWorkerCount): one core left to the main thread. */
const DEFAULT_WORKERS = Math.max(1, os.availableParallelism() - 1);

ensureBuilt();

function startSim(scenario, lane) {
  const simArgs = ['--nodes', String(NODES), '--seed', '7', '--mix', JSON.stringify(scenario.mix), '--max-seconds', '1200', ...simLaneArgs(lane)];
  if (scenario.latency) simArgs.push('--latency', String(scenario.latency.medianMs), '--tail', String(scenario.latency.tailMs));
  return startSimHost(simArgs);
}

function runCrawler(crawler, workers, seeds, scenario, engineOptions, lane) {
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', args['cpu-prof']] : [];
  const childArgs = ['--crawler', crawler, '--seeds', seeds.join(','), '--timeouts', JSON.stringify(scenario.timeouts), '--max-peers', String(scenario.maxPeers), '--deadline-seconds', quick ? '120' : '600'];
  if (workers) childArgs.push('--workers', String(workers));
  if (engineOptions) childArgs.push('--engine-options', JSON.stringify(engineOptions));
  // Concurrent children need their own scratch files.
  return runCrawlChild({ nodeArgs, childArgs, out: tmpJson(`crawl-${crawler}-lane${lane}`), killAfterMs: (quick ? 180 : 900) * 1000, label: crawler });
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
 * The engine checks deadlines on a coarse per-worker tick (tickMs: by default
 * a tenth of the shortest deadline, 2-20 ms), so a deadline fires up to one
 * tick late. This extra row shows what a 10 ms tick buys when replies are
 * instant; it is skipped when the engine's default tick for the cpu-bound
 * limits already is 10 ms (the row would repeat the default row).
 */
const FINE_TICK = { tickMs: 10 };
const defaultTickMs = await engineDefaultTickMs(SCENARIOS[1]);
const fineTickIsDefault = defaultTickMs === FINE_TICK.tickMs;
if (engineThere) {
  // --quick keeps only the default worker count.
  if (!quick) crawlers.push(['bitspread', 1], ['bitspread', 2]);
  if (quick || (DEFAULT_WORKERS !== 1 && DEFAULT_WORKERS !== 2)) crawlers.push(['bitspread', null]);
  else notes.push(`bitspread's default worker count is os.availableParallelism() - 1 = ${DEFAULT_WORKERS} here, so the ${DEFAULT_WORKERS}-worker row is the default`);
  if (!quick && !fineTickIsDefault) crawlers.push(['bitspread', null, FINE_TICK, 'cpu-bound']);
  if (!quick && fineTickIsDefault) notes.push(`no separate tickMs ${FINE_TICK.tickMs} row: the engine's default tick for the cpu-bound limits is already ${defaultTickMs} ms, so the cpuBoundFineTick* figures are the default row's`);
} else {
  notes.push('bitspread rows skipped: the engine (crawl() in dist/src/index.js) is not built yet');
}
crawlers.push(['baseline', null], ['established', null]);

/** The tick crawl() would pick for these limits, or null if the engine cannot say. */
async function engineDefaultTickMs({ timeouts, maxPeers }) {
  if (!distHas('src/engine/options.js')) return null;
  const { resolveOptions } = await loadDist('src/engine/options.js');
  try {
    return resolveOptions({ seeds: ['127.0.0.1:1'], network: 'regtest', only: ['127.0.0.0/8'], maxPeers, ...engineTimeoutOptions(timeouts) }).tickMs;
  } catch {
    return null;
  }
}

function wanted(scenario, [crawler, workers, engineOptions, onlyIn]) {
  if (only && !only.has(crawler)) return false;
  if (onlyWorkers !== null && crawler === 'bitspread' && (engineOptions || (workers ?? DEFAULT_WORKERS) !== onlyWorkers)) return false;
  return !onlyIn || onlyIn === scenario.name;
}

/**
 * Crawls `rows` side by side, each against a fresh sim of its own (lane i =
 * row i: its own addresses and ports). Every sim is up before any crawler
 * starts and none closes before the last crawl ends, so no crawl is measured
 * while a sim binds or releases its thousands of listeners. Resolves with
 * one settled result per row: { ok, value: row figures } or { ok: false, error }.
 */
async function measureGroup(scenario, rows) {
  const sims = rows.map((_, lane) => startSim(scenario, lane));
  try {
    const ready = await Promise.all(sims.map((sim) => sim.ready));
    const settled = await Promise.allSettled(rows.map((row, lane) => crawlOnce(scenario, row, lane, sims[lane], ready[lane].seeds)));
    return settled.map((s) => (s.status === 'fulfilled' ? { ok: true, value: s.value } : { ok: false, error: s.reason }));
  } finally {
    await Promise.all(sims.map((sim) => sim.close()));
  }
}

async function crawlOnce(scenario, [crawler, workers, engineOptions], lane, sim, seeds) {
  const r = await runCrawler(crawler, workers, seeds, scenario, engineOptions, lane);
  const truth = await sim.truth();
  const truthSet = new Set(truth.reachable);
  const found = r.reachable.filter((x) => truthSet.has(x)).length;
  const cpuMs = r.cpuUserMs + r.cpuSystemMs;
  return {
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
    // The simulator's CPU over the crawl, and as a share of one core: near 1 it, not the crawler, sets the pace.
    simCpuMs: truth.cpuMs,
    simCoreShare: truth.cpuMs / r.ms,
  };
}

function printRow(x, round) {
  const tag = round === undefined ? '' : ` r${round + 1}`;
  console.log(`  ${(x.scenario + tag).padEnd(12)} ${label(x).padEnd(38)} ${x.seconds.toFixed(1).padStart(6)} s  ${x.reachableFound}/${x.truthReachable} reachable  ${x.nodesPerSec.toFixed(0).padStart(5)} nodes/s  cpu ${fmt(x.cpuMsPerNode, 3)} ms/node  loop p99 ${x.loopP99Ms.toFixed(1)} ms  sim ${(100 * x.simCoreShare).toFixed(0)} % of a core`);
}
const rowName = (scenario, [crawler, workers, engineOptions]) => `${scenario.name} ${crawler}${workers ? ` ×${workers}` : ''}${engineOptions ? ` ${JSON.stringify(engineOptions)}` : ''}`;

/**
 * One row out of several rounds of the same crawl: the median of every
 * figure, completeness as the worst round's, and the rounds themselves.
 */
function combineRounds(rounds) {
  const nps = spread(rounds.map((x) => x.nodesPerSec));
  const cpu = spread(rounds.map((x) => x.cpuMsPerNode));
  const mid = (key) => median(rounds.map((x) => x[key]));
  const worst = rounds.reduce((a, b) => (b.reachableFound < a.reachableFound ? b : a));
  return {
    ...worst,
    seconds: mid('seconds'),
    nodesPerSec: nps.median,
    nodesPerSecMin: nps.min,
    nodesPerSecMax: nps.max,
    cpuMs: mid('cpuMs'),
    cpuMsPerNode: cpu?.median ?? null,
    cpuMsPerNodeMin: cpu?.min ?? null,
    cpuMsPerNodeMax: cpu?.max ?? null,
    loopP50Ms: mid('loopP50Ms'),
    loopP99Ms: mid('loopP99Ms'),
    loopMaxMs: mid('loopMaxMs'),
    maxRssBytes: mid('maxRssBytes'),
    simPeakInbound: Math.max(...rounds.map((x) => x.simPeakInbound)),
    simViolations: rounds.reduce((n, x) => n + x.simViolations, 0),
    simCpuMs: mid('simCpuMs'),
    simCoreShare: mid('simCoreShare'),
    rounds: rounds.map(({ seconds, reachableFound, nodesPerSec, cpuMsPerNode, loopP99Ms, loopMaxMs, maxRssBytes, simCoreShare }) => ({ seconds, reachableFound, nodesPerSec, cpuMsPerNode, loopP99Ms, loopMaxMs, maxRssBytes, simCoreShare })),
  };
}

const runs = [];
let latencyParallel = null;
if (!simThere) {
  notes.push('skipped: startSimNetwork is not in dist/src/index.js yet');
} else {
  const [latency, cpuBound] = SCENARIOS;
  if (!args.scenario || args.scenario === latency.name) {
    // Waiting-bound: side by side, each crawler with its own sim on its own lane.
    const rows = crawlers.filter((c) => wanted(latency, c));
    latencyParallel = Math.max(1, Math.min(rows.length, PARALLEL ?? rows.length));
    console.log(`  latency: ${rows.length} crawls, ${latencyParallel} at a time, each against its own sim`);
    for (const group of groupsOf(rows, latencyParallel)) {
      const results = await measureGroup(latency, group).catch((error) => group.map(() => ({ ok: false, error })));
      results.forEach((res, i) => {
        if (res.ok) {
          printRow(res.value);
          runs.push({ ...res.value, concurrentCrawls: group.length });
        } else {
          notes.push(`${rowName(latency, group[i])}: ${res.error.message}`);
          console.log(`  ${rowName(latency, group[i])}: FAILED ${res.error.message}`);
        }
      });
    }
  }
  if (!args.scenario || args.scenario === cpuBound.name) {
    // CPU-bound: one crawl at a time, every row once per round, so background load hits all rows alike.
    const rows = crawlers.filter((c) => wanted(cpuBound, c));
    const byRow = rows.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, row] of rows.entries()) {
        const [res] = await measureGroup(cpuBound, [row]).catch((error) => [{ ok: false, error }]);
        if (res.ok) {
          printRow(res.value, round);
          byRow[i].push(res.value);
        } else {
          notes.push(`${rowName(cpuBound, row)} round ${round + 1}: ${res.error.message}`);
          console.log(`  ${rowName(cpuBound, row)} round ${round + 1}: FAILED ${res.error.message}`);
        }
      }
    }
    for (const rounds of byRow) if (rounds.length) runs.push({ ...combineRounds(rounds), concurrentCrawls: 1 });
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
const oursFineTick = fineTickIsDefault ? pick('cpu-bound', 'bitspread', DEFAULT_WORKERS) : runs.find((r) => r.scenario === 'cpu-bound' && r.crawler === 'bitspread' && r.engineOptions !== null);
/** Each round's figure of a cpu-bound row, in round order (the headline is their median). */
const perRound = (row, key) => row?.rounds?.map((x) => x[key]) ?? null;

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
  cpuBoundMaxPeers: SCENARIOS[1].maxPeers,
  timeouts: TIMEOUTS,
  cpuBoundTimeouts: SCENARIOS[1].timeouts,
  latency: SCENARIOS[0].latency,
  latencyMix: LATENCY_MIX,
  cpuBoundMix: CPU_MIX,
  defaultWorkers: DEFAULT_WORKERS,
  // How the rows ran: latency rows side by side (each against its own sim), cpu-bound rows alone in interleaved rounds.
  latencyParallel,
  cpuBoundRounds: ROUNDS,
  cpuBoundDefaultTickMs: defaultTickMs,
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
  // What the network saw: most connections held at once per crawler (the cap is maxPeers / cpuBoundMaxPeers).
  peakConnections: ours?.simPeakInbound ?? null,
  baselinePeakConnections: base?.simPeakInbound ?? null,
  cpuBoundPeakConnections: oursCpu?.simPeakInbound ?? null,
  cpuBoundBaselinePeakConnections: baseCpu?.simPeakInbound ?? null,
  // The simulator's share of one core during the cpu-bound crawls (it shares the machine with the crawler).
  cpuBoundSimCoreShare: oursCpu?.simCoreShare ?? null,
  cpuBoundBaselineSimCoreShare: baseCpu?.simCoreShare ?? null,
  // Error bars of the cpu-bound headline figures: every round's value (median above).
  cpuMsPerNodeRuns: perRound(oursCpu, 'cpuMsPerNode'),
  cpuBoundNodesPerSecRuns: perRound(oursCpu, 'nodesPerSec'),
  baselineCpuMsPerNodeRuns: perRound(baseCpu, 'cpuMsPerNode'),
  cpuBoundBaselineNodesPerSecRuns: perRound(baseCpu, 'nodesPerSec'),
  establishedPeerCpuMsPerNodeRuns: perRound(estCpu, 'cpuMsPerNode'),
  cpuBoundEstablishedPeerNodesPerSecRuns: perRound(estCpu, 'nodesPerSec'),
  runs,
  notes,
};

const range = (lo, hi, d) => (lo == null ? '' : ` (${lo.toFixed(d)}-${hi.toFixed(d)})`);
console.log(`\nCrawl: ${NODES.toLocaleString('en-US')} simulated nodes on 127.0.0.0/8, cap ${MAX_PEERS} connections, timeouts ${JSON.stringify(TIMEOUTS)} (cpu-bound: cap ${SCENARIOS[1].maxPeers}, quietMs ${SCENARIOS[1].timeouts.quietMs})`);
const latencyHow = latencyParallel > 1 ? `${latencyParallel} crawls side by side (main-loop lag measured with the other crawls on the cores)` : 'one at a time';
console.log(`latency rows: ${latencyHow}; cpu-bound rows: one at a time, median (min-max) of ${ROUNDS} round(s)`);
console.log(`${'scenario'.padEnd(10)} ${'crawler'.padEnd(38)} ${'s'.padStart(7)} ${'found/truth'.padStart(12)} ${'nodes/s'.padStart(16)} ${'cpu ms/node'.padStart(20)} ${'loop lag p50/p99/max ms'.padStart(24)} ${'peak RSS MB'.padStart(12)} ${'peak conns'.padStart(11)} ${'sim core'.padStart(9)}`);
for (const r of runs) {
  const nps = r.nodesPerSec.toFixed(0) + range(r.nodesPerSecMin, r.nodesPerSecMax, 0);
  const cpu = fmt(r.cpuMsPerNode, 3) + range(r.cpuMsPerNodeMin, r.cpuMsPerNodeMax, 3);
  console.log(`${r.scenario.padEnd(10)} ${label(r).padEnd(38)} ${r.seconds.toFixed(1).padStart(7)} ${`${r.reachableFound}/${r.truthReachable}`.padStart(12)} ${nps.padStart(16)} ${cpu.padStart(20)} ${`${r.loopP50Ms.toFixed(1)}/${r.loopP99Ms.toFixed(1)}/${r.loopMaxMs.toFixed(0)}`.padStart(24)} ${(r.maxRssBytes / 2 ** 20).toFixed(0).padStart(12)} ${String(r.simPeakInbound).padStart(11)} ${`${(100 * r.simCoreShare).toFixed(0)} %`.padStart(9)}`);
}
console.log('peak conns: most connections from the crawler the simulator held at once (a crawler that frees a slot before the peer has closed overshoots its cap); sim core: the simulator\'s CPU over the crawl, share of one core');
for (const [k, v] of Object.entries(results)) if (k.startsWith('ratio') && v != null) console.log(`${k}: ${v.toFixed(2)}`);
for (const n of notes) console.log(`note: ${n}`);

if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
