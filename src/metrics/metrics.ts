/**
 * Prometheus metrics (prom-client) for a crawl or a watch, served over HTTP
 * at `/metrics` (`--metrics 127.0.0.1:9464`).
 *
 * Counters accumulate over the process (across watch rounds); gauges read
 * the crawler attached right now when Prometheus scrapes. Per-worker figures
 * are asked of the worker threads themselves at scrape time (their session
 * counters and V8 heap, over the control channel). Main-loop lag is
 * prom-client's default `nodejs_eventloop_lag_*` set, with the rest of the
 * process metrics (CPU, RSS, heap, handles, GC).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { UsageError } from '../errors.js';
import type { Crawler } from '../engine/crawler.js';
import type { NodeRecord } from '../engine/record.js';
import type { WorkerFigures as ThreadFigures, WorkerMemory } from '../shared/messages.js';

/** How long a scrape waits for the worker threads' own figures. */
const WORKER_QUERY_MS = 1000;

interface WorkerFigures {
  readonly stats: ThreadFigures[];
  readonly memory: WorkerMemory[];
}

/** Each live worker thread's counters and heap, or null if they did not all answer in time. */
async function queryWorkers(c: Crawler | null): Promise<WorkerFigures | null> {
  if (c === null) return { stats: [], memory: [] };
  const answer = Promise.all([c.workerFigures(), c.workerMemory(false)]).then(([stats, memory]) => ({ stats, memory }));
  const timeout = new Promise<null>((resolve) => setTimeout(resolve, WORKER_QUERY_MS, null).unref());
  return Promise.race([answer.catch(() => null), timeout]);
}

export class CrawlMetrics {
  readonly registry = new Registry();
  private crawler: Crawler | null = null;
  private detachCrawler: (() => void) | null = null;
  private readonly visits: Counter<'outcome' | 'network'>;
  private readonly failures: Counter<'code'>;
  private readonly crashes: Counter;
  private readonly rounds: Counter;
  private server: Server | null = null;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // prom-client names these gauges *_total, which Prometheus reserves for counters (promtool rejects them);
    // the per-type breakdowns (nodejs_active_handles{type=…}, …) stay.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.visits = new Counter({ name: 'bitspread_visits_total', help: 'Addresses recorded, by outcome (reachable, failed, skipped) and network', labelNames: ['outcome', 'network'], registers });
    this.failures = new Counter({ name: 'bitspread_failures_total', help: 'Failed visits by error code', labelNames: ['code'], registers });
    this.crashes = new Counter({ name: 'bitspread_worker_crashes_total', help: 'Worker threads that died', registers });
    this.rounds = new Counter({ name: 'bitspread_rounds_total', help: 'Crawls (watch rounds) completed', registers });
    const current = (): Crawler | null => this.crawler;
    const fromStats = (name: string, help: string, pick: (s: ReturnType<Crawler['stats']>) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const c = current();
          this.set(c === null ? 0 : pick(c.stats()));
        },
      });
    };
    fromStats('bitspread_known_addresses', 'Distinct addresses the current crawl knows', (s) => s.known);
    fromStats('bitspread_queued_addresses', 'Addresses waiting to be dialled', (s) => s.queued);
    fromStats('bitspread_open_connections', 'Sockets open now (the shared peer cap count)', (s) => s.open);
    fromStats('bitspread_in_flight_peers', 'Peers handed to workers and not yet ended', (s) => s.inFlight);
    fromStats('bitspread_visit_rate', 'Visits (reachable + failed) per second since the current crawl started', (s) => s.rate);
    fromStats('bitspread_workers', 'Worker threads of the current crawl', (s) => s.workers);
    // One round trip per thread per scrape, shared by every per-worker gauge (their collects run together).
    let asked: Promise<WorkerFigures | null> | null = null;
    const figures = (): Promise<WorkerFigures | null> => {
      asked ??= queryWorkers(current()).finally(() => setImmediate(() => (asked = null)));
      return asked;
    };
    const worker = (name: string, help: string, pick: (f: WorkerFigures) => Array<[number, number]>): void => {
      new Gauge({
        name,
        help,
        labelNames: ['worker'],
        registers,
        async collect() {
          this.reset();
          const f = await figures();
          if (f !== null) for (const [slot, v] of pick(f)) this.set({ worker: String(slot) }, v);
        },
      });
    };
    worker('bitspread_worker_open_connections', 'Sockets open in each worker thread', (f) => f.stats.map((s) => [s.slot, s.open]));
    worker('bitspread_worker_dialled', 'Dials each worker thread started (this crawl)', (f) => f.stats.map((s) => [s.slot, s.dialled]));
    worker('bitspread_worker_reachable', 'Reachable visits per worker thread (this crawl)', (f) => f.stats.map((s) => [s.slot, s.reachable]));
    worker('bitspread_worker_failed', 'Failed visits per worker thread (this crawl)', (f) => f.stats.map((s) => [s.slot, s.failed]));
    worker('bitspread_worker_addrs_reported', 'Addresses each worker thread reported to the main thread (this crawl)', (f) => f.stats.map((s) => [s.slot, s.addrsReported]));
    worker('bitspread_worker_heap_used_bytes', 'V8 heap used in each worker thread', (f) => f.memory.map((m) => [m.slot, m.heapUsed]));
    new Gauge({
      name: 'bitspread_worker_scrape_ok',
      help: '1 when every worker thread answered the last scrape in time',
      registers,
      async collect() {
        this.set((await figures()) === null ? 0 : 1);
      },
    });
  }

  /** Follows this crawler (and forgets the previous one): its records, crashes and stats. */
  attach(crawler: Crawler): void {
    this.detachCrawler?.();
    this.crawler = crawler;
    const onNode = (rec: NodeRecord): void => {
      this.visits.inc({ outcome: rec.state, network: rec.network });
      if (rec.error !== undefined) this.failures.inc({ code: rec.error });
    };
    const onCrash = (): void => this.crashes.inc();
    const onDone = (): void => this.rounds.inc();
    crawler.on('node', onNode);
    crawler.on('workerCrash', onCrash);
    crawler.on('done', onDone);
    this.detachCrawler = () => {
      crawler.off('node', onNode);
      crawler.off('workerCrash', onCrash);
      crawler.off('done', onDone);
    };
  }

  /** Serves GET /metrics on host:port (port 0: any free one); resolves with the bound address. */
  async serve(host: string, port: number): Promise<{ host: string; port: number }> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new UsageError('ERR_BAD_OPTION', `--metrics: cannot listen on ${host}:${port}: ${err.code ?? err.message}`)),
      );
      server.listen({ host, port }, () => resolve());
    });
    this.server = server;
    const a = server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    this.detachCrawler?.();
    const s = this.server;
    this.server = null;
    if (s !== null) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** Parses `--metrics HOST:PORT` (`[::1]:9464` for IPv6). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw new UsageError('ERR_BAD_OPTION', `--metrics: expected HOST:PORT like 127.0.0.1:9464, got '${text}'`);
  return { host: (m[1] ?? m[2]) as string, port };
}
