/**
 * The live progress line: only when the output is a terminal (a log file or
 * a pipe gets the summary alone).
 */
import type { Crawler, CrawlStats } from '../engine/crawler.js';

export function progressLine(s: CrawlStats): string {
  const eta = s.etaSeconds === null ? '?' : `${Math.ceil(s.etaSeconds)}s`;
  return (
    `known ${s.known}  queued ${s.queued}  open ${s.open}  done ${s.done} ` +
    `(reachable ${s.reachable}, failed ${s.failed}, skipped ${s.skipped})  ${s.rate.toFixed(1)}/s  eta ${eta}` +
    networkLoads(s)
  );
}

/** `  ipv6 3/125  onion 12/31`: peers in flight per network against its budget, for the networks in use beyond IPv4. */
function networkLoads(s: CrawlStats): string {
  const parts = Object.entries(s.networks)
    .filter(([n, l]) => n !== 'ipv4' && l.peak > 0)
    .map(([n, l]) => `${n} ${l.inFlight}/${l.budget}`);
  return parts.length === 0 ? '' : `  ${parts.join('  ')}`;
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
