/**
 * The v2 transport state machine, both roles, in memory: round trips under
 * any chunking (property tests), v1 detection, short ids, rekeying, memory,
 * and every hostile case with its typed code.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMessage, makeVersion, MessageDecoder, NETWORKS, type Message } from '../src/wire/index.js';
import {
  commandOfShortId,
  ellswiftCreate,
  ellswiftDecode,
  LAST_BIP324_ID,
  MAX_CONTENTS_LENGTH,
  MAX_GARBAGE_LENGTH,
  shortIdOf,
  xswiftecInv,
  type EllSwiftKey,
} from '../src/wire/v2/index.js';
import { message } from './wire-arbitraries.js';
import { recordingSink } from './wire-helpers.js';
import { connectedPair, endpoint, pump, chunks } from './helpers/v2-pair.js';

const mainnet = NETWORKS.mainnet;

function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return { hex: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

/** What the v1 decoder makes of the same messages: v2 must deliver exactly that. */
function viaV1(msgs: readonly Message[]): unknown {
  const sink = recordingSink();
  const d = new MessageDecoder(mainnet, sink);
  for (const m of msgs) d.push(encodeMessage(mainnet, m));
  return normalise(sink.events);
}

function asEvents(received: { kind: string; msg?: Message; code?: string; fatal?: boolean }[]): unknown {
  return normalise(received.map((r) => (r.kind === 'message' ? { kind: 'message', msg: r.msg } : r)));
}

describe('v2 handshake and round trips', () => {
  it('completes a handshake both ways: same session id, both ready, version packets seen', () => {
    const { i, r } = connectedPair();
    expect(i.ready && r.ready).toBe(true);
    expect(i.t.phase).toBe('ready');
    expect(r.t.phase).toBe('ready');
    expect(i.t.sessionId!.length).toBe(32);
    expect(i.t.sessionId!.equals(r.t.sessionId!)).toBe(true);
    expect(i.versionPackets).toEqual([0]);
    expect(r.versionPackets).toEqual([0]);
    expect(i.received).toEqual([]);
    expect(r.received).toEqual([]);
  });

  it('delivers what the v1 decoder delivers, both directions, whatever the chunking, garbage and decoys', () => {
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 8 }),
        fc.array(message, { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 6 }),
        fc.integer({ min: 0, max: MAX_GARBAGE_LENGTH }),
        fc.integer({ min: 0, max: MAX_GARBAGE_LENGTH }),
        fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 3 }),
        (toResponder, toInitiator, sizes, gi, gr, decoysI, decoysR) => {
          const i = endpoint('initiator', { garbage: gi, decoys: decoysI });
          const r = endpoint('responder', { garbage: gr, decoys: decoysR });
          i.t.start();
          // The initiator sends as soon as its version packet is out, before the handshake ends.
          pump(i, r, sizes);
          for (const m of toResponder) {
            i.send(m);
            i.write(i.t.sendDecoy(7));
          }
          for (const m of toInitiator) r.send(m);
          pump(i, r, sizes);
          expect(asEvents(r.received)).toEqual(viaV1(toResponder));
          expect(asEvents(i.received)).toEqual(viaV1(toInitiator));
          expect(r.t.packets!.decoysReceived).toBe(decoysI.length + toResponder.length);
          expect(i.t.packets!.decoysReceived).toBe(decoysR.length);
          expect(i.t.sessionId!.equals(r.t.sessionId!)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('feeds one byte at a time through the whole handshake and a message', () => {
    const i = endpoint('initiator', { garbage: 40, decoys: [3] });
    const r = endpoint('responder', { garbage: 17 });
    i.t.start();
    pump(i, r, [1]);
    i.send({ command: 'ping', nonce: 42n });
    pump(i, r, [1]);
    expect(r.messages()).toEqual([{ command: 'ping', nonce: 42n }]);
  });

  it('sends messages sent before the peer answered its key only after the version packet (order kept)', () => {
    const i = endpoint('initiator', { garbage: 0 });
    const r = endpoint('responder', { garbage: 0 });
    i.t.start();
    r.t.push(i.drain());
    // The responder is ready (its version packet is queued) before it heard anything more.
    expect(r.ready).toBe(true);
    r.send({ command: 'verack' });
    i.t.push(r.drain());
    expect(i.ready).toBe(true);
    expect(i.messages()).toEqual([{ command: 'verack' }]);
  });

  it('rekeys both ciphers every 224 packets: 1,000 messages each way arrive intact', () => {
    const { i, r } = connectedPair();
    const pings = Array.from({ length: 1000 }, (_, k): Message => ({ command: 'ping', nonce: BigInt(k) }));
    for (const m of pings) {
      i.send(m);
      r.send({ command: 'pong', nonce: (m as { nonce: bigint }).nonce });
    }
    pump(i, r, [4096]);
    expect(r.messages()).toEqual(pings);
    expect(i.messages().length).toBe(1000);
    expect(i.t.packets!.packetsReceived).toBe(1001); // + the version packet
  });

  it('accepts a version packet with contents (reserved for future versions) and ignores them', () => {
    const { i, r } = connectedPair({}, { versionPacket: Buffer.from('v2.1 feature bits') });
    expect(i.versionPackets).toEqual([17]);
    expect(i.t.phase).toBe('ready');
    r.send({ command: 'verack' });
    pump(i, r);
    expect(i.messages()).toEqual([{ command: 'verack' }]);
  });
});

