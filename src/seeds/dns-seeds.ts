/**
 * DNS seeds as Bitcoin Core lists them, and their resolution: A and AAAA
 * answers, asked first under the `x<hex>.` service-bit subdomain (default
 * `x9.` = NODE_NETWORK | NODE_WITNESS, what Core asks for), then under the
 * bare name when the seed does not serve that subdomain or it gives nothing.
 *
 * Resolution uses node's dns.Resolver (c-ares) pointed at explicit servers:
 * c-ares retries a truncated (TC) UDP answer over TCP by itself
 * (test/seeds-dns.test.ts proves it against a server that truncates). The
 * servers are traffic like any other, so they must be inside the allow-list.
 *
 * Seed names: Core's src/kernel/chainparams.cpp at b88bffe550 (2026-08-18),
 * with the service-bit subdomains each seed's comment there says it supports
 * (null: no comment, i.e. a full seeder that serves any x<hex>).
 */
import { getServers } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { ReachError, UsageError, type ReachErrorCode } from '../errors.js';
import type { AllowList } from '../shared/allow-list.js';
import type { NetworkName } from '../wire/types.js';
import { NETWORKS } from '../wire/networks.js';

export interface DnsSeed {
  /** Fully qualified, with the trailing dot as Core writes it. */
  readonly host: string;
  /** Service-bit subdomains it serves (`x9` → 0x9); null = any. */
  readonly serviceBits: readonly number[] | null;
  /** Operator, from Core's comment. */
  readonly operator?: string;
}

const ACHOW = [0x1, 0x5, 0x9, 0x49, 0x809, 0x849, 0xd, 0x400, 0x404, 0x408, 0x448, 0xc08, 0xc48, 0x40c];

export const DNS_SEEDS: Readonly<Record<NetworkName, readonly DnsSeed[]>> = {
  mainnet: [
    { host: 'dnsseed.bluematt.me.', serviceBits: [0x9], operator: 'Matt Corallo' },
    { host: 'seed.bitcoin.jonasschnelli.ch.', serviceBits: [0x1, 0x5, 0x9, 0xd], operator: 'Jonas Schnelli' },
    { host: 'seed.btc.petertodd.net.', serviceBits: [0x1, 0x5, 0x9, 0xd], operator: 'Peter Todd' },
    { host: 'seed.bitcoin.sprovoost.nl.', serviceBits: null, operator: 'Sjors Provoost' },
    { host: 'dnsseed.emzy.de.', serviceBits: null, operator: 'Stephan Oeste' },
    { host: 'seed.bitcoin.wiz.biz.', serviceBits: null, operator: 'Jason Maurice' },
    { host: 'seed.mainnet.achownodes.xyz.', serviceBits: ACHOW, operator: 'Ava Chow' },
  ],
  testnet3: [
    { host: 'testnet-seed.bitcoin.jonasschnelli.ch.', serviceBits: null },
    { host: 'seed.tbtc.petertodd.net.', serviceBits: null },
    { host: 'testnet-seed.bluematt.me.', serviceBits: [0x9] },
    { host: 'seed.testnet.achownodes.xyz.', serviceBits: ACHOW, operator: 'Ava Chow' },
  ],
  testnet4: [
    { host: 'seed.testnet4.bitcoin.sprovoost.nl.', serviceBits: null, operator: 'Sjors Provoost' },
    { host: 'seed.testnet4.wiz.biz.', serviceBits: null, operator: 'Jason Maurice' },
  ],
  signet: [
    { host: 'seed.signet.bitcoin.sprovoost.nl.', serviceBits: null },
    { host: 'seed.signet.achownodes.xyz.', serviceBits: ACHOW, operator: 'Ava Chow' },
  ],
  regtest: [{ host: 'dummySeed.invalid.', serviceBits: null }],
};

/** NODE_NETWORK | NODE_WITNESS: Core's SeedsServiceFlags(). */
export const DEFAULT_SEED_SERVICE_BITS = 0x9;
/** Core's nMaxIPs: at most this many addresses are taken from one seed. */
export const MAX_IPS_PER_SEED = 256;

/** The names to ask, in order: `x<hex>.<seed>` when the seed serves it, then the bare name. 0 = bare name only. */
export function seedQueryNames(seed: DnsSeed, serviceBits = DEFAULT_SEED_SERVICE_BITS): string[] {
  const bare = seed.host.endsWith('.') ? seed.host.slice(0, -1) : seed.host;
  if (serviceBits === 0) return [bare];
  if (seed.serviceBits !== null && !seed.serviceBits.includes(serviceBits)) return [bare];
  return [`x${serviceBits.toString(16)}.${bare}`, bare];
}

