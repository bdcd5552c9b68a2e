/**
 * Address text forms exactly as Bitcoin Core prints them, and parsing back.
 */
import { describe, expect, it } from 'vitest';
import { WireError } from '../src/errors.js';
import { NETWORKS, formatAddress, networkByMagic, parseAddress, type NetAddress } from '../src/wire/index.js';
import { unhex } from './wire-helpers.js';

const v6 = (hexBytes: string, port = 8333): NetAddress => ({ network: 'ipv6', bytes: unhex(hexBytes), port });

function badText(text: string, defaultPort?: number): string {
  try {
    parseAddress(text, defaultPort);
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    return (err as WireError).code;
  }
  return 'parsed';
}

describe('formatAddress', () => {
  it('prints IPv4 as a.b.c.d:port', () => {
    expect(formatAddress({ network: 'ipv4', bytes: Uint8Array.of(1, 2, 3, 4), port: 8333 })).toBe('1.2.3.4:8333');
  });

  it('prints IPv6 in brackets with RFC 5952 compression', () => {
    expect(formatAddress(v6('20010db8000000000000000000000001'))).toBe('[2001:db8::1]:8333');
    expect(formatAddress(v6('00000000000000000000000000000000', 0))).toBe('[::]:0');
    expect(formatAddress(v6('00000000000000000000000000000001'))).toBe('[::1]:8333');
    expect(formatAddress(v6('00010000000000000000000000000000'))).toBe('[1::]:8333');
  });

  it('compresses only the longest run of two or more zero groups, the first on a tie', () => {
    expect(formatAddress(v6('00010000000000010000000000000001'))).toBe('[1:0:0:1::1]:8333');
    expect(formatAddress(v6('00010000000000010000000000010001'))).toBe('[1::1:0:0:1:1]:8333');
    expect(formatAddress(v6('00010000000100010001000100010001'))).toBe('[1:0:1:1:1:1:1:1]:8333');
    expect(formatAddress(v6('abcd00000000000000000000000000ef'))).toBe('[abcd::ef]:8333');
  });

  it('prints Tor v3 as base32(pubkey, checksum, version).onion', () => {
    const bytes = unhex('79bcc625184b05194975c28b66b66b0469f7f6556fb1ac3189a79b40dda32f1f');
    expect(formatAddress({ network: 'onion', bytes, port: 8333 })).toBe('pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333');
  });

  it('prints I2P as 52 base32 characters .b32.i2p, port 0 included', () => {
    const bytes = unhex('a2894dabaec08c0051a481a6dac88b64f98232ae42d4b6fd2fa81952dfe36a87');
    expect(formatAddress({ network: 'i2p', bytes, port: 0 })).toBe('ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:0');
  });

  it('prints CJDNS in brackets like IPv6', () => {
    expect(formatAddress({ network: 'cjdns', bytes: unhex('fc000001000200030004000500060007'), port: 8333 })).toBe('[fc00:1:2:3:4:5:6:7]:8333');
  });

  it('refuses a NetAddress with the wrong byte length', () => {
    expect(() => formatAddress({ network: 'ipv4', bytes: new Uint8Array(16), port: 1 })).toThrow(WireError);
  });
});

