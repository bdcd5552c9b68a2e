/**
 * Progress on stderr: a live line redrawn in place when stderr is a
 * terminal, else one plain line every few seconds (a log file or a service
 * journal still shows the crawl moving). stdout stays for the summary.
 */
import type { Crawler, CrawlStats } from '../engine/crawler.js';

/** How often a non-terminal stderr gets a progress line. */
export const PROGRESS_LINE_MS = 5000;

export function progressLine(s: CrawlStats): string {
  const eta = s.etaSeconds === null ? '?' : `${Math.ceil(s.etaSeconds)}s`;
  return (
    `known ${s.known}  queued ${s.queued}  open ${s.open}/${s.maxPeers}  done ${s.done} ` +
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

/** Returns a detach function (which also clears a live line). */
export function attachProgress(crawler: Crawler, out: NodeJS.WriteStream, everyMs = PROGRESS_LINE_MS): () => void {
  let last = performance.now();
  const onProgress = out.isTTY
    ? (s: CrawlStats): void => {
        out.write(`\r\x1b[K${progressLine(s)}`);
      }
    : (s: CrawlStats): void => {
        const now = performance.now();
        if (now - last < everyMs) return;
        last = now;
        out.write(`progress: ${(s.elapsedMs / 1000).toFixed(0)}s  ${progressLine(s)}\n`);
      };
  crawler.on('progress', onProgress);
  return () => {
    crawler.removeListener('progress', onProgress);
    if (out.isTTY) out.write('\r\x1b[K');
  };
}
