/**
 * Progress of a watch on stderr: on a terminal one live line (rewritten in
 * place every progress tick, cleared before other output); otherwise a
 * plain timestamped line every `periodMs`, so a log file or journald gets a
 * readable trace instead of carriage returns.
 */
import type { CrawlStats } from '../engine/crawler.js';
import type { RoundStart, Watcher } from '../engine/watch.js';
import { progressLine } from './progress.js';

export interface ProgressSink {
  /** Clears the live line (TTY) so a normal line can be printed. */
  clear(): void;
  detach(): void;
}

export function attachWatchProgress(watcher: Watcher, out: NodeJS.WriteStream, periodMs: number): ProgressSink {
  let round = 0;
  let live = false;
  const line = (s: CrawlStats): string => `round ${round}  ${progressLine(s)}`;
  const clear = (): void => {
    if (live) out.write('\r\x1b[K');
    live = false;
  };
  if (out.isTTY === true) {
    const onProgress = (s: CrawlStats): void => {
      out.write(`\r\x1b[K${line(s)}`);
      live = true;
    };
    const onStart = (r: RoundStart): void => {
      round = r.seq;
      r.crawler.on('progress', onProgress);
    };
    watcher.on('roundStart', onStart);
    return {
      clear,
      detach: () => {
        watcher.off('roundStart', onStart);
        clear();
      },
    };
  }
  const onStart = (r: RoundStart): void => {
    round = r.seq;
  };
  watcher.on('roundStart', onStart);
  const timer = setInterval(() => {
    const s = watcher.stats();
    if (s !== null) out.write(`${new Date().toISOString()} ${line(s)}\n`);
  }, periodMs);
  timer.unref();
  return {
    clear,
    detach: () => {
      clearInterval(timer);
      watcher.off('roundStart', onStart);
    },
  };
}
