// Runs ONE crawl process of bench/cluster.mjs and measures it: wall time
// (as epoch ms, so the parent can line processes up), CPU of the whole
// process (user + system, every thread), and the summary (crawl-wide in
// cluster mode: every process reads the whole crawl's records back).
//
//   node bench/cluster-child.mjs --seeds a,b --json out.json [--redis URL --name NAME]
//        [--timeouts json] [--max-peers N] [--workers N]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadDist } from './dist.mjs';
import { engineTimeoutOptions } from './scenarios.mjs';

const { values: a } = parseArgs({
  options: {
    seeds: { type: 'string' },
    json: { type: 'string' },
    redis: { type: 'string' },
    name: { type: 'string', default: 'bench' },
    timeouts: { type: 'string', default: '{}' },
    'max-peers': { type: 'string', default: '125' },
    workers: { type: 'string', default: '1' },
    'deadline-seconds': { type: 'string', default: '600' },
  },
});

const { crawl } = await loadDist('src/index.js');
const cpu0 = process.cpuUsage();
const startedAt = Date.now();
const run = crawl({
  seeds: a.seeds.split(','),
  network: 'regtest',
  only: ['127.0.0.0/8'],
  maxPeers: Number(a['max-peers']),
  workers: Number(a.workers),
  ...engineTimeoutOptions(JSON.parse(a.timeouts)),
  ...(a.redis ? { redis: { url: a.redis, name: a.name } } : {}),
});
const stopper = setTimeout(() => run.stop(), Number(a['deadline-seconds']) * 1000);
const summary = await run.done;
clearTimeout(stopper);
const endedAt = Date.now();
const cpu = process.cpuUsage(cpu0);
writeFileSync(
  a.json,
  JSON.stringify({
    startedAt,
    endedAt,
    cpuMs: (cpu.user + cpu.system) / 1000,
    reachable: summary.byState.reachable,
    failed: summary.byState.failed,
    skipped: summary.byState.skipped,
    total: summary.total,
    stopped: summary.stopped,
    peakOpen: summary.peakOpen,
    byError: summary.byError,
  }),
);
process.exit(0);
