/**
 * Options of a multi-process crawl (`--redis`, the library's `redis`), their
 * defaults and checks. Kept apart from coordinator.ts so that the engine can
 * validate them without loading the Redis client (the single-process path
 * never imports it).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { UsageError } from '../errors.js';

export interface CoordinatorOptions {
  /** redis://[user:pass@]host:port[/db] */
  readonly url: string;
  /** The crawl's name: processes with the same Redis and name are one crawl. Default 'default'. */
  readonly name?: string;
  /** Key prefix (default 'bitspread'): keys are `<prefix>:<name>:<generation>:…`. */
  readonly prefix?: string;
  /** How long a process's leases and cap slots outlive its last heartbeat (default 30 s). */
  readonly leaseMs?: number;
  /** How long Redis may be unreachable before the crawl stops with ERR_REDIS_UNAVAILABLE (default 10 s, < leaseMs / 2). */
  readonly timeoutMs?: number;
  /** Addresses per work entry (default 32). */
  readonly batchSize?: number;
  /** Deliveries whose holder died after which an address is recorded failed ERR_POISONED (default 3). */
  readonly maxDeliveries?: number;
  /** This process's consumer name (default host:pid:random). */
  readonly consumer?: string;
}

export interface ResolvedCoordinatorOptions {
  readonly url: string;
  readonly name: string;
  readonly prefix: string;
  readonly leaseMs: number;
  readonly timeoutMs: number;
  readonly batchSize: number;
  readonly maxDeliveries: number;
  readonly consumer: string;
}

export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_REDIS_TIMEOUT_MS = 10_000;
export const DEFAULT_BATCH_SIZE = 32;
export const DEFAULT_MAX_DELIVERIES = 3;

export function resolveCoordinatorOptions(opts: CoordinatorOptions): ResolvedCoordinatorOptions {
  const int = (name: string, v: number | undefined, def: number, min: number): number => {
    if (v === undefined) return def;
    if (!Number.isInteger(v) || v < min) throw new UsageError('ERR_BAD_OPTION', `redis ${name} must be an integer >= ${min}, got ${String(v)}`);
    return v;
  };
  const leaseMs = int('leaseMs', opts.leaseMs, DEFAULT_LEASE_MS, 200);
  const timeoutMs = int('timeoutMs', opts.timeoutMs, Math.min(DEFAULT_REDIS_TIMEOUT_MS, Math.floor(leaseMs / 3)), 50);
  if (timeoutMs * 2 > leaseMs) {
    throw new UsageError('ERR_BAD_OPTION', `redis timeoutMs (${timeoutMs}) must be at most half of leaseMs (${leaseMs}): a process must stop dialling before its slots can expire`);
  }
  parseRedisUrl(opts.url);
  const name = opts.name ?? 'default';
  const prefix = opts.prefix ?? 'bitspread';
  for (const [what, v] of [['name', name], ['prefix', prefix]] as const) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(v)) throw new UsageError('ERR_BAD_OPTION', `redis ${what}: 1-64 of A-Z a-z 0-9 _ . -, got '${v}'`);
  }
  return {
    url: opts.url,
    name,
    prefix,
    leaseMs,
    timeoutMs,
    batchSize: int('batchSize', opts.batchSize, DEFAULT_BATCH_SIZE, 1),
    maxDeliveries: int('maxDeliveries', opts.maxDeliveries, DEFAULT_MAX_DELIVERIES, 1),
    consumer: opts.consumer ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
  };
}

/** Validates a redis:// (or rediss://) URL; returns its host (brackets stripped) and port. */
export function parseRedisUrl(url: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError('ERR_BAD_OPTION', `redis: expected a URL like redis://127.0.0.1:6379/0, got '${url}'`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new UsageError('ERR_BAD_OPTION', `redis: expected a redis:// or rediss:// URL, got '${redactUrl(url)}'`);
  }
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) throw new UsageError('ERR_BAD_OPTION', `redis: the path must be a database number, got '/${db}'`);
  if (u.hostname === '') throw new UsageError('ERR_BAD_OPTION', `redis: the URL needs a host, got '${redactUrl(url)}'`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? 6379 : Number(u.port) };
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

