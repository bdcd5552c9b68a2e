#!/usr/bin/env node
// The benchmark harness (`npm run bench`, `npm run bench:quick`).
// Each benchmark runs in its own child process so one's memory (and JIT state)
// never shows up in another's figures. Results go to bench/results/latest.json
// and a dated copy, with a description of the machine.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, repoRoot } from './dist.mjs';
import { benchNetwork, reexecInOwnNetns } from './netns.mjs';

// As root, the whole run happens in a network namespace of its own (bench/netns.mjs).
const netnsStatus = reexecInOwnNetns();
if (netnsStatus !== null) process.exit(netnsStatus);

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
  },
});
const quick = args.quick;

/** Benchmarks in run order; `key` is where the figures go in the results file. */
const BENCHMARKS = [
  { script: 'codec.mjs', key: 'codec', limitMs: quick ? 60_000 : 300_000 },
  { script: 'sim-cost.mjs', key: 'simCost', limitMs: quick ? 60_000 : 300_000 },
  { script: 'crawl.mjs', key: 'crawl', limitMs: quick ? 120_000 : 900_000 },
  // Issue 16's figures (reference network, mainnet shape, full answers) join the crawl figures.
  { script: 'realistic.mjs', key: 'crawlRealistic', mergeInto: 'crawl', limitMs: quick ? 400_000 : 1_200_000 },
  { script: 'memory.mjs', key: 'memory', limitMs: quick ? 120_000 : 600_000 },
  { script: 'scaling.mjs', key: 'scaling', limitMs: quick ? 180_000 : 900_000 },
  { script: 'cluster.mjs', key: 'cluster', limitMs: quick ? 180_000 : 600_000 },
  { script: 'scale.mjs', key: 'scale', limitMs: quick ? 180_000 : 600_000 },
  { script: 'bip324.mjs', key: 'bip324', limitMs: quick ? 180_000 : 900_000 },
];

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });

function runChild(bench) {
  const scriptPath = fileURLToPath(new URL(`./${bench.script}`, import.meta.url));
  const jsonPath = `${resultsDir}${bench.key}.${process.pid}.tmp`;
  const childArgs = [scriptPath, ...(quick ? ['--quick'] : []), '--json', jsonPath];
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, childArgs, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    // A benchmark must stop by itself; this bound only catches a hung one.
    const timer = setTimeout(() => child.kill('SIGKILL'), bench.limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      let figures = null;
      if (existsSync(jsonPath)) {
        figures = JSON.parse(readFileSync(jsonPath, 'utf8'));
        rmSync(jsonPath, { force: true });
      }
      resolve({ code, signal, seconds, figures });
    });
  });
}

const started = new Date();
ensureBuilt();

const cpus = os.cpus();
const results = {
  machine: {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    totalMemoryBytes: os.totalmem(),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    osRelease: os.release(),
  },
  startedAt: started.toISOString(),
  // Other work on the machine while it ran (1, 5, 15 min), at the start; loadAverageAtEnd below.
  loadAverageAtStart: os.loadavg(),
  network: benchNetwork(),
  quick,
  runs: {},
};

