import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { MAX_INDEX, OPEN_INDEX, PEAK_INDEX, PeerCap, WORKER_BASE_INDEX } from '../src/shared/peer-cap.js';
import { UsageError } from '../src/errors.js';

const FIXTURE = new URL('./fixtures/peer-cap-worker.mjs', import.meta.url);

interface HammerResult {
  maxSeen: number;
  witnessMax: number;
  acquired: number;
  refused: number;
  heldAtEnd: number;
}

function startWorker(workerData: Record<string, unknown>): Worker {
  return new Worker(FIXTURE, { workerData });
}

async function firstMessage<T>(worker: Worker): Promise<T> {
  const [message] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([err]) => Promise.reject(err))])) as [T];
  return message;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).code;
  }
  return undefined;
}

describe('PeerCap in one thread', () => {
  it('grants slots up to the cap and refuses the next one', () => {
    const cap = PeerCap.create(3, 4);
    expect([cap.tryAcquire(0), cap.tryAcquire(1), cap.tryAcquire(1), cap.tryAcquire(2)]).toEqual([true, true, true, false]);
    expect(cap.open()).toBe(3);
    expect([cap.heldBy(0), cap.heldBy(1), cap.heldBy(2)]).toEqual([1, 2, 0]);
    cap.release(1);
    expect(cap.open()).toBe(2);
    expect(cap.tryAcquire(2)).toBe(true);
    expect(cap.open()).toBe(3);
  });

  it('lays the buffer out as [open, max, peak, perWorker...]', () => {
    const cap = PeerCap.create(125, 8);
    expect(cap.buffer.byteLength).toBe((3 + 8) * 4);
    cap.tryAcquire(5);
    const cells = new Int32Array(cap.buffer);
    expect([OPEN_INDEX, MAX_INDEX, PEAK_INDEX, WORKER_BASE_INDEX]).toEqual([0, 1, 2, 3]);
    expect(cells[OPEN_INDEX]).toBe(1);
    expect(cells[MAX_INDEX]).toBe(125);
    expect(cells[PEAK_INDEX]).toBe(1);
    expect(cells[WORKER_BASE_INDEX + 5]).toBe(1);
    expect(PeerCap.create(1).workerSlots).toBe(256);
  });

  it('shares state with a view attached to the same buffer', () => {
    const cap = PeerCap.create(2, 2);
    const view = PeerCap.attach(cap.buffer);
    expect(view.tryAcquire(1)).toBe(true);
    expect(cap.open()).toBe(1);
    expect(cap.heldBy(1)).toBe(1);
    cap.setMax(1);
    expect(view.max).toBe(1);
    expect(view.tryAcquire(0)).toBe(false);
  });

  it('throws on a release the worker slot does not hold, leaving the counts intact', () => {
    const cap = PeerCap.create(5, 2);
    cap.tryAcquire(0);
    expect(codeOf(() => cap.release(1))).toBe('ERR_BAD_ARGUMENT');
    expect(cap.open()).toBe(1);
    cap.release(0);
    expect(codeOf(() => cap.release(0))).toBe('ERR_BAD_ARGUMENT');
    expect(cap.open()).toBe(0);
  });

  it('lowering max stops new acquires without taking slots away', () => {
    const cap = PeerCap.create(4, 1);
    for (let i = 0; i < 4; i++) expect(cap.tryAcquire(0)).toBe(true);
    cap.setMax(2);
    expect(cap.open()).toBe(4);
    expect(cap.tryAcquire(0)).toBe(false);
    cap.release(0);
    cap.release(0);
    expect(cap.tryAcquire(0)).toBe(false); // open 2, max 2
    cap.release(0);
    expect(cap.tryAcquire(0)).toBe(true);
    cap.setMax(0);
    expect(cap.tryAcquire(0)).toBe(false);
  });

  it('keeps an exact high-water mark of open connections', () => {
    const cap = PeerCap.create(10, 2);
    expect(cap.peak()).toBe(0);
    for (let i = 0; i < 4; i++) cap.tryAcquire(i % 2);
    cap.release(0);
    cap.release(1);
    cap.tryAcquire(0);
    expect([cap.open(), cap.peak()]).toEqual([3, 4]);
    cap.resetPeak();
    expect(cap.peak()).toBe(3);
    cap.setMax(2);
    expect(cap.tryAcquire(0)).toBe(false);
    expect(cap.peak()).toBe(3);
  });

  it('reclaimWorker returns exactly the slots that worker held', () => {
    const cap = PeerCap.create(10, 3);
    for (let i = 0; i < 3; i++) cap.tryAcquire(1);
    cap.tryAcquire(2);
    expect(cap.reclaimWorker(1)).toBe(3);
    expect(cap.open()).toBe(1);
    expect(cap.heldBy(1)).toBe(0);
    expect(cap.reclaimWorker(1)).toBe(0);
    expect(cap.open()).toBe(1);
  });

  it('rejects bad arguments with typed errors', () => {
    expect(codeOf(() => PeerCap.create(-1))).toBe('ERR_BAD_ARGUMENT');
    expect(codeOf(() => PeerCap.create(1.5))).toBe('ERR_BAD_ARGUMENT');
    expect(codeOf(() => PeerCap.create(10, 0))).toBe('ERR_BAD_ARGUMENT');
    expect(codeOf(() => PeerCap.attach(new SharedArrayBuffer(6)))).toBe('ERR_BAD_ARGUMENT');
    expect(codeOf(() => PeerCap.attach(new SharedArrayBuffer(12)))).toBe('ERR_BAD_ARGUMENT'); // header, no worker slot
    expect(codeOf(() => PeerCap.attach(new ArrayBuffer(16) as unknown as SharedArrayBuffer))).toBe('ERR_BAD_ARGUMENT');
    const cap = PeerCap.create(10, 2);
    expect(codeOf(() => cap.tryAcquire(2))).toBe('ERR_BAD_ARGUMENT');
    expect(codeOf(() => cap.tryAcquire(-1))).toBe('ERR_BAD_ARGUMENT');
    expect(codeOf(() => cap.setMax(Number.NaN))).toBe('ERR_BAD_ARGUMENT');
    expect(cap.open()).toBe(0);
  });
});

