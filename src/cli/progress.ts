/**
 * The live progress line: only when the output is a terminal (a log file or
 * a pipe gets the summary alone).
 */
import type { Crawler, CrawlStats } from '../engine/crawler.js';

export function progressLine(s: CrawlStats): string {
  const eta = s.etaSeconds === null ? '?' : `${Math.ceil(s.etaSeconds)}s`;
  return (
    `known ${s.known}  queued ${s.queued}  open ${s.open}  done ${s.done} ` +
    `(reachable ${s.reachable}, failed ${s.failed}, skipped ${s.skipped})  ${s.rate.toFixed(1)}/s  eta ${eta}`
  );
}

/** Returns a detach function that also clears the line. */
export function attachProgress(crawler: Crawler, out: NodeJS.WriteStream): () => void {
  if (!out.isTTY) return () => undefined;
  const onProgress = (s: CrawlStats): void => {
    out.write(`\r\x1b[K${progressLine(s)}`);
  };
  crawler.on('progress', onProgress);
  return () => {
    crawler.removeListener('progress', onProgress);
    out.write('\r\x1b[K');
  };
}