describe('v2 message types', () => {
  it('maps the 28 BIP324 short ids and the 9 proposed ones of message_type_ids.md', () => {
    expect(LAST_BIP324_ID).toBe(28);
    expect([1, 13, 14, 18, 19, 28].map(commandOfShortId)).toEqual(['addr', 'headers', 'inv', 'ping', 'pong', 'addrv2']);
    expect([29, 37].map(commandOfShortId)).toEqual(['uproof', 'feature']);
    expect(commandOfShortId(0)).toBeNull();
    expect(commandOfShortId(38)).toBeNull();
    expect(commandOfShortId(255)).toBeNull();
    // We send short ids for BIP324's own table only (as Core); the rest long form.
    expect(shortIdOf('ping')).toBe(18);
    expect(shortIdOf('feature')).toBe(0);
    expect(shortIdOf('version')).toBe(0);
  });

  it('sends a short id as one byte and an unlisted command in 13 bytes', () => {
    const { i } = connectedPair();
    expect(i.t.sendMessage({ command: 'ping', nonce: 1n }).length).toBe(3 + 1 + 1 + 8 + 16);
    expect(i.t.sendMessage({ command: 'verack' }).length).toBe(3 + 1 + 13 + 16);
  });

  it('decodes the 13-byte form of a command that has a short id the same way', () => {
    const { i, r } = connectedPair();
    const long = Buffer.alloc(13 + 8);
    long.write('ping', 1, 'latin1');
    long.writeBigUInt64LE(7n, 13);
    i.write(i.t.sendPacket(long));
    i.send({ command: 'ping', nonce: 7n });
    pump(i, r);
    expect(r.messages()).toEqual([
      { command: 'ping', nonce: 7n },
      { command: 'ping', nonce: 7n },
    ]);
  });

  it('drops a packet with an undefined short id, empty contents or a bad long type (non-fatal) and goes on', () => {
    const { i, r } = connectedPair();
    i.write(i.t.sendPacket(Uint8Array.of(200, 1, 2)));
    i.write(i.t.sendPacket(new Uint8Array(0)));
    i.write(i.t.sendPacket(Buffer.from('\0ping\x01\0\0\0\0\0\0\0', 'latin1')));
    i.send({ command: 'verack' });
    pump(i, r);
    expect(r.errors()).toEqual([
      { code: 'ERR_BAD_COMMAND', fatal: false },
      { code: 'ERR_BAD_COMMAND', fatal: false },
      { code: 'ERR_BAD_COMMAND', fatal: false },
    ]);
    expect(r.messages()).toEqual([{ command: 'verack' }]);
  });

  it('applies the per-command size limits of v1 (a 9-byte ping is dropped, not fatal)', () => {
    const { i, r } = connectedPair();
    i.write(i.t.sendFrame('ping', new Uint8Array(9)));
    i.send({ command: 'verack' });
    pump(i, r, [5]);
    expect(r.errors()).toEqual([{ code: 'ERR_MESSAGE_TOO_LARGE', fatal: false }]);
    expect(r.messages()).toEqual([{ command: 'verack' }]);
  });
});

