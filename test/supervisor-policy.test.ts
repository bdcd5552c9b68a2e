import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_CHILD_RESTART_LIMITS,
  DEFAULT_INTENSITY,
  intensityExceeded,
  isAbnormal,
  pruneHistory,
  restartDecision,
  restartsInWindow,
  type ExitReason,
  type RestartLimits,
} from '../src/supervisor/restart-policy.js';

const NORMAL: ExitReason = { kind: 'normal' };
const SHUTDOWN: ExitReason = { kind: 'shutdown' };
const KILLED: ExitReason = { kind: 'killed' };
const CRASH: ExitReason = { kind: 'error', error: { code: 'ERR_PEER_CLOSED', message: 'gone' } };
const EVERY_REASON: readonly ExitReason[] = [NORMAL, SHUTDOWN, KILLED, CRASH];
const LIMITS: RestartLimits = { maxRestarts: 3, maxSeconds: 5, backoff: { initialMs: 100, maxMs: 5_000, factor: 2 } };

describe('restartDecision', () => {
  it('restarts a transient child only after an abnormal exit (error or killed)', () => {
    expect(restartDecision('transient', CRASH, [], 0, LIMITS)).toEqual({ restart: true, delayMs: 100, giveUp: false });
    expect(restartDecision('transient', KILLED, [], 0, LIMITS)).toEqual({ restart: true, delayMs: 100, giveUp: false });
    expect(restartDecision('transient', NORMAL, [], 0, LIMITS)).toEqual({ restart: false, delayMs: 0, giveUp: false });
    expect(restartDecision('transient', SHUTDOWN, [], 0, LIMITS)).toEqual({ restart: false, delayMs: 0, giveUp: false });
    expect(EVERY_REASON.map(isAbnormal)).toEqual([false, false, true, true]);
  });

  it('always restarts a permanent child and never a temporary one', () => {
    for (const reason of EVERY_REASON) {
      expect(restartDecision('permanent', reason, [], 0, LIMITS).restart).toBe(true);
      expect(restartDecision('temporary', reason, [], 0, LIMITS)).toEqual({ restart: false, delayMs: 0, giveUp: false });
    }
  });

  it('gives up once maxRestarts restarts fall inside the window', () => {
    const now = 10_000;
    expect(restartDecision('transient', CRASH, [8_000, 9_000], now, LIMITS)).toEqual({ restart: true, delayMs: 400, giveUp: false });
    expect(restartDecision('transient', CRASH, [7_000, 8_000, 9_000], now, LIMITS)).toEqual({ restart: false, delayMs: 0, giveUp: true });
    expect(restartDecision('permanent', NORMAL, [7_000, 8_000, 9_000], now, LIMITS).giveUp).toBe(true);
  });

  it('does not count restarts that left the sliding window', () => {
    // 5,000 ms ago is exactly the window length: outside.
    expect(restartDecision('transient', CRASH, [1_000, 4_000, 5_000], 10_000, LIMITS)).toEqual({ restart: true, delayMs: 100, giveUp: false });
    expect(restartDecision('transient', CRASH, [1_000, 5_001, 9_999], 10_000, LIMITS)).toEqual({ restart: true, delayMs: 400, giveUp: false });
  });

  it('never gives up on a child that does not want a restart', () => {
    expect(restartDecision('transient', NORMAL, [7_000, 8_000, 9_000], 10_000, LIMITS).giveUp).toBe(false);
    expect(restartDecision('temporary', CRASH, [7_000, 8_000, 9_000], 10_000, LIMITS).giveUp).toBe(false);
  });

  it('with maxRestarts 0 gives up on the first crash', () => {
    expect(restartDecision('transient', CRASH, [], 0, { ...LIMITS, maxRestarts: 0 })).toEqual({ restart: false, delayMs: 0, giveUp: true });
  });

  it('defaults to 3 restarts of one child in 5 seconds with 100 ms doubling backoff', () => {
    expect(DEFAULT_CHILD_RESTART_LIMITS).toMatchObject({ maxRestarts: 3, maxSeconds: 5, backoff: { initialMs: 100, maxMs: 5_000, factor: 2 } });
    expect(restartDecision('transient', CRASH, [0, 1], 2).delayMs).toBe(400);
  });
});

