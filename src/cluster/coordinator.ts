/**
 * The Redis side of a multi-process crawl: one connection per process and a
 * typed method per atomic step (each one FCALL of the library in
 * functions.ts). It knows nothing about the engine; ClusterFrontier
 * (cluster-frontier.ts) drives it.
 *
 * Client: node-redis (`@redis/client`, the core of the `redis` package,
 * maintained by Redis Inc., no runtime dependencies, Node >= 20). Raw
 * `sendCommand` is used for every call: the functions' replies are our own
 * shapes, and the typed command wrappers would add nothing.
 *
 * Failures: any command that fails because Redis cannot be reached is
 * retried (every RETRY_MS) until `timeoutMs` has passed since the first
 * failure, then rejects with ClusterError ERR_REDIS_UNAVAILABLE. A server
 * that answers but has lost the crawl (restarted without persistence,
 * flushed: the crawl's meta key or the function library is gone) rejects
 * at once with ERR_REDIS_STATE_LOST. Every step is safe to retry (sets,
 * XACK, re-leasing), so a retried call whose first attempt did run is harmless.
 */
import { createClient, ErrorReply, type RedisClientType } from '@redis/client';
import { ClusterError, UsageError } from '../errors.js';
import { redactUrl, resolveCoordinatorOptions, type CoordinatorOptions, type ResolvedCoordinatorOptions } from './options.js';
import { LIBRARY, LIBRARY_NAME, RECORD_FIELD } from './functions.js';

type Client = RedisClientType;

/** Least time allowed for the first connection. */
const CONNECT_TIMEOUT_MS = 3000;
/** How often a failed command is retried while Redis is unreachable. */
const RETRY_MS = 200;
/** Largest number of arguments sent in one FCALL (Lua's unpack and Redis's argv both cope far beyond it). */
export const MAX_ARGS_PER_CALL = 4096;
type Reply = string | number | null | Reply[];

export interface CrawlKeys {
  readonly work: string;
  readonly known: string;
  readonly final: string;
  readonly records: string;
  readonly meta: string;
  readonly slots: string;
  readonly live: string;
  readonly demand: string;
}

export interface Lease {
  readonly id: string;
  /** Which delivery this is (1 = first). */
  readonly delivery: number;
  readonly addrs: string[];
}

export interface LeaseResult {
  readonly done: boolean;
  /** Work entries queued or pending, crawl-wide. */
  readonly entries: number;
  readonly leases: Lease[];
  /** Single-address entries whose holders died maxDeliveries times: record them failed, then ack. */
  readonly poisoned: Array<{ id: string; addr: string; deaths: number }>;
}

export interface CapResult {
  /** Slots gained (negative: given back). */
  readonly granted: number;
  readonly held: number;
  /** Slots held by all processes. */
  readonly total: number;
  readonly fair: number;
  readonly max: number;
}

export interface ClusterStatus {
  readonly done: boolean;
  readonly entries: number;
  readonly known: number;
  readonly final: number;
  readonly held: number;
  readonly peak: number;
  readonly max: number;
}

export interface JoinResult {
  readonly generation: number;
  /** The crawl's global cap (set by the process that started it). */
  readonly max: number;
  readonly done: boolean;
  /** False when `start` was false and there was no crawl to join. */
  readonly joined: boolean;
}

export class Coordinator {
  readonly opts: ResolvedCoordinatorOptions;
  private readonly client: Client;
  private keysOf: CrawlKeys | null = null;
  private closed = false;
  /** Commands sent (FCALL and others), for the bench's commands-per-node figure. */
  commands = 0;

  private constructor(opts: ResolvedCoordinatorOptions, client: Client) {
    this.opts = opts;
    this.client = client;
  }

