/**
 * How each address network is reached: directly, through a SOCKS5 proxy
 * (Tor for .onion, --proxy for IPv4/IPv6/CJDNS as Core's -proxy) or through
 * a SAM bridge (I2P). Plain data that crosses to the workers in SessionInit;
 * routeOf() is the one rule both threads apply: the main thread to record
 * what it will never dial (skipped, with the reason), the worker at the dial.
 *
 * The allow-list stays the law: every proxy and SAM bridge address must be
 * inside --only, IP destinations reached through a proxy must be too, and
 * networks that only a proxy reaches (Tor, I2P) are dialled only when named
 * (--via-tor, --via-i2p).
 */
import { UsageError } from '../errors.js';
import type { AddressNetwork } from '../wire/types.js';
import type { AllowList } from './allow-list.js';
import { parseProxyEndpoint } from './proxy-endpoint.js';

export type Via = 'direct' | 'socks5' | 'sam';
export const ADDRESS_NETWORKS: readonly AddressNetwork[] = ['ipv4', 'ipv6', 'onion', 'i2p', 'cjdns'];

export interface ReachConfig {
  /** Tor SocksPorts (canonical `host:port`), used in turn for .onion. */
  readonly torProxies: readonly string[];
  /** Most connections open at once through each Tor proxy (all workers together); default min(onion budget, DEFAULT_TOR_PROXY_BUDGET). */
  readonly torProxyBudget: number;
  /** SOCKS5 proxy for the networks in proxyNetworks (Core's -proxy), or null. */
  readonly proxy: string | null;
  readonly proxyNetworks: readonly AddressNetwork[];
  /** SAM v3.1 bridge for I2P, or null. */
  readonly i2pSam: string | null;
  readonly viaTor: boolean;
  readonly viaI2p: boolean;
  /** This host is on CJDNS (Core's -cjdnsreachable): fc00::/8 is dialled. */
  readonly cjdns: boolean;
  /** Random SOCKS5 credentials per connection (Tor's IsolateSOCKSAuth; Core's -proxyrandomize). */
  readonly isolate: boolean;
  /** Connect deadline per network: through a proxy it covers the proxy's whole handshake. */
  readonly connectMs: Readonly<Record<AddressNetwork, number>>;
}

/**
 * Default connections open at once through one Tor SocksPort. Tor builds at
 * most MaxClientCircuitsPending (default 32) client circuits at a time and
 * queues the rest (an onion connect holds one or two while it connects:
 * descriptor fetch, introduction, rendezvous; the rest of a visit runs on
 * built circuits). 64 open streams keeps one Tor near that limit instead of
 * hundreds over it, where every stream waits and connects time out; run
 * more Tor instances (--tor-proxy, repeated) to go faster.
 */
export const DEFAULT_TOR_PROXY_BUDGET = 64;

/** Onion connects take seconds (circuit + introduction + rendezvous); I2P tunnels more. */
export const DEFAULT_PROXIED_CONNECT_MS: Readonly<Partial<Record<AddressNetwork, number>>> = { onion: 30_000, i2p: 60_000 };

export type Route =
  | { readonly via: 'direct' }
  | { readonly via: 'socks5'; readonly proxies: readonly string[] }
  | { readonly via: 'sam'; readonly bridge: string }
  | { readonly skip: 'no-route' | 'i2p-port' };

/** The route for an address of `network` on `port`. */
export function routeOf(cfg: ReachConfig, network: AddressNetwork, port: number): Route {
  switch (network) {
    case 'onion':
      return cfg.viaTor && cfg.torProxies.length > 0 ? { via: 'socks5', proxies: cfg.torProxies } : { skip: 'no-route' };
    case 'i2p':
      if (!cfg.viaI2p || cfg.i2pSam === null) return { skip: 'no-route' };
      // SAM 3.1 has no ports: Core dials I2P peers on port 0 only.
      return port === 0 ? { via: 'sam', bridge: cfg.i2pSam } : { skip: 'i2p-port' };
    case 'cjdns':
      if (!cfg.cjdns) return { skip: 'no-route' };
      break;
    default:
      break;
  }
  return cfg.proxy !== null && cfg.proxyNetworks.includes(network) ? { via: 'socks5', proxies: [cfg.proxy] } : { via: 'direct' };
}

/** Whether the allow-list lets this IP-ish destination be dialled (CJDNS addresses are IPv6 addresses). */
export function allowsDestination(allow: AllowList | null, network: AddressNetwork, bytes: Uint8Array, port: number): boolean {
  if (allow === null) return true;
  if (network === 'onion' || network === 'i2p') return true; // governed by --via-tor / --via-i2p
  return allow.allows({ network: network === 'cjdns' ? 'ipv6' : network, bytes, port });
}

export interface ReachOptions {
  readonly torProxies?: readonly string[];
  readonly torProxyBudget?: number;
  /** `host:port` or `host:port=net[,net]` (ipv4, ipv6, cjdns). */
  readonly proxy?: string;
  readonly i2pSam?: string;
  readonly viaTor?: boolean;
  readonly viaI2p?: boolean;
  readonly cjdns?: boolean;
  readonly isolate?: boolean;
  readonly connectMs?: Partial<Record<AddressNetwork, number>>;
}

/**
 * Validates the reach options against the allow-list (null = --allow-any)
 * and the plain connect timeout. Throws UsageError ERR_BAD_OPTION.
 */
