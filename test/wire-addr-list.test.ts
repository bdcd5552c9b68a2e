/**
 * The compact decoded form of addr/addrv2 (AddrList) and the message that
 * wraps it (AddrMessage): every accessor agrees with the materialised
 * entries and with what was encoded; the list owns its bytes; `entries`
 * stays the plain `readonly AddrEntry[]` every consumer expects.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireError } from '../src/errors.js';
import {
  AddrList,
  AddrMessage,
  MessageDecoder,
  NETWORKS,
  decodePayload,
  encodeMessage,
  encodePayload,
  formatAddress,
  messageToJson,
  type AddrEntry,
  type Message,
} from '../src/wire/index.js';
import { addrEntryV1, addrEntryV2 } from './wire-arbitraries.js';

type AddrCommand = 'addr' | 'addrv2';

function decodeAddr(command: AddrCommand, payload: Uint8Array): AddrMessage {
  const msg = decodePayload(command, payload);
  if (!(msg instanceof AddrMessage)) throw new Error(`expected an AddrMessage, got ${msg.command}`);
  return msg;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Every per-index accessor of `list` at `i` against one entry (the materialised one, or the one encoded). */
function expectAgrees(list: AddrList, i: number, e: AddrEntry): void {
  expect(list.timeAt(i)).toBe(e.time);
  expect(list.servicesAt(i)).toBe(e.services);
  expect(list.networkIdAt(i)).toBe(e.networkId);
  expect(list.networkAt(i)).toBe(e.address?.network ?? null);
  const port = e.address !== null ? e.address.port : e.unparsed!.port;
  expect(list.portAt(i)).toBe(port);
  const bytes = e.address !== null ? e.address.bytes : e.unparsed!.bytes;
  expect(hex(list.bytesAt(i))).toBe(hex(bytes));
  expect(list.textAt(i)).toBe(e.address === null ? null : formatAddress(e.address));
  expect(list.formatAt(i)).toBe(list.textAt(i));
  const addr = list.addressAt(i);
  expect(addr === null ? null : formatAddress(addr)).toBe(list.textAt(i));
}

const addrMessages = fc.oneof(
  fc.array(addrEntryV1, { maxLength: 40 }).map((entries) => ({ command: 'addr' as const, entries })),
  fc.array(addrEntryV2, { maxLength: 40 }).map((entries) => ({ command: 'addrv2' as const, entries })),
);