describe('intensityExceeded (the supervisor as a whole)', () => {
  it('allows maxRestarts restarts in the window and refuses the one after, like the per-child limit', () => {
    const limits = { maxRestarts: 3, maxSeconds: 5 };
    expect(intensityExceeded([], 0, limits)).toBe(false);
    expect(intensityExceeded([7_000, 8_000], 10_000, limits)).toBe(false);
    expect(intensityExceeded([7_000, 8_000, 9_000], 10_000, limits)).toBe(true);
    // 5,000 ms ago has left the window.
    expect(intensityExceeded([5_000, 8_000, 9_000], 10_000, limits)).toBe(false);
    expect(intensityExceeded([], 0, { maxRestarts: 0, maxSeconds: 1 })).toBe(true);
  });

  it('defaults to 100 restarts in 10 seconds: a flap of 125 peers trips it, steady churn does not', () => {
    expect(DEFAULT_INTENSITY).toEqual({ maxRestarts: 100, maxSeconds: 10 });
    // 125 peers dropping within one second.
    const flap = Array.from({ length: 125 }, (_, i) => i * 8);
    const history: number[] = [];
    let tripped = -1;
    for (const [i, at] of flap.entries()) {
      pruneHistory(history, at, DEFAULT_INTENSITY.maxSeconds);
      if (intensityExceeded(history, at, DEFAULT_INTENSITY)) {
        tripped = i;
        break;
      }
      history.push(at);
    }
    expect(tripped).toBe(100);
    // 5,000 peers each dropping once an hour, evenly: 1.4 restarts a second, for an hour.
    const churn: number[] = [];
    for (let at = 0; at < 3_600_000; at += 720) {
      pruneHistory(churn, at, DEFAULT_INTENSITY.maxSeconds);
      expect(intensityExceeded(churn, at, DEFAULT_INTENSITY)).toBe(false);
      churn.push(at);
    }
  });
});

describe('backoffDelay', () => {
  it('grows by the factor and stops at maxMs', () => {
    const backoff = { initialMs: 100, maxMs: 1_000, factor: 2 };
    expect([0, 1, 2, 3, 4, 5, 60, 5000].map((n) => backoffDelay(n, backoff))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
    expect(backoffDelay(3, { initialMs: 50, maxMs: 10_000, factor: 3 })).toBe(1_350);
    expect(backoffDelay(7, { initialMs: 0, maxMs: 10, factor: 2 })).toBe(0);
  });
});

describe('restart history', () => {
  it('counts and prunes timestamps by the window', () => {
    expect(restartsInWindow([0, 4_999, 5_000, 9_000], 10_000, 5)).toBe(1);
    const history = [0, 5_000, 5_001, 9_000];
    pruneHistory(history, 10_000, 5);
    expect(history).toEqual([5_001, 9_000]);
  });
});

describe('restart intensity as the supervisor applies it', () => {
  it('never allows more than maxRestarts restarts inside any window, and never gives up below it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.integer({ min: 0, max: 4_000 }), { minLength: 1, maxLength: 60 }),
        (maxRestarts, maxSeconds, gaps) => {
          const limits: RestartLimits = { maxRestarts, maxSeconds, backoff: { initialMs: 10, maxMs: 1_000, factor: 2 } };
          const history: number[] = [];
          const restarts: number[] = [];
          let now = 0;
          for (const gap of gaps) {
            now += gap;
            const decision = restartDecision('permanent', CRASH, history, now, limits);
            const inWindow = restarts.filter((at) => at > now - maxSeconds * 1000).length;
            // Gives up exactly when the window is full.
            expect(decision.giveUp).toBe(inWindow >= maxRestarts);
            if (!decision.restart) break;
            expect(decision.delayMs).toBe(Math.min(1_000, 10 * 2 ** inWindow));
            pruneHistory(history, now, maxSeconds);
            history.push(now);
            restarts.push(now);
            expect(history.length).toBeLessThanOrEqual(maxRestarts);
          }
          for (const at of restarts) {
            expect(restarts.filter((other) => other > at - maxSeconds * 1000 && other <= at).length).toBeLessThanOrEqual(maxRestarts);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
