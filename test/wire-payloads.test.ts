/**
 * Payload codecs: Core's strictness rules, limits and the edge cases the
 * vectors do not cover.
 */
import { describe, expect, it } from 'vitest';
import { WireError } from '../src/errors.js';
import {
  MAX_ADDR_PER_MESSAGE,
  NETWORKS,
  PROTOCOL_VERSION,
  decodePayload,
  encodeCompactSize,
  encodeMessage,
  encodePayload,
  frameMessage,
  isAddressValid,
  makeVersion,
  parseAddress,
  versionAddress,
  type AddrEntry,
  type Message,
  type VersionPayload,
} from '../src/wire/index.js';
import { unhex } from './wire-helpers.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof WireError) return err.code;
    throw err;
  }
  return 'no error';
}

const ipv4Entry = (i: number): AddrEntry => ({ time: 1_700_000_000, services: 9n, address: parseAddress(`10.0.${(i >> 8) & 255}.${i & 255}:8333`), networkId: 1 });

function version(p: Uint8Array): VersionPayload {
  const m = decodePayload('version', p);
  if (m.command !== 'version') throw new Error('not a version');
  return m.payload;
}

function entries(command: 'addr' | 'addrv2', p: Uint8Array): readonly AddrEntry[] {
  const m = decodePayload(command, p);
  if (m.command !== command) throw new Error(`not ${command}`);
  return m.entries;
}

describe('addr / addrv2 limits', () => {
  it('accepts an addr message with exactly 1,000 entries', () => {
    const p = encodePayload({ command: 'addr', entries: Array.from({ length: 1000 }, (_, i) => ipv4Entry(i)) });
    expect(p.length).toBe(3 + 30_000);
    expect(entries('addr', p)).toHaveLength(1000);
  });

  it('rejects an addr message with 1,001 entries', () => {
    const p = encodePayload({ command: 'addr', entries: Array.from({ length: 1001 }, (_, i) => ipv4Entry(i)) });
    expect(codeOf(() => decodePayload('addr', p))).toBe('ERR_ADDR_TOO_MANY');
  });

  it('rejects an addrv2 message with 1,001 entries', () => {
    const p = encodePayload({ command: 'addrv2', entries: Array.from({ length: 1001 }, (_, i) => ipv4Entry(i)) });
    expect(codeOf(() => decodePayload('addrv2', p))).toBe('ERR_ADDR_TOO_MANY');
  });

  it('checks the entry count before reading any entry (a bare huge count is "too many", not "truncated")', () => {
    expect(codeOf(() => decodePayload('addr', encodeCompactSize(1001)))).toBe('ERR_ADDR_TOO_MANY');
    expect(codeOf(() => decodePayload('addrv2', encodeCompactSize(0x02000000)))).toBe('ERR_ADDR_TOO_MANY');
  });

  it('rejects a count above MAX_SIZE and a non-canonical count', () => {
    expect(codeOf(() => decodePayload('addr', unhex('fe01000002')))).toBe('ERR_COMPACTSIZE_TOO_LARGE');
    expect(codeOf(() => decodePayload('addr', unhex('fd0100')))).toBe('ERR_NONCANONICAL_COMPACTSIZE');
  });

  it('rejects an addr payload shorter or longer than its count says', () => {
    const p = encodePayload({ command: 'addr', entries: [ipv4Entry(1), ipv4Entry(2)] });
    expect(codeOf(() => decodePayload('addr', p.subarray(0, p.length - 1)))).toBe('ERR_TRUNCATED');
    expect(codeOf(() => decodePayload('addr', Buffer.concat([p, Buffer.alloc(1)])))).toBe('ERR_TRAILING_BYTES');
    expect(codeOf(() => decodePayload('addrv2', unhex('0100')))).toBe('ERR_TRUNCATED');
  });

  it('reads addrv2 service flags without the MAX_SIZE range check', () => {
    // time, services = ff ffffffffffffffff, IPv4 1.2.3.4, port 8333
    const e = entries('addrv2', unhex('01' + '00000000' + 'ffffffffffffffffff' + '010401020304' + '208d'));
    expect(e[0]!.services).toBe(0xffffffffffffffffn);
    expect(e[0]!.address).toMatchObject({ network: 'ipv4', port: 8333 });
  });

  it('range-checks the addrv2 address length', () => {
    expect(codeOf(() => decodePayload('addrv2', unhex('01' + '00000000' + '00' + '02' + 'fe01000002')))).toBe('ERR_COMPACTSIZE_TOO_LARGE');
  });

  it('rejects an addrv2 address longer than 512 bytes even for an unknown network id', () => {
    const p = unhex('01' + '00000000' + '00' + '99' + 'fd0102' + 'ab'.repeat(513) + '0000');
    expect(codeOf(() => decodePayload('addrv2', p))).toBe('ERR_ADDRV2_TOO_LONG');
  });

  it('skips TorV2 (id 3) and Yggdrasil (id 7) entries as null and keeps parsing', () => {
    const p = unhex(
      '03' +
        ('00000000' + '01' + '03' + '0a' + '11'.repeat(10) + '208d') +
        ('00000000' + '01' + '07' + '10' + '22'.repeat(16) + '208d') +
        ('00000000' + '01' + '01' + '04' + '09090909' + '208d'),
    );
    const e = entries('addrv2', p);
    expect(e.map((x) => x.address?.network ?? null)).toEqual([null, null, 'ipv4']);
    expect(e.map((x) => x.networkId)).toEqual([3, 7, 1]);
    expect(Buffer.from(e[1]!.unparsed!.bytes).toString('hex')).toBe('22'.repeat(16));
    expect(encodePayload({ command: 'addrv2', entries: e })).toEqual(p);
  });

  it('keeps a CJDNS address without the fc prefix but marks it invalid, as Core does', () => {
    const e = entries('addrv2', unhex('01' + '00000000' + '01' + '0610' + 'aa'.repeat(16) + '208d'));
    expect(e[0]!.address?.network).toBe('cjdns');
    expect(isAddressValid(e[0]!.address)).toBe(false);
  });

  it('turns OnionCat and internal addresses in addr v1 into null entries without failing the message', () => {
    const onioncat = 'fd87d87eeb43' + '00'.repeat(10);
    const internal = 'fd6b88c08724' + '00'.repeat(10);
    const mapped = '00'.repeat(10) + 'ffff' + '01020304';
    const entry = (a: string) => '00000000' + '0100000000000000' + a + '208d';
    const e = entries('addr', unhex('03' + entry(onioncat) + entry(internal) + entry(mapped)));
    expect(e.map((x) => x.address?.network ?? null)).toEqual([null, null, 'ipv4']);
    expect(e[2]!.networkId).toBe(1);
  });

  it('decodes v1 entries with Tor v3 addresses zeroed by the sender as ::, and refuses to encode Tor v3 in v1', () => {
    const onion = parseAddress('pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333');
    expect(codeOf(() => encodePayload({ command: 'addr', entries: [{ time: 0, services: 0n, address: onion, networkId: 4 }] }))).toBe('ERR_UNENCODABLE');
    expect(encodePayload({ command: 'addrv2', entries: [{ time: 0, services: 0n, address: onion, networkId: 4 }] }).length).toBe(1 + 4 + 1 + 1 + 1 + 32 + 2);
  });
});