describe('PeerCap across real threads', () => {
  it('four threads hammering acquire/release never exceed the cap and leak nothing', async () => {
    const max = 5;
    const cap = PeerCap.create(max, 4);
    const gate = new SharedArrayBuffer(8); // [arrived, witness]
    const workers = [0, 1, 2, 3].map((slot) =>
      startWorker({ buffer: cap.buffer, slot, mode: 'hammer', rounds: 100_000, burst: 3, gate, parties: 4 }),
    );
    try {
      const results = await Promise.all(workers.map((worker) => firstMessage<HammerResult>(worker)));
      const maxSeen = Math.max(...results.map((result) => result.maxSeen));
      expect(maxSeen).toBeLessThanOrEqual(max);
      expect(Math.max(...results.map((result) => result.witnessMax))).toBeLessThanOrEqual(max);
      // 12 wanted slots against 5: the cap must actually have been contended.
      expect(results.reduce((sum, result) => sum + result.refused, 0)).toBeGreaterThan(0);
      // The cap promises a bound, not fairness: under load one thread can be
      // preempted while its peers hold every slot for its whole run, so only
      // the total must show real traffic. Every thread must end holding nothing.
      expect(results.reduce((sum, result) => sum + result.acquired, 0)).toBeGreaterThan(0);
      expect(results.every((result) => result.heldAtEnd === 0)).toBe(true);
      expect(cap.open()).toBe(0);
      // The exact peak agrees with what the threads saw, and never passes the cap.
      expect(cap.peak()).toBeGreaterThanOrEqual(maxSeen);
      expect(cap.peak()).toBeLessThanOrEqual(max);
    } finally {
      await Promise.all(workers.map((worker) => worker.terminate()));
    }
  });

  it('gives back exactly the slots of a thread terminated while holding them', async () => {
    const cap = PeerCap.create(50, 4);
    const holder = startWorker({ buffer: cap.buffer, slot: 3, mode: 'hold', hold: 7 });
    const hammer = startWorker({ buffer: cap.buffer, slot: 0, mode: 'hammer', rounds: 5_000, burst: 4 });
    // Listen from the start: the hammer may finish before the holder reports.
    const holding = firstMessage<{ held: number }>(holder);
    const hammering = firstMessage<HammerResult>(hammer);
    try {
      expect(await holding).toEqual({ held: 7 });
      await holder.terminate();
      expect(cap.heldBy(3)).toBe(7);
      const hammered = await hammering;
      expect(hammered.maxSeen).toBeLessThanOrEqual(50);
      expect(cap.open()).toBe(7);
      expect(cap.reclaimWorker(3)).toBe(7);
      expect(cap.open()).toBe(0);
      expect(cap.heldBy(3)).toBe(0);
    } finally {
      await Promise.all([holder.terminate(), hammer.terminate()]);
    }
  });

  it('at a full cap, a thread holding every slot starves the others until reclaimed', async () => {
    const cap = PeerCap.create(6, 2);
    const holder = startWorker({ buffer: cap.buffer, slot: 1, mode: 'hold', hold: 100 });
    try {
      expect(await firstMessage<{ held: number }>(holder)).toEqual({ held: 6 });
      expect(cap.tryAcquire(0)).toBe(false);
      await holder.terminate();
      expect(cap.tryAcquire(0)).toBe(false);
      expect(cap.reclaimWorker(1)).toBe(6);
      expect(cap.tryAcquire(0)).toBe(true);
      expect(cap.open()).toBe(1);
    } finally {
      await holder.terminate();
    }
  });
});
