/**
 * `bitspread demo`: start the simulated network in-process, crawl it through
 * the real engine (worker threads, loopback sockets, --only 127.0.0.0/8), and
 * compare the result with the simulator's ground truth.
 */
import { UsageError } from '../../errors.js';
import { startSimNetwork, type SimNetwork } from '../../sim/index.js';
import { Crawler } from '../../engine/crawler.js';
import { formatSummary, type NodeRecord } from '../../engine/record.js';
import { EXIT, signalExitCode } from '../exit-codes.js';
import { writeStdout } from '../output.js';
import { parseDuration, parseInteger, parseOptions } from '../args.js';
import { cliLogger, LOG_LEVELS } from '../logger.js';
import { usageFailure } from '../usage.js';
import { runCrawler } from './crawl.js';

const HELP = `usage: bitspread demo [options]

Starts a simulated Bitcoin network on 127.x.y.z loopback addresses and crawls it.

  --nodes N           simulated nodes (default 3000)
  --seed N            simulator PRNG seed (default 1)
  --max-peers N       global cap on open connections (default 125)
  --workers N         worker threads (default: available parallelism - 1, min 1)
  --timeout DURATION  time allowed for each step (default 5s)
  --addr-quiet DURATION  quiet period that ends a getaddr answer (default 150ms)
  --latency DURATION  median simulated reply latency (default none)
  --out FILE          NDJSON snapshot
  --json              print the summary and the comparison as one JSON object on stdout
  --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default info)

Exit status: 0 the crawl found exactly the ground truth; 1 it did not (the
missing nodes are listed with what was recorded for each); 2 bad arguments;
7 the snapshot or stdout could not be written; 128+N stopped by signal N.
`;

/**
 * The demo's step timeout. A `slow` sim node writes its handshake (~200
 * bytes) 1-8 bytes per timer tick, so it needs ~45 turns of the sim's event
 * loop, which shares the process with the crawler's main thread. On an idle
 * 2-core machine that is ~100 ms; with the demo sharing one core with two
 * busy loops its handshakes took up to 1.2 s, and 1 s lost 16 of 900 (and
 * 10-28 of 2,700 at load ~12). 5 s, the crawl's own default, holds with a 4x
 * margin and costs ~2 s of crawl time (silent nodes wait it out in parallel).
 */
export const DEMO_TIMEOUT_MS = 5000;

export interface DemoComparison {
  readonly reachableFound: number;
  readonly reachableTruth: number;
  /** Reachable in the truth and reported reachable with exactly the same version fields. */
  readonly exactFields: number;
  readonly failedFound: number;
  readonly failedTruth: number;
  readonly nonIpFound: number;
  readonly nonIpTruth: number;
  readonly peakInbound: number;
  readonly violations: number;
}

/** Compares crawl records with the simulator's ground truth. */
export function compareWithTruth(sim: SimNetwork, records: ReadonlyMap<string, NodeRecord>): DemoComparison {
  const truth = sim.truth();
  let reachableFound = 0;
  let exactFields = 0;
  for (const t of truth.reachable) {
    const r = records.get(t.addr);
    if (r?.state !== 'reachable') continue;
    reachableFound++;
    if (r.userAgent === t.userAgent && r.protocolVersion === t.protocolVersion && r.services === t.services && r.startHeight === t.startHeight) exactFields++;
  }
  const failedFound = truth.failed.filter((f) => records.get(f.addr)?.state === 'failed').length;
  const nonIpFound = truth.nonIp.filter((a) => records.get(a)?.state === 'skipped').length;
  const stats = sim.stats();
  return {
    reachableFound,
    reachableTruth: truth.reachable.length,
    exactFields,
    failedFound,
    failedTruth: truth.failed.length,
    nonIpFound,
    nonIpTruth: truth.nonIp.length,
    peakInbound: stats.peakInbound,
    violations: stats.violationCount,
  };
}

/**
 * The reachable nodes of the ground truth the crawl did not report reachable
 * (what it recorded for each instead): why a demo fell short.
 */
export function missingReachable(sim: SimNetwork, records: ReadonlyMap<string, NodeRecord>): Array<{ addr: string; behaviour: string; recorded: string }> {
  const out: Array<{ addr: string; behaviour: string; recorded: string }> = [];
  const truth = sim.truth();
  const behaviour = new Map(truth.nodes.map((n) => [n.addr, n.behaviour]));
  for (const t of truth.reachable) {
    const r = records.get(t.addr);
    if (r?.state === 'reachable') continue;
    const recorded = r === undefined ? 'never learned' : r.state === 'failed' ? `failed ${r.error ?? '?'}${r.detail === undefined ? '' : `/${r.detail}`}` : `skipped ${r.reason ?? '?'}`;
    out.push({ addr: t.addr, behaviour: behaviour.get(t.addr) ?? '?', recorded });
  }
  return out;
}