  /** Connects and loads the function library. Rejects ERR_REDIS_UNAVAILABLE if Redis cannot be reached within timeoutMs. */
  static async connect(options: CoordinatorOptions): Promise<Coordinator> {
    const opts = resolveCoordinatorOptions(options);
    // While connecting the first time, give up at the deadline; afterwards keep reconnecting (call() bounds each command).
    // Nothing is held yet: the first connection may take longer than a command may (a loaded machine).
    const deadline = performance.now() + Math.max(opts.timeoutMs, CONNECT_TIMEOUT_MS);
    let connecting = true;
    const client = createClient({
      url: opts.url,
      // A command issued while disconnected fails at once (and is retried by us until timeoutMs).
      disableOfflineQueue: true,
      socket: {
        connectTimeout: Math.max(opts.timeoutMs, CONNECT_TIMEOUT_MS),
        reconnectStrategy: (retries: number, cause: Error) =>
          connecting && performance.now() >= deadline ? cause : Math.min(50 * (retries + 1), 500),
      },
    }) as unknown as Client;
    // Without a listener node-redis rethrows socket errors as uncaught; the commands report them.
    client.on('error', () => undefined);
    const c = new Coordinator(opts, client);
    try {
      await client.connect();
    } catch (err) {
      client.destroy();
      throw new ClusterError('ERR_REDIS_UNAVAILABLE', `cannot reach Redis at ${redactUrl(opts.url)}: ${(err as Error).message}`);
    }
    connecting = false;
    await c.call(['FUNCTION', 'LOAD', 'REPLACE', LIBRARY]);
    return c;
  }

  get keys(): CrawlKeys {
    if (this.keysOf === null) throw new UsageError('ERR_BAD_ARGUMENT', 'Coordinator: join() first');
    return this.keysOf;
  }

  /**
   * Joins the crawl `name`. `start`: start a new generation if there is no
   * crawl or the current one is done (a process with seeds); otherwise only
   * join a running (or just finished) one.
   */
  async join(start: boolean, maxPeers: number): Promise<JoinResult> {
    const base = `${this.opts.prefix}:${this.opts.name}`;
    const r = (await this.fcall('bs_join', [`${base}:gen`], [base, start ? '1' : '0', String(maxPeers)])) as number[];
    const generation = Number(r[0]);
    const max = Number(r[1]);
    const g = `${base}:${generation}`;
    this.keysOf = {
      work: `${g}:work`,
      known: `${g}:known`,
      final: `${g}:final`,
      records: `${g}:records`,
      meta: `${g}:meta`,
      slots: `${g}:slots`,
      live: `${g}:live`,
      demand: `${g}:demand`,
    };
    return { generation, max, done: Number(r[2]) === 1, joined: generation > 0 && max > 0 };
  }

  /** Adds dialable addresses (canonical text) to the shared frontier; returns how many were new. */
  async learn(addrs: readonly string[]): Promise<{ fresh: number; done: boolean }> {
    const k = this.keys;
    let fresh = 0;
    let done = false;
    for (let i = 0; i < addrs.length || i === 0; i += MAX_ARGS_PER_CALL) {
      const r = (await this.fcall('bs_learn', [k.work, k.known, k.meta], [String(this.opts.batchSize), ...addrs.slice(i, i + MAX_ARGS_PER_CALL)])) as number[];
      fresh += Number(r[0]);
      done = Number(r[1]) === 1;
    }
    return { fresh, done };
  }

  /** Takes up to `entries` work entries: dead holders' first (after the lease), then new ones. */
  async lease(entries: number): Promise<LeaseResult> {
    const k = this.keys;
    const o = this.opts;
    const r = (await this.fcall('bs_lease', [k.work, k.final, k.meta, k.known], [o.consumer, String(o.leaseMs), String(entries), String(o.maxDeliveries)])) as Reply[];
    const leases = (r[2] as Reply[][]).map((e) => ({ id: String(e[0]), delivery: Number(e[1]), addrs: String(e[2]).split(' ') }));
    const poisoned = (r[3] as Reply[][]).map((e) => ({ id: String(e[0]), addr: String(e[1]), deaths: Number(e[2]) }));
    return { done: Number(r[0]) === 1, entries: Number(r[1]), leases, poisoned };
  }

  /** Acknowledges finished entries (deletes them). */
  async ack(ids: readonly string[]): Promise<{ acked: number; done: boolean }> {
    const k = this.keys;
    const r = (await this.fcall('bs_ack', [k.work, k.meta, k.known], ids)) as number[];
    return { acked: Number(r[0]), done: Number(r[1]) === 1 };
  }

  /** Hands leased entries back: their unfinished addresses become new entries. */
  async giveBack(ids: readonly string[], addrs: readonly string[]): Promise<boolean> {
    const k = this.keys;
    const r = await this.fcall('bs_giveback', [k.work, k.meta, k.known], [String(this.opts.batchSize), String(ids.length), ...ids, ...addrs]);
    return Number(r) === 1;
  }