describe('version', () => {
  const full: VersionPayload = makeVersion({
    version: PROTOCOL_VERSION,
    services: 0x409n,
    timestamp: 1_700_000_000n,
    addrRecv: versionAddress(parseAddress('127.0.0.1:8333'), 1n),
    nonce: 0x1122334455667788n,
    userAgent: '/Satoshi:31.0.0/',
    startHeight: 900_000,
    relay: true,
  });

  it('round-trips every field', () => {
    expect(version(encodePayload({ command: 'version', payload: full }))).toEqual(full);
  });

  it('rejects a user agent over 256 bytes when decoding and when encoding', () => {
    const long = { ...full, userAgent: 'a'.repeat(257) };
    expect(codeOf(() => encodePayload({ command: 'version', payload: long }))).toBe('ERR_USER_AGENT_TOO_LONG');
    const ok = encodePayload({ command: 'version', payload: { ...full, userAgent: 'a'.repeat(256) } });
    expect(version(ok).userAgent).toBe('a'.repeat(256));
    // Patch the length to 257 (fd0101) and add one byte: rejected on the length alone.
    const at = 4 + 8 + 8 + 26 + 26 + 8;
    const patched = Buffer.concat([ok.subarray(0, at), unhex('fd0101'), Buffer.alloc(257, 0x61), ok.subarray(at + 3 + 256)]);
    expect(codeOf(() => decodePayload('version', patched))).toBe('ERR_USER_AGENT_TOO_LONG');
  });

  it('reads a negative timestamp as 0, as Core clamps it', () => {
    const p = encodePayload({ command: 'version', payload: { ...full, timestamp: -5n } });
    expect(version(p).timestamp).toBe(0n);
  });

  it('accepts a version that ends after addr_recv, with every later field absent', () => {
    const p = encodePayload({ command: 'version', payload: full }).subarray(0, 46);
    const v = version(p);
    expect(v.addrRecv.address).toMatchObject({ network: 'ipv4', port: 8333 });
    for (const k of ['addrFrom', 'nonce', 'userAgent', 'startHeight', 'relay'] as const) expect(v[k]).toBeUndefined();
  });

  it('accepts a version ending after the nonce or after start_height', () => {
    const p = encodePayload({ command: 'version', payload: full });
    expect(version(p.subarray(0, 80)).nonce).toBe(0x1122334455667788n);
    expect(version(p.subarray(0, 80)).userAgent).toBeUndefined();
    const noRelay = version(p.subarray(0, p.length - 1));
    expect(noRelay.startHeight).toBe(900_000);
    expect(noRelay.relay).toBeUndefined();
  });

  it('rejects a version cut inside addr_from, the nonce or the user agent', () => {
    const p = encodePayload({ command: 'version', payload: full });
    for (const len of [20, 47, 60, 79, 81, 85]) expect(codeOf(() => decodePayload('version', p.subarray(0, len)))).toBe('ERR_TRUNCATED');
  });

  it('ignores bytes after the relay flag, as Core does', () => {
    const p = Buffer.concat([encodePayload({ command: 'version', payload: full }), unhex('deadbeef')]);
    expect(version(p)).toEqual(full);
  });

  it('reads any non-zero relay byte as true', () => {
    const p = encodePayload({ command: 'version', payload: { ...full, relay: false } });
    p[p.length - 1] = 2;
    expect(version(p).relay).toBe(true);
  });

  it('makeVersion fills sensible defaults and a fresh 64-bit nonce each time', () => {
    const a = makeVersion({});
    const b = makeVersion({ startHeight: 5 });
    expect(a.version).toBe(70016);
    expect(a.relay).toBe(false);
    expect(a.userAgent).toMatch(/^\/bitspread:[\d.]+\/$/);
    expect(b.startHeight).toBe(5);
    expect(a.nonce).not.toBe(b.nonce);
    expect(Math.abs(Number(a.timestamp) - Date.now() / 1000)).toBeLessThan(5);
  });

  it('frames a version whose first 16 bytes are what Core checks to pick v1 transport', () => {
    const frame = encodeMessage(NETWORKS.mainnet, { command: 'version', payload: makeVersion({}) });
    expect(frame.subarray(0, 16).toString('hex')).toBe('f9beb4d9' + Buffer.from('version').toString('hex') + '0000000000');
  });
});

