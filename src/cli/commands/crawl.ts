/**
 * `bitspread crawl`: crawl a network from seeds; NDJSON snapshot; summary.
 */
import { ClusterError, RunError, UsageError } from '../../errors.js';
import { NETWORKS, parseAddress } from '../../wire/index.js';
import type { NetworkName } from '../../wire/types.js';
import { Crawler } from '../../engine/crawler.js';
import type { CrawlOptions } from '../../engine/options.js';
import { formatSummary, type CrawlSummary, type NodeRecord } from '../../engine/record.js';
import type { Store } from '../../store/store.js';
import { CrawlMetrics, parseListenAddress } from '../../metrics/metrics.js';
import { takeOptions } from '../split-args.js';
import { parseDnsServer } from '../../seeds/dns-seeds.js';
import { parseBudgets, type ReachOptions } from '../../shared/reach.js';
import { parseDenyList } from '../../shared/routable.js';
import { readFileSync } from 'node:fs';
import { AllowList } from '../../shared/allow-list.js';
import { EXIT, exitCodeFor, signalExitCode, STOP_SIGNALS, uselessCrawl, type StopSignal } from '../exit-codes.js';
import { writeStdout } from '../output.js';
import { parseDuration, parseInteger, parseOptions } from '../args.js';
import { cliLogger, LOG_LEVELS } from '../logger.js';
import { attachProgress, PROGRESS_LINE_MS } from '../progress.js';
import { usageFailure } from '../usage.js';
import { parseTransportOption } from '../../shared/transport.js';

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
  --tor-proxy-budget N   connections open at once per Tor proxy (default: 64, at most the onion budget)
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
  --max-peers N       global cap on open connections (default: crawl mode
                      from the open-file limit, up to 1000; node mode 125)
  --timeout DURATION  time allowed for each step: connect, handshake, getaddr (default 5s)
  --addr-quiet DURATION  quiet period that ends a getaddr answer (default: adaptive:
                      a full answer ends at once, else 2 round trips, 50ms-1s)
  --workers N         worker threads (default: available parallelism - 1, min 1)
  --out FILE          NDJSON snapshot, one line per distinct address learned ('-': stdout,
                      and the summary goes to stderr)
  --mode crawl|node   crawl: visit every address once; node: keep long-lived peers until stopped
  --json              print the summary as one JSON object on stdout
  --progress DURATION progress line interval when stderr is not a terminal (default 5s)
  --transport auto|v1|v2  BIP324: auto (default) dials v2 when gossip says the node
                      advertises NODE_P2P_V2 and retries v1 once if the peer closes
                      the v2 handshake without a byte; v1 only; v2 only (no fallback)
  --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default info)
  --store FILE        also record the crawl in this SQLite history (see bitspread watch)
  --metrics HOST:PORT serve Prometheus metrics at http://HOST:PORT/metrics while crawling
  --max-known N       most distinct addresses kept in memory (default 10000000)
  --max-addrs-per-source N  new addresses one peer may add (default 2500)
  --max-addrs-per-group N   new addresses the peers of one /16 (IPv4) or /32 (IPv6) may add (default 65536)
  --max-ports-per-ip N      distinct ports per IP taken from gossip (default 3)

Logs and progress go to stderr (a live line on a terminal, else a line every
5 s); the summary goes to stdout. SIGINT (Ctrl-C), SIGTERM and SIGHUP stop the
crawl cleanly: open peers are closed and recorded, queued ones recorded
'skipped stopped', the summary printed.

Many processes, one crawl (docs/CLUSTER.md):
  --redis URL         redis://host:port/db: join the crawl kept in this Redis (the host must be
                      an IP inside --only); a process with seeds starts it, one without only joins
  --redis-name NAME   the crawl's name in that Redis (default 'default')
  --redis-lease DURATION  how long a dead process's work and cap slots stay claimed (default 30s)