describe('parseAddress', () => {
  it('reads every form formatAddress writes', () => {
    for (const text of [
      '1.2.3.4:8333',
      '[2001:db8::1]:8333',
      '[fc00:1:2:3:4:5:6:7]:8333',
      'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333',
      'ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p:0',
    ]) {
      expect(formatAddress(parseAddress(text))).toBe(text);
    }
  });

  it('classifies fc00::/8 as CJDNS and IPv4-mapped IPv6 as IPv4', () => {
    expect(parseAddress('[fc00::1]:1').network).toBe('cjdns');
    expect(parseAddress('[::ffff:1.2.3.4]:1')).toEqual({ network: 'ipv4', bytes: Uint8Array.of(1, 2, 3, 4), port: 1 });
    expect(parseAddress('[::ffff:102:304]:1').network).toBe('ipv4');
  });

  it('reads the IPv4 extremes and a zero port', () => {
    expect(parseAddress('0.0.0.0:0')).toEqual({ network: 'ipv4', bytes: Uint8Array.of(0, 0, 0, 0), port: 0 });
    expect(parseAddress('255.255.255.255:65535')).toEqual({ network: 'ipv4', bytes: Uint8Array.of(255, 255, 255, 255), port: 65535 });
  });

  it('takes the default port for a bare host and refuses a bare host without one', () => {
    expect(parseAddress('1.2.3.4', 18444).port).toBe(18444);
    expect(parseAddress('2001:db8::1', 8333)).toMatchObject({ network: 'ipv6', port: 8333 });
    expect(parseAddress('[2001:db8::1]', 8333).port).toBe(8333);
    expect(badText('1.2.3.4')).toBe('ERR_BAD_ADDRESS_TEXT');
  });

  it('accepts upper-case onion and I2P names', () => {
    expect(formatAddress(parseAddress('PG6MMJIYJMCRSSLVYKFWNNTLARU7P5SVN6Y2YMMJU6NUBXNDF4PSCRYD.ONION:1'))).toBe(
      'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:1',
    );
  });

  it('rejects an onion name with a bad checksum, a wrong version or a v2 length', () => {
    // Last character changed: the version byte no longer reads 3.
    expect(badText('pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryc.onion:1')).toBe('ERR_BAD_ADDRESS_TEXT');
    // First character changed: the checksum no longer matches the key.
    expect(badText('qg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:1')).toBe('ERR_BAD_ADDRESS_TEXT');
    expect(badText('expyuzz4wqqyqhjn.onion:1')).toBe('ERR_BAD_ADDRESS_TEXT');
  });

  it('rejects an I2P name of the wrong length or with non-zero padding bits', () => {
    expect(badText('ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkd.b32.i2p:0')).toBe('ERR_BAD_ADDRESS_TEXT');
    expect(badText('ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdr.b32.i2p:0')).toBe('ERR_BAD_ADDRESS_TEXT');
  });

  it('rejects malformed text with ERR_BAD_ADDRESS_TEXT', () => {
    for (const text of [
      '',
      '256.1.1.1:1',
      '01.2.3.4:1',
      '1.2.3:1',
      '1.2.3.4:65536',
      '1.2.3.4:-1',
      '1.2.3.4:',
      '[2001:db8::1:8333',
      '[2001:db8::1]8333',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '[12345::1]:1',
      'example.com:8333',
      '[fd87:d87e:eb43::1]:1',
      '[fd6b:88c0:8724::1]:1',
      '[fe80::1%eth0]:1',
      '1.2.3.4.5:1',
      '1..2.3:1',
      '.1.2.3:1',
      '1.2.3.:1',
      '1.2.3.04:1',
      '1.2.3.4:123456',
      '1.2.3.4:8a',
    ]) {
      expect([text, badText(text)]).toEqual([text, 'ERR_BAD_ADDRESS_TEXT']);
    }
  });
});

describe('networks', () => {
  it('has Core magics and default ports for every chain', () => {
    const table = Object.values(NETWORKS).map((n) => [n.name, Buffer.from(n.magic).toString('hex'), n.defaultPort]);
    expect(table).toEqual([
      ['mainnet', 'f9beb4d9', 8333],
      ['testnet3', '0b110907', 18333],
      ['testnet4', '1c163f28', 48333],
      ['signet', '0a03cf40', 38333],
      ['regtest', 'fabfb5da', 18444],
    ]);
  });

  it('finds each chain by its magic read as a little-endian uint32, and nothing for others', () => {
    for (const n of Object.values(NETWORKS)) {
      expect(networkByMagic(Buffer.from(n.magic).readUInt32LE(0))).toBe(n);
      expect(n.magicLE).toBe(Buffer.from(n.magic).readUInt32LE(0));
    }
    expect(networkByMagic(0xffffffff)).toBeUndefined();
  });

  it('lists the DNS seeds Core uses', () => {
    expect(NETWORKS.mainnet.dnsSeeds).toContain('seed.bitcoin.sipa.be.');
    expect(NETWORKS.mainnet.dnsSeeds).toHaveLength(8);
    expect(NETWORKS.testnet3.dnsSeeds).toHaveLength(5);
    expect(NETWORKS.testnet4.dnsSeeds).toHaveLength(2);
    expect(NETWORKS.signet.dnsSeeds).toHaveLength(2);
    expect(NETWORKS.regtest.dnsSeeds).toEqual(['dummySeed.invalid.']);
  });
});
