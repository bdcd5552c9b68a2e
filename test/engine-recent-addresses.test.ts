import { describe, expect, it } from 'vitest';
import { RecentAddresses, ipv4Key } from '../workers/recent-addresses.js';
import { parseAddress, formatAddress } from '../src/wire/index.js';

describe('RecentAddresses (a worker reports each gossiped address once)', () => {
  it('says firstTime once per key, for numbers and texts alike', () => {
    const r = new RecentAddresses(100);
    expect(r.firstTime(1)).toBe(true);
    expect(r.firstTime(1)).toBe(false);
    expect(r.firstTime('[2001:db8::1]:8333')).toBe(true);
    expect(r.firstTime('[2001:db8::1]:8333')).toBe(false);
    expect(r.firstTime('1')).toBe(true); // a text key never collides with a number key
  });

  it('stays bounded: two generations, the oldest forgotten (and reported again)', () => {
    const r = new RecentAddresses(3);
    for (const k of [1, 2, 3, 4, 5, 6]) expect(r.firstTime(k)).toBe(true);
    expect(r.size).toBeLessThanOrEqual(6);
    expect(r.firstTime(6)).toBe(false); // current generation
    expect(r.firstTime(3)).toBe(false); // previous generation
    expect(r.firstTime(7)).toBe(true); // rotates: 1-3 are gone
    expect(r.firstTime(1)).toBe(true);
    expect(r.size).toBeLessThanOrEqual(6);
  });

  it('keeps numeric keys up to 2^48 apart, including 0 and keys that differ only in the port or only in the address', () => {
    const r = new RecentAddresses(5000);
    const keys = [0, 1, 2 ** 48 - 1, 65536, 65537, 2 ** 32, 2 ** 47 + 3];
    for (let i = 0; i < 2000; i++) keys.push(ipv4Key(new Uint8Array([127, 100, i >> 8, i & 255]), 0, 18444), ipv4Key(new Uint8Array([10, 0, 0, 1]), 0, i));
    const unique = [...new Set(keys)];
    for (const k of unique) expect(r.firstTime(k)).toBe(true);
    for (const k of unique) expect(r.firstTime(k)).toBe(false);
    expect(r.firstTime(2 ** 48 - 2)).toBe(true);
    expect(r.size).toBe(unique.length + 1);
  });

  it('ipv4Key is one-to-one with the Core text form of an IPv4 address and port', () => {
    const texts = ['0.0.0.0:0', '255.255.255.255:65535', '127.100.0.2:18444', '127.100.0.2:18445', '127.100.2.0:18444', '1.2.3.4:8333'];
    const keys = texts.map((t) => {
      const a = parseAddress(t);
      expect(formatAddress(a)).toBe(t);
      return ipv4Key(a.bytes, 0, a.port);
    });
    expect(new Set(keys).size).toBe(texts.length);
    expect(keys[1]).toBe(2 ** 48 - 1);
    expect(keys[0]).toBe(0);
  });
});