describe('v2 responder: telling a v1 peer', () => {
  const v1Version = encodeMessage(mainnet, { command: 'version', payload: makeVersion() });

  it('hands every received byte to the caller when the first 16 are magic + "version", however split', () => {
    for (let cut = 1; cut < 40; cut++) {
      const r = endpoint('responder');
      const stream = Buffer.concat([v1Version, encodeMessage(mainnet, { command: 'verack' })]);
      r.t.push(stream.subarray(0, cut));
      r.t.push(stream.subarray(cut));
      expect(r.t.phase).toBe('v1');
      expect(r.out).toEqual([]); // it sent nothing: no key, no garbage
      // It hands over everything up to the end of the chunk that completed the 16 bytes;
      // later chunks are the caller's to route (the transport ignores them).
      const handed = r.v1!;
      expect(handed.equals(cut < 16 ? stream : stream.subarray(0, cut))).toBe(true);
      expect(r.t.bytesIgnored).toBe(cut < 16 ? 0 : stream.length - cut);
      const sink = recordingSink();
      const d = new MessageDecoder(mainnet, sink);
      d.push(handed);
      if (cut >= 16) d.push(stream.subarray(cut));
      expect(sink.events.map((e) => e.msg?.command)).toEqual(['version', 'verack']);
    }
  });

  it('refuses a v1 version message from another network (ERR_BAD_MAGIC), as Core', () => {
    const r = endpoint('responder');
    r.t.push(encodeMessage(NETWORKS.testnet4, { command: 'verack' }).subarray(0, 4));
    r.t.push(Buffer.concat([Buffer.from('version\0\0\0\0\0', 'latin1'), Buffer.alloc(60, 1)]));
    expect(r.errors()).toEqual([{ code: 'ERR_BAD_MAGIC', fatal: true }]);
    expect(r.t.phase).toBe('failed');
  });

  it('takes a v2 key that starts with the network magic for what it is (a v2 peer)', () => {
    // Encode a real key with u = magic ‖ random, as the BIP's parroting note allows.
    const base = ellswiftCreate();
    const x = BigInt('0x' + Buffer.from(ellswiftDecode(base.ellswift)).toString('hex'));
    let ellswift: Buffer | null = null;
    while (ellswift === null) {
      const u = Buffer.concat([Buffer.from(mainnet.magic), randomBytes(28)]);
      const t = xswiftecInv(x, BigInt('0x' + u.toString('hex')), randomBytes(1)[0]! & 7);
      if (t !== null) ellswift = Buffer.concat([u, Buffer.from(t.toString(16).padStart(64, '0'), 'hex')]);
    }
    const key: EllSwiftKey = { ecdh: base.ecdh, ellswift };
    const { i, r } = connectedPair({ key });
    expect(Buffer.from(i.t.ellswift!.subarray(0, 4)).equals(Buffer.from(mainnet.magic))).toBe(true);
    expect(r.t.phase).toBe('ready');
    expect(i.t.sessionId!.equals(r.t.sessionId!)).toBe(true);
  });
});

