import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIXED_SEED_FILES, fixedSeeds, parseFixedSeeds } from '../src/seeds/fixed-seeds.js';
import type { NetworkName } from '../src/wire/types.js';

const countBy = (xs: readonly { network: string }[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const x of xs) out[x.network] = (out[x.network] ?? 0) + 1;
  return out;
};

describe("Core's fixed seeds shipped in the package", () => {
  it('every line of every file parses, and formats back to the text Core wrote', () => {
    for (const [network, file] of Object.entries(FIXED_SEED_FILES) as Array<[NetworkName, string | null]>) {
      if (file === null) {
        expect(fixedSeeds(network)).toEqual([]);
        continue;
      }
      const lines = readFileSync(new URL(`../src/seeds/data/${file}`, import.meta.url), 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim())
        .filter((l) => l !== '');
      const seeds = fixedSeeds(network);
      expect(seeds).toHaveLength(lines.length);
      expect(seeds.map((s) => s.addr)).toEqual(lines);
    }
  });

  it('mainnet holds all five networks in the counts Core ships', () => {
    expect(countBy(fixedSeeds('mainnet'))).toEqual({ ipv4: 512, ipv6: 512, onion: 512, i2p: 512, cjdns: 11 });
    for (const s of fixedSeeds('mainnet')) if (s.network === 'i2p') expect(s.address.port).toBe(0);
  });

  it('parses every form, comments and a missing port', () => {
    const onion = fixedSeeds('mainnet').find((s) => s.network === 'onion')!.addr.replace(/:\d+$/, '');
    const text = [
      '# a comment line',
      '1.2.3.4:8333 # AS1',
      '[2001:db8::1]:18333',
      `${onion}`,
      'ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:0',
      '[fc32:17ea:e415:c3bf:9808:149d:b5a2:c9aa]:8333',
      '',
      '5.6.7.8',
    ].join('\n');
    expect(parseFixedSeeds(text, 8333).map((s) => [s.addr, s.network])).toEqual([
      ['1.2.3.4:8333', 'ipv4'],
      ['[2001:db8::1]:18333', 'ipv6'],
      [`${onion}:8333`, 'onion'],
      ['ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:0', 'i2p'],
      ['[fc32:17ea:e415:c3bf:9808:149d:b5a2:c9aa]:8333', 'cjdns'],
      ['5.6.7.8:8333', 'ipv4'],
    ]);
  });

  it('names the bad line: bad onion checksum, bad host, an I2P seed with a port', () => {
    const onion = fixedSeeds('mainnet').find((s) => s.network === 'onion')!.addr;
    const broken = (onion[0] === 'a' ? 'b' : 'a') + onion.slice(1);
    expect(() => parseFixedSeeds(`1.2.3.4:8333\n${broken}`, 8333, 'x.txt')).toThrow(expect.objectContaining({ code: 'ERR_BAD_SEED_LINE', message: expect.stringContaining('x.txt line 2') }));
    expect(() => parseFixedSeeds('not-a-host:8333', 8333)).toThrow(expect.objectContaining({ code: 'ERR_BAD_SEED_LINE' }));
    expect(() => parseFixedSeeds('ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:8333', 8333)).toThrow(expect.objectContaining({ code: 'ERR_BAD_SEED_LINE', message: expect.stringContaining('port 0') }));
  });
});
