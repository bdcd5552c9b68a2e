#!/usr/bin/env node
// Scaling benchmark (issue 5): time and memory of a complete crawl from 1,000 to
// 20,000 simulated nodes, to see whether cost grows linearly with the network
// and where it bends. Same machinery and scenario as bench/crawl.mjs's
// cpu-bound rows (bench/scenarios.mjs: no latency, 30 % refused, quiet period
// 25 ms): the sim in one
// process (bench/sim-host.mjs), bitspread at its default worker count in another
// (bench/crawl-child.mjs), a fresh pair per size.
//
//   node bench/scaling.mjs [--quick] [--json out.json] [--sizes 1000,5000]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { distHas, ensureBuilt } from './dist.mjs';
import { runCrawlChild, startSimHost, tmpJson } from './children.mjs';
import { CPU_BOUND_MAX_PEERS, CPU_MIX, TIMEOUTS as FULL_TIMEOUTS, cpuBoundTimeouts } from './scenarios.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    sizes: { type: 'string' },
  },
});
const quick = args.quick;
const SIZES = args.sizes ? args.sizes.split(',').map(Number) : quick ? [1000, 2000] : [1000, 2000, 5000, 10_000, 20_000];
/** bench/crawl.mjs's cpu-bound scenario (full limits even with --quick): replies within milliseconds, so the crawl is bound by CPU, not by waiting. */
const TIMEOUTS = cpuBoundTimeouts(FULL_TIMEOUTS);
const MIX = CPU_MIX;
/**
 * Above ~15,900 nodes the sim listens in shared mode: one wildcard listener on
 * port, port+1000 and port+2000 of every address. 21000-23000 sits well below
 * Linux's ephemeral range (32768+) and away from regtest's 18444, so it collides
 * with nothing else on the machine. Every size uses it, so the port is not a variable.
 */
const SIM_PORT = 21_000;
/** Hard bounds per size: the crawler stops itself after CRAWL_DEADLINE_S, and is killed after KILL_S. */
const CRAWL_DEADLINE_S = quick ? 60 : 100;
const KILL_S = CRAWL_DEADLINE_S + 50;
const DEFAULT_WORKERS = Math.max(1, os.availableParallelism() - 1);

ensureBuilt();

function startSim(nodes) {
  return startSimHost(['--nodes', String(nodes), '--seed', '7', '--mix', JSON.stringify(MIX), '--port', String(SIM_PORT), '--max-seconds', String(KILL_S + 120)]);
}

function runCrawler(seeds) {
  const childArgs = ['--crawler', 'bitspread', '--seeds', seeds.join(','), '--timeouts', JSON.stringify(TIMEOUTS), '--max-peers', String(CPU_BOUND_MAX_PEERS), '--deadline-seconds', String(CRAWL_DEADLINE_S)];
  return runCrawlChild({ childArgs, out: tmpJson('scaling'), killAfterMs: KILL_S * 1000, label: 'bitspread' });
}

const engineThere = await (async () => {
  if (!distHas('src/index.js')) return false;
  const index = await import(new URL('../dist/src/index.js', import.meta.url).href);
  return typeof index.crawl === 'function' && typeof index.startSimNetwork === 'function';
})();

