/**
 * Crawl options with their defaults, validated once on the main thread.
 */
import { readFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { UsageError } from '../errors.js';
import type { AddressNetwork, NetworkName } from '../wire/types.js';
import type { ReachOptions } from '../shared/reach.js';
import { NETWORKS, parseAddress } from '../wire/index.js';
import type { PeerCap } from '../shared/peer-cap.js';
import type { SupervisorOptions } from '../supervisor/dynamic-supervisor.js';
import type { CrawlMode, PeerTimeouts } from '../shared/messages.js';
import type { CoordinatorOptions } from '../cluster/options.js';
import { parseTransportOption, type TransportOption } from '../shared/transport.js';
import { defaultWorkerCount } from './worker-pool.js';
import { DEFAULT_MAX_PER_SOURCE, DEFAULT_MAX_PER_SOURCE_GROUP, DEFAULT_MAX_PORTS_PER_HOST, type GossipLimits } from './gossip-policy.js';

export interface CrawlOptions {
  /** Seed addresses, `host:port` (IP literals; `[v6]:port`). */
  readonly seeds?: readonly string[];
  /** Default 'mainnet': sets the magic and the default port. */
  readonly network?: NetworkName;
  /** Allow-list CIDRs. Required unless `allowAny` is set explicitly. */
  readonly only?: readonly string[];
  readonly allowAny?: boolean;
  /**
   * Global cap on open connections. Default: node mode 125 (Core's default);
   * crawl mode crawlMaxPeersFor(the file-descriptor limit), up to 1,000.
   */
  readonly maxPeers?: number;
  /** Worker threads (default: os.availableParallelism() - 1, at least 1). */
  readonly workers?: number;
  /** 'crawl' visits every address once; 'node' keeps long-lived peers until stopped. */
  readonly mode?: CrawlMode;
  /** Time allowed for each step (connect, handshake, getaddr answer); default 5000 ms. */
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  readonly getaddrTimeoutMs?: number;
  /**
   * Quiet period after a multi-entry addr answer before a visit ends. Given:
   * exactly this long. Default: adaptive (a full 1,000-entry answer ends the
   * visit at once, a shorter one after max(50 ms, 2 connect round trips),
   * at most 1000 ms).
   */
  readonly addrQuietMs?: number;
  /** Node mode keepalive (default 120 s, Core's PING_INTERVAL) and its timeout (default 20 min). */
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
  /** Resolution of the per-worker deadline tick (default: a tenth of the shortest deadline, 2-20 ms). */
  readonly tickMs?: number;
  /** Snapshot destination: a file path or a stream (not closed by us). */
  readonly out?: string | Writable;
  /** Also resolve the network's DNS seeds. */
  readonly dnsSeeds?: boolean;
  /** DNS servers for the seeds, e.g. ['127.0.0.1:5353'] (default: the system's). */
  readonly dnsServers?: readonly string[];
  /** pino level for the main thread and the workers (default 'silent' for the library). */
  readonly logLevel?: string;
  readonly logger?: Logger;
  /**
   * Share a cap with other users (e.g. probeNode, another crawler); default: a new cap of maxPeers.
   * It needs at least `workers` worker slots (PeerCap.create(max, slots)), else ERR_BAD_OPTION.
   */
  readonly cap?: PeerCap;
  readonly supervisor?: SupervisorOptions;
  /** Crawl mode: re-queue (once) the peers a crashed worker held, instead of failing them. Default true. */
  readonly retryCrashedPeers?: boolean;
  /** Interval of 'progress' events (default 500 ms). */
  readonly progressMs?: number;
  /**
   * Most distinct addresses kept (default 10,000,000, ~1-2 GB of frontier).
   * Beyond it new addresses are counted (`stats().notStored`) but neither
   * stored, recorded nor dialled: a bound on memory whatever peers send.
   */
  readonly maxKnown?: number;
  /** New addresses one learned-from peer may add (default 2,500); more are dropped and counted. */
  readonly maxAddrsPerSource?: number;
  /** New addresses all peers of one source netgroup (/16 IPv4, /32 IPv6) may add (default 65,536). */
  readonly maxAddrsPerSourceGroup?: number;
  /** Distinct ports per IP taken from gossip (default 3); more are recorded skipped `port-limit`. */
  readonly maxPortsPerHost?: number;
  /**
   * Each worker thread's V8 heap limit in MB (default: V8's). A worker that
   * goes over dies (ERR_WORKER_OUT_OF_MEMORY) and is replaced like a crash.
   */
  readonly workerMaxHeapMb?: number;
  /**
   * Crawl as one of many processes sharing a Redis (crawl mode only):
   * `redis://host:port/db`, or the URL with the cluster's options (crawl
   * name, lease, batch size, deliveries before an address is poisoned).
   * `maxPeers` is then the global cap (of the process that starts the
   * crawl). The Redis host must be inside `only`. See docs/CLUSTER.md.
   */
  readonly redis?: string | CoordinatorOptions;
  /**
   * Reaching beyond IPv4/IPv6 (src/shared/reach.ts): Tor proxies and
   * `viaTor`, an I2P SAM bridge and `viaI2p`, `cjdns`, a SOCKS5 `proxy` for
   * IP networks, stream isolation, per-network connect timeouts.
   */
  readonly reach?: ReachOptions;
  /** Most peers in flight per network, inside maxPeers (default: IP all, Tor a quarter, I2P an eighth). */
  readonly budgets?: Partial<Record<AddressNetwork, number>>;
  /** Dial Core's fixed seeds for the network: true = from the start; default 'fallback' = when DNS seeds give nothing; false = never. */
  readonly fixedSeeds?: boolean | 'fallback';
  /** Service bits asked of DNS seeds (`x<hex>.` subdomain); default 9 (NODE_NETWORK | NODE_WITNESS); 0 = bare names. */
  readonly dnsServiceBits?: number;
  /**
   * Hygiene (only with allowAny, where nothing else stops the crawler from
   * dialling private or reserved ranges): CIDRs never dialled, and at most
   * this many addresses per network group (/16 IPv4, /32 IPv6). Unroutable
   * addresses are always skipped under allowAny.
   */
  readonly denyList?: readonly string[];
  readonly perNetgroup?: number;
  /** Stamped on every record (default: a random UUID). */
  readonly crawlId?: string;
  /** Addresses to dial besides the seeds (a watch round's revisits; their records say `source: "store"`). */
  readonly revisit?: readonly string[];
  /**
   * Called once for each new address a peer gossips: false keeps it out of
   * this crawl (neither dialled nor recorded). A watch round uses it to skip
   * addresses its store knows and does not want to revisit yet.
   */
  readonly admit?: (addr: string, network: AddressNetwork) => boolean;
  /**
   * Transport of each dial (src/shared/transport.ts): 'auto' (default, Core's
   * policy: v2 when gossip says NODE_P2P_V2, one v1 retry if the peer closes
   * the v2 handshake having sent nothing), 'v1' or 'v2' (v2 only, no fallback).
   */
  readonly transport?: TransportOption;
}

export interface ResolvedOptions {
  readonly seeds: readonly string[];
  readonly network: NetworkName;
  readonly only: readonly string[];
  readonly allowAny: boolean;
  readonly maxPeers: number;
  readonly workers: number;
  readonly mode: CrawlMode;
  readonly timeouts: PeerTimeouts;
  readonly tickMs: number;
  readonly dnsSeeds: boolean;
  readonly dnsServers: readonly string[];
  readonly logLevel: string;
  readonly retryCrashedPeers: boolean;
  readonly progressMs: number;
  readonly maxKnown: number;
  readonly gossip: GossipLimits;
  readonly workerMaxHeapMb: number | undefined;
  readonly reach: ReachOptions;
  readonly budgets: Partial<Record<AddressNetwork, number>>;
  readonly fixedSeeds: boolean | 'fallback';
  readonly dnsServiceBits: number;
  readonly denyList: readonly string[];
  readonly perNetgroup: number | undefined;
  readonly transport: TransportOption;
}

export const DEFAULT_MAX_PEERS = 125;
export const DEFAULT_STEP_TIMEOUT_MS = 5000;
export const DEFAULT_ADDR_QUIET_MS = 1000;
export const DEFAULT_MAX_KNOWN = 10_000_000;
/** The adaptive quiet period's floor (workers/peer-connection.ts MIN_QUIET_MS), for the tick resolution. */
const ADAPTIVE_QUIET_FLOOR_MS = 50;

/** Crawl mode's default cap never exceeds this (bitnodes runs 700 sockets per crawler process). */
export const CRAWL_MAX_PEERS_CEILING = 1000;
/** Descriptors left for everything that is not a peer socket: workers' event loops, the snapshot, logs, DNS. */
export const FD_RESERVE = 256;

/**
 * Crawl mode's default connection cap for a process allowed `fdLimit` open
 * files: every descriptor but FD_RESERVE may be a peer socket, at least
 * DEFAULT_MAX_PEERS, at most CRAWL_MAX_PEERS_CEILING. A crawl spends most of
 * each visit waiting on the network (connect round trips, dead addresses'
 * connect timeouts), so its speed is the number of slots divided by the time
 * a visit holds one: Core's 125 made the default crawl 2.8× slower than
 * bitnodes' 700 sockets (docs/PERFORMANCE.md).
 */
export function crawlMaxPeersFor(fdLimit: number | null): number {
  if (fdLimit === null || Number.isNaN(fdLimit)) return DEFAULT_MAX_PEERS;
  if (fdLimit === Infinity) return CRAWL_MAX_PEERS_CEILING;
  return Math.max(DEFAULT_MAX_PEERS, Math.min(CRAWL_MAX_PEERS_CEILING, Math.floor(fdLimit) - FD_RESERVE));
}

/**
 * This process's open-file limit (Node raises the soft limit to the hard one
 * at start-up), from /proc/self/limits; null where that is not readable
 * (not Linux): the caller then falls back to Core's 125.
 */
export function openFileLimit(): number | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line === undefined ? NaN : Number(line.slice('Max open files'.length).trim().split(/\s+/)[0]);
    if (Number.isFinite(soft) && soft > 0) return soft;
    // "unlimited"
    return line !== undefined && /unlimited/.test(line) ? Infinity : null;
  } catch {
    return null;
  }
}

