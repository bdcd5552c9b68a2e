import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllowList, formatIpv6, parseIpv6 } from '../src/shared/allow-list.js';
import { UsageError } from '../src/errors.js';
import type { NetAddress } from '../src/wire/types.js';

function v4(...bytes: number[]): NetAddress {
  return { network: 'ipv4', bytes: Uint8Array.from(bytes), port: 8333 };
}

function v6(text: string): NetAddress {
  const bytes = parseIpv6(text);
  if (!bytes) throw new Error(`test bug: ${text}`);
  return { network: 'ipv6', bytes, port: 8333 };
}

function cidrError(cidrs: readonly string[]): UsageError | undefined {
  try {
    AllowList.parse(cidrs);
  } catch (error) {
    return error as UsageError;
  }
  return undefined;
}

describe('AllowList IPv4', () => {
  const loopback = AllowList.parse(['127.0.0.0/8']);

  it('allows inside the range and refuses just outside it', () => {
    expect(loopback.allowsHost('127.0.0.1')).toBe(true);
    expect(loopback.allowsHost('127.255.255.255')).toBe(true);
    expect(loopback.allowsHost('127.0.0.0')).toBe(true);
    expect(loopback.allowsHost('128.0.0.0')).toBe(false);
    expect(loopback.allowsHost('126.255.255.255')).toBe(false);
    expect(loopback.allows(v4(127, 100, 0, 2))).toBe(true);
    expect(loopback.allows(v4(10, 0, 0, 1))).toBe(false);
  });

  it('handles prefixes that are not byte aligned', () => {
    const list = AllowList.parse(['10.0.0.0/9', '192.168.1.64/26']);
    expect(list.allowsHost('10.127.255.255')).toBe(true);
    expect(list.allowsHost('10.128.0.0')).toBe(false);
    expect(list.allowsHost('192.168.1.64')).toBe(true);
    expect(list.allowsHost('192.168.1.127')).toBe(true);
    expect(list.allowsHost('192.168.1.128')).toBe(false);
    expect(list.allowsHost('192.168.1.63')).toBe(false);
  });

  it('treats a bare address as a single host', () => {
    const list = AllowList.parse(['127.0.0.5']);
    expect(list.allowsHost('127.0.0.5')).toBe(true);
    expect(list.allowsHost('127.0.0.6')).toBe(false);
    expect(list.toString()).toBe('127.0.0.5/32');
  });

  it('checks IPv4-mapped IPv6 as the IPv4 address it carries', () => {
    expect(loopback.allowsHost('::ffff:127.0.0.1')).toBe(true);
    expect(loopback.allowsHost('::ffff:7f00:1')).toBe(true);
    expect(loopback.allowsHost('::ffff:128.0.0.1')).toBe(false);
    expect(loopback.allows(v6('::ffff:127.1.2.3'))).toBe(true);
    expect(loopback.allows(v6('::ffff:8.8.8.8'))).toBe(false);
    // An IPv6 rule does not let mapped IPv4 through, and vice versa for ::1.
    expect(AllowList.parse(['::/0']).allowsHost('::ffff:8.8.8.8')).toBe(false);
    expect(loopback.allowsHost('::1')).toBe(false);
    // A mapped CIDR is an IPv4 rule.
    expect(AllowList.parse(['::ffff:0:0/96']).toString()).toBe('0.0.0.0/0');
    const mapped = AllowList.parse(['::ffff:127.0.0.0/104']);
    expect(mapped.toString()).toBe('127.0.0.0/8');
    expect(mapped.allowsHost('127.9.9.9')).toBe(true);
  });
});