describe('AddrList (struct-of-arrays addr/addrv2)', () => {
  it('agrees field by field with the materialised entries and with the entries encoded, for random messages', () => {
    fc.assert(
      fc.property(addrMessages, ({ command, entries }) => {
        const msg = decodeAddr(command, encodePayload({ command, entries }));
        const list = msg.list;
        expect(list.length).toBe(entries.length);
        const materialised = msg.entries;
        expect(materialised).toHaveLength(entries.length);
        for (let i = 0; i < list.length; i++) {
          expectAgrees(list, i, materialised[i]!);
          expectAgrees(list, i, entries[i]!);
          // get(i) builds the same entry, with its own bytes each time.
          const got = list.get(i);
          expect(got).toEqual(materialised[i]);
          const own = got.address?.bytes ?? got.unparsed!.bytes;
          expect(own).not.toBe(materialised[i]!.address?.bytes ?? materialised[i]!.unparsed!.bytes);
          expect(own.buffer).not.toBe(list.bytes.buffer);
        }
        expect([...list]).toEqual(materialised);
      }),
      { numRuns: 300 },
    );
  });

  it('prints the same JSON from the list as from the entries (bitspread decode reads the list)', () => {
    fc.assert(
      fc.property(addrMessages, ({ command, entries }) => {
        const msg = decodeAddr(command, encodePayload({ command, entries }));
        const fromList = messageToJson(msg);
        expect(msg.materialised).toBe(false);
        expect(JSON.stringify(fromList)).toBe(JSON.stringify(messageToJson({ command, entries: msg.entries })));
        expect(JSON.stringify(fromList)).toBe(JSON.stringify(messageToJson({ command, entries })));
      }),
      { numRuns: 100 },
    );
  });

  it('textAt(i) equals formatAddress(get(i).address) on every network, null where the address is null', () => {
    fc.assert(
      fc.property(fc.array(addrEntryV2, { minLength: 1, maxLength: 40 }), (entries) => {
        const list = decodeAddr('addrv2', encodePayload({ command: 'addrv2', entries })).list;
        for (let i = 0; i < list.length; i++) {
          const a = list.get(i).address;
          expect(list.textAt(i)).toBe(a === null ? null : formatAddress(a));
          const host = list.hostAt(i);
          if (a === null) expect(host).toBeNull();
          else expect(list.textAt(i)).toBe(a.network === 'ipv6' || a.network === 'cjdns' ? `[${host}]:${a.port}` : `${host}:${a.port}`);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('owns its bytes: overwriting the payload after decoding changes nothing in the list', () => {
    fc.assert(
      fc.property(addrMessages, fc.integer({ min: 0, max: 255 }), ({ command, entries }, fill) => {
        const payload = Buffer.from(encodePayload({ command, entries }));
        const msg = decodeAddr(command, payload);
        const list = msg.list;
        expect(list.bytes.buffer).not.toBe(payload.buffer);
        const before = Array.from({ length: list.length }, (_, i) => [list.textAt(i), list.timeAt(i), list.servicesAt(i), list.portAt(i), hex(list.bytesAt(i))]);
        payload.fill(fill);
        const after = Array.from({ length: list.length }, (_, i) => [list.textAt(i), list.timeAt(i), list.servicesAt(i), list.portAt(i), hex(list.bytesAt(i))]);
        expect(after).toEqual(before);
        for (let i = 0; i < list.length; i++) expectAgrees(list, i, entries[i]!);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps every list intact when later messages are decoded (no shared scratch leaks into a list)', () => {
    const entriesA = fc.sample(fc.array(addrEntryV2, { minLength: 20, maxLength: 40 }), { numRuns: 1, seed: 7 })[0]!;
    const entriesB = fc.sample(fc.array(addrEntryV2, { minLength: 20, maxLength: 40 }), { numRuns: 1, seed: 8 })[0]!;
    const a = decodeAddr('addrv2', encodePayload({ command: 'addrv2', entries: entriesA })).list;
    const b = decodeAddr('addrv2', encodePayload({ command: 'addrv2', entries: entriesB })).list;
    const v1 = decodeAddr('addr', encodePayload({ command: 'addr', entries: fc.sample(addrEntryV1, { numRuns: 30, seed: 9 }) })).list;
    entriesA.forEach((e, i) => expectAgrees(a, i, e));
    entriesB.forEach((e, i) => expectAgrees(b, i, e));
    expect(v1.length).toBe(30);
  });

  it('decodes a payload larger than the 64 KiB scratch (long unknown-id addresses) and still decodes small ones after', () => {
    const entries: AddrEntry[] = Array.from({ length: 1000 }, (_, i) => ({
      time: i,
      services: BigInt(i) << 40n,
      address: null,
      networkId: 0x80 + (i % 100),
      unparsed: { bytes: new Uint8Array(100).fill(i & 255), port: i },
    }));
    const payload = encodePayload({ command: 'addrv2', entries });
    expect(payload.length).toBeGreaterThan(64 * 1024);
    const list = decodeAddr('addrv2', payload).list;
    expect(list.bytes.length).toBe(100_000);
    entries.forEach((e, i) => expectAgrees(list, i, e));
    const small = decodeAddr('addrv2', encodePayload({ command: 'addrv2', entries: entries.slice(0, 3) })).list;
    entries.slice(0, 3).forEach((e, i) => expectAgrees(small, i, e));
    entries.forEach((e, i) => expectAgrees(list, i, e));
  });

  it('keeps uint64 service flags exact, including above 2^53, in both forms', () => {
    const services = [0n, 1n, 0x409n, 4095n, 4096n, 0xffffffffn, 0x100000000n, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 64n - 1n];
    for (const command of ['addr', 'addrv2'] as const) {
      const entries: AddrEntry[] = services.map((s, i) => ({ time: i, services: s, address: { network: 'ipv4', bytes: Uint8Array.of(1, 2, 3, i), port: 1 }, networkId: 1 }));
      const list = decodeAddr(command, encodePayload({ command, entries })).list;
      expect(services.map((_, i) => list.servicesAt(i))).toEqual(services);
      expect(list.toEntries().map((e) => e.services)).toEqual(services);
    }
  });

  it('marks as null exactly what Core keeps as invalid: IPv4-mapped/OnionCat/internal under the IPv6 id, unknown ids', () => {
    const mapped = '00000000000000000000ffff01020304';
    const onioncat = 'fd87d87eeb43' + '11'.repeat(10);
    const internal = 'fd6b88c08724' + '22'.repeat(10);
    const v2 = (id: string, addrHex: string) => '00000000' + '01' + id + (addrHex.length / 2).toString(16).padStart(2, '0') + addrHex + '208d';
    const payload = Buffer.from('06' + v2('02', mapped) + v2('02', onioncat) + v2('02', internal) + v2('03', '33'.repeat(10)) + v2('07', '44'.repeat(16)) + v2('06', '55'.repeat(16)), 'hex');
    const list = decodeAddr('addrv2', payload).list;
    expect([0, 1, 2, 3, 4, 5].map((i) => list.networkAt(i))).toEqual([null, null, null, null, null, 'cjdns']);
    expect([0, 1, 2, 3, 4].map((i) => list.textAt(i))).toEqual([null, null, null, null, null]);
    expect(hex(list.bytesAt(0))).toBe(mapped);
    expect(list.get(3).unparsed).toEqual({ bytes: new Uint8Array(10).fill(0x33), port: 0x208d });
    expect(list.textAt(5)).toBe('[5555:5555:5555:5555:5555:5555:5555:5555]:8333');
  });

  it('reports a too-short addrv2 whose first entry is long as ERR_TRUNCATED, as before (no RangeError from the sizing)', () => {
    // count 2; entry 0: unknown id 0x80 with 100 address bytes (109 bytes in all); entry 1 missing.
    const payload = Buffer.from('02' + '00000000' + '00' + '80' + '64' + 'ab'.repeat(100) + '208d', 'hex');
    let caught: unknown;
    try {
      decodePayload('addrv2', payload);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(WireError);
    expect((caught as WireError).code).toBe('ERR_TRUNCATED');
    // The same with a 4-byte entry 1 tail: still truncated, inside the entry.
    expect(() => decodePayload('addrv2', Buffer.concat([payload, Buffer.from('01020304', 'hex')]))).toThrow(/addrv2: entry at byte 110/);
  });

  it('refuses an index out of range', () => {
    const list = decodeAddr('addr', encodePayload({ command: 'addr', entries: [] })).list;
    expect(list.length).toBe(0);
    expect(() => list.get(0)).toThrow(RangeError);
    expect(() => list.get(-1)).toThrow(RangeError);
  });
});

describe('AddrMessage (decoded addr/addrv2)', () => {
  const entries = fc.sample(fc.array(addrEntryV2, { minLength: 5, maxLength: 10 }), { numRuns: 1, seed: 3 })[0]!;
  const payload = encodePayload({ command: 'addrv2', entries });

  it('materialises entries only when asked, once, and shows exactly {command, entries} to enumeration', () => {
    const msg = decodeAddr('addrv2', payload);
    expect(msg.materialised).toBe(false);
    expect(Object.keys(msg)).toEqual(['command', 'entries']);
    expect(msg.materialised).toBe(false);
    const first = msg.entries;
    expect(msg.materialised).toBe(true);
    expect(msg.entries).toBe(first);
    expect(msg).toEqual({ command: 'addrv2', entries: first });
    expect(JSON.parse(JSON.stringify({ ...msg, entries: first.length }))).toEqual({ command: 'addrv2', entries: first.length });
  });

  it('re-encodes from its list without materialising, to the same bytes', () => {
    const msg = decodeAddr('addrv2', payload);
    expect(encodePayload(msg)).toEqual(payload);
    expect(msg.materialised).toBe(false);
    const built: Message = new AddrMessage('addrv2', msg.list);
    expect(encodePayload(built)).toEqual(payload);
  });

  it('arrives as plain {command, entries} after a structured clone (the list does not cross threads)', () => {
    const msg = decodeAddr('addrv2', payload);
    const clone = structuredClone(msg) as unknown as Record<string, unknown>;
    expect(clone).not.toBeInstanceOf(AddrMessage);
    expect(Object.keys(clone)).toEqual(['command', 'entries']);
    expect(clone.list).toBeUndefined();
    expect(clone.entries).toEqual(msg.entries);
  });
});

describe('MessageDecoder body reuse', () => {
  it('keeps each decoded list and each unknown payload intact while later straddling bodies reuse its buffer', () => {
    const net = NETWORKS.regtest;
    const batches = [11, 12, 13].map((seed) => fc.sample(fc.array(addrEntryV2, { minLength: 30, maxLength: 40 }), { numRuns: 1, seed })[0]!);
    const inv = Buffer.alloc(3000, 0x5a);
    const frames = [
      encodeMessage(net, { command: 'addrv2', entries: batches[0]! }),
      encodeMessage(net, { command: 'unknown', name: 'inv', payload: inv }),
      encodeMessage(net, { command: 'addrv2', entries: batches[1]! }),
      encodeMessage(net, { command: 'addrv2', entries: batches[2]! }),
    ];
    const got: Message[] = [];
    const d = new MessageDecoder(net, {
      onMessage: (m) => got.push(m),
      onMessageError: (err) => {
        throw err;
      },
    });
    const bytes = Buffer.concat(frames);
    // Small odd chunks: every body straddles chunks, so every one is assembled.
    for (let i = 0; i < bytes.length; i += 97) d.push(bytes.subarray(i, i + 97));
    expect(got.map((m) => m.command)).toEqual(['addrv2', 'unknown', 'addrv2', 'addrv2']);
    const lists = [got[0], got[2], got[3]].map((m) => (m as AddrMessage).list);
    lists.forEach((list, k) => batches[k]!.forEach((e, i) => expectAgrees(list, i, e)));
    const unknown = got[1]!;
    expect(unknown.command === 'unknown' && Buffer.from(unknown.payload).equals(inv)).toBe(true);
  });
});
