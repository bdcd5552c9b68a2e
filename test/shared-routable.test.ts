import { describe, expect, it } from 'vitest';
import { Hygiene, netGroup, parseDenyList, unroutableReason } from '../src/shared/routable.js';
import { parseAddress } from '../src/wire/index.js';
import { fixedSeeds } from '../src/seeds/fixed-seeds.js';

const reason = (text: string): string | null => unroutableReason(parseAddress(text, 8333));

describe('unroutableReason: what Core would never dial', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'unspecified'],
    ['[::]', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['0.1.2.3', 'loopback'],
    ['[::1]', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'benchmark'],
    ['198.19.255.1', 'benchmark'],
    ['169.254.10.10', 'link-local'],
    ['[fe80::1]', 'link-local'],
    ['[fe80:0:0:1::1]', 'reserved'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.254', 'shared'],
    ['192.0.2.7', 'documentation'],
    ['198.51.100.7', 'documentation'],
    ['203.0.113.7', 'documentation'],
    ['[2001:db8::7]', 'documentation'],
    ['[fd00::1]', 'unique-local'],
    ['[2001:10::1]', 'orchid'],
    ['[2001:20::1]', 'orchid'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['[ff02::1]', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['[::ffff:10.0.0.1]', 'private'],
  ])('%s is %s', (text, why) => {
    expect(reason(text)).toBe(why);
  });

  it.each(['1.2.3.4', '172.15.255.255', '172.32.0.1', '100.63.255.255', '100.128.0.1', '198.17.0.1', '198.20.0.1', '[2001:db9::1]', '[2a01::1]', '[fc00::1]'])(
    '%s is routable',
    (text) => {
      expect(reason(text)).toBeNull();
    },
  );

  it("every one of Core's fixed seeds is routable (onion, I2P and CJDNS included)", () => {
    for (const s of fixedSeeds('mainnet')) expect([s.addr, unroutableReason(s.address)]).toEqual([s.addr, null]);
  });
});

describe('netGroup', () => {
  it('is /16 for IPv4, /32 for IPv6, the IPv4 /16 for embedded IPv4, 4 bits for overlay networks', () => {
    expect(netGroup(parseAddress('1.2.3.4:1'))).toBe(netGroup(parseAddress('1.2.200.9:1')));
    expect(netGroup(parseAddress('1.2.3.4:1'))).not.toBe(netGroup(parseAddress('1.3.3.4:1')));
    expect(netGroup(parseAddress('[2a01:4f8:1::1]:1'))).toBe(netGroup(parseAddress('[2a01:4f8:ffff::2]:1')));
    expect(netGroup(parseAddress('[2a01:4f9::1]:1'))).not.toBe(netGroup(parseAddress('[2a01:4f8::1]:1')));
    expect(netGroup(parseAddress('[2002:102:304::1]:1'))).toBe(netGroup(parseAddress('1.2.9.9:1')));
    expect(netGroup(parseAddress('[64:ff9b::102:304]:1'))).toBe(netGroup(parseAddress('1.2.9.9:1')));
    expect(netGroup(parseAddress('[2001:470:1000::1]:1'))).not.toBe(netGroup(parseAddress('[2001:470:2000::1]:1')));
  });
});

describe('Hygiene', () => {
  it('applies the deny-list, the bad-port rule and the per-netgroup cap', () => {
    const h = new Hygiene({ deny: parseDenyList('# abuse\n5.6.0.0/16\n\n2a02::/16 # host\n'), perNetgroup: 2, badPort: (p) => p === 22 });
    const a = (t: string) => parseAddress(t);
    expect(h.admit(a('5.6.7.8:8333'))).toBe('denied');
    expect(h.admit(a('[2a02::5]:8333'))).toBe('denied');
    expect(h.admit(a('9.9.9.9:22'))).toBe('bad-port');
    expect(h.admit(a('9.9.1.1:8333'))).toBeNull();
    expect(h.admit(a('9.9.1.2:8333'))).toBeNull();
    expect(h.check(a('9.9.7.7:8333'))).toBe('netgroup-full');
    expect(h.admit(a('9.9.7.7:8333'))).toBe('netgroup-full');
    expect(h.admit(a('9.10.0.1:8333'))).toBeNull();
    expect(h.admit(a('10.0.0.1:8333'))).toBe('private');
  });

  it('rejects a bad deny-list line by number and a bad cap', () => {
    expect(() => parseDenyList('1.2.3.0/24\nnope\n', 'deny.txt')).toThrow(expect.objectContaining({ code: 'ERR_BAD_CIDR', message: expect.stringContaining('deny.txt line 2') }));
    expect(parseDenyList('# nothing\n')).toBeNull();
    expect(() => new Hygiene({ perNetgroup: 0 })).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
  });
});
