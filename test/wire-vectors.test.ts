/**
 * Every vector in test/fixtures/core-vectors.json (Bitcoin Core 31.x): decodes
 * to the stated fields or fails with the code matching Core's error text, and
 * re-encodes to the same bytes where valid.
 */
import { describe, expect, it } from 'vitest';
import { WireError } from '../src/errors.js';
import {
  MessageDecoder,
  NETWORKS,
  decodeCompactSize,
  decodePayload,
  encodeCompactSize,
  encodeMessage,
  encodePayload,
  formatAddress,
  formatHost,
  isAddressValid,
  networkByMagic,
  signetMagic,
  type AddrEntry,
  type Message,
  type NetAddress,
} from '../src/wire/index.js';
import { hex, loadVectors, recordingSink, unhex, type Vector } from './wire-helpers.js';

const vectors = loadVectors();

/** Core's exception / log text → our stable code. */
const CORE_ERROR_TO_CODE: Array<[RegExp, string]> = [
  [/^non-canonical ReadCompactSize\(\)$/, 'ERR_NONCANONICAL_COMPACTSIZE'],
  [/^ReadCompactSize\(\): size too large$/, 'ERR_COMPACTSIZE_TOO_LARGE'],
  [/^end of data$/, 'ERR_TRUNCATED'],
  [/^BIP155 \S+ address with length \d+ \(should be \d+\)$/, 'ERR_ADDRV2_BAD_LENGTH'],
  [/^Address too long: \d+ > 512$/, 'ERR_ADDRV2_TOO_LONG'],
  [/^Header error: Invalid message type$/, 'ERR_BAD_COMMAND'],
  [/^Header error: Wrong checksum /, 'ERR_BAD_CHECKSUM'],
  [/^Header error: Wrong MessageStart /, 'ERR_BAD_MAGIC'],
  [/^Header error: Size too large /, 'ERR_MESSAGE_TOO_LARGE'],
];

function codeFor(coreText: string): string {
  for (const [re, code] of CORE_ERROR_TO_CODE) if (re.test(coreText)) return code;
  throw new Error(`no code mapped for Core error '${coreText}'`);
}

function expectedError(v: Vector): string | undefined {
  return v.expect !== 'ok' && typeof v.expect.error === 'string' ? v.expect.error : undefined;
}

function thrownCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WireError);
    return (err as WireError).code;
  }
  throw new Error('expected a WireError, nothing was thrown');
}

/** JSON numbers above 2^53 were rounded by JSON.parse; compare at that precision. */
function sameNumber(actual: bigint | number, expected: unknown): void {
  expect(typeof expected).toBe('number');
  if (Number.isSafeInteger(expected)) expect(BigInt(actual)).toBe(BigInt(expected as number));
  else expect(Number(actual)).toBe(expected);
}

const ADDRESS_NETWORKS = new Set(['ipv4', 'ipv6', 'onion', 'i2p', 'cjdns']);

/**
 * Checks one decoded entry against a vector's description of it. An address
 * Core keeps as an invalid `::` (replaced, unknown id, internal) is null here.
 */
function checkAddress(address: NetAddress | null, d: Record<string, unknown>, entry?: AddrEntry): void {
  const replaced = typeof d.note === 'string' && /replaced by ::|bytes skipped/.test(d.note);
  if (d.network === 'internal' || d.network === 'unknown' || replaced) {
    expect(address).toBeNull();
    expect(isAddressValid(address)).toBe(false);
    expect(d.valid).toBe(false);
    if (entry && typeof d.skipped_hex === 'string') expect(hex(entry.unparsed!.bytes)).toBe(d.skipped_hex);
    return;
  }
  expect(ADDRESS_NETWORKS.has(d.network as string)).toBe(true);
  expect(address).not.toBeNull();
  expect(address!.network).toBe(d.network);
  expect(hex(address!.bytes)).toBe(d.addr_hex);
  if (typeof d.addr === 'string') expect(formatHost(address!)).toBe(d.addr);
  expect(isAddressValid(address)).toBe(d.valid);
  if (typeof d.port === 'number') expect(address!.port).toBe(d.port);
}

