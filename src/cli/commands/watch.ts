/**
 * `bitspread watch`: crawl rounds on a schedule into a store (see
 * src/engine/watch.ts and docs/WATCH.md).
 */
import { UsageError } from '../../errors.js';
import { Store } from '../../store/store.js';
import { Watcher, type RoundEnd, type RoundStart, type WatchOptions } from '../../engine/watch.js';
import { CrawlMetrics, parseListenAddress } from '../../metrics/metrics.js';
import { parseCrawlArgs } from './crawl.js';
import { parseInteger } from '../args.js';
import { cliLogger } from '../logger.js';
import { parseLongDuration, takeOptions } from '../split-args.js';
import { usageFailure } from '../usage.js';
import { attachWatchProgress } from '../watch-progress.js';

const HELP = `usage: bitspread watch --store FILE --only CIDR [--seed host:port... | --dns-seed] [options]

Crawls in rounds, for as long as it runs: each round revisits the nodes the
store has due and dials every new address it learns. Stop with Ctrl-C (the
round in progress is kept); start again with the same --store to carry on.

watch options:
  --store FILE              the SQLite history (created if missing); REQUIRED
  --interval DURATION       time between round starts (default 10m)
  --revisit-reachable DUR   revisit a reachable node after (default 0: every round)
  --revisit-failed DUR      retry a failed address after (default 4h)
  --dead-after DUR          an address not reachable for this long is retried
                            only once per this period (default 7d)
  --retention DUR           delete visits older than this (default 30d)
  --rounds N                stop after N rounds (default: run until stopped)
  --snapshot-dir DIR        one NDJSON snapshot per round (round-NNNNNN.ndjson)
  --keep-snapshots N        snapshot files kept (default 48)
  --metrics HOST:PORT       serve Prometheus metrics at http://HOST:PORT/metrics
  --progress-interval DUR   without a terminal: a progress line this often (default 10s)

Seeds are needed only while the store knows no node. Every option of
\`bitspread crawl\` applies too (except --out and --mode). Durations: 500ms, 30s, 10m, 4h, 7d.
`;

const SPEC = {
  store: 'string',
  interval: 'string',
  'revisit-reachable': 'string',
  'revisit-failed': 'string',
  'dead-after': 'string',
  retention: 'string',
  rounds: 'string',
  'snapshot-dir': 'string',
  'keep-snapshots': 'string',
  metrics: 'string',
  'progress-interval': 'string',
} as const;

function roundLine(e: RoundEnd): string {
  const s = e.summary;
  return (
    `round ${e.seq}: ${s.byState.reachable} reachable, ${s.byState.failed} failed, ${s.byState.skipped} skipped ` +
    `in ${(s.durationMs / 1000).toFixed(1)} s; ${e.joined.length} joined, ${e.left.length} left, ` +
    `${new Set(e.changed.map((c) => c.addr)).size} changed${e.pruned > 0 ? `; ${e.pruned} old visits pruned` : ''}${s.stopped ? ' (stopped)' : ''}`
  );
}

export async function run(argv: string[]): Promise<number> {
  let opts: WatchOptions;
  let metricsAt: { host: string; port: number } | null = null;
  let progressMs = 10_000;
  try {
    if (argv.includes('--help') || argv.includes('-h')) {
      process.stdout.write(HELP);
      return 0;
    }
    const { taken, rest } = takeOptions(argv, SPEC);
    if (rest.some((a) => /^--(out|mode)(=|$)/.test(a))) throw new UsageError('ERR_BAD_OPTION', 'watch: --out and --mode do not apply (see --snapshot-dir)');
    const str = (k: keyof typeof SPEC): string | undefined => taken[k] as string | undefined;
    const storePath = str('store');
    if (storePath === undefined) throw new UsageError('ERR_BAD_OPTION', '--store FILE is required');
    const parsedCrawl = parseCrawlArgs(rest, { seedsOptional: true });
    if (parsedCrawl === 'help') throw new UsageError('ERR_BAD_ARGUMENT', 'unexpected --help');
    // The crawl command's own output settings do not apply to watch rounds.
    const { json: _json, stdoutSnapshot: _stdout, progressLineMs: _progress, ...crawl } = parsedCrawl;
    const dur = (k: keyof typeof SPEC): number | undefined => (str(k) === undefined ? undefined : parseLongDuration(str(k) as string, `--${k}`));
    const rounds = str('rounds');
    const keep = str('keep-snapshots');
    const metrics = str('metrics');
    if (metrics !== undefined) metricsAt = parseListenAddress(metrics);
    progressMs = dur('progress-interval') ?? progressMs;
    if (progressMs <= 0) throw new UsageError('ERR_BAD_OPTION', '--progress-interval must be positive');
    const optional = {
      intervalMs: dur('interval'),
      revisitReachableMs: dur('revisit-reachable'),
      revisitFailedMs: dur('revisit-failed'),
      deadAfterMs: dur('dead-after'),
      retentionMs: dur('retention'),
      rounds: rounds === undefined ? undefined : parseInteger(rounds, '--rounds', 1, 1_000_000_000),
      snapshotDir: str('snapshot-dir'),
      keepSnapshots: keep === undefined ? undefined : parseInteger(keep, '--keep-snapshots', 1, 1_000_000),
    };
    opts = { ...crawl, store: storePath, ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) };
  } catch (err) {
    if (err instanceof UsageError) return usageFailure('watch', err.message, HELP);
    throw err;
  }

  const store = Store.open(opts.store as string);
  if ((opts.seeds ?? []).length === 0 && opts.dnsSeeds !== true) {
    const nodes = store.db.prepare('SELECT count(*) FROM nodes').pluck().get() as number;
    if (nodes === 0) {
      store.close();
      return usageFailure('watch', `the store '${store.path}' knows no node yet: give --seed host:port or --dns-seed`, HELP);
    }
  }
  const logger = cliLogger(opts.logLevel ?? 'info');
  const watcher = new Watcher({ ...opts, store, logger });
  const metrics = metricsAt === null ? null : new CrawlMetrics();
  if (metrics !== null && metricsAt !== null) {
    const at = await metrics.serve(metricsAt.host, metricsAt.port);
    process.stderr.write(`metrics: http://${at.host.includes(':') ? `[${at.host}]` : at.host}:${at.port}/metrics\n`);
    watcher.on('roundStart', (r: RoundStart) => metrics.attach(r.crawler));
  }
  const progress = attachWatchProgress(watcher, process.stderr, progressMs);
  watcher.on('resumed', (n: number) => process.stderr.write(`watch: ${n} round(s) a previous process left unfinished marked interrupted; carrying on\n`));
  watcher.on('roundEnd', (e: RoundEnd) => {
    progress.clear();
    process.stdout.write(roundLine(e) + '\n');
  });
  const onSignal = (): void => {
    progress.clear();
    process.stderr.write('stopping after the records in flight (Ctrl-C again to force)...\n');
    process.once('SIGINT', () => process.exit(130));
    void watcher.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const n = await watcher.start();
    progress.detach();
    process.stderr.write(`watch: ${n} round(s) done; history in ${store.path}\n`);
  } finally {
    progress.detach();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    store.close();
    await metrics?.close();
  }
  return 0;
}
