import { describe, expect, it } from 'vitest';
import { Frontier } from '../src/engine/frontier.js';
import { UsageError } from '../src/errors.js';

const ONION = `${'a'.repeat(56)}.onion:8333`;
const I2P = `${'b'.repeat(52)}.b32.i2p:0`;

function drain(frontier: Frontier): string[] {
  const out: string[] = [];
  for (let text = frontier.next(); text !== undefined; text = frontier.next()) out.push(text);
  return out;
}

describe('Frontier', () => {
  it('dedupes by the full text form: same host on another port is a different address', () => {
    const frontier = new Frontier();
    expect(frontier.add('127.0.0.1:18444', 'ipv4')).toBe(true);
    expect(frontier.add('127.0.0.1:18445', 'ipv4')).toBe(true);
    expect(frontier.add('127.0.0.1:18444', 'ipv4')).toBe(false);
    expect(frontier.add('[::1]:18444', 'ipv6')).toBe(true);
    expect(frontier.add('[::1]:18444', 'ipv6')).toBe(false);
    expect([frontier.known, frontier.queued, frontier.skipped]).toEqual([3, 3, 0]);
  });

  it('hands addresses out first in, first out, and never twice', () => {
    const frontier = new Frontier();
    for (const text of ['127.0.0.1:1', '127.0.0.2:1', '127.0.0.3:1']) frontier.add(text, 'ipv4');
    expect(frontier.next()).toBe('127.0.0.1:1');
    expect(frontier.add('127.0.0.1:1', 'ipv4')).toBe(false); // already dialled: still known
    frontier.add('127.0.0.4:1', 'ipv4');
    expect(drain(frontier)).toEqual(['127.0.0.2:1', '127.0.0.3:1', '127.0.0.4:1']);
    expect(frontier.next()).toBeUndefined();
    expect([frontier.known, frontier.queued, frontier.taken]).toEqual([4, 0, 4]);
  });

  it('requeue puts an address back at the front, in last-requeued-first order', () => {
    const frontier = new Frontier();
    for (const text of ['a:1', 'b:1', 'c:1', 'd:1']) frontier.add(text, 'ipv4');
    const first = frontier.next() as string;
    const second = frontier.next() as string;
    frontier.requeue(second);
    frontier.requeue(first);
    expect(frontier.stateOf(first)).toBe('queued');
    expect([frontier.known, frontier.queued]).toEqual([4, 4]);
    expect(drain(frontier)).toEqual(['a:1', 'b:1', 'c:1', 'd:1']);
  });

  it('requeueing a queued address does not duplicate it; an unknown one becomes known', () => {
    const frontier = new Frontier();
    frontier.add('a:1', 'ipv4');
    frontier.requeue('a:1');
    expect(frontier.queued).toBe(1);
    frontier.requeue('z:9');
    expect([frontier.known, frontier.queued]).toEqual([2, 2]);
    expect(drain(frontier)).toEqual(['z:9', 'a:1']);
  });

  it('records non-IP addresses as skipped and never queues them', () => {
    const frontier = new Frontier();
    expect(frontier.add(ONION, 'onion')).toBe(true);
    expect(frontier.add(I2P, 'i2p')).toBe(true);
    expect(frontier.add('[fc00::1]:8333', 'cjdns')).toBe(true);
    expect(frontier.add(ONION, 'onion')).toBe(false);
    frontier.add('127.0.0.1:8333', 'ipv4');
    expect([frontier.known, frontier.queued, frontier.skipped]).toEqual([4, 1, 3]);
    expect(drain(frontier)).toEqual(['127.0.0.1:8333']);
    expect([...frontier.skippedAddresses()]).toEqual([
      { text: ONION, network: 'onion' },
      { text: I2P, network: 'i2p' },
      { text: '[fc00::1]:8333', network: 'cjdns' },
    ]);
    expect(frontier.stateOf(ONION)).toBe('skipped');
    expect(() => frontier.requeue(ONION)).toThrow(UsageError);
    expect(frontier.queued).toBe(0);
  });

  it('rejects an empty address or an unknown network with a typed error', () => {
    const frontier = new Frontier();
    expect(() => frontier.add('', 'ipv4')).toThrow(UsageError);
    expect(() => frontier.add('x:1', 'tor' as never)).toThrow(UsageError);
    expect(frontier.known).toBe(0);
  });

  it('keeps order across ring-buffer growth, wrap-around and shrinking', () => {
    const frontier = new Frontier();
    const expected: string[] = [];
    const got: string[] = [];
    let n = 0;
    // Interleave adds, takes and requeues so the ring wraps many times.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 37; i++) {
        const text = `127.0.${n >> 8}.${n & 255}:${8333 + round}`;
        n++;
        frontier.add(text, 'ipv4');
        expected.push(text);
      }
      for (let i = 0; i < 30; i++) {
        const text = frontier.next() as string;
        if (i % 7 === 0) frontier.requeue(text);
        else got.push(text);
      }
    }
    got.push(...drain(frontier));
    expect(got).toEqual(expected);
    expect(frontier.queued).toBe(0);
  });

  it('holds 1,000,000 addresses with exact counts', () => {
    const frontier = new Frontier();
    let added = 0;
    for (let i = 0; i < 1_000_000; i++) {
      if (frontier.add(`127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${8333 + (i >> 24)}`, 'ipv4')) added++;
    }
    // A second pass over a slice is all duplicates.
    for (let i = 0; i < 1_000; i++) if (frontier.add(`127.0.${(i >> 8) & 255}.${i & 255}:8333`, 'ipv4')) added++;
    expect(added).toBe(1_000_000);
    expect([frontier.known, frontier.queued, frontier.skipped]).toEqual([1_000_000, 1_000_000, 0]);
    expect(frontier.next()).toBe('127.0.0.0:8333');
    let taken = 1;
    while (frontier.next() !== undefined) taken++;
    expect(taken).toBe(1_000_000);
    expect([frontier.known, frontier.queued, frontier.taken]).toEqual([1_000_000, 0, 1_000_000]);
  });

  it('carries each address to done once: finish() is true the first time only, and a done address is never queued again', () => {
    const frontier = new Frontier();
    frontier.add('127.0.0.1:1', 'ipv4');
    frontier.add('127.0.0.2:1', 'ipv4');
    frontier.add(ONION, 'onion');
    expect(frontier.next()).toBe('127.0.0.1:1');
    expect(frontier.finish('127.0.0.1:1')).toBe(true);
    expect(frontier.finish('127.0.0.1:1')).toBe(false);
    expect(frontier.stateOf('127.0.0.1:1')).toBe('done');
    // A skipped (non-IP) address was recorded when learned: never finished again.
    expect(frontier.finish(ONION)).toBe(false);
    // Requeueing a done address does nothing.
    frontier.requeue('127.0.0.1:1');
    expect(frontier.stateOf('127.0.0.1:1')).toBe('done');
    expect([frontier.known, frontier.queued, frontier.taken, frontier.done, frontier.skipped]).toEqual([3, 1, 0, 1, 1]);
    // An address never seen can be finished (it is added as done).
    expect(frontier.finish('127.0.0.3:1')).toBe(true);
    expect([frontier.known, frontier.done]).toEqual([4, 2]);
    expect(drain(frontier)).toEqual(['127.0.0.2:1']);
  });

  it('takes a queued address out of turn (take): next() skips it, the counts stay exact', () => {
    const frontier = new Frontier();
    for (const a of ['127.0.0.1:1', '127.0.0.2:1', '127.0.0.3:1']) frontier.add(a, 'ipv4');
    expect(frontier.take('127.0.0.2:1')).toBe(true);
    expect(frontier.stateOf('127.0.0.2:1')).toBe('taken');
    expect([frontier.queued, frontier.taken]).toEqual([2, 1]);
    expect(frontier.take('127.0.0.9:1')).toBe(false);
    expect(frontier.take(ONION)).toBe(false);
    // Requeued after being taken out of turn: dialled next, once.
    frontier.requeue('127.0.0.2:1');
    expect(drain(frontier)).toEqual(['127.0.0.2:1', '127.0.0.1:1', '127.0.0.3:1']);
    expect([frontier.queued, frontier.taken]).toEqual([0, 3]);
  });
});