function positive(name: string, value: number | undefined, fallback: number, integer = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError('ERR_BAD_OPTION', `${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
  }
  return value;
}

/**
 * The deadline tick: about a tenth of the shortest step deadline, between 2
 * and 20 ms. Every deadline fires up to one tick late, and a slot held past
 * its deadline is throughput lost: with a 25 ms quiet period a 10 ms floor
 * added a fifth to every visit (the cpu-bound crawl ran ~25 % slower than
 * with 2 ms), and with a 500 ms one a 50 ms tick cost ~3 % against a crawler
 * with exact timers. A tick scans at most a few hundred deadlines, so even
 * 500 a second cost well under 1 % of a core.
 */
export function defaultTickMs(t: PeerTimeouts): number {
  // The adaptive quiet period can be as short as its 50 ms floor.
  const quiet = t.adaptiveQuiet === true ? Math.min(t.addrQuietMs, ADAPTIVE_QUIET_FLOOR_MS) : t.addrQuietMs;
  const deadlines = [t.connectMs, t.handshakeMs, t.getaddrMs, quiet].filter((v) => v > 0);
  return Math.min(20, Math.max(2, Math.floor(Math.min(...deadlines) / 10)));
}

export function resolveOptions(opts: CrawlOptions): ResolvedOptions {
  const only = opts.only ?? [];
  const allowAny = opts.allowAny === true;
  if (only.length === 0 && !allowAny) {
    throw new UsageError('ERR_BAD_OPTION', 'an allow-list is required: give `only` CIDRs (or set allowAny explicitly)');
  }
  const network = opts.network ?? 'mainnet';
  if (!Object.hasOwn(NETWORKS, network)) throw new UsageError('ERR_BAD_OPTION', `network must be one of ${Object.keys(NETWORKS).join(', ')}, got ${String(network)}`);
  // Seeds are checked here, with the other options: a bad one throws from crawl() / new Crawler(), not later from done.
  for (const seed of opts.seeds ?? []) {
    try {
      parseAddress(seed, NETWORKS[network].defaultPort);
    } catch {
      throw new UsageError('ERR_BAD_OPTION', `seeds: expected an IP address and port like 127.0.0.1:8333 or [::1]:8333, got ${JSON.stringify(seed)}`);
    }
  }
  const mode = opts.mode ?? 'crawl';
  if (mode !== 'crawl' && mode !== 'node') throw new UsageError('ERR_BAD_OPTION', `mode must be 'crawl' or 'node', got ${String(mode)}`);
  const step = positive('timeoutMs', opts.timeoutMs, DEFAULT_STEP_TIMEOUT_MS);
  const addrQuietMs = opts.addrQuietMs === 0 ? 0 : positive('addrQuietMs', opts.addrQuietMs, DEFAULT_ADDR_QUIET_MS);
  const timeouts: PeerTimeouts = {
    connectMs: positive('connectTimeoutMs', opts.connectTimeoutMs, step),
    handshakeMs: positive('handshakeTimeoutMs', opts.handshakeTimeoutMs, step),
    getaddrMs: positive('getaddrTimeoutMs', opts.getaddrTimeoutMs, step),
    addrQuietMs,
    adaptiveQuiet: opts.addrQuietMs === undefined,
    pingIntervalMs: positive('pingIntervalMs', opts.pingIntervalMs, 120_000),
    pingTimeoutMs: positive('pingTimeoutMs', opts.pingTimeoutMs, 20 * 60_000),
  };
  return {
    seeds: opts.seeds ?? [],
    network,
    only,
    allowAny,
    maxPeers: positive('maxPeers', opts.maxPeers, opts.cap?.max ?? (mode === 'crawl' ? crawlMaxPeersFor(openFileLimit()) : DEFAULT_MAX_PEERS), true),
    workers: positive('workers', opts.workers, defaultWorkerCount(), true),
    mode,
    timeouts,
    tickMs: positive('tickMs', opts.tickMs, defaultTickMs(timeouts)),
    dnsSeeds: opts.dnsSeeds === true,
    dnsServers: opts.dnsServers ?? [],
    logLevel: opts.logLevel ?? opts.logger?.level ?? 'silent',
    retryCrashedPeers: opts.retryCrashedPeers ?? true,
    progressMs: positive('progressMs', opts.progressMs, 500),
    maxKnown: positive('maxKnown', opts.maxKnown, DEFAULT_MAX_KNOWN, true),
    workerMaxHeapMb: opts.workerMaxHeapMb === undefined ? undefined : positive('workerMaxHeapMb', opts.workerMaxHeapMb, 0, true),
    gossip: {
      maxPerSource: positive('maxAddrsPerSource', opts.maxAddrsPerSource, DEFAULT_MAX_PER_SOURCE, true),
      maxPerSourceGroup: positive('maxAddrsPerSourceGroup', opts.maxAddrsPerSourceGroup, DEFAULT_MAX_PER_SOURCE_GROUP, true),
      maxPortsPerHost: positive('maxPortsPerHost', opts.maxPortsPerHost, DEFAULT_MAX_PORTS_PER_HOST, true),
    },
    reach: opts.reach ?? {},
    budgets: opts.budgets ?? {},
    fixedSeeds: opts.fixedSeeds ?? 'fallback',
    dnsServiceBits: opts.dnsServiceBits ?? 9,
    denyList: opts.denyList ?? [],
    perNetgroup: opts.perNetgroup,
    transport: parseTransportOption(opts.transport),
  };
}