Exit status: 0 done; 2 bad arguments; 3 nothing inside --only; 4 no node
reachable; 5 the DNS seeds gave no address; 7 the snapshot or stdout could
not be written; 8 --redis: Redis unreachable or its crawl state lost (the crawl
stopped cleanly); 128+N stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP;
0 in node mode, which ends only so); 70 internal error.
`;

/** What the CLI adds to CrawlOptions: --json, and --out - (the snapshot on stdout). */
export interface CrawlCliOptions extends CrawlOptions {
  readonly json: boolean;
  readonly stdoutSnapshot: boolean;
  /** Interval of progress lines when stderr is not a terminal. */
  readonly progressLineMs: number;
}

/** Parses argv into CrawlOptions; throws UsageError with a clear message. */
export function parseCrawlArgs(argv: string[], how: { seedsOptional?: boolean } = {}): CrawlCliOptions | 'help' {
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
    transport: { type: 'string' },
    'log-level': { type: 'string' },
    json: { type: 'boolean' },
    progress: { type: 'string' },
    'max-known': { type: 'string' },
    'max-addrs-per-source': { type: 'string' },
    'max-addrs-per-group': { type: 'string' },
    'max-ports-per-ip': { type: 'string' },
    redis: { type: 'string' },
    'redis-name': { type: 'string' },
    'redis-lease': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help === true) return 'help';
  if (v.json === true && v.out === '-') throw new UsageError('ERR_BAD_OPTION', '--json and --out - both write to stdout: give --out a file');
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
  if (seeds.length === 0 && v['dns-seed'] !== true && v['fixed-seeds'] !== true && v.redis === undefined && how.seedsOptional !== true) {
    throw new UsageError('ERR_BAD_OPTION', 'give at least one --seed host:port, or --dns-seed, or --fixed-seeds (or --redis URL to join a running crawl)');
  }
  if (v.redis === undefined && (v['redis-name'] !== undefined || v['redis-lease'] !== undefined)) {
    throw new UsageError('ERR_BAD_OPTION', '--redis-name and --redis-lease need --redis URL');
  }
  if (v.redis !== undefined && mode !== 'crawl') throw new UsageError('ERR_BAD_OPTION', '--redis: a multi-process crawl runs in crawl mode only');
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
  const opts: CrawlCliOptions = {
    json: v.json === true,
    stdoutSnapshot: v.out === '-',
    progressLineMs: v.progress === undefined ? PROGRESS_LINE_MS : parseDuration(v.progress, '--progress'),
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
    ...(v.out !== undefined && v.out !== '-' ? { out: v.out } : {}),
    ...(v['max-known'] !== undefined ? { maxKnown: parseInteger(v['max-known'], '--max-known', 1, 1_000_000_000) } : {}),
    ...(v['max-addrs-per-source'] !== undefined ? { maxAddrsPerSource: parseInteger(v['max-addrs-per-source'], '--max-addrs-per-source', 1, 1_000_000_000) } : {}),
    ...(v['max-addrs-per-group'] !== undefined ? { maxAddrsPerSourceGroup: parseInteger(v['max-addrs-per-group'], '--max-addrs-per-group', 1, 1_000_000_000) } : {}),
    ...(v['max-ports-per-ip'] !== undefined ? { maxPortsPerHost: parseInteger(v['max-ports-per-ip'], '--max-ports-per-ip', 1, 65_535) } : {}),
    ...(v.redis !== undefined
      ? {
          redis: {
            url: v.redis,
            ...(v['redis-name'] !== undefined ? { name: v['redis-name'] } : {}),
            ...(v['redis-lease'] !== undefined ? { leaseMs: parseDuration(v['redis-lease'], '--redis-lease') } : {}),
          },
        }
      : {}),
    transport: parseTransportOption(v.transport, '--transport'),
  };
  return opts;
}

export interface CrawlRunResult {
  readonly summary: CrawlSummary;
  /** The signal that stopped the crawl, if one did. */
  readonly signal: StopSignal | null;
  /** The snapshot became unwritable and the crawl stopped (ERR_WRITE). */
  readonly writeError: RunError | null;
}

/**
 * Runs a crawler with CLI behaviour: progress on stderr, and SIGINT (Ctrl-C),
 * SIGTERM (systemd, docker) and SIGHUP all stop it cleanly: no new dials,
 * open peers closed and recorded, queued ones recorded skipped `stopped`,
 * the snapshot completed. A second signal exits at once.
 */
export async function runCrawler(crawler: Crawler, progressMs = PROGRESS_LINE_MS): Promise<CrawlRunResult> {
  const detach = attachProgress(crawler, process.stderr, progressMs);
  let signal: StopSignal | null = null;
  const handlers = STOP_SIGNALS.map((sig) => {
    const handler = (): void => {
      if (signal !== null) process.exit(signalExitCode(sig));
      signal = sig;
      process.stderr.write(`\n${sig}: stopping, completing the snapshot (send it again to quit at once)...\n`);
      void crawler.stop();
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  try {
    const summary = await crawler.start();
    return { summary, signal, writeError: null };
  } catch (err) {
    if (err instanceof RunError && err.code === 'ERR_WRITE' && err.summary !== undefined) {
      return { summary: err.summary as CrawlSummary, signal, writeError: err };
    }
    throw err;
  } finally {
    for (const [sig, handler] of handlers) process.removeListener(sig, handler);
    detach();
  }
}

/**
 * The exit status of a finished crawl run, with its message (null: success).
 * A write error wins, then a stopping signal (node mode ends only so: 0),
 * then a crawl that did nothing useful.
 */
export function crawlExit(r: CrawlRunResult, mode: 'crawl' | 'node'): { code: number; error: RunError | null } {
  if (r.writeError !== null) return { code: EXIT.WRITE, error: r.writeError };
  if (r.signal !== null) return { code: mode === 'node' ? EXIT.OK : signalExitCode(r.signal), error: null };
  const useless = mode === 'crawl' ? uselessCrawl(r.summary) : null;
  return useless === null ? { code: EXIT.OK, error: null } : { code: exitCodeFor(useless), error: useless };
}

/** The --json summary: the crawl's figures and how the run ended. */
export function jsonSummary(r: CrawlRunResult, exit: { code: number; error: RunError | null }, extra: Record<string, unknown> = {}): string {
  return (
    JSON.stringify({
      ...r.summary,
      ...extra,
      exitCode: exit.code,
      error: exit.error === null ? null : { code: exit.error.code, message: exit.error.message },
      signal: r.signal,
    }) + '\n'
  );
}

/**
 * Seeds given, no DNS seeds, and not one seed inside --only: nothing would
 * be dialled, so say so before starting (a bare address in --only allows
 * only itself, a common slip for a /8 or /24).
 */
function checkSeedsAllowed(opts: CrawlOptions): RunError | null {
  if (opts.allowAny === true || opts.dnsSeeds === true || (opts.seeds ?? []).length === 0) return null;
  const allow = AllowList.parse(opts.only ?? []);
  const port = NETWORKS[opts.network ?? 'mainnet'].defaultPort;
  if ((opts.seeds ?? []).some((seed) => allow.allows(parseAddress(seed, port)))) return null;
  const bare = (opts.only ?? []).filter((c) => !c.includes('/'));
  const hint =
    bare.length > 0
      ? `; note: an --only without a prefix length is one address (${bare.map((b) => `${b} = ${b}/${b.includes(':') ? 128 : 32}`).join(', ')}); write e.g. ${bare[0]}/${bare[0]!.includes(':') ? 64 : 8} for a block`
      : '';
  return new RunError('ERR_NOTHING_ALLOWED', `none of the seeds (${(opts.seeds ?? []).join(', ')}) is inside --only ${(opts.only ?? []).join(' --only ')}: nothing would be dialled${hint}`);
}

export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseCrawlArgs>;
  let storePath: string | undefined;
  let metricsAt: { host: string; port: number } | null = null;
  try {
    const { taken, rest } = takeOptions(argv, { store: 'string', metrics: 'string' });
    storePath = taken.store as string | undefined;
    if (taken.metrics !== undefined) metricsAt = parseListenAddress(taken.metrics as string);
    parsed = parseCrawlArgs(rest);
  } catch (err) {
    if (err instanceof UsageError) return usageFailure('crawl', err.message, HELP);
    throw err;
  }
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  const { json, stdoutSnapshot, progressLineMs, ...opts } = parsed;
  const early = checkSeedsAllowed(opts);
  if (early !== null) {
    process.stderr.write(`bitspread crawl: ${early.code}: ${early.message}\n`);
    return exitCodeFor(early);
  }
  const logger = cliLogger(opts.logLevel ?? 'info');
  let crawler: Crawler;
  try {
    crawler = new Crawler({ ...opts, ...(stdoutSnapshot ? { out: process.stdout } : {}), logger });
  } catch (err) {
    if (err instanceof UsageError) return usageFailure('crawl', err.message, HELP);
    throw err;
  }
  // Loaded only when asked for: a crawl without --store never needs the native SQLite module.
  const store: Store | null = storePath === undefined ? null : (await import('../../store/store.js')).Store.open(storePath);
  const metrics = metricsAt === null ? null : new CrawlMetrics();
  let result: CrawlRunResult;
  try {
    if (store !== null) {
      store.beginCrawl({ id: crawler.crawlId, kind: 'crawl', network: opts.network ?? 'mainnet' });
      crawler.on('node', (rec: NodeRecord) => store.add(rec));
    }
    if (metrics !== null && metricsAt !== null) {
      const at = await metrics.serve(metricsAt.host, metricsAt.port);
      process.stderr.write(`metrics: http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}/metrics\n`);
      metrics.attach(crawler);
    }
    result = await runCrawler(crawler, progressLineMs);
    store?.finishCrawl(crawler.crawlId, result.summary.stopped ? 'stopped' : 'done', result.summary);
  } catch (err) {
    // --redis: the crawl stopped cleanly (sockets closed, snapshot complete up to here) because Redis failed.
    if (err instanceof ClusterError) {
      process.stderr.write(`bitspread crawl: ${err.code}: ${err.message}\n`);
      return exitCodeFor(err);
    }
    throw err;
  } finally {
    store?.close();
    await metrics?.close();
  }
  const exit = crawlExit(result, opts.mode ?? 'crawl');
  // With the snapshot on stdout (--out -) the human summary goes to stderr.
  if (json) await writeStdout(jsonSummary(result, exit));
  else if (stdoutSnapshot) process.stderr.write(formatSummary(result.summary) + '\n');
  else await writeStdout(formatSummary(result.summary) + '\n');
  if (exit.error !== null) process.stderr.write(`bitspread crawl: ${exit.error.code}: ${exit.error.message}\n`);
  return exit.code;
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
