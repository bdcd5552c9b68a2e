/**
 * Every exit status the CLI uses, in one place (README: "Exit status"). A
 * run that did nothing useful gets its own status per cause, so a script can
 * tell "nothing was allowed" from "nothing answered" without parsing text.
 */
import { constants } from 'node:os';
import { ClusterError, RunError, type BitspreadError, type RunErrorCode } from '../errors.js';
import type { CrawlSummary } from '../engine/record.js';

export const EXIT = {
  /** Success. */
  OK: 0,
  /** demo: the crawl's result differs from the ground truth; decode: some message failed to decode. */
  MISMATCH: 1,
  /** Bad arguments or options, an unreadable input, an unwritable output path given on the command line. */
  USAGE: 2,
  /** crawl: every address lies outside --only, nothing was dialled (ERR_NOTHING_ALLOWED). */
  NOTHING_ALLOWED: 3,
  /** crawl: addresses were dialled, none completed the handshake (ERR_NONE_REACHABLE). */
  NONE_REACHABLE: 4,
  /** crawl: nothing to start from, the DNS seeds gave no address (ERR_NO_SEEDS). */
  NO_SEEDS: 5,
  /** decode: the input is empty (ERR_EMPTY_INPUT). */
  EMPTY_INPUT: 6,
  /** The snapshot or standard output could not be written (ERR_WRITE): disk full, closed pipe… */
  WRITE: 7,
  /** crawl --redis: Redis stayed unreachable (ERR_REDIS_UNAVAILABLE) or lost the crawl (ERR_REDIS_STATE_LOST); the crawl stopped cleanly. */
  CLUSTER: 8,
  /** A bug: an error without a bitspread code. Please report it. */
  INTERNAL: 70,
} as const;

const RUN_EXIT: Readonly<Record<RunErrorCode, number>> = {
  ERR_NOTHING_ALLOWED: EXIT.NOTHING_ALLOWED,
  ERR_NONE_REACHABLE: EXIT.NONE_REACHABLE,
  ERR_NO_SEEDS: EXIT.NO_SEEDS,
  ERR_EMPTY_INPUT: EXIT.EMPTY_INPUT,
  ERR_WRITE: EXIT.WRITE,
};

/** The status for a typed error: its run code's, Redis failing under --redis, else 2 (usage: bad option, bad CIDR…). */
export function exitCodeFor(err: BitspreadError): number {
  if (err instanceof ClusterError) return EXIT.CLUSTER;
  return err instanceof RunError ? RUN_EXIT[err.code] : EXIT.USAGE;
}

/** The signals that stop a crawl cleanly (complete snapshot, summary), as Ctrl-C does. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** The shell's convention for "ended by signal N": 128 + N (SIGHUP 129, SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/**
 * Why a finished crawl did nothing useful, or null when it reached at least
 * one node. Only for a crawl that ran to its end (a stopped one says so by
 * its signal status instead).
 */
export function uselessCrawl(s: CrawlSummary): RunError | null {
  const dialled = s.byState.reachable + s.byState.failed;
  if (s.byState.reachable > 0) return null;
  const counts = (o: Record<string, number>): string =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  if (s.total === 0) return new RunError('ERR_NO_SEEDS', 'nothing to crawl: the seeds gave no address (DNS seeds answered nothing)', s);
  if (dialled === 0) {
    const notAllowed = s.bySkipReason['not-allowed'] ?? 0;
    return new RunError(
      'ERR_NOTHING_ALLOWED',
      notAllowed > 0
        ? `nothing was dialled: all ${notAllowed} dialable addresses lie outside --only (skipped: ${counts(s.bySkipReason)})`
        : `nothing was dialled: no address is IPv4 or IPv6 (skipped: ${counts(s.bySkipReason)})`,
      s,
    );
  }
  return new RunError('ERR_NONE_REACHABLE', `no node reachable: all ${dialled} dialled addresses failed (${counts(s.byError)})`, s);
}