const notes = [];
const points = [];
if (!engineThere) notes.push('skipped: crawl() or startSimNetwork() is not in dist/src/index.js yet');
for (const nodes of engineThere ? SIZES : []) {
  const sim = startSim(nodes);
  try {
    const ready = await sim.ready;
    const r = await runCrawler(ready.seeds);
    const truth = await sim.truth();
    const truthSet = new Set(truth.reachable);
    const found = r.reachable.filter((x) => truthSet.has(x)).length;
    const seconds = r.ms / 1000;
    const cpuMs = r.cpuUserMs + r.cpuSystemMs;
    points.push({
      nodes,
      simListenMode: ready.listenMode ?? null,
      simListeners: ready.listeners ?? null,
      seconds,
      reachableFound: r.reachable.length,
      truthReachable: truthSet.size,
      completeness: truthSet.size ? found / truthSet.size : null,
      failed: r.failed,
      nodesPerSec: r.reachable.length / seconds,
      secondsPer1000Nodes: seconds / (nodes / 1000),
      cpuMs,
      cpuMsPerNode: r.reachable.length ? cpuMs / r.reachable.length : null,
      maxRssBytes: r.maxRssBytes,
      loopP99Ms: r.loopP99Ms,
      loopMaxMs: r.loopMaxMs,
      simPeakInbound: truth.stats.peakInbound,
      simViolations: truth.stats.violations,
      simCpuMs: truth.cpuMs,
      simCoreShare: truth.cpuMs / r.ms,
    });
    const p = points.at(-1);
    console.log(`  ${String(nodes).padStart(6)} nodes (${p.simListenMode})  ${seconds.toFixed(1).padStart(6)} s  ${p.reachableFound}/${p.truthReachable}  ${p.nodesPerSec.toFixed(0)} nodes/s  cpu ${fmt(p.cpuMsPerNode, 3)} ms/node  RSS ${(p.maxRssBytes / 2 ** 20).toFixed(0)} MB  sim ${(100 * p.simCoreShare).toFixed(0)} % of a core`);
  } catch (err) {
    notes.push(`${nodes} nodes: ${err.message}`);
    console.log(`  ${nodes} nodes: FAILED ${err.message}`);
  } finally {
    await sim.close();
  }
}

function fmt(x, d = 1) {
  return x == null ? 'n/a' : x.toFixed(d);
}
const first = points[0];
const last = points.at(-1);
const spread = points.length >= 2;
// Flat like the other benchmarks: bench/run.mjs files it under `scaling`, so latest.json has scaling.points, scaling.linearity.
const results = {
  sizes: SIZES,
  maxPeers: CPU_BOUND_MAX_PEERS,
  workers: DEFAULT_WORKERS,
  timeouts: TIMEOUTS,
  mix: MIX,
  simPort: SIM_PORT,
  points,
  // 1.0 = linear: seconds per 1,000 nodes at the largest size ÷ at the smallest.
  linearity: spread ? last.secondsPer1000Nodes / first.secondsPer1000Nodes : null,
  cpuPerNodeGrowth: spread && first.cpuMsPerNode ? last.cpuMsPerNode / first.cpuMsPerNode : null,
  rssGrowth: spread ? last.maxRssBytes / first.maxRssBytes : null,
  largestNodes: last?.nodes ?? null,
  notes,
};

console.log(`\nScaling: bitspread, ${DEFAULT_WORKERS} worker(s) (default), cap ${CPU_BOUND_MAX_PEERS}, cpu-bound scenario (no latency, 30 % refused, quiet ${TIMEOUTS.quietMs} ms), sim port ${SIM_PORT}`);
console.log(`${'nodes'.padStart(7)} ${'sim'.padEnd(9)} ${'s'.padStart(7)} ${'found/truth'.padStart(13)} ${'nodes/s'.padStart(8)} ${'s/1k nodes'.padStart(11)} ${'cpu ms/node'.padStart(12)} ${'peak RSS MB'.padStart(12)} ${'loop p99/max'.padStart(13)}`);
for (const p of points) {
  console.log(`${String(p.nodes).padStart(7)} ${String(p.simListenMode).padEnd(9)} ${p.seconds.toFixed(1).padStart(7)} ${`${p.reachableFound}/${p.truthReachable}`.padStart(13)} ${p.nodesPerSec.toFixed(0).padStart(8)} ${p.secondsPer1000Nodes.toFixed(3).padStart(11)} ${fmt(p.cpuMsPerNode, 3).padStart(12)} ${(p.maxRssBytes / 2 ** 20).toFixed(0).padStart(12)} ${`${p.loopP99Ms.toFixed(1)}/${p.loopMaxMs.toFixed(0)}`.padStart(13)}`);
}
if (results.linearity != null) console.log(`linearity (s per 1k nodes at ${last.nodes} ÷ at ${first.nodes}): ${results.linearity.toFixed(2)}; cpu/node ×${results.cpuPerNodeGrowth.toFixed(2)}; peak RSS ×${results.rssGrowth.toFixed(2)}`);
for (const n of notes) console.log(`note: ${n}`);
if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
process.exitCode = points.length === SIZES.length ? 0 : 1;
