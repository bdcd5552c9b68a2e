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
import { parseBudgets, type ReachOptions } from '../../shared/reach.js';
import { parseDenyList } from '../../shared/routable.js';
import { readFileSync } from 'node:fs';
import { parseDuration, parseInteger, parseOptions } from '../args.js';
import { cliLogger, LOG_LEVELS } from '../logger.js';
import { attachProgress } from '../progress.js';
import { usageFailure } from '../usage.js';

const NETWORK_NAMES: readonly NetworkName[] = ['mainnet', 'testnet3', 'testnet4', 'signet', 'regtest'];

const HELP = `usage: bitspread crawl --only CIDR [--only CIDR...] (--seed host:port... | --dns-seed) [options]

  --network NAME      mainnet, testnet3, testnet4, signet, regtest (default mainnet)
  --seed host:port    a seed address (IP literal); repeatable
  --dns-seed          also resolve the network's DNS seeds (Core's list; x9 subdomain, then the bare name)
  --dns-server IP[:PORT]  DNS server for --dns-seed; repeatable; must be inside --only
                      (default: the system's resolvers, only if all inside --only)
  --dns-service-bits HEX  service bits asked of DNS seeds (default 9; 0 = bare names only)
  --fixed-seeds       also dial Core's fixed seeds for the network from the start
  --no-fixed-seeds    never use them (default: only when --dns-seed gives nothing, as Core)
  --only CIDR         allow-list; repeatable; REQUIRED unless --allow-any; governs every socket,
                      proxies and SAM bridges included
  --allow-any         dial any IP address (explicit opt-out of the allow-list); unroutable ranges
                      (private, loopback, link-local, documentation, reserved...) are still skipped
  --deny-list FILE    with --allow-any: CIDRs never dialled, one per line (# comments)
  --per-netgroup N    with --allow-any: at most N addresses dialled per /16 (IPv4) or /32 (IPv6)
  --via-tor           dial .onion addresses (through --tor-proxy)
  --tor-proxy HOST:PORT  Tor SOCKS5 proxy (inside --only); repeatable: used in turn
  --tor-proxy-budget N   connections open at once per Tor proxy (default: the onion budget)
  --no-stream-isolation  do not send random SOCKS5 credentials per connection (default: send them,
                      so Tor's IsolateSOCKSAuth gives each peer its own circuit)
  --via-i2p           dial .b32.i2p addresses (through --i2p-sam)
  --i2p-sam HOST:PORT I2P SAM v3.1 bridge (inside --only)
  --cjdns             this host is on CJDNS: dial fc00::/8 addresses (Core's -cjdnsreachable)
  --proxy HOST:PORT[=NET,...]  SOCKS5 proxy for IPv4, IPv6 and CJDNS (or only the networks named)
  --budget NET=N,...  most peers in flight per network inside --max-peers
                      (default: ipv4/ipv6/cjdns the cap, onion a quarter, i2p an eighth)
  --onion-timeout DURATION  connect timeout through Tor (default 30s)
  --i2p-timeout DURATION    connect timeout through I2P (default 60s)
  --max-peers N       global cap on open connections (default 125)
  --timeout DURATION  time allowed for each step: connect, handshake, getaddr (default 5s)
  --addr-quiet DURATION  quiet period that ends a getaddr answer (default 1s)
  --workers N         worker threads (default: available parallelism - 1, min 1)
  --out FILE          NDJSON snapshot, one line per distinct address learned
  --mode crawl|node   crawl: visit every address once; node: keep long-lived peers until Ctrl-C
  --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default info)
`;