export function resolveReach(o: ReachOptions, allow: AllowList | null, connectMs: number, budgetForTor: number): ReachConfig {
  const bad = (msg: string): UsageError => new UsageError('ERR_BAD_OPTION', msg);
  const inside = (text: string, flag: string): string => {
    const ep = parseProxyEndpoint(text, flag);
    if (allow !== null && !allow.allowsHost(ep.host)) throw bad(`${flag} ${ep.text} is outside the allow-list (${allow.toString()}): a proxy is a socket like any other`);
    return ep.text;
  };
  const torProxies = [...new Set((o.torProxies ?? []).map((t) => inside(t, '--tor-proxy')))];
  if (torProxies.length > 0 && o.viaTor !== true) throw bad('--tor-proxy given without --via-tor: name the networks to reach through a proxy (--via-tor dials .onion addresses)');
  if (o.viaTor === true && torProxies.length === 0) throw bad('--via-tor needs a Tor SOCKS5 proxy: --tor-proxy host:port');
  const i2pSam = o.i2pSam === undefined ? null : inside(o.i2pSam, '--i2p-sam');
  if (i2pSam !== null && o.viaI2p !== true) throw bad('--i2p-sam given without --via-i2p: name the networks to reach through a proxy (--via-i2p dials .b32.i2p addresses)');
  if (o.viaI2p === true && i2pSam === null) throw bad('--via-i2p needs a SAM bridge: --i2p-sam host:port');
  let proxy: string | null = null;
  let proxyNetworks: AddressNetwork[] = [];
  if (o.proxy !== undefined) {
    const eq = o.proxy.indexOf('=');
    proxy = inside(eq < 0 ? o.proxy : o.proxy.slice(0, eq), '--proxy');
    proxyNetworks = eq < 0 ? ['ipv4', 'ipv6', 'cjdns'] : o.proxy.slice(eq + 1).split(',').map((n) => n.trim() as AddressNetwork);
    for (const n of proxyNetworks) if (n !== 'ipv4' && n !== 'ipv6' && n !== 'cjdns') throw bad(`--proxy: '${n}' is not a network a plain SOCKS5 proxy reaches (ipv4, ipv6, cjdns; Tor has --tor-proxy, I2P --i2p-sam)`);
  }
  const budget = o.torProxyBudget ?? Math.min(budgetForTor, DEFAULT_TOR_PROXY_BUDGET);
  if (!Number.isInteger(budget) || budget < 1) throw bad(`--tor-proxy-budget must be a whole number >= 1, got ${budget}`);
  const timeouts = {} as Record<AddressNetwork, number>;
  for (const n of ADDRESS_NETWORKS) {
    const t = o.connectMs?.[n] ?? (routeIsProxied(n, o) ? (DEFAULT_PROXIED_CONNECT_MS[n] ?? connectMs) : connectMs);
    if (!Number.isFinite(t) || t <= 0) throw bad(`connect timeout for ${n} must be positive, got ${t}`);
    timeouts[n] = t;
  }
  return {
    torProxies,
    torProxyBudget: budget,
    proxy,
    proxyNetworks,
    i2pSam,
    viaTor: o.viaTor === true,
    viaI2p: o.viaI2p === true,
    cjdns: o.cjdns === true,
    isolate: o.isolate !== false,
    connectMs: timeouts,
  };
}

function routeIsProxied(n: AddressNetwork, o: ReachOptions): boolean {
  return (n === 'onion' && o.viaTor === true) || (n === 'i2p' && o.viaI2p === true);
}

/**
 * Per-network budgets inside the one global cap: Tor and I2P tighter than IP
 * (a Tor client builds a circuit per stream; an I2P router tunnels), each at
 * most the cap. Defaults: IP and CJDNS the whole cap, Tor a quarter, I2P an
 * eighth (at least 1).
 */
export function resolveBudgets(cap: number, given: Partial<Record<AddressNetwork, number>> | undefined): Record<AddressNetwork, number> {
  const out: Record<AddressNetwork, number> = {
    ipv4: cap,
    ipv6: cap,
    cjdns: cap,
    onion: Math.max(1, Math.floor(cap / 4)),
    i2p: Math.max(1, Math.floor(cap / 8)),
  };
  for (const [net, n] of Object.entries(given ?? {})) {
    if (!(ADDRESS_NETWORKS as readonly string[]).includes(net)) throw new UsageError('ERR_BAD_OPTION', `--budget: unknown network '${net}' (${ADDRESS_NETWORKS.join(', ')})`);
    if (!Number.isInteger(n) || (n as number) < 1) throw new UsageError('ERR_BAD_OPTION', `--budget ${net}: must be a whole number >= 1, got ${n}`);
    out[net as AddressNetwork] = Math.min(cap, n as number);
  }
  return out;
}

/**
 * The onion budget no higher than the Tor proxies carry together (proxies ×
 * per-proxy budget): more would only be dispatched to find every proxy full.
 */
export function clampOnionBudget(budgets: Record<AddressNetwork, number>, reach: ReachConfig): Record<AddressNetwork, number> {
  if (!reach.viaTor || reach.torProxies.length === 0) return budgets;
  return { ...budgets, onion: Math.min(budgets.onion, reach.torProxies.length * reach.torProxyBudget) };
}

/** `onion=16,i2p=8` → budgets. */
export function parseBudgets(texts: readonly string[]): Partial<Record<AddressNetwork, number>> {
  const out: Partial<Record<AddressNetwork, number>> = {};
  for (const part of texts.flatMap((t) => t.split(','))) {
    const m = /^\s*([a-z0-9]+)\s*=\s*(\d+)\s*$/.exec(part);
    if (m === null) throw new UsageError('ERR_BAD_OPTION', `--budget: expected network=N pairs like onion=16,i2p=8, got '${part}'`);
    out[m[1] as AddressNetwork] = Number(m[2]);
  }
  return out;
}