describe('small messages', () => {
  it('accepts an empty pre-BIP31 ping and writes it back empty', () => {
    const m = decodePayload('ping', new Uint8Array(0));
    expect(m).toEqual({ command: 'ping', nonce: 0n, empty: true });
    expect(encodePayload(m).length).toBe(0);
  });

  it('rejects a pong without its 8-byte nonce and a ping with extra bytes', () => {
    expect(codeOf(() => decodePayload('pong', new Uint8Array(0)))).toBe('ERR_TRUNCATED');
    expect(codeOf(() => decodePayload('ping', new Uint8Array(9)))).toBe('ERR_TRAILING_BYTES');
  });

  it('rejects bytes in the payload of verack, getaddr, sendaddrv2, wtxidrelay and sendheaders', () => {
    for (const c of ['verack', 'getaddr', 'sendaddrv2', 'wtxidrelay', 'sendheaders']) {
      expect(codeOf(() => decodePayload(c, new Uint8Array(1)))).toBe('ERR_TRAILING_BYTES');
    }
  });

  it('decodes a negative feefilter rate and a sendcmpct with a non-zero announce byte', () => {
    const f = encodePayload({ command: 'feefilter', feeRate: -1n });
    expect(decodePayload('feefilter', f)).toEqual({ command: 'feefilter', feeRate: -1n });
    expect(decodePayload('sendcmpct', unhex('070200000000000000'))).toEqual({ command: 'sendcmpct', announce: true, cmpctVersion: 2n });
  });

  it('passes an unknown command through with its payload untouched', () => {
    const p = unhex('0102');
    const m = decodePayload('headers', p);
    expect(m).toEqual({ command: 'unknown', name: 'headers', payload: p });
    if (m.command === 'unknown') expect(m.payload).toBe(p);
  });
});

describe('encoding errors', () => {
  it('refuses values the wire cannot carry with ERR_UNENCODABLE', () => {
    const bad: Message[] = [
      { command: 'ping', nonce: -1n },
      { command: 'ping', nonce: 2n ** 64n },
      { command: 'addr', entries: [{ ...ipv4Entry(1), time: 2 ** 32 }] },
      { command: 'addr', entries: [{ ...ipv4Entry(1), address: { network: 'ipv4', bytes: new Uint8Array(4), port: 70000 } }] },
      { command: 'addrv2', entries: [{ time: 0, services: 0n, address: { network: 'ipv6', bytes: new Uint8Array(4), port: 1 }, networkId: 2 }] },
      { command: 'addrv2', entries: [{ time: 0, services: 0n, address: null, networkId: 2 }] },
      { command: 'version', payload: { ...makeVersion({}), version: 2 ** 31 } },
    ];
    for (const m of bad) expect(codeOf(() => encodePayload(m))).toBe('ERR_UNENCODABLE');
  });

  it('refuses a command name over 12 characters or with a control character', () => {
    expect(codeOf(() => frameMessage(NETWORKS.mainnet, 'thirteenchars', new Uint8Array(0)))).toBe('ERR_BAD_COMMAND');
    expect(codeOf(() => frameMessage(NETWORKS.mainnet, 'bad\x01', new Uint8Array(0)))).toBe('ERR_BAD_COMMAND');
  });

  it('writes more than 1,000 addr entries when asked (a simulator may misbehave on purpose)', () => {
    const p = encodePayload({ command: 'addr', entries: Array.from({ length: MAX_ADDR_PER_MESSAGE + 1 }, (_, i) => ipv4Entry(i)) });
    expect(p.length).toBe(3 + 1001 * 30);
  });
});