/** `127.0.0.1:5353` / `[::1]:53` / `::1` / `127.0.0.1` → host and port; throws UsageError ERR_BAD_OPTION. */
export function parseDnsServer(text: string): { host: string; port: number; server: string } {
  const t = text.trim();
  let m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(t);
  if (m === null) m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(t);
  if (m === null && /^[0-9a-fA-F:]+$/.test(t) && t.includes(':')) m = [t, t, undefined] as unknown as RegExpExecArray;
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (m === null || port < 1 || port > 65535) throw new UsageError('ERR_BAD_OPTION', `--dns-server: expected an IP address with an optional port (127.0.0.1:5353, [::1]:53), got '${text}'`);
  const host = m[1] as string;
  return { host, port, server: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}

/**
 * The servers to ask, each checked against the allow-list (null = the
 * user's explicit --allow-any). Without `servers` the system's resolvers are
 * used, and only if every one of them is allowed. Throws before any query.
 */
export function dnsServersFor(servers: readonly string[], allow: AllowList | null): string[] {
  const explicit = servers.length > 0;
  const list = explicit ? servers.map(parseDnsServer) : getServers().map(parseDnsServer);
  if (list.length === 0) throw new ReachError('ERR_DNS_NO_SERVER', 'no DNS server configured: give --dns-server IP[:PORT]');
  const outside = allow === null ? [] : list.filter((s) => !allow.allowsHost(s.host));
  if (outside.length > 0) {
    const names = outside.map((s) => s.server).join(', ');
    throw new ReachError(
      'ERR_DNS_SERVER_NOT_ALLOWED',
      explicit
        ? `--dns-server ${names} is outside the allow-list (${allow?.toString()}): DNS queries are network traffic too`
        : `DNS seeds without --dns-server would ask the system resolver(s) ${names}, outside the allow-list (${allow?.toString()}); give a --dns-server inside it`,
    );
  }
  return list.map((s) => s.server);
}

/** c-ares error codes → ours. */
export function dnsErrorCode(errno: string | undefined): ReachErrorCode {
  switch (errno) {
    case 'ENOTFOUND':
      return 'ERR_DNS_NOT_FOUND';
    case 'ENODATA':
      return 'ERR_DNS_NO_DATA';
    case 'ETIMEOUT':
    case 'ETIMEDOUT':
      return 'ERR_DNS_TIMEOUT';
    case 'EREFUSED':
      return 'ERR_DNS_REFUSED';
    case 'ESERVFAIL':
      return 'ERR_DNS_SERVER_FAILURE';
    case 'EFORMERR':
    case 'EBADRESP':
    case 'EBADNAME':
      return 'ERR_DNS_BAD_RESPONSE';
    case 'ECONNREFUSED':
      return 'ERR_DNS_CONNECTION_REFUSED';
    default:
      return 'ERR_DNS_FAILED';
  }
}

export interface SeedOutcome {
  readonly seed: string;
  /** The name whose answer was used (or the last one asked when none answered). */
  readonly queried: string;
  readonly addresses: number;
  /** Why nothing came back (the A query's error; AAAA's when A had none). */
  readonly error?: ReachErrorCode;
}

export interface DnsSeedResult {
  /** Core text form, `1.2.3.4:8333` / `[2001:db8::1]:8333`, deduplicated, in answer order. */
  readonly addresses: string[];
  readonly seeds: SeedOutcome[];
}

export interface ResolveSeedsOptions {
  readonly network: NetworkName;
  /** DNS servers, e.g. ['127.0.0.1:5353']; default the system's (which must then be allowed). */
  readonly servers?: readonly string[];
  /** null = --allow-any. */
  readonly allow: AllowList | null;
  /** Default Core's list for `network`. */
  readonly seeds?: readonly DnsSeed[];
  readonly serviceBits?: number;
  /** Per query attempt (c-ares doubles it per retry); default 3000. */
  readonly timeoutMs?: number;
  /** Attempts per server; default 2. */
  readonly tries?: number;
  /** Default the network's default port. */
  readonly port?: number;
}

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * Resolves every seed of a network. Never throws for a seed that fails (its
 * outcome says why); throws ReachError before any query when no allowed
 * server is configured.
 */
export async function resolveDnsSeeds(opts: ResolveSeedsOptions): Promise<DnsSeedResult> {
  const servers = dnsServersFor(opts.servers ?? [], opts.allow);
  const port = opts.port ?? NETWORKS[opts.network].defaultPort;
  const seeds = opts.seeds ?? DNS_SEEDS[opts.network];
  // One resolver (one c-ares channel) per seed: c-ares fails every query
  // pending on a channel when one malformed answer arrives on it, so a seed
  // whose answer is garbage must not take the others down with it.
  const resolvers = seeds.map(() => {
    const r = new Resolver({ timeout: opts.timeoutMs ?? 3000, tries: opts.tries ?? 2 });
    r.setServers(servers);
    return r;
  });
  try {
    const outcomes = await Promise.all(seeds.map((seed, i) => resolveSeed(resolvers[i] as Resolver, seed, opts.serviceBits ?? DEFAULT_SEED_SERVICE_BITS)));
    const seen = new Set<string>();
    const addresses: string[] = [];
    const summary: SeedOutcome[] = [];
    for (const o of outcomes) {
      summary.push(o.outcome);
      for (const ip of o.ips) {
        const text = endpoint(ip, port);
        if (!seen.has(text)) {
          seen.add(text);
          addresses.push(text);
        }
      }
    }
    return { addresses, seeds: summary };
  } finally {
    for (const r of resolvers) r.cancel();
  }
}

async function resolveSeed(resolver: Resolver, seed: DnsSeed, serviceBits: number): Promise<{ ips: string[]; outcome: SeedOutcome }> {
  let last: SeedOutcome = { seed: seed.host, queried: seed.host, addresses: 0, error: 'ERR_DNS_FAILED' };
  for (const name of seedQueryNames(seed, serviceBits)) {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
    const ips = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])].slice(0, MAX_IPS_PER_SEED);
    if (ips.length > 0) return { ips, outcome: { seed: seed.host, queried: name, addresses: ips.length } };
    const reason = (v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : null) as NodeJS.ErrnoException | null;
    last = { seed: seed.host, queried: name, addresses: 0, error: reason === null ? 'ERR_DNS_NO_DATA' : dnsErrorCode(reason.code) };
  }
  return { ips: [], outcome: last };
}
