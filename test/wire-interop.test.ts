// Interoperability with an independent implementation: bcoin 1.0.2's framer,
// parser and packets. Bytes bcoin encodes must decode with our codec, and
// bytes we encode must decode with bcoin, field by field. bcoin is a pinned
// devDependency (installed by `npm ci`, never during the run, and not a
// dependency of the published package).
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBcoin, type Bcoin, type BcoinAddrPacket, type BcoinPacket, type BcoinPingPacket, type BcoinVersionPacket } from '../bench/comparators.mjs';
import {
  MessageDecoder,
  NETWORKS,
  encodeMessage,
  formatAddress,
  makeVersion,
  parseAddress,
  type AddrEntry,
  type Message,
  type NetAddress,
} from '../src/wire/index.js';
import type { WireError } from '../src/errors.js';

const regtest = NETWORKS.regtest;

let bcoin: Bcoin;
beforeAll(() => {
  bcoin = loadBcoin();
});

/** Feeds `bytes` to our streaming decoder in small chunks, as a socket would. */
function decodeWithOurs(bytes: Uint8Array, chunkSize = 7): { messages: Message[]; errors: string[] } {
  const messages: Message[] = [];
  const errors: string[] = [];
  const decoder = new MessageDecoder(regtest, {
    onMessage: (msg) => messages.push(msg),
    onMessageError: (err: WireError, command) => errors.push(`${command ?? '?'}: ${err.code} ${err.message}`),
  });
  for (let off = 0; off < bytes.length; off += chunkSize) decoder.push(bytes.subarray(off, off + chunkSize));
  expect(decoder.bufferedBytes).toBe(0);
  return { messages, errors };
}

function decodeWithBcoin(bytes: Buffer): BcoinPacket[] {
  const parser = new bcoin.Parser('regtest');
  const packets: BcoinPacket[] = [];
  const errors: Error[] = [];
  parser.on('packet', (p) => packets.push(p));
  parser.on('error', (e) => errors.push(e));
  for (let off = 0; off < bytes.length; off += 11) parser.feed(bytes.subarray(off, off + 11));
  expect(errors.map((e) => e.message)).toEqual([]);
  return packets;
}

/** bcoin's packet for one encoded message: exactly one packet, of `command`. */
function decodeOneWithBcoin<P extends BcoinPacket>(bytes: Buffer, command: string): P {
  const packets = decodeWithBcoin(bytes);
  expect(packets).toHaveLength(1);
  const p = packets[0] as P;
  expect(p.cmd).toBe(command);
  return p;
}

/** The 16-byte v1 address field: IPv4 as ::ffff:a.b.c.d, IPv6 as is. */
function v1Raw(addr: NetAddress): Uint8Array {
  if (addr.network === 'ipv6') return Uint8Array.from(addr.bytes);
  const raw = new Uint8Array(16);
  raw[10] = 0xff;
  raw[11] = 0xff;
  raw.set(addr.bytes, 12);
  return raw;
}

function bcoinHostPort(hostname: string): { host: string; port: number } {
  const a = parseAddress(hostname);
  const text = formatAddress(a);
  const colon = text.lastIndexOf(':');
  return { host: text.slice(0, colon).replace(/^\[|\]$/g, ''), port: a.port };
}

// Distinct IPv4 and IPv6 addresses whose text form is the same in both
// implementations (RFC 5952 lower-case, zero compression).
function sampleHosts(count: number): string[] {
  const hosts: string[] = [];
  for (let i = 0; i < count; i++) {
    hosts.push(i % 4 === 3 ? `[2001:db8::${(i + 1).toString(16)}]:${8333 + (i % 7)}` : `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${18444 + (i % 5)}`);
  }
  return hosts;
}

