/**
 * `crawl(opts)`: the crawler as an async iterable of records, for library
 * users who just want the results:
 *
 *   const run = crawl({ seeds, only: ['127.0.0.0/8'], network: 'regtest' });
 *   for await (const rec of run) console.log(rec.addr, rec.state);
 *   const summary = await run.done;
 *
 * The records are buffered for the iterator only once `[Symbol.asyncIterator]()`
 * has been called (a caller that only awaits `done` pays nothing per record).
 * The crawl starts on the next turn of the event loop, so iterating right
 * after `crawl()` returns (as `for await` does) sees every record; an
 * iterator created later sees the records written from then on.
 */
import { Crawler } from './crawler.js';
import type { CrawlOptions } from './options.js';
import type { CrawlSummary, NodeRecord } from './record.js';

export interface CrawlRun extends AsyncIterable<NodeRecord> {
  /** Settles with the summary once the crawl completes or is stopped; rejects if it could not start. */
  readonly done: Promise<CrawlSummary>;
  /** Stops dialling and completes the crawl early (records in flight end ERR_STOPPED). */
  stop(): void;
  readonly crawler: Crawler;
}

export function crawl(opts: CrawlOptions): CrawlRun {
  const crawler = new Crawler(opts);
  const done = new Promise<void>((resolve) => setImmediate(resolve)).then(() => crawler.start());
  // A caller that only iterates learns of a failed start from next(); this must not also crash the process.
  done.catch(() => undefined);
  let iterator: AsyncIterator<NodeRecord> | null = null;
  return {
    done,
    crawler,
    stop: () => void crawler.stop(),
    [Symbol.asyncIterator]: () => (iterator ??= endsWithOutcome(crawler[Symbol.asyncIterator](), done)),
  };
}

/** The records, then: done, or the error that ended the crawl (e.g. it could not start). */
function endsWithOutcome(records: AsyncIterator<NodeRecord>, done: Promise<CrawlSummary>): AsyncIterator<NodeRecord> {
  return {
    next: async () => {
      const r = await records.next();
      if (r.done === true) await done;
      return r;
    },
    return: async () => records.return?.() ?? { done: true, value: undefined },
  };
}
