import { describe, expect, it } from 'vitest';
import { pickWorker } from '../src/engine/balancer.js';

describe('pickWorker (least-loaded balancer)', () => {
  it('picks the worker with the fewest open peers', () => {
    expect(pickWorker([5, 2, 9])).toBe(1);
    expect(pickWorker([0, 3])).toBe(0);
  });

  it('returns -1 when there is no worker or every worker is dead', () => {
    expect(pickWorker([])).toBe(-1);
    expect(pickWorker([Infinity, Infinity])).toBe(-1);
    expect(pickWorker([NaN])).toBe(-1);
  });

  it('never picks a dead (Infinity) worker even when others are busy', () => {
    expect(pickWorker([Infinity, 100, Infinity])).toBe(1);
  });

  it('breaks ties from the rotating start so equal workers take turns', () => {
    expect(pickWorker([1, 1, 1], 0)).toBe(0);
    expect(pickWorker([1, 1, 1], 1)).toBe(1);
    expect(pickWorker([1, 1, 1], 2)).toBe(2);
    expect(pickWorker([1, 0, 1], 2)).toBe(1);
  });

  it('spreads a sequence of dispatches evenly', () => {
    const loads = [0, 0, 0, 0];
    for (let i = 0; i < 40; i++) {
      const w = pickWorker(loads, i % loads.length);
      loads[w] = (loads[w] as number) + 1;
    }
    expect(loads).toEqual([10, 10, 10, 10]);
  });
});