/** Lines naming the missing nodes and why (at most `limit`, then a count by cause). */
export function formatShortfall(missing: ReadonlyArray<{ addr: string; behaviour: string; recorded: string }>, limit = 20): string {
  const lines = [`missing ${missing.length} reachable node(s) of the ground truth:`];
  for (const m of missing.slice(0, limit)) lines.push(`  ${m.addr} (${m.behaviour}): ${m.recorded}`);
  if (missing.length > limit) {
    const byCause = new Map<string, number>();
    for (const m of missing) byCause.set(m.recorded, (byCause.get(m.recorded) ?? 0) + 1);
    lines.push(`  ... and ${missing.length - limit} more; all by cause: ${[...byCause].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  return lines.join('\n');
}

export function formatComparison(c: DemoComparison, cap: number): string {
  return (
    `ground truth: found ${c.reachableFound} of ${c.reachableTruth} reachable (${c.exactFields} with exact version fields), ` +
    `${c.failedFound} of ${c.failedTruth} failed, ${c.nonIpFound} of ${c.nonIpTruth} non-IP skipped; ` +
    `sim peak inbound ${c.peakInbound} (cap ${cap}); protocol violations ${c.violations}`
  );
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseOptions(argv, {
      nodes: { type: 'string' },
      seed: { type: 'string' },
      'max-peers': { type: 'string' },
      workers: { type: 'string' },
      timeout: { type: 'string' },
      'addr-quiet': { type: 'string' },
      latency: { type: 'string' },
      out: { type: 'string' },
      'log-level': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values['log-level'] !== undefined && !(LOG_LEVELS as readonly string[]).includes(values['log-level'])) {
      throw new UsageError('ERR_BAD_OPTION', `--log-level: expected one of ${LOG_LEVELS.join(', ')}`);
    }
  } catch (err) {
    return usageFailure('demo', (err as Error).message, HELP);
  }
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  let nodes: number, seed: number, maxPeers: number, timeoutMs: number, addrQuietMs: number;
  let workers: number | undefined;
  let latencyMs: number | undefined;
  try {
    nodes = values.nodes === undefined ? 3000 : parseInteger(values.nodes, '--nodes', 1, 200_000);
    seed = values.seed === undefined ? 1 : parseInteger(values.seed, '--seed', 0, 2 ** 31);
    maxPeers = values['max-peers'] === undefined ? 125 : parseInteger(values['max-peers'], '--max-peers', 1, 100_000);
    workers = values.workers === undefined ? undefined : parseInteger(values.workers, '--workers', 1, 254);
    timeoutMs = values.timeout === undefined ? DEMO_TIMEOUT_MS : parseDuration(values.timeout, '--timeout');
    addrQuietMs = values['addr-quiet'] === undefined ? 150 : parseDuration(values['addr-quiet'], '--addr-quiet');
    latencyMs = values.latency === undefined ? undefined : parseDuration(values.latency, '--latency');
  } catch (err) {
    return usageFailure('demo', (err as Error).message, HELP);
  }

  const logger = cliLogger(values['log-level'] ?? 'info');
  const sim = await startSimNetwork({ nodes, seed, ...(latencyMs === undefined ? {} : { latency: { medianMs: latencyMs } }) });
  logger.info({ nodes: sim.size, seeds: sim.seeds, base: sim.baseAddress }, 'simulated network up');
  const records = new Map<string, NodeRecord>();
  try {
    const crawler = new Crawler({
      network: sim.network,
      seeds: sim.seeds,
      only: ['127.0.0.0/8'],
      maxPeers,
      timeoutMs,
      addrQuietMs,
      logger,
      logLevel: values['log-level'] ?? 'info',
      ...(workers === undefined ? {} : { workers }),
      ...(values.out === undefined ? {} : { out: values.out }),
    });
    crawler.on('node', (r: NodeRecord) => records.set(r.addr, r));
    const result = await runCrawler(crawler);
    const cmp = compareWithTruth(sim, records);
    const missing = missingReachable(sim, records);
    const exact = cmp.exactFields === cmp.reachableTruth && cmp.violations === 0 && cmp.peakInbound <= maxPeers;
    const status = result.writeError !== null ? EXIT.WRITE : result.signal !== null ? signalExitCode(result.signal) : exact ? EXIT.OK : EXIT.MISMATCH;
    if (values.json === true) {
      const error = result.writeError === null ? null : { code: result.writeError.code, message: result.writeError.message };
      await writeStdout(JSON.stringify({ ...result.summary, groundTruth: cmp, missing, exitCode: status, error, signal: result.signal }) + '\n');
    } else {
      await writeStdout(formatSummary(result.summary) + '\n' + formatComparison(cmp, maxPeers) + '\n');
      // A stopped crawl is short by design; otherwise every missing node is named with what was recorded for it.
      if (missing.length > 0 && result.signal === null && result.writeError === null) await writeStdout(formatShortfall(missing) + '\n');
    }
    if (result.writeError !== null) process.stderr.write(`bitspread demo: ${result.writeError.code}: ${result.writeError.message}\n`);
    return status;
  } finally {
    await sim.close();
  }
}
