/**
 * The dynamic supervisor's restart policy as pure functions: given how a
 * child ended and when it was restarted before, decide whether to restart
 * it, after what delay, or to give up on it. No clock, no timers: the
 * supervisor passes `now`, so tests drive it with plain numbers.
 */
import type { PlainError } from '../errors.js';

/**
 * OTP restart types. `permanent`: always restarted. `transient`: restarted
 * only after an abnormal exit. `temporary`: never restarted.
 */
export type RestartType = 'permanent' | 'transient' | 'temporary';

/** How a child ended. A rejected start promise is an abnormal exit. */
export type ExitReason = { kind: 'normal' } | { kind: 'shutdown' } | { kind: 'abnormal'; error: PlainError };

export interface BackoffOptions {
  /** Delay before the first restart in a window. */
  readonly initialMs: number;
  /** Ceiling for the delay however many restarts came before. */
  readonly maxMs: number;
  /** Growth per previous restart in the window (2 doubles it). */
  readonly factor: number;
}

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

/** OTP's defaults are 3 restarts in 5 seconds. */
export const DEFAULT_RESTART_LIMITS: RestartLimits = Object.freeze({ maxRestarts: 3, maxSeconds: 5, backoff: DEFAULT_BACKOFF });

const NO_RESTART: RestartDecision = Object.freeze({ restart: false, delayMs: 0, giveUp: false });
const GIVE_UP: RestartDecision = Object.freeze({ restart: false, delayMs: 0, giveUp: true });

/** Whether the restart type asks for a restart after this exit (ignoring limits). */
export function wantsRestart(restart: RestartType, reason: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return reason.kind === 'abnormal';
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
  limits: RestartLimits = DEFAULT_RESTART_LIMITS,
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
