/**
 * The dynamic supervisor's options and clock: defaults, validation (typed
 * ERR_BAD_OPTION), and the system clock the tests replace with a fake one.
 */
import { UsageError } from '../errors.js';
import {
  DEFAULT_BACKOFF,
  DEFAULT_CHILD_RESTART_LIMITS,
  DEFAULT_INTENSITY,
  type BackoffOptions,
  type IntensityLimits,
  type RestartLimits,
} from './restart-policy.js';

/** Time source and timers, injectable so tests run on a fake clock. */
export interface SupervisorClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SupervisorOptions {
  /** Most children at once, running or waiting to restart (OTP max_children; default Infinity). */
  maxChildren?: number;
  /** Restarts of all children together allowed within `maxSeconds` (default 100; see DEFAULT_INTENSITY). */
  maxRestarts?: number;
  /** The sliding window for `maxRestarts`, in seconds (default 10). */
  maxSeconds?: number;
  /** Restarts of one child allowed within `childMaxSeconds` (default 3). */
  childMaxRestarts?: number;
  /** The sliding window for `childMaxRestarts`, in seconds (default 5). */
  childMaxSeconds?: number;
  /** Restart delay initialMs × factor^n capped at maxMs, n = the child's restarts in its window (default 100 ms, ×2, 5 s). */
  backoff?: BackoffOptions;
  /** Defaults to performance.now() and the global timers. */
  clock?: SupervisorClock;
}

export const SYSTEM_CLOCK: SupervisorClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export function checkOptions(options: SupervisorOptions): { maxChildren: number; intensity: IntensityLimits; childLimits: RestartLimits } {
  const maxChildren = options.maxChildren ?? Infinity;
  if (maxChildren !== Infinity && (!Number.isInteger(maxChildren) || maxChildren < 0)) {
    throw new UsageError('ERR_BAD_OPTION', `maxChildren must be an integer >= 0 or Infinity, got ${String(maxChildren)}`);
  }
  const intensity = {
    maxRestarts: checkCount('maxRestarts', options.maxRestarts ?? DEFAULT_INTENSITY.maxRestarts),
    maxSeconds: checkSeconds('maxSeconds', options.maxSeconds ?? DEFAULT_INTENSITY.maxSeconds),
  };
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const { initialMs, maxMs, factor } = backoff;
  if (!Number.isFinite(initialMs) || initialMs < 0 || !Number.isFinite(maxMs) || maxMs < initialMs || !Number.isFinite(factor) || factor < 1) {
    throw new UsageError('ERR_BAD_OPTION', `backoff needs 0 <= initialMs <= maxMs and factor >= 1, got ${JSON.stringify(backoff)}`);
  }
  const childLimits = {
    maxRestarts: checkCount('childMaxRestarts', options.childMaxRestarts ?? DEFAULT_CHILD_RESTART_LIMITS.maxRestarts),
    maxSeconds: checkSeconds('childMaxSeconds', options.childMaxSeconds ?? DEFAULT_CHILD_RESTART_LIMITS.maxSeconds),
    backoff: { initialMs, maxMs, factor },
  };
  return { maxChildren, intensity, childLimits };
}

function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new UsageError('ERR_BAD_OPTION', `${name} must be an integer >= 0, got ${String(value)}`);
  return value;
}

function checkSeconds(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new UsageError('ERR_BAD_OPTION', `${name} must be a positive number, got ${String(value)}`);
  return value;
}