describe('v2 hostile peers', () => {
  it('accepts exactly 4,095 bytes of garbage, refuses 4,096 (ERR_V2_GARBAGE_TOO_LONG)', () => {
    const ok = connectedPair({}, { garbage: MAX_GARBAGE_LENGTH });
    expect(ok.i.t.phase).toBe('ready');
    const { i, r } = connectedPair({}, { garbage: MAX_GARBAGE_LENGTH + 1 });
    expect(i.errors()).toEqual([{ code: 'ERR_V2_GARBAGE_TOO_LONG', fatal: true }]);
    expect(i.t.phase).toBe('failed');
    // The responder, which did nothing wrong, is waiting for the initiator's version packet in vain.
    expect(r.errors()).toEqual([]);
  });

  it('stops reading at 4,111 bytes when garbage never ends (bounded memory)', () => {
    const i = endpoint('initiator');
    i.t.start();
    i.t.push(Buffer.concat([ellswiftCreate().ellswift, randomBytes(10_000)]));
    expect(i.errors()).toEqual([{ code: 'ERR_V2_GARBAGE_TOO_LONG', fatal: true }]);
    expect(i.t.bytesIgnored).toBe(10_000 - (MAX_GARBAGE_LENGTH + 16));
  });

  it('reports a stream that ends inside the garbage (ERR_V2_NO_GARBAGE_TERMINATOR)', () => {
    const i = endpoint('initiator');
    i.t.start();
    i.t.push(Buffer.concat([ellswiftCreate().ellswift, randomBytes(100)]));
    expect(i.t.phase).toBe('garbage');
    expect(i.t.end()?.code).toBe('ERR_V2_NO_GARBAGE_TERMINATOR');
  });

  it('fails the version packet when the garbage was altered on the way (its AAD): ERR_V2_BAD_TAG', () => {
    const i = endpoint('initiator');
    const r = endpoint('responder', { garbage: 50 });
    i.t.start();
    r.t.push(i.drain());
    const answer = r.drain();
    answer[64 + 10]! ^= 1; // a garbage byte
    i.t.push(answer);
    expect(i.errors()).toEqual([{ code: 'ERR_V2_BAD_TAG', fatal: true }]);
  });

  it('ends at the first bad tag and never decrypts or delivers what follows', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 7 }), (where, bit) => {
        const { i, r } = connectedPair();
        const pkt = i.t.sendMessage({ command: 'ping', nonce: 5n });
        // Any bit after the length field: header, message type, payload or tag.
        const at = 3 + (where % (pkt.length - 3));
        pkt[at]! ^= 1 << bit;
        i.write(pkt);
        i.send({ command: 'verack' });
        i.send({ command: 'ping', nonce: 6n });
        pump(i, r, [3]);
        expect(r.errors()).toEqual([{ code: 'ERR_V2_BAD_TAG', fatal: true }]);
        expect(r.messages()).toEqual([]);
        expect(r.t.phase).toBe('failed');
        expect(r.t.bytesIgnored).toBeGreaterThan(0);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a `version` message sent in place of the version packet (ERR_V2_BAD_VERSION_PACKET)', () => {
    const i = endpoint('initiator');
    const r = endpoint('responder', { versionPacket: false });
    i.t.start();
    r.t.push(i.drain());
    r.send({ command: 'version', payload: makeVersion() });
    i.t.push(r.drain());
    expect(i.errors()).toEqual([{ code: 'ERR_V2_BAD_VERSION_PACKET', fatal: true }]);
    expect(i.messages()).toEqual([]);
  });

  it('refuses a length over the largest message before any of its body arrives (ERR_MESSAGE_TOO_LARGE, fatal)', () => {
    const { i, r } = connectedPair();
    i.write(i.t.sendBogusLength(MAX_CONTENTS_LENGTH + 1));
    pump(i, r);
    expect(r.errors()).toEqual([{ code: 'ERR_MESSAGE_TOO_LARGE', fatal: true }]);
    const { i: i2, r: r2 } = connectedPair();
    i2.write(i2.t.sendBogusLength(MAX_CONTENTS_LENGTH));
    pump(i2, r2);
    // At the limit it waits, holding nothing for a body that has not come.
    expect(r2.errors()).toEqual([]);
    expect(r2.t.packets!.retainedBytes).toBe(0);
  });

  it('streams a 4 MB packet it does not want without holding it, and still checks its tag', () => {
    const i = endpoint('initiator');
    const r = endpoint('responder', { skipUnknown: true });
    i.t.start();
    pump(i, r);
    const block = randomBytes(4_000_000);
    i.write(i.t.sendFrame('block', block));
    i.send({ command: 'verack' });
    let peak = 0;
    for (const piece of chunks(i.drain(), [65536])) {
      r.t.push(piece);
      peak = Math.max(peak, r.t.packets!.retainedBytes);
    }
    expect(peak).toBe(0);
    expect(r.t.packets!.messagesSkipped).toBe(1);
    expect(r.messages()).toEqual([{ command: 'verack' }]);

    // The same packet with one bit flipped in its tail fails the connection.
    const { i: i2, r: r2 } = connectedPair({}, { skipUnknown: true });
    const bad = i2.t.sendFrame('block', block);
    bad[bad.length - 1]! ^= 1;
    for (const piece of chunks(bad, [65536])) r2.t.push(piece);
    expect(r2.errors()).toEqual([{ code: 'ERR_V2_BAD_TAG', fatal: true }]);
  });

  it('delivers a large unknown message whole when asked (skipUnknown off)', () => {
    const { i, r } = connectedPair();
    const tx = randomBytes(300_000);
    i.write(i.t.sendFrame('tx', tx));
    pump(i, r, [1000, 65536, 7]);
    const [m] = r.messages();
    expect(m?.command).toBe('unknown');
    expect(Buffer.from((m as { payload: Uint8Array }).payload).equals(tx)).toBe(true);
  });
});

describe('v2 fallback signal (Core ShouldReconnectV1)', () => {
  it('is true after our key went out and nothing came back, false once any byte arrived', () => {
    const i = endpoint('initiator');
    expect(i.t.shouldReconnectV1).toBe(false);
    i.t.start();
    expect(i.drain().length).toBeGreaterThanOrEqual(64);
    expect(i.t.shouldReconnectV1).toBe(true);
    i.t.push(Uint8Array.of(1));
    expect(i.t.shouldReconnectV1).toBe(false);
    expect(endpoint('responder').t.shouldReconnectV1).toBe(false);
  });
});
