/**
 * fast-check generators for wire values: every message type, every address
 * network, shaped so that encode → decode must give the value back.
 */
import fc from 'fast-check';
import { NETWORK_ID, userAgentText, versionAddress, type AddrEntry, type Message, type NetAddress, type VersionPayload } from '../src/wire/index.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const port = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

const isMapped = (b: Uint8Array) => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
const isFd = (b: Uint8Array, p: number[]) => p.every((x, i) => b[i] === x);
const ONIONCAT = [0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43];
const INTERNAL = [0xfd, 0x6b, 0x88, 0xc0, 0x87, 0x24];

/** IPv6 bytes Core keeps as IPv6 (no IPv4-mapped, OnionCat or internal prefix; no fc, which text reads as CJDNS). */
export const ipv6Bytes = bytes(16).filter((b) => !isMapped(b) && !isFd(b, ONIONCAT) && !isFd(b, INTERNAL) && b[0] !== 0xfc);

export const ipv4Address: fc.Arbitrary<NetAddress> = fc.record({ network: fc.constant('ipv4' as const), bytes: bytes(4), port });
export const ipv6Address: fc.Arbitrary<NetAddress> = fc.record({ network: fc.constant('ipv6' as const), bytes: ipv6Bytes, port });
export const onionAddress: fc.Arbitrary<NetAddress> = fc.record({ network: fc.constant('onion' as const), bytes: bytes(32), port });
export const i2pAddress: fc.Arbitrary<NetAddress> = fc.record({ network: fc.constant('i2p' as const), bytes: bytes(32), port });
export const cjdnsAddress: fc.Arbitrary<NetAddress> = fc.record({
  network: fc.constant('cjdns' as const),
  bytes: bytes(15).map((rest) => Uint8Array.of(0xfc, ...rest)),
  port,
});
export const anyAddress = fc.oneof(ipv4Address, ipv6Address, onionAddress, i2pAddress, cjdnsAddress);

const withEntry = (address: NetAddress) =>
  fc.record({ time: u32, services: u64 }).map((e): AddrEntry => ({ ...e, address, networkId: NETWORK_ID[address.network] }));

/** A v1 entry: IPv4/IPv6, or an OnionCat/internal one Core keeps as invalid (null). */
export const addrEntryV1: fc.Arbitrary<AddrEntry> = fc.oneof(
  { weight: 8, arbitrary: fc.oneof(ipv4Address, ipv6Address).chain(withEntry) },
  {
    weight: 1,
    arbitrary: fc
      .record({ time: u32, services: u64, prefix: fc.constantFrom(ONIONCAT, INTERNAL), rest: bytes(10), port })
      .map(({ time, services, prefix, rest, port: p }): AddrEntry => ({
        time,
        services,
        address: null,
        networkId: 2,
        unparsed: { bytes: Uint8Array.of(...prefix, ...rest), port: p },
      })),
  },
);

/** A BIP155 entry on any network, or one with an id Core 31.x does not know (skipped, null). */
export const addrEntryV2: fc.Arbitrary<AddrEntry> = fc.oneof(
  { weight: 8, arbitrary: anyAddress.chain(withEntry) },
  {
    weight: 1,
    arbitrary: fc
      .record({
        time: u32,
        services: u64,
        id: fc.integer({ min: 0, max: 255 }).filter((id) => ![1, 2, 4, 5, 6].includes(id)),
        raw: fc.uint8Array({ maxLength: 40 }),
        port,
      })
      .map(({ time, services, id, raw, port: p }): AddrEntry => ({ time, services, address: null, networkId: id, unparsed: { bytes: raw, port: p } })),
  },
);

const versionAddr = fc.oneof(
  fc.record({ address: fc.oneof(ipv4Address, ipv6Address), services: u64 }).map(({ address, services }) => versionAddress(address, services)),
  // An OnionCat address: Core reads it as invalid (null); the raw bytes still round-trip.
  fc.record({ rest: bytes(10), services: u64, port }).map(({ rest, services, port: p }) => ({
    services,
    address: null,
    raw: Uint8Array.of(...ONIONCAT, ...rest),
    port: p,
  })),
);

/**
 * User agents in their canonical text form (wire/user-agent.ts): readable text
 * (no backslash: that is written `\\`), or the escaped form of any bytes.
 */
const userAgent = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 80 }).filter((s) => !s.includes('\\') && Buffer.byteLength(s, 'utf8') <= 256),
  fc.uint8Array({ maxLength: 256 }).map((b) => userAgentText(b)),
);

/** A version payload whose optional fields form a prefix, as on the wire. */
export const versionPayload: fc.Arbitrary<VersionPayload> = fc
  .record({
    version: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    services: u64,
    timestamp: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }),
    addrRecv: versionAddr,
    addrFrom: versionAddr,
    nonce: u64,
    userAgent,
    startHeight: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    relay: fc.boolean(),
    fields: fc.integer({ min: 0, max: 4 }),
  })
  .map(({ fields, addrFrom, nonce, userAgent: ua, startHeight, relay, ...base }) => {
    const v: { -readonly [K in keyof VersionPayload]: VersionPayload[K] } = { ...base };
    if (fields >= 1) Object.assign(v, { addrFrom, nonce });
    if (fields >= 2) v.userAgent = ua;
    if (fields >= 3) v.startHeight = startHeight;
    if (fields >= 4) v.relay = relay;
    return v;
  });

const UNKNOWN_NAMES = ['inv', 'getdata', 'headers', 'tx', 'block', 'getheaders', 'alert', 'notfound', 'cmpctblock', 'x', ''];

export const message: fc.Arbitrary<Message> = fc.oneof(
  versionPayload.map((payload): Message => ({ command: 'version', payload })),
  fc.constantFrom<Message>({ command: 'verack' }, { command: 'sendaddrv2' }, { command: 'wtxidrelay' }, { command: 'sendheaders' }, { command: 'getaddr' }),
  u64.map((nonce): Message => ({ command: 'ping', nonce })),
  fc.constant<Message>({ command: 'ping', nonce: 0n, empty: true }),
  u64.map((nonce): Message => ({ command: 'pong', nonce })),
  i64.map((feeRate): Message => ({ command: 'feefilter', feeRate })),
  fc.record({ announce: fc.boolean(), cmpctVersion: u64 }).map(({ announce, cmpctVersion }): Message => ({ command: 'sendcmpct', announce, cmpctVersion })),
  fc.array(addrEntryV1, { maxLength: 30 }).map((entries): Message => ({ command: 'addr', entries })),
  fc.array(addrEntryV2, { maxLength: 30 }).map((entries): Message => ({ command: 'addrv2', entries })),
  fc
    .record({ name: fc.constantFrom(...UNKNOWN_NAMES), payload: fc.uint8Array({ maxLength: 200 }) })
    .map(({ name, payload }): Message => ({ command: 'unknown', name, payload })),
);
