#!/usr/bin/env node
// One crawl process vs three sharing a Redis (`redis` option), on the same
// simulated network, in one run:
//   single  one process, no Redis (the reference: the default path)
//   redis1  one process through Redis
//   redis3  three processes through Redis, one global cap (the same cap)
// Per row: time to the full map (first process start → last process done),
// CPU per visited node (crawler processes + redis-server, from INFO cpu),
// Redis commands per visited node (INFO commandstats, reset before each row),
// whether the map is complete (reachable = the sim's truth), the sim's peak
// inbound. Each row gets a fresh sim (same seed: the same network) and a
// fresh crawl name. redis-server runs on a free loopback port, persistence
// off, stopped by pid.
//
//   node bench/cluster.mjs [--quick] [--json out.json] [--nodes N]
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createClient } from '@redis/client';
import { ensureBuilt, loadDist, repoRoot } from './dist.mjs';
import { simLaneArgs, startSimHost } from './children.mjs';
import { CPU_MIX, MAX_PEERS, QUICK_TIMEOUTS, TIMEOUTS, cpuBoundTimeouts } from './scenarios.mjs';

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    nodes: { type: 'string' },
  },
});
const nodes = Number(a.nodes ?? (a.quick ? 800 : 3000));
const timeouts = cpuBoundTimeouts(a.quick ? QUICK_TIMEOUTS : TIMEOUTS);
/** Lane 7: its own loopback /16 and ports (bench/children.mjs). */
const LANE = 7;
const SEED = 7;
const CHILD = fileURLToPath(new URL('./cluster-child.mjs', import.meta.url));

ensureBuilt();
const { startLocalRedis } = await loadDist('src/cluster/local-server.js');

