/**
 * `crawl(opts)`: the crawler as an async iterable of records, for library
 * users who just want the results:
 *
 *   const run = crawl({ seeds, only: ['127.0.0.0/8'], network: 'regtest' });
 *   for await (const rec of run) console.log(rec.addr, rec.state);
 *   const summary = await run.done;
 */
import { Crawler } from './crawler.js';
import type { CrawlOptions } from './options.js';
import type { CrawlSummary, NodeRecord } from './record.js';

export interface CrawlRun extends AsyncIterable<NodeRecord> {
  /** Settles with the summary once the crawl completes or is stopped. */
  readonly done: Promise<CrawlSummary>;
  /** Stops dialling and completes the crawl early (records in flight end ERR_STOPPED). */
  stop(): void;
  readonly crawler: Crawler;
}

export function crawl(opts: CrawlOptions): CrawlRun {
  const crawler = new Crawler(opts);
  // Subscribe before starting so no record is missed.
  const iterator = crawler[Symbol.asyncIterator]();
  const done = crawler.start();
  return {
    done,
    crawler,
    stop: () => void crawler.stop(),
    [Symbol.asyncIterator]: () => iterator,
  };
}
