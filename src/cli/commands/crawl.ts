/**
 * `bitspread crawl`: crawl a network from seeds; NDJSON snapshot; summary.
 */
import { UsageError } from '../../errors.js';
import { NETWORKS, parseAddress } from '../../wire/index.js';
import type { NetworkName } from '../../wire/types.js';
import { Crawler } from '../../engine/crawler.js';
import type { CrawlOptions } from '../../engine/options.js';
import { formatSummary, type CrawlSummary } from '../../engine/record.js';
import { parseDnsServer } from '../../seeds/dns-seeds.js';
import { parseDuration, parseInteger, parseOptions } from '../args.js';
import { cliLogger, LOG_LEVELS } from '../logger.js';
import { attachProgress } from '../progress.js';
import { usageFailure } from '../usage.js';

const NETWORK_NAMES: readonly NetworkName[] = ['mainnet', 'testnet3', 'testnet4', 'signet', 'regtest'];

const HELP = `usage: bitspread crawl --only CIDR [--only CIDR...] (--seed host:port... | --dns-seed) [options]

  --network NAME      mainnet, testnet3, testnet4, signet, regtest (default mainnet)
  --seed host:port    a seed address (IP literal); repeatable
  --dns-seed          also resolve the network's DNS seeds
  --dns-server IP[:PORT]  DNS server for --dns-seed; repeatable; must be inside --only
                      (default: the system's resolvers, only if all inside --only)
  --only CIDR         allow-list; repeatable; REQUIRED unless --allow-any
  --allow-any         dial any address (explicit opt-out of the allow-list)
  --max-peers N       global cap on open connections (default 125)
  --timeout DURATION  time allowed for each step: connect, handshake, getaddr (default 5s)
  --addr-quiet DURATION  quiet period that ends a getaddr answer (default 1s)
  --workers N         worker threads (default: available parallelism - 1, min 1)
  --out FILE          NDJSON snapshot, one line per distinct address learned
  --mode crawl|node   crawl: visit every address once; node: keep long-lived peers until Ctrl-C
  --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default info)
  --max-known N       most distinct addresses kept in memory (default 10000000)
  --max-addrs-per-source N  new addresses one peer may add (default 2500)
  --max-addrs-per-group N   new addresses the peers of one /16 (IPv4) or /32 (IPv6) may add (default 65536)
  --max-ports-per-ip N      distinct ports per IP taken from gossip (default 3)
`;

/** Parses argv into CrawlOptions; throws UsageError with a clear message. */
export function parseCrawlArgs(argv: string[]): CrawlOptions | 'help' {
  const v = parseOptions(argv, {
    network: { type: 'string' },
    seed: { type: 'string', multiple: true },
    'dns-seed': { type: 'boolean' },
    'dns-server': { type: 'string', multiple: true },
    only: { type: 'string', multiple: true },
    'allow-any': { type: 'boolean' },
    'max-peers': { type: 'string' },
    timeout: { type: 'string' },
    'addr-quiet': { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string' },
    mode: { type: 'string' },
    'log-level': { type: 'string' },
    'max-known': { type: 'string' },
    'max-addrs-per-source': { type: 'string' },
    'max-addrs-per-group': { type: 'string' },
    'max-ports-per-ip': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help === true) return 'help';
  const network = (v.network ?? 'mainnet') as NetworkName;
  if (!NETWORK_NAMES.includes(network)) throw new UsageError('ERR_BAD_OPTION', `--network: expected one of ${NETWORK_NAMES.join(', ')}, got '${v.network}'`);
  const mode = v.mode ?? 'crawl';
  if (mode !== 'crawl' && mode !== 'node') throw new UsageError('ERR_BAD_OPTION', `--mode: expected crawl or node, got '${mode}'`);
  const only = v.only ?? [];
  if (only.length === 0 && v['allow-any'] !== true) throw new UsageError('ERR_BAD_OPTION', '--only CIDR is required (or --allow-any, explicitly)');
  const seeds = v.seed ?? [];
  for (const seed of seeds) {
    try {
      parseAddress(seed, NETWORKS[network].defaultPort);
    } catch {
      throw new UsageError('ERR_BAD_ARGUMENT', `--seed: expected an IP address and port like 127.0.0.1:8333 or [::1]:8333, got '${seed}'`);
    }
  }
  if (seeds.length === 0 && v['dns-seed'] !== true) throw new UsageError('ERR_BAD_OPTION', 'give at least one --seed host:port, or --dns-seed');
  const logLevel = v['log-level'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError('ERR_BAD_OPTION', `--log-level: expected one of ${LOG_LEVELS.join(', ')}`);
  const opts: CrawlOptions = {
    network,
    seeds,
    only,
    allowAny: v['allow-any'] === true,
    mode,
    logLevel,
    dnsSeeds: v['dns-seed'] === true,
    dnsServers: (v['dns-server'] ?? []).map(parseDnsServer),
    ...(v['max-peers'] !== undefined ? { maxPeers: parseInteger(v['max-peers'], '--max-peers', 1, 100_000) } : {}),
    ...(v.workers !== undefined ? { workers: parseInteger(v.workers, '--workers', 1, 254) } : {}),
    ...(v.timeout !== undefined ? { timeoutMs: parseDuration(v.timeout, '--timeout') } : {}),
    ...(v['addr-quiet'] !== undefined ? { addrQuietMs: parseDuration(v['addr-quiet'], '--addr-quiet') } : {}),
    ...(v.out !== undefined ? { out: v.out } : {}),
    ...(v['max-known'] !== undefined ? { maxKnown: parseInteger(v['max-known'], '--max-known', 1, 1_000_000_000) } : {}),
    ...(v['max-addrs-per-source'] !== undefined ? { maxAddrsPerSource: parseInteger(v['max-addrs-per-source'], '--max-addrs-per-source', 1, 1_000_000_000) } : {}),
    ...(v['max-addrs-per-group'] !== undefined ? { maxAddrsPerSourceGroup: parseInteger(v['max-addrs-per-group'], '--max-addrs-per-group', 1, 1_000_000_000) } : {}),
    ...(v['max-ports-per-ip'] !== undefined ? { maxPortsPerHost: parseInteger(v['max-ports-per-ip'], '--max-ports-per-ip', 1, 65_535) } : {}),
  };
  return opts;
}

/** Runs a crawler with CLI behaviour: progress line on a TTY, Ctrl-C stops cleanly. */
export async function runCrawler(crawler: Crawler): Promise<CrawlSummary> {
  const detach = attachProgress(crawler, process.stdout);
  const onSigint = (): void => {
    process.stderr.write('\nstopping (Ctrl-C again to force)...\n');
    process.once('SIGINT', () => process.exit(130));
    void crawler.stop();
  };
  process.once('SIGINT', onSigint);
  try {
    return await crawler.start();
  } finally {
    process.removeListener('SIGINT', onSigint);
    detach();
  }
}

export async function run(argv: string[]): Promise<number> {
  let opts: CrawlOptions | 'help';
  try {
    opts = parseCrawlArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return usageFailure('crawl', err.message, HELP);
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const logger = cliLogger(opts.logLevel ?? 'info');
  const crawler = new Crawler({ ...opts, logger });
  const summary = await runCrawler(crawler);
  process.stdout.write(formatSummary(summary) + '\n');
  return 0;
}