function runChild(args, label) {
  const out = join(os.tmpdir(), `bitspread-cluster-${label}-${process.pid}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args, '--json', out], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 15 * 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`cluster-child ${label} exited with ${code ?? signal}`));
      const r = JSON.parse(readFileSync(out, 'utf8'));
      rmSync(out, { force: true });
      resolve(r);
    });
  });
}

/** redis-server's own CPU (user + system) in ms, from INFO cpu. */
async function redisCpuMs(client) {
  const info = await client.sendCommand(['INFO', 'cpu']);
  const get = (k) => Number(new RegExp(`^${k}:([0-9.]+)`, 'm').exec(String(info))?.[1] ?? 0);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1000;
}

/** Commands Redis executed since the last CONFIG RESETSTAT (our own INFO/CONFIG calls left out). */
async function redisCommands(client) {
  const info = String(await client.sendCommand(['INFO', 'commandstats']));
  let total = 0;
  const byCommand = {};
  for (const m of info.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) {
    if (m[1] === 'info' || m[1] === 'config|resetstat' || m[1] === 'config') continue;
    byCommand[m[1]] = Number(m[2]);
    total += Number(m[2]);
  }
  return { total, byCommand };
}

/** Commands a client sends itself; every other command in commandstats ran inside a function. */
const CLIENT_COMMANDS = ['fcall', 'xrange', 'expire', 'function|load', 'hello'];
const roundTrips = (byCommand) => CLIENT_COMMANDS.reduce((n, c) => n + (byCommand[c] ?? 0), 0);

async function row(label, processes, redis) {
  const sim = startSimHost(['--nodes', String(nodes), '--seed', String(SEED), '--mix', JSON.stringify(CPU_MIX), ...simLaneArgs(LANE)]);
  const { seeds } = await sim.ready;
  let client = null;
  if (redis !== null) {
    client = createClient({ url: redis.url });
    client.on('error', () => undefined);
    await client.connect();
    await client.sendCommand(['CONFIG', 'RESETSTAT']);
  }
  const redisCpu0 = client === null ? 0 : await redisCpuMs(client);
  const base = ['--seeds', seeds.join(','), '--timeouts', JSON.stringify(timeouts), '--max-peers', String(MAX_PEERS), '--workers', '1'];
  const name = `${label}-${process.pid}`;
  const children = await Promise.all(
    Array.from({ length: processes }, (_, i) => runChild([...base, ...(redis === null ? [] : ['--redis', redis.url, '--name', name])], `${label}${i}`)),
  );
  const redisCpu = client === null ? 0 : (await redisCpuMs(client)) - redisCpu0;
  const commands = client === null ? { total: 0, byCommand: {} } : await redisCommands(client);
  await client?.close();
  const truth = await sim.truth();
  await sim.close();

  const first = children[0];
  const visited = first.reachable + first.failed;
  const crawlerCpuMs = children.reduce((n, c) => n + c.cpuMs, 0);
  const timeToFullMapMs = Math.max(...children.map((c) => c.endedAt)) - Math.min(...children.map((c) => c.startedAt));
  const r = {
    processes,
    redis: redis !== null,
    timeToFullMapMs,
    visited,
    reachable: first.reachable,
    truthReachable: truth.reachable.length,
    complete: children.every((c) => c.reachable === truth.reachable.length && !c.stopped),
    crawlerCpuMs: Math.round(crawlerCpuMs),
    redisCpuMs: Math.round(redisCpu),
    cpuMsPerNode: Math.round(((crawlerCpuMs + redisCpu) / visited) * 1000) / 1000,
    redisCpuMsPerNode: Math.round((redisCpu / visited) * 1000) / 1000,
    redisCommands: commands.total,
    redisCommandsPerNode: Math.round((commands.total / visited) * 1000) / 1000,
    redisCommandsByName: commands.byCommand,
    /** Requests processes sent (FCALL, XRANGE…); the commands above include those run inside the functions. */
    redisRoundTripsPerNode: Math.round((roundTrips(commands.byCommand) / visited) * 1000) / 1000,
    simPeakInbound: truth.stats.peakInbound,
    simCpuMs: Math.round(truth.cpuMs),
    byError: first.byError,
  };

  console.log(
    `${label.padEnd(7)} ${String(processes).padStart(2)} proc  ${(timeToFullMapMs / 1000).toFixed(2).padStart(6)} s  ` +
      `${r.cpuMsPerNode.toFixed(3).padStart(6)} ms CPU/node (redis ${r.redisCpuMsPerNode.toFixed(3)})  ` +
      `${r.redisCommandsPerNode.toFixed(2).padStart(5)} redis cmds/node (${r.redisRoundTripsPerNode.toFixed(2)} requests)  reachable ${r.reachable}/${r.truthReachable}  peak ${r.simPeakInbound}/${MAX_PEERS}`,
  );
  return r;
}

console.log(`cluster: ${nodes} nodes, cpu-bound mix, cap ${MAX_PEERS} (global), 1 worker per process, ${os.availableParallelism()} cores`);
const redis = await startLocalRedis();
let rows;
try {
  rows = {
    single: await row('single', 1, null),
    redis1: await row('redis1', 1, redis),
    redis3: await row('redis3', 3, redis),
  };
} finally {
  await redis.stop();
}
const result = {
  /** The machine is shared: its 1-minute load average when this ran. */
  loadAverage: os.loadavg()[0],
  nodes,
  maxPeers: MAX_PEERS,
  workersPerProcess: 1,
  cores: os.availableParallelism(),
  rows,
  /** > 1: three processes mapped the network faster than one (both through Redis). */
  speedup3vs1: Math.round((rows.redis1.timeToFullMapMs / rows.redis3.timeToFullMapMs) * 100) / 100,
  /** CPU per node through Redis (1 process) ÷ without it: the cost of coordination. */
  redisOverhead1: Math.round((rows.redis1.cpuMsPerNode / rows.single.cpuMsPerNode) * 100) / 100,
};
console.log(`3 vs 1 process (Redis): ${result.speedup3vs1}× faster; CPU/node through Redis vs none: ${result.redisOverhead1}×`);
if (a.json) writeFileSync(a.json, JSON.stringify(result, null, 2));
// An incomplete map (a reachable node timed out on a loaded machine) is reported, not hidden: its row says complete: false.
for (const [label, r] of Object.entries(rows)) {
  if (!r.complete) console.warn(`cluster: ${label} did not find the whole map (${r.reachable}/${r.truthReachable} reachable; failures ${JSON.stringify(r.byError)})`);
}