describe('AllowList IPv6', () => {
  const list = AllowList.parse(['::1/128', 'fc00::/7', '2001:db8:abcd::/48']);

  it('allows inside and refuses outside', () => {
    expect(list.allowsHost('::1')).toBe(true);
    expect(list.allowsHost('::2')).toBe(false);
    expect(list.allowsHost('::')).toBe(false);
    expect(list.allowsHost('fc00::1')).toBe(true);
    expect(list.allowsHost('fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(true);
    expect(list.allowsHost('fe00::')).toBe(false);
    expect(list.allowsHost('fbff:ffff::1')).toBe(false);
    expect(list.allowsHost('2001:db8:abcd:ffff::9')).toBe(true);
    expect(list.allowsHost('2001:db8:abce::')).toBe(false);
    expect(list.allows(v6('0:0:0:0:0:0:0:1'))).toBe(true);
    expect(list.allows(v6('2001:DB8:ABCD::'))).toBe(true);
  });

  it('never allows non-IP networks, even under AllowList.any()', () => {
    const any = AllowList.any();
    for (const network of ['onion', 'i2p'] as const) expect(any.allows({ network, bytes: new Uint8Array(32), port: 0 })).toBe(false);
    expect(any.allows({ network: 'cjdns', bytes: parseIpv6('fc00::1') as Uint8Array, port: 8333 })).toBe(false);
    expect(list.allows({ network: 'cjdns', bytes: parseIpv6('fc00::1') as Uint8Array, port: 8333 })).toBe(false);
    expect(any.allowsHost('8.8.8.8')).toBe(true);
    expect(any.allowsHost('2001:db8::1')).toBe(true);
    expect(any.allowsHost('::ffff:1.2.3.4')).toBe(true);
  });

  it('refuses hostnames, zone ids, brackets and malformed bytes rather than guessing', () => {
    const any = AllowList.any();
    for (const host of ['localhost', '', 'fe80::1%eth0', '[::1]', '127.0.0.1:8333', '01.2.3.4', '1.2.3', '::1::', '1:2:3:4:5:6:7:8:9']) {
      expect(any.allowsHost(host)).toBe(false);
    }
    expect(any.allows({ network: 'ipv4', bytes: new Uint8Array(16), port: 1 })).toBe(false);
    expect(any.allows({ network: 'ipv6', bytes: new Uint8Array(4), port: 1 })).toBe(false);
  });

  it('prints canonical CIDRs', () => {
    expect(list.toString()).toBe('::1/128,fc00::/7,2001:db8:abcd::/48');
    expect(AllowList.parse(['10.1.2.3/8', 'FE80:0:0:0:1:0:0:1/64']).toString()).toBe('10.0.0.0/8,fe80::/64');
    expect(AllowList.loopback().toString()).toBe('127.0.0.0/8,::1/128');
    expect(AllowList.parseText('127.0.0.0/8, ::1  10.0.0.0/8').toString()).toBe('127.0.0.0/8,10.0.0.0/8,::1/128');
  });

  it('survives the trip to a worker as strings', () => {
    const copy = AllowList.parse(structuredClone(list.toArray()));
    expect(copy.toString()).toBe(list.toString());
    expect(JSON.stringify(list)).toBe(JSON.stringify(list.toArray()));
    expect(AllowList.parseText(list.toString()).allowsHost('fc00::1')).toBe(true);
    expect(copy.allowsHost('fe00::')).toBe(false);
  });
});

describe('AllowList input errors', () => {
  it('rejects bad CIDRs with ERR_BAD_CIDR and a message naming the input', () => {
    for (const bad of ['127.0.0.0/33', '300.1.1.1/8', 'abc', '', '   ', '::1/129', '127.0.0.0/', '127.0.0.0/-1', '127.0.0.0/8/8', '1.2.3.4/ 8', 'fe80::1%lo/64', '::1::/64']) {
      const error = cidrError([bad]);
      expect(error, bad).toBeInstanceOf(UsageError);
      expect(error?.code).toBe('ERR_BAD_CIDR');
      expect(error?.message).toContain(JSON.stringify(bad));
    }
  });

  it('rejects an empty list, pointing at AllowList.any()', () => {
    const error = cidrError([]);
    expect(error?.code).toBe('ERR_BAD_CIDR');
    expect(error?.message).toContain('AllowList.any()');
    expect(cidrError('127.0.0.0/8' as unknown as string[])?.code).toBe('ERR_BAD_CIDR');
    expect(() => AllowList.parseText(' , ')).toThrow(UsageError);
  });
});

describe('AllowList agrees with node:net BlockList', () => {
  const byte = fc.integer({ min: 0, max: 255 });
  const word = fc.integer({ min: 0, max: 0xffff });

  it('on random IPv4 ranges and addresses', () => {
    fc.assert(
      fc.property(fc.array(byte, { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }), fc.array(byte, { minLength: 4, maxLength: 4 }), (net, prefix, host) => {
        const cidr = `${net.join('.')}/${prefix}`;
        // Keep the probe near the range half the time so both outcomes occur.
        const probe = (host[0] as number) % 2 === 0 ? [...net.slice(0, 3), host[3] as number] : host;
        const oracle = new BlockList();
        oracle.addSubnet(net.join('.'), prefix, 'ipv4');
        expect(AllowList.parse([cidr]).allowsHost(probe.join('.'))).toBe(oracle.check(probe.join('.'), 'ipv4'));
      }),
      { numRuns: 500 },
    );
  });

  it('on random IPv6 ranges and addresses, parsed and printed round trip', () => {
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 128 }), fc.array(word, { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 8 }), (net, prefix, host, zeros) => {
        // Zero a run of groups so the :: forms get exercised.
        const netWords = net.map((w, i) => (i < zeros ? 0 : w));
        const netText = netWords.map((w) => w.toString(16)).join(':');
        const probeWords = (host[0] as number) % 2 === 0 ? [...netWords.slice(0, 6), ...host.slice(6)] : host;
        const probeText = formatIpv6(parseIpv6(probeWords.map((w) => w.toString(16)).join(':')) as Uint8Array);
        expect(formatIpv6(parseIpv6(probeText) as Uint8Array)).toBe(probeText);
        const isMapped = netWords.slice(0, 5).every((w) => w === 0) && netWords[5] === 0xffff;
        fc.pre(!isMapped && !(probeWords.slice(0, 5).every((w) => w === 0) && probeWords[5] === 0xffff));
        const oracle = new BlockList();
        oracle.addSubnet(netText, prefix, 'ipv6');
        expect(AllowList.parse([`${netText}/${prefix}`]).allowsHost(probeText)).toBe(oracle.check(probeText, 'ipv6'));
      }),
      { numRuns: 500 },
    );
  });
});
