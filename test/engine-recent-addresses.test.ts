import { describe, expect, it } from 'vitest';
import { RecentAddresses, binaryKey, ipv4Key } from '../workers/recent-addresses.js';
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

  it('firstBytes is exact for non-IPv4 keys as its tables grow: kind, port and every byte tell keys apart', () => {
    const r = new RecentAddresses(20_000);
    const keys: [number, Uint8Array, number][] = [];
    for (let i = 0; i < 6000; i++) {
      const v6 = new Uint8Array(16);
      v6[0] = 0x2a;
      v6[14] = i >> 8;
      v6[15] = i & 255;
      const onion = new Uint8Array(32).fill(7);
      onion[31 - (i % 32)] = 1 + (i % 200);
      onion[0] = i >> 8;
      keys.push([2, v6, 8333], [2, v6, 8334], [5, v6, 8333], [3, onion, 8333]);
    }
    const seen = new Set(keys.map(([k, b, p]) => binaryKey(k, b, 0, b.length, p)));
    let fresh = 0;
    for (const [k, b, p] of keys) if (r.firstBytes(k, b, 0, b.length, p)) fresh++;
    expect(fresh).toBe(seen.size);
    for (const [k, b, p] of keys) expect(r.firstBytes(k, b, 0, b.length, p)).toBe(false);
    // The same bytes at an offset inside a larger buffer are the same key.
    const [k0, b0, p0] = keys[5]!;
    const wide = new Uint8Array(b0.length + 10);
    wide.set(b0, 7);
    expect(r.firstBytes(k0, wide, 7, 7 + b0.length, p0)).toBe(false);
  });

  it('firstBytes rolls generations when full and a forgotten key is reported again', () => {
    const r = new RecentAddresses(100);
    const key = (i: number) => {
      const b = new Uint8Array(16);
      b[0] = 0x2a;
      b[15] = i;
      return b;
    };
    for (let i = 0; i < 100; i++) expect(r.firstBytes(2, key(i), 0, 16, 8333)).toBe(true);
    for (let i = 100; i < 200; i++) expect(r.firstBytes(2, key(i), 0, 16, 8333)).toBe(true); // fills a second generation
    expect(r.firstBytes(2, key(150), 0, 16, 8333)).toBe(false);
    expect(r.firstBytes(2, key(50), 0, 16, 8333)).toBe(false); // still in the previous generation
    expect(r.firstBytes(2, key(200), 0, 16, 8333)).toBe(true); // a third generation: 0-99 are gone
    expect(r.firstBytes(2, key(3), 0, 16, 8333)).toBe(true);
    expect(r.size).toBeLessThanOrEqual(200);
    const b = key(150);
    r.forget(binaryKey(2, b, 0, 16, 8333));
    expect(r.firstBytes(2, b, 0, 16, 8333)).toBe(true);
    expect(r.firstBytes(2, b, 0, 16, 8333)).toBe(false);
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
