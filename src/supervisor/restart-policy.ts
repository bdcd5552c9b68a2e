/**
 * The dynamic supervisor's restart policy as pure functions: given how a
 * child ended and when it was restarted before, decide whether to restart
 * it, after what delay, or to give up on it. No clock, no timers: the
 * supervisor passes `now`, so tests drive it with plain numbers.
 */
import type { PlainError } from '../errors.js';

/**
 * OTP restart types. `permanent`: always restarted. `transient`: restarted
 * only after an abnormal exit (`error` or `killed`; OTP's `normal`,
 * `shutdown` and `{shutdown, term}` are not restarted). `temporary`: never
 * restarted.
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/**
 * How a child ended, as it really happened (OTP's exit reasons):
 * - `normal`: the child finished its work.
 * - `shutdown`: the child stopped because it was asked to (terminateChild,
 *   stop, or the application's own shutdown). OTP's `{shutdown, term}` is
 *   this kind too: the term goes to logs, not to the restart decision.
 * - `killed`: the child ignored its stop for longer than its `shutdown`
 *   timeout (or has `shutdown: 'brutal_kill'`) and the supervisor killed it.
 * - `error`: the child crashed; a rejected `start` promise or a synchronous
 *   throw is recorded as this, with the error's code.
 * `normal` and `shutdown` are normal exits; `killed` and `error` abnormal.
 */
export type ExitReason = { kind: 'normal' } | { kind: 'shutdown' } | { kind: 'killed' } | { kind: 'error'; error: PlainError };

/** True for `killed` and `error`: what a transient child is restarted after. */
export function isAbnormal(reason: ExitReason): boolean {
  return reason.kind === 'error' || reason.kind === 'killed';
}

export interface BackoffOptions {
  /** Delay before the first restart in a window. */
  readonly initialMs: number;
  /** Ceiling for the delay however many restarts came before. */
  readonly maxMs: number;
  /** Growth per previous restart in the window (2 doubles it). */
  readonly factor: number;
}

/** The per-child restart limit (restartDecision's input). */
export interface RestartLimits {
  /** At most this many restarts of one child within `maxSeconds`; one more exit gives up. */
  readonly maxRestarts: number;
  /** Length of the sliding window, in seconds. */
  readonly maxSeconds: number;
  readonly backoff: BackoffOptions;
}

export interface RestartDecision {
  readonly restart: boolean;
  /** Milliseconds to wait before restarting (0 when not restarting). */
  readonly delayMs: number;
  /** True when the child wanted a restart but the intensity limit was hit. */
  readonly giveUp: boolean;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ initialMs: 100, maxMs: 5_000, factor: 2 });

/**
 * Per child: OTP's numbers (3 restarts in 5 seconds), applied to each child
 * on its own, so one peer that keeps failing is given up on without
 * touching the others.
 */
export const DEFAULT_CHILD_RESTART_LIMITS: RestartLimits = Object.freeze({ maxRestarts: 3, maxSeconds: 5, backoff: DEFAULT_BACKOFF });

/** Restart intensity of the supervisor as a whole (OTP's max_restarts / max_seconds). */
export interface IntensityLimits {
  /** More than this many restarts (of any children) within `maxSeconds` shuts the supervisor down. */
  readonly maxRestarts: number;
  readonly maxSeconds: number;
}

/**
 * 100 restarts in 10 seconds for the whole supervisor, not OTP's 3 in 5.
 * OTP's numbers suit a handful of long-lived workers, where 4 crashes in 5 s
 * means something is broken. A node-mode crawl supervises one transient
 * child per peer (125 by default, thousands for a scaling backend): there,
 * ordinary churn is a steady trickle (5,000 peers that each drop once an
 * hour make 14 restarts a window), and the per-child limit already
 * handles one bad peer. A network flap is the case the global brake is for:
 * every peer drops within a second or two and each wants a restart, so 125
 * peers alone pass 100 (and more once each retries up to its own limit).
 * Below ~100 peers a flap does not trip it; each child then gives up on its
 * own. Pass your own values for other shapes (a few services: OTP's 3 in 5).
 */
export const DEFAULT_INTENSITY: IntensityLimits = Object.freeze({ maxRestarts: 100, maxSeconds: 10 });

const NO_RESTART: RestartDecision = Object.freeze({ restart: false, delayMs: 0, giveUp: false });
const GIVE_UP: RestartDecision = Object.freeze({ restart: false, delayMs: 0, giveUp: true });

/** Whether the restart type asks for a restart after this exit (ignoring limits). */
export function wantsRestart(restart: RestartType, reason: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return isAbnormal(reason);
    case 'temporary':
      return false;
  }
}

/**
 * How many of `history`'s restart timestamps (ms) fall inside the sliding
 * window ending at `now`. A restart exactly `maxSeconds` ago has left it.
 */
export function restartsInWindow(history: readonly number[], now: number, maxSeconds: number): number {
  const windowStart = now - maxSeconds * 1000;
  let count = 0;
  for (const at of history) if (at > windowStart) count++;
  return count;
}

/** initialMs × factor^previousRestarts, capped at maxMs. */
export function backoffDelay(previousRestarts: number, backoff: BackoffOptions): number {
  const delay = backoff.initialMs * Math.pow(backoff.factor, previousRestarts);
  // Math.min also tames Infinity from a large exponent.
  return Math.max(0, Math.min(backoff.maxMs, delay));
}

/**
 * The policy. `history` holds the timestamps (ms, same clock as `now`) of
 * this child's previous restarts; older entries are simply ignored. The
 * backoff exponent is the number of restarts still inside the window, so a
 * child that has been quiet for `maxSeconds` starts again from `initialMs`.
 */
export function restartDecision(
  restart: RestartType,
  reason: ExitReason,
  history: readonly number[],
  now: number,
  limits: RestartLimits = DEFAULT_CHILD_RESTART_LIMITS,
): RestartDecision {
  if (!wantsRestart(restart, reason)) return NO_RESTART;
  const recent = restartsInWindow(history, now, limits.maxSeconds);
  if (recent >= limits.maxRestarts) return GIVE_UP;
  return { restart: true, delayMs: backoffDelay(recent, limits.backoff), giveUp: false };
}

/**
 * Drops timestamps that left the window, in place, so a long-lived child's
 * history stays at most `maxRestarts` long.
 */
export function pruneHistory(history: number[], now: number, maxSeconds: number): void {
  const windowStart = now - maxSeconds * 1000;
  let kept = 0;
  for (const at of history) if (at > windowStart) history[kept++] = at;
  history.length = kept;
}

/**
 * The supervisor-wide check, OTP's: with `history` pruned to the window
 * (pruneHistory), one more restart is allowed while fewer than
 * `maxRestarts` restarts happened within it; the one after that exceeds the
 * intensity. Same counting as the per-child limit.
 */
export function intensityExceeded(history: readonly number[], now: number, limits: IntensityLimits): boolean {
  return restartsInWindow(history, now, limits.maxSeconds) >= limits.maxRestarts;
}