function checkEntry(e: AddrEntry, d: Record<string, unknown>): void {
  if (typeof d.time === 'number') expect(e.time).toBe(d.time);
  if (d.services !== undefined) sameNumber(e.services, d.services);
  if (typeof d.network_id === 'number') expect(e.networkId).toBe(d.network_id);
  if (typeof d.port === 'number') expect(e.address?.port ?? e.unparsed?.port).toBe(d.port);
  checkAddress(e.address, d, e);
}

const ZERO_TIME = '00000000';

/** Wraps bare address bytes into a one-entry payload so the public decoder reads them. */
function asAddrPayload(v1Address16: string): string {
  return '01' + ZERO_TIME + '0000000000000000' + v1Address16 + '0000';
}
function asAddrv2Payload(idLenAddr: string, withPort = false): string {
  return '01' + ZERO_TIME + '00' + idLenAddr + (withPort ? '' : '0000');
}

function roundTrip(command: 'addr' | 'addrv2', payloadHex: string): Message {
  const msg = decodePayload(command, unhex(payloadHex));
  expect(hex(encodePayload(msg))).toBe(payloadHex);
  return msg;
}

const handled = new Set<string>();
const byCategory = (cat: string): Vector[] => vectors.filter((v) => v.category === cat);

describe('Bitcoin Core vectors', () => {
  it('has the 93 vectors the file announces', () => {
    expect(vectors.length).toBe(93);
  });

  describe('compactsize', () => {
    it.each(byCategory('compactsize').map((v) => [v.name, v] as const))('%s', (_name, v) => {
      handled.add(v.name);
      const bytes = unhex(v.hex);
      const err = expectedError(v);
      if (err !== undefined) {
        expect(thrownCode(() => decodeCompactSize(bytes))).toBe(codeFor(err));
        return;
      }
      const exp = v.expect as 'ok' | { ok_without_range_check?: boolean; error_with_range_check?: string };
      if (exp !== 'ok' && exp.ok_without_range_check === true) {
        expect(thrownCode(() => decodeCompactSize(bytes, true))).toBe(codeFor(exp.error_with_range_check!));
        const value = decodeCompactSize(bytes, false);
        sameNumber(value, v.decoded.value);
        expect(hex(encodeCompactSize(value))).toBe(v.hex);
        return;
      }
      expect(exp).toBe('ok');
      const value = decodeCompactSize(bytes);
      sameNumber(value, v.decoded.value);
      expect(hex(encodeCompactSize(value))).toBe(v.hex);
    });
  });

  describe('cnetaddr_v1 (16-byte address inside a one-entry addr)', () => {
    it.each(byCategory('cnetaddr_v1').map((v) => [v.name, v] as const))('%s', (_name, v) => {
      handled.add(v.name);
      const msg = roundTrip('addr', asAddrPayload(v.hex));
      if (msg.command !== 'addr') throw new Error('not addr');
      expect(msg.entries).toHaveLength(1);
      const e = msg.entries[0]!;
      checkAddress(e.address, v.decoded);
      expect(e.networkId).toBe(v.decoded.network === 'ipv4' ? 1 : 2);
      if (e.address === null) expect(hex(e.unparsed!.bytes)).toBe(v.hex);
    });
  });

  for (const cat of ['cnetaddr_v2', 'cnetaddr_v2_unserialize']) {
    describe(`${cat} (BIP155 address inside a one-entry addrv2)`, () => {
      it.each(byCategory(cat).map((v) => [v.name, v] as const))('%s', (_name, v) => {
        handled.add(v.name);
        const payloadHex = asAddrv2Payload(v.hex);
        const err = expectedError(v);
        if (err !== undefined) {
          expect(thrownCode(() => decodePayload('addrv2', unhex(payloadHex)))).toBe(codeFor(err));
          return;
        }
        const msg = roundTrip('addrv2', payloadHex);
        if (msg.command !== 'addrv2') throw new Error('not addrv2');
        const e = msg.entries[0]!;
        expect(e.networkId).toBe(v.decoded.network_id);
        checkAddress(e.address, v.decoded, e);
      });
    });
  }

  describe('caddress_v1 (addr entries and payloads)', () => {
    it.each(byCategory('caddress_v1').map((v) => [v.name, v] as const))('%s', (_name, v) => {
      handled.add(v.name);
      const isVector = Array.isArray(v.decoded.entries);
      const msg = roundTrip('addr', isVector ? v.hex : '01' + v.hex);
      if (msg.command !== 'addr') throw new Error('not addr');
      const want = isVector ? (v.decoded.entries as Record<string, unknown>[]) : [v.decoded];
      expect(msg.entries).toHaveLength(want.length);
      want.forEach((d, i) => checkEntry(msg.entries[i]!, d));
    });
  });

  describe('caddress_v2 (addrv2 entries and payloads)', () => {
    it.each(byCategory('caddress_v2').map((v) => [v.name, v] as const))('%s', (_name, v) => {
      handled.add(v.name);
      const isVector = Array.isArray(v.decoded.entries);
      const msg = roundTrip('addrv2', isVector ? v.hex : '01' + v.hex);
      if (msg.command !== 'addrv2') throw new Error('not addrv2');
      const want = isVector ? (v.decoded.entries as Record<string, unknown>[]) : [v.decoded];
      expect(msg.entries).toHaveLength(want.length);
      want.forEach((d, i) => checkEntry(msg.entries[i]!, d));
    });
  });

  describe('addrv2_payload', () => {
    it.each(byCategory('addrv2_payload').map((v) => [v.name, v] as const))('%s', (_name, v) => {
      handled.add(v.name);
      const err = expectedError(v);
      if (err !== undefined) {
        expect(thrownCode(() => decodePayload('addrv2', unhex(v.hex)))).toBe(codeFor(err));
        return;
      }
      const msg = roundTrip('addrv2', v.hex);
      if (msg.command !== 'addrv2') throw new Error('not addrv2');
      expect(msg.entries).toHaveLength(v.decoded.count as number);
    });
  });

  describe('message (framed, through the streaming decoder)', () => {
    it.each(byCategory('message').map((v) => [v.name, v] as const))('%s', (_name, v) => {
      handled.add(v.name);
      const frame = unhex(v.hex);
      const d = v.decoded;
      const net = networkByMagic(frame.readUInt32LE(0));
      expect(net?.name).toBe(d.network);
      const sink = recordingSink();
      const decoder = new MessageDecoder(net!, sink);
      decoder.push(frame);
      expect(sink.events).toHaveLength(1);
      const ev = sink.events[0]!;
      expect(ev.kind).toBe('message');
      const msg = ev.msg!;
      expect(decoder.bufferedBytes).toBe(0);
      if (msg.command === 'unknown') {
        expect(msg.name).toBe(d.command);
        expect(hex(msg.payload)).toBe(d.payload_hex);
      } else {
        expect(msg.command).toBe(d.command);
      }
      switch (msg.command) {
        case 'ping':
        case 'pong':
          sameNumber(msg.nonce, d.nonce);
          break;
        case 'sendcmpct':
          expect(msg.announce).toBe(d.announce);
          sameNumber(msg.cmpctVersion, d.version);
          break;
        case 'feefilter':
          sameNumber(msg.feeRate, d.feerate_sat_per_kvb);
          break;
        case 'addr':
        case 'addrv2': {
          const want = (d.addrs as { count: number; entries: Record<string, unknown>[] }).entries;
          expect(msg.entries).toHaveLength((d.addrs as { count: number }).count);
          want.forEach((w, i) => checkEntry(msg.entries[i]!, w));
          break;
        }
        case 'version': {
          const f = d.version_fields as Record<string, unknown>;
          const p = msg.payload;
          expect(p.version).toBe(f.version);
          sameNumber(p.services, f.services);
          sameNumber(p.timestamp, f.timestamp);
          const recv = f.addr_recv as Record<string, unknown>;
          sameNumber(p.addrRecv.services, recv.services);
          expect(p.addrRecv.port).toBe(recv.port);
          checkAddress(p.addrRecv.address, recv);
          if (f.addr_from === undefined) {
            for (const k of ['addrFrom', 'nonce', 'userAgent', 'startHeight', 'relay'] as const) expect(p[k]).toBeUndefined();
          } else {
            const from = f.addr_from as Record<string, unknown>;
            sameNumber(p.addrFrom!.services, from.services);
            checkAddress(p.addrFrom!.address, from);
            sameNumber(p.nonce!, f.nonce);
            expect(p.nonce).toBe(0x1122334455667788n); // the notes state the exact nonce
            expect(p.userAgent).toBe(f.user_agent);
            expect(p.startHeight).toBe(f.start_height);
            expect(p.relay).toBe(f.relay);
          }
          break;
        }
        default:
          break;
      }
      // Re-encoding gives the same frame.
      expect(hex(encodeMessage(net!, msg))).toBe(v.hex);
    });
  });

  describe('message_invalid', () => {
    it.each(byCategory('message_invalid').map((v) => [v.name, v] as const))('%s', (_name, v) => {
      handled.add(v.name);
      const err = expectedError(v)!;
      const code = codeFor(err);
      const fatal = /disconnect/.test(String((v.expect as Record<string, unknown>).core_effect));
      const net = NETWORKS[v.decoded.network as 'regtest'];
      const sink = recordingSink();
      const decoder = new MessageDecoder(net, sink);
      // Follow the bad frame with a good one: a non-fatal error must leave the stream in sync.
      const verack = encodeMessage(net, { command: 'verack' });
      decoder.push(Buffer.concat([unhex(v.hex), verack]));
      expect(sink.events[0]).toMatchObject({ kind: 'error', code, fatal });
      expect(decoder.failed).toBe(fatal);
      if (fatal) {
        expect(sink.events).toHaveLength(1);
      } else {
        expect(sink.events).toHaveLength(2);
        expect(sink.events[1]).toMatchObject({ kind: 'message', msg: { command: 'verack' } });
      }
    });
  });

  describe('network_magic', () => {
    it.each(byCategory('network_magic').map((v) => [v.name, v] as const))('%s', (_name, v) => {
      handled.add(v.name);
      const challenge = unhex(v.hex);
      expect(challenge.length).toBe(v.decoded.challenge_length);
      expect(hex(signetMagic(challenge))).toBe(v.decoded.magic);
      expect(hex(NETWORKS.signet.magic)).toBe(v.decoded.magic);
      expect(networkByMagic(NETWORKS.signet.magicLE)?.name).toBe('signet');
    });
  });

  describe('fixed_seeds (BIP155 id + length + address + port)', () => {
    it.each(byCategory('fixed_seeds').map((v) => [v.name, v] as const))('%s', (_name, v) => {
      handled.add(v.name);
      const msg = roundTrip('addrv2', asAddrv2Payload(v.hex, true));
      if (msg.command !== 'addrv2') throw new Error('not addrv2');
      const e = msg.entries[0]!;
      checkEntry(e, v.decoded);
      expect(formatAddress(e.address!)).toBe(`[${String(v.decoded.addr)}]:${String(v.decoded.port)}`);
    });
  });

  it('checked every vector in some category', () => {
    const missed = vectors.filter((v) => !handled.has(v.name)).map((v) => v.name);
    expect(missed).toEqual([]);
  });
});