describe('bcoin-encoded messages decode with bitspread', () => {
  it('decodes a bcoin version message field by field', () => {
    const nonce = Buffer.from('0102030405060708', 'hex');
    const packet = new bcoin.packets.VersionPacket({
      version: 70016,
      services: 0x409,
      time: 1_700_000_123,
      remote: { host: '127.0.0.1', port: 18444, services: 0 },
      local: { host: '127.0.0.2', port: 18445, services: 0x409 },
      nonce,
      agent: '/bcoin:1.0.2/',
      height: 850_123,
      noRelay: false,
    });
    const bytes = new bcoin.Framer('regtest').packet('version', packet.toRaw());

    const { messages, errors } = decodeWithOurs(bytes);

    expect(errors).toEqual([]);
    expect(messages).toHaveLength(1);
    const msg = messages[0];
    if (msg?.command !== 'version') throw new Error(`expected version, got ${msg?.command}`);
    const v = msg.payload;
    expect(v.version).toBe(70016);
    expect(v.services).toBe(0x409n);
    expect(v.timestamp).toBe(1_700_000_123n);
    expect(v.addrRecv.services).toBe(0n);
    expect(v.addrRecv.port).toBe(18444);
    expect(v.addrRecv.address && formatAddress(v.addrRecv.address)).toBe('127.0.0.1:18444');
    expect(v.addrFrom?.services).toBe(0x409n);
    expect(v.addrFrom?.address && formatAddress(v.addrFrom.address)).toBe('127.0.0.2:18445');
    expect(v.nonce).toBe(nonce.readBigUInt64LE(0));
    expect(v.userAgent).toBe('/bcoin:1.0.2/');
    expect(v.startHeight).toBe(850_123);
    expect(v.relay).toBe(true);
  });

  it('decodes a bcoin addr message with 1,000 entries, every field of every entry', () => {
    const hosts = sampleHosts(1000);
    const items = hosts.map((h, i) => new bcoin.NetAddress({ ...bcoinHostPort(h), services: (i * 37) & 0xffff, time: 1_600_000_000 + i * 13 }));
    const bytes = new bcoin.Framer('regtest').packet('addr', new bcoin.packets.AddrPacket(items).toRaw());

    const { messages, errors } = decodeWithOurs(bytes, 1021);

    expect(errors).toEqual([]);
    const msg = messages[0];
    if (msg?.command !== 'addr') throw new Error(`expected addr, got ${msg?.command}`);
    expect(msg.entries).toHaveLength(1000);
    msg.entries.forEach((entry: AddrEntry, i: number) => {
      expect(entry.time).toBe(1_600_000_000 + i * 13);
      expect(entry.services).toBe(BigInt((i * 37) & 0xffff));
      expect(entry.address && formatAddress(entry.address)).toBe(hosts[i]);
      expect(entry.address?.network).toBe(i % 4 === 3 ? 'ipv6' : 'ipv4');
    });
  });

  it('decodes bcoin ping messages, with and without trailing stream data', () => {
    const framer = new bcoin.Framer('regtest');
    const nonce = Buffer.from('ffeeddccbbaa9988', 'hex');
    const two = Buffer.concat([
      framer.packet('ping', new bcoin.packets.PingPacket(nonce).toRaw()),
      framer.packet('ping', new bcoin.packets.PingPacket(Buffer.alloc(8)).toRaw()),
    ]);

    const { messages, errors } = decodeWithOurs(two, 5);

    expect(errors).toEqual([]);
    expect(messages).toEqual([
      { command: 'ping', nonce: nonce.readBigUInt64LE(0) },
      { command: 'ping', nonce: 0n },
    ]);
  });
});

describe('bitspread-encoded messages decode with bcoin', () => {
  it('bcoin decodes our version message field by field', () => {
    const recv = parseAddress('127.0.0.1:18444');
    const from = parseAddress('127.0.0.9:18450');
    const payload = makeVersion({
      version: 70016,
      services: 0x40dn,
      timestamp: 1_700_000_456n,
      addrRecv: { services: 1n, address: recv, raw: v1Raw(recv), port: recv.port },
      addrFrom: { services: 0x40dn, address: from, raw: v1Raw(from), port: from.port },
      nonce: 0x1122334455667788n,
      userAgent: '/bitspread:0.1.0/',
      startHeight: 4242,
      relay: false,
    });
    const bytes = encodeMessage(regtest, { command: 'version', payload });

    const p = decodeOneWithBcoin<BcoinVersionPacket>(bytes, 'version');

    expect(p.version).toBe(70016);
    expect(p.services).toBe(0x40d);
    expect(p.time).toBe(1_700_000_456);
    expect(p.remote.hostname).toBe('127.0.0.1:18444');
    expect(p.remote.services).toBe(1);
    expect(p.local.hostname).toBe('127.0.0.9:18450');
    expect(p.local.services).toBe(0x40d);
    expect(p.nonce.readBigUInt64LE(0)).toBe(0x1122334455667788n);
    expect(p.agent).toBe('/bitspread:0.1.0/');
    expect(p.height).toBe(4242);
    expect(p.noRelay).toBe(true);
  });

  it('bcoin decodes our addr message with 1,000 entries, every field of every entry', () => {
    const hosts = sampleHosts(1000);
    const entries: AddrEntry[] = hosts.map((h, i) => {
      const address = parseAddress(h);
      return { time: 1_650_000_000 + i, services: BigInt(i % 3 === 0 ? 0x409 : 1), address, networkId: address.network === 'ipv4' ? 1 : 2 };
    });
    const bytes = encodeMessage(regtest, { command: 'addr', entries });

    const p = decodeOneWithBcoin<BcoinAddrPacket>(bytes, 'addr');

    expect(p.items).toHaveLength(1000);
    p.items.forEach((item, i) => {
      expect(item.time).toBe(1_650_000_000 + i);
      expect(item.services).toBe(i % 3 === 0 ? 0x409 : 1);
      expect(item.hostname).toBe(hosts[i]);
      expect(Buffer.from(item.raw).equals(Buffer.from(v1Raw(parseAddress(hosts[i] ?? ''))))).toBe(true);
    });
  });

  it('bcoin decodes our ping and the nonce survives byte for byte', () => {
    const bytes = Buffer.concat([
      encodeMessage(regtest, { command: 'ping', nonce: 0xdeadbeefcafef00dn }),
      encodeMessage(regtest, { command: 'ping', nonce: 1n }),
    ]);

    const packets = decodeWithBcoin(bytes) as BcoinPingPacket[];

    expect(packets.map((p) => p.cmd)).toEqual(['ping', 'ping']);
    expect(packets.map((p) => p.nonce?.readBigUInt64LE(0))).toEqual([0xdeadbeefcafef00dn, 1n]);
  });

  it('our framing is byte-identical to bcoin\'s framer for the same payload', () => {
    const bytes = encodeMessage(regtest, { command: 'ping', nonce: 42n });
    const payload = bytes.subarray(24);
    expect(Buffer.from(bytes).equals(new bcoin.Framer('regtest').packet('ping', Buffer.from(payload)))).toBe(true);
  });
});