/** Parses argv into CrawlOptions; throws UsageError with a clear message. */
export function parseCrawlArgs(argv: string[]): CrawlOptions | 'help' {
  const v = parseOptions(argv, {
    network: { type: 'string' },
    seed: { type: 'string', multiple: true },
    'dns-seed': { type: 'boolean' },
    'dns-server': { type: 'string', multiple: true },
    'dns-service-bits': { type: 'string' },
    'fixed-seeds': { type: 'boolean' },
    'no-fixed-seeds': { type: 'boolean' },
    'deny-list': { type: 'string' },
    'per-netgroup': { type: 'string' },
    'via-tor': { type: 'boolean' },
    'tor-proxy': { type: 'string', multiple: true },
    'tor-proxy-budget': { type: 'string' },
    'no-stream-isolation': { type: 'boolean' },
    'via-i2p': { type: 'boolean' },
    'i2p-sam': { type: 'string' },
    cjdns: { type: 'boolean' },
    proxy: { type: 'string' },
    budget: { type: 'string', multiple: true },
    'onion-timeout': { type: 'string' },
    'i2p-timeout': { type: 'string' },
    only: { type: 'string', multiple: true },
    'allow-any': { type: 'boolean' },
    'max-peers': { type: 'string' },
    timeout: { type: 'string' },
    'addr-quiet': { type: 'string' },
    workers: { type: 'string' },
    out: { type: 'string' },
    mode: { type: 'string' },
    'log-level': { type: 'string' },
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
  if (seeds.length === 0 && v['dns-seed'] !== true && v['fixed-seeds'] !== true) throw new UsageError('ERR_BAD_OPTION', 'give at least one --seed host:port, or --dns-seed, or --fixed-seeds');
  if (v['fixed-seeds'] === true && v['no-fixed-seeds'] === true) throw new UsageError('ERR_BAD_OPTION', '--fixed-seeds and --no-fixed-seeds contradict each other');
  if ((v['deny-list'] !== undefined || v['per-netgroup'] !== undefined) && v['allow-any'] !== true) {
    throw new UsageError('ERR_BAD_OPTION', '--deny-list and --per-netgroup refine --allow-any; with --only the allow-list alone decides');
  }
  const serviceBits = v['dns-service-bits'];
  if (serviceBits !== undefined && !/^(0x)?[0-9a-fA-F]{1,8}$/.test(serviceBits)) throw new UsageError('ERR_BAD_OPTION', `--dns-service-bits: expected hex like 9 or 809, got '${serviceBits}'`);
  const reach: ReachOptions = {
    torProxies: v['tor-proxy'] ?? [],
    viaTor: v['via-tor'] === true,
    viaI2p: v['via-i2p'] === true,
    cjdns: v.cjdns === true,
    isolate: v['no-stream-isolation'] !== true,
    ...(v['i2p-sam'] !== undefined ? { i2pSam: v['i2p-sam'] } : {}),
    ...(v.proxy !== undefined ? { proxy: v.proxy } : {}),
    ...(v['tor-proxy-budget'] !== undefined ? { torProxyBudget: parseInteger(v['tor-proxy-budget'], '--tor-proxy-budget', 1, 100_000) } : {}),
    connectMs: {
      ...(v['onion-timeout'] !== undefined ? { onion: parseDuration(v['onion-timeout'], '--onion-timeout') } : {}),
      ...(v['i2p-timeout'] !== undefined ? { i2p: parseDuration(v['i2p-timeout'], '--i2p-timeout') } : {}),
    },
  };
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
    dnsServers: (v['dns-server'] ?? []).map((t) => parseDnsServer(t).server),
    reach,
    fixedSeeds: v['fixed-seeds'] === true ? true : v['no-fixed-seeds'] === true ? false : 'fallback',
    ...(serviceBits !== undefined ? { dnsServiceBits: parseInt(serviceBits.replace(/^0x/, ''), 16) } : {}),
    ...(v.budget !== undefined ? { budgets: parseBudgets(v.budget) } : {}),
    ...(v['deny-list'] !== undefined ? { denyList: readDenyList(v['deny-list']) } : {}),
    ...(v['per-netgroup'] !== undefined ? { perNetgroup: parseInteger(v['per-netgroup'], '--per-netgroup', 1, 1_000_000) } : {}),
    ...(v['max-peers'] !== undefined ? { maxPeers: parseInteger(v['max-peers'], '--max-peers', 1, 100_000) } : {}),
    ...(v.workers !== undefined ? { workers: parseInteger(v.workers, '--workers', 1, 254) } : {}),
    ...(v.timeout !== undefined ? { timeoutMs: parseDuration(v.timeout, '--timeout') } : {}),
    ...(v['addr-quiet'] !== undefined ? { addrQuietMs: parseDuration(v['addr-quiet'], '--addr-quiet') } : {}),
    ...(v.out !== undefined ? { out: v.out } : {}),
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

/** The CIDRs of a --deny-list file (ERR_BAD_CIDR names a bad line; an unreadable file is ERR_BAD_OPTION). */
function readDenyList(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError('ERR_BAD_OPTION', `--deny-list: cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseDenyList(text, path)?.toArray() ?? [];
}
