import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  DEFAULT_RESTART_LIMITS,
  pruneHistory,
  restartDecision,
  restartsInWindow,
  type ExitReason,
  type RestartLimits,
} from '../src/supervisor/restart-policy.js';

const NORMAL: ExitReason = { kind: 'normal' };
const SHUTDOWN: ExitReason = { kind: 'shutdown' };
const CRASH: ExitReason = { kind: 'abnormal', error: { code: 'ERR_PEER_CLOSED', message: 'gone' } };
const LIMITS: RestartLimits = { maxRestarts: 3, maxSeconds: 5, backoff: { initialMs: 100, maxMs: 5_000, factor: 2 } };

describe('restartDecision', () => {
  it('restarts a transient child only after an abnormal exit', () => {
    expect(restartDecision('transient', CRASH, [], 0, LIMITS)).toEqual({ restart: true, delayMs: 100, giveUp: false });
    expect(restartDecision('transient', NORMAL, [], 0, LIMITS)).toEqual({ restart: false, delayMs: 0, giveUp: false });
    expect(restartDecision('transient', SHUTDOWN, [], 0, LIMITS)).toEqual({ restart: false, delayMs: 0, giveUp: false });
  });

  it('always restarts a permanent child and never a temporary one', () => {
    for (const reason of [NORMAL, SHUTDOWN, CRASH]) {
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

  it('defaults to 3 restarts in 5 seconds with 100 ms doubling backoff', () => {
    expect(DEFAULT_RESTART_LIMITS).toMatchObject({ maxRestarts: 3, maxSeconds: 5, backoff: { initialMs: 100, maxMs: 5_000, factor: 2 } });
    expect(restartDecision('transient', CRASH, [0, 1], 2).delayMs).toBe(400);
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