  /** Publishes final records; the first record of an address wins. Returns how many were new. */
  async record(pairs: ReadonlyArray<readonly [addr: string, line: string]>): Promise<number> {
    const k = this.keys;
    let n = 0;
    for (let i = 0; i < pairs.length; i += MAX_ARGS_PER_CALL / 2) {
      const args = pairs.slice(i, i + MAX_ARGS_PER_CALL / 2).flat();
      n += Number(await this.fcall('bs_record', [k.final, k.records, k.meta], args));
    }
    return n;
  }

  /** Renews this process's leases on `ids`; returns the ids another process has taken over. */
  async touch(ids: readonly string[]): Promise<string[]> {
    const k = this.keys;
    const r = (await this.fcall('bs_touch', [k.work, k.meta], [this.opts.consumer, ...ids])) as Reply[];
    return r.map(String);
  }

  /** The global cap: acquire/release slots, renew the lease ('beat') or give everything back ('leave'). */
  async cap(op: 'acquire' | 'release' | 'beat' | 'leave', n: number, demand: number): Promise<CapResult> {
    const k = this.keys;
    const r = (await this.fcall('bs_cap', [k.meta, k.slots, k.live, k.demand], [this.opts.consumer, op, String(n), String(this.opts.leaseMs), String(demand)])) as number[];
    return { granted: Number(r[0]), held: Number(r[1]), total: Number(r[2]), fair: Number(r[3]), max: Number(r[4]) };
  }

  async status(): Promise<ClusterStatus> {
    const k = this.keys;
    const r = (await this.fcall('bs_status', [k.meta, k.work, k.known, k.final], [])) as number[];
    const n = (i: number): number => Number(r[i]);
    return { done: n(0) === 1, entries: n(1), known: n(2), final: n(3), held: n(4), peak: n(5), max: n(6) };
  }

  /** Records after `afterId` ('0-0' for all), oldest first. */
  async readRecords(afterId: string, count: number): Promise<Array<{ id: string; line: string }>> {
    const r = (await this.call(['XRANGE', this.keys.records, `(${afterId}`, '+', 'COUNT', String(count)])) as Reply[];
    return r.map((e) => {
      const entry = e as Reply[];
      const fields = entry[1] as Reply[];
      let line = '';
      for (let i = 0; i < fields.length; i += 2) if (fields[i] === RECORD_FIELD) line = String(fields[i + 1]);
      return { id: String(entry[0]), line };
    });
  }

  /** Lets a finished crawl's keys expire after `seconds` (they stay readable for late processes until then). */
  async expireCrawl(seconds: number): Promise<void> {
    const k = this.keys;
    for (const key of Object.values(k)) await this.call(['EXPIRE', key, String(seconds)]);
  }

  /** Closes the connection (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.client.close();
    } catch {
      this.client.destroy();
    }
  }

  /** One function of the library (functions.ts). */
  private fcall(name: string, keys: readonly string[], args: readonly string[]): Promise<Reply> {
    return this.call(['FCALL', name, String(keys.length), ...keys, ...args]);
  }

  /** One command, retried while Redis is unreachable (see the module comment). */
  private async call(args: readonly string[]): Promise<Reply> {
    let deadline = 0;
    for (;;) {
      if (this.closed) throw new ClusterError('ERR_REDIS_UNAVAILABLE', 'the Redis connection was closed');
      try {
        this.commands++;
        return (await this.client.sendCommand(args as string[])) as Reply;
      } catch (err) {
        if (err instanceof ErrorReply) {
          const msg = err.message;
          if (msg.startsWith('BSLOST') || /function not found|No matching script/i.test(msg)) {
            throw new ClusterError('ERR_REDIS_STATE_LOST', `Redis has lost crawl '${this.opts.name}': ${msg.replace(/^BSLOST /, '')}`);
          }
          if (!/^(LOADING|BUSY|TRYAGAIN|MASTERDOWN)/.test(msg)) throw err;
        }
        const now = performance.now();
        if (deadline === 0) deadline = now + this.opts.timeoutMs;
        if (now >= deadline) {
          throw new ClusterError('ERR_REDIS_UNAVAILABLE', `Redis at ${redactUrl(this.opts.url)} unreachable for ${this.opts.timeoutMs} ms: ${(err as Error).message}`);
        }
        await sleep(RETRY_MS);
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { LIBRARY_NAME };
export type { CoordinatorOptions, ResolvedCoordinatorOptions };
