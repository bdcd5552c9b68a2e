/**
 * Which worker gets the next peer: the least-loaded live one. A pure function
 * so the policy is unit-tested without threads.
 */

/**
 * Returns the index of the smallest load, or -1 when there is none. A load of
 * `Infinity` (or NaN) marks a worker that must not get peers (dead, draining).
 * Ties go to the lowest index after `start`, so equal workers take turns when
 * the caller rotates `start`.
 */
export function pickWorker(loads: readonly number[], start = 0): number {
  const n = loads.length;
  let best = -1;
  let bestLoad = Infinity;
  for (let k = 0; k < n; k++) {
    const i = (start + k) % n;
    const load = loads[i] as number;
    if (load < bestLoad) {
      best = i;
      bestLoad = load;
    }
  }
  return best;
}