/** 312.4 → "5 min 12 s". */
function minutes(seconds) {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

let failures = 0;
for (const bench of BENCHMARKS) {
  if (args.only && !args.only.includes(bench.key) && !args.only.includes(bench.script)) continue;
  if (!existsSync(new URL(`./${bench.script}`, import.meta.url))) {
    results.runs[bench.key] = { status: 'skipped', note: `bench/${bench.script} is not there yet` };
    console.log(`\n[bench] ${bench.script}: skipped (not there yet)`);
    continue;
  }
  console.log(`\n[bench] ${bench.script}${quick ? ' --quick' : ''}`);
  const r = await runChild(bench);
  const ok = r.code === 0 && r.figures !== null;
  console.log(`[bench] ${bench.script}: ${ok ? 'done' : 'FAILED'} in ${r.seconds.toFixed(1)} s (${minutes((Date.now() - started.getTime()) / 1000)} so far)`);
  if (!ok) failures++;
  results.runs[bench.key] = { status: ok ? 'ok' : 'failed', seconds: Math.round(r.seconds * 10) / 10, ...(ok ? {} : { exitCode: r.code, signal: r.signal }) };
  if (r.figures && bench.mergeInto) results[bench.mergeInto] = { ...(results[bench.mergeInto] ?? {}), ...r.figures };
  else if (r.figures) results[bench.key] = r.figures;
  // The kernel delayer's run (realistic.mjs, mainnet shape): its mode, parameters and counters describe the network.
  if (r.figures?.network?.kernelRtt !== undefined) results.network = { ...results.network, ...r.figures.network };
}
results.durationSeconds = Math.round((Date.now() - started.getTime()) / 100) / 10;
results.loadAverageAtEnd = os.loadavg();

const stamp = started.toISOString().slice(0, 16).replace(':', ''); // YYYY-MM-DDTHHMM (UTC)
const text = JSON.stringify(results, null, 2) + '\n';
writeFileSync(`${resultsDir}latest.json`, text);
writeFileSync(`${resultsDir}${stamp}.json`, text);

// One summary table of the headline figures (each benchmark printed its details above).
const get = (path) => path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), results);
const SUMMARY = [
  ['codec.addrMBps', 'MB/s', 'addr decode (framed, 1,000 entries), bitspread'],
  ['codec.addrv2MBps', 'MB/s', 'addrv2 decode (framed, 1,000 entries), bitspread'],
  ['codec.bestOtherMBps', 'MB/s', 'addr decode, fastest other JS decoder'],
  ['codec.sha256MBps', 'MB/s', 'sha256d over the same bytes (ceiling)'],
  ['codec.ratioVsBestOther', '×', 'bitspread / fastest other (goal ≥ 5)'],
  ['codec.ratioVsSha256', '×', 'bitspread / sha256d ceiling (goal ≥ 0.5)'],
  ['crawl.nodesPerSec', 'nodes/s', 'bitspread crawl, latency, default workers'],
  ['crawl.baselineNodesPerSec', 'nodes/s', 'plain node:net baseline crawler, latency'],
  ['crawl.establishedPeerNodesPerSec', 'nodes/s', 'bcoin Peer crawler, latency'],
  ['crawl.cpuMsPerNode', 'ms', 'bitspread CPU per reachable node (no latency, median of rounds)'],
  ['crawl.mainLoopP99Ms', 'ms', 'bitspread main-thread event-loop delay p99'],
  ['crawl.slotEfficiency', '×', 'least visit time / slot time, defaults, reference (goal ≥ 0.8)'],
  ['crawl.slotEfficiencyBaseline', '×', '  the same, main\'s defaults (cap 125, quiet 1 s)'],
  ['crawl.slotEfficiencyAtCap125', '×', '  the same, defaults at cap 125'],
  ['crawl.secondsToMapDefaults', 's', 'reference network, bitspread defaults (bar: bitnodes 37 s)'],
  ['crawl.secondsToMapDefaultsBaseline', 's', '  the same, main\'s defaults'],
  ['crawl.secondsToMapAtCap700', 's', 'reference network, bitspread at 700 sockets'],
  ['crawl.secondsToMapAtCap700Baseline', 's', '  baseline crawler at 700 sockets'],
  ['crawl.mainnetShape.secondsToMap', 's', 'mainnet shape (60,000 addresses), defaults'],
  ['crawl.mainnetShape.secondsToMapBaseline', 's', '  the same with a fixed 1 s quiet period'],
  ['crawl.mainnetShape.cpuMsPerReachable', 'ms', 'mainnet shape, CPU per reachable node'],
  ['crawl.mainnetShape.cpuMsPerReachableBaseline', 'ms', '  the same with a fixed 1 s quiet period'],
  ['crawl.fullAnswerCpuMsPerVisit', 'ms', 'CPU per visit, 1,000-entry answers, cpu-bound (goal ≤ 0.3)'],
  ['crawl.fullAnswerCpuMsPerVisitBaseline', 'ms', '  the same with 8-30-entry answers'],
  ['crawl.baselineMainLoopP99Ms', 'ms', 'baseline event-loop delay p99'],
  ['memory.bytesPerConnection', 'B', 'per open connection (goal < 20,000)'],
  ['memory.bytesPerKnownAddress', 'B', 'per known address (goal < 200)'],
  ['scale.connections10k.mainLoopP99Ms', 'ms', '10,000 connections, node mode: main-loop p99 (goal < 10)'],
  ['scale.connections10k.bytesPerConnection', 'B', '10,000 connections: RSS per connection (goal < 20,000)'],
  ['scale.connections10k.bytesPerConnectionBaseline', 'B', '  floor: bare socket + decoder'],
  ['scaling.linearity', '×', 's per 1k nodes, largest ÷ smallest size (1.0 = linear)'],
  ['cluster.rows.redis1.timeToFullMapMs', 'ms', 'time to full map, 1 process through Redis'],
  ['cluster.rows.redis3.timeToFullMapMs', 'ms', 'time to full map, 3 processes through Redis (one global cap)'],
  ['cluster.rows.redis1.cpuMsPerNode', 'ms', 'CPU per visited node incl. redis-server, 1 process'],
  ['cluster.rows.redis3.cpuMsPerNode', 'ms', 'CPU per visited node incl. redis-server, 3 processes'],
  ['cluster.rows.redis3.redisCommandsPerNode', 'cmds', 'Redis commands per visited node (incl. inside functions), 3 processes'],
  ['cluster.rows.redis3.redisRoundTripsPerNode', 'reqs', 'Redis requests per visited node, 3 processes'],
  ['bip324.handshakeBothSidesMs', 'ms', 'BIP324 v2 handshake CPU, initiator + responder'],
  ['bip324.perMessage.ping.v2OverV1', '×', 'ping encode + decode, v2 packet ÷ v1 frame'],
  ['bip324.perMessage.addr1000.v2OverV1', '×', '1,000-entry addr encode + decode, v2 ÷ v1'],
  ['bip324.crawl.v1.crawlerCpuMsPerVisit', 'ms', 'crawler CPU per visit, --transport v1 (same network)'],
  ['bip324.crawl.v2.crawlerCpuMsPerVisit', 'ms', 'crawler CPU per visit, --transport v2'],
  ['bip324.crawl.v1.nodesPerSec', 'nodes/s', 'crawl, --transport v1, no latency, cap 125'],
  ['bip324.crawl.v2.nodesPerSec', 'nodes/s', 'the same network, --transport v2'],
];
console.log(`\nbitspread benchmarks${quick ? ' (quick)' : ''}: ${results.machine.cpuCount} × ${results.machine.cpuModel}, ${(results.machine.totalMemoryBytes / 2 ** 30).toFixed(0)} GiB, Node ${results.machine.node}`);
console.log(`${'figure'.padEnd(34)} ${'value'.padStart(12)}  ${'unit'.padEnd(8)} what`);
for (const [path, unit, what] of SUMMARY) {
  const v = get(path);
  const shown = typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: v < 10 ? 2 : 0 }) : 'n/a';
  console.log(`${path.padEnd(34)} ${shown.padStart(12)}  ${unit.padEnd(8)} ${what}`);
}
for (const [key, run] of Object.entries(results.runs)) {
  console.log(`${key}: ${run.status}${run.seconds !== undefined ? ` in ${run.seconds} s` : ''}${run.note ? ` (${run.note})` : ''}`);
}
console.log(`\nwrote bench/results/latest.json and bench/results/${stamp}.json`);
console.log(`total wall time ${minutes(results.durationSeconds)} (${results.durationSeconds} s)`);
process.exitCode = failures === 0 ? 0 : 1;
