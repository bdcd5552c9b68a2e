/**
 * Property tests: every message type round-trips; arbitrary and mutated byte
 * streams only ever produce the codec's typed errors; chunking never changes
 * what comes out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireError } from '../src/errors.js';
import {
  KNOWN_COMMANDS,
  MessageDecoder,
  NETWORKS,
  decodePayload,
  encodeMessage,
  encodePayload,
  formatAddress,
  frameMessage,
  parseAddress,
  type Message,
} from '../src/wire/index.js';
import { anyAddress, message } from './wire-arbitraries.js';
import { recordingSink, type Reported } from './wire-helpers.js';

const net = NETWORKS.mainnet;

const WIRE_CODES = new Set([
  'ERR_BAD_MAGIC',
  'ERR_MESSAGE_TOO_LARGE',
  'ERR_BAD_CHECKSUM',
  'ERR_BAD_COMMAND',
  'ERR_TRUNCATED',
  'ERR_TRAILING_BYTES',
  'ERR_NONCANONICAL_COMPACTSIZE',
  'ERR_COMPACTSIZE_TOO_LARGE',
  'ERR_ADDR_TOO_MANY',
  'ERR_ADDRV2_TOO_LONG',
  'ERR_ADDRV2_BAD_LENGTH',
  'ERR_USER_AGENT_TOO_LONG',
  'ERR_BAD_PAYLOAD',
]);

/** Byte arrays compared by content whatever their class (Buffer vs Uint8Array). */
function normalise(value: unknown): unknown {
  if (value instanceof Uint8Array) return { hex: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

function decodeStream(bytes: Uint8Array, cuts: number[]): Reported[] {
  const sink = recordingSink();
  const d = new MessageDecoder(net, sink);
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    d.push(bytes.subarray(prev, cut));
    prev = cut;
  }
  return sink.events;
}

const cutsFor = (len: number) => fc.uniqueArray(fc.integer({ min: 0, max: len }), { maxLength: 20 }).map((c) => c.sort((a, b) => a - b));

describe('wire codec properties', () => {
  it('round-trips every message type through encodePayload and decodePayload', () => {
    fc.assert(
      fc.property(message, (msg) => {
        const command = msg.command === 'unknown' ? msg.name : msg.command;
        const back = decodePayload(command, encodePayload(msg));
        expect(normalise(back)).toEqual(normalise(msg));
      }),
      { numRuns: 400 },
    );
  });

  it('round-trips every message type through framing and the streaming decoder', () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), (msgs) => {
        const bytes = Buffer.concat(msgs.map((m) => encodeMessage(net, m)));
        const events = decodeStream(bytes, []);
        expect(events.every((e) => e.kind === 'message')).toBe(true);
        expect(normalise(events.map((e) => e.msg))).toEqual(normalise(msgs));
      }),
      { numRuns: 150 },
    );
  });

  it('gives the same messages and errors for the same bytes in any chunking', () => {
    const frames = fc.array(
      fc.oneof(
        message.map((m) => encodeMessage(net, m)),
        // Frames the decoder must drop without losing sync.
        fc.record({ m: message, at: fc.nat() }).map(({ m, at }) => {
          const f = encodeMessage(net, m);
          f[20 + (at % 4)] = f[20 + (at % 4)]! ^ 0x5a;
          return f;
        }),
        fc.uint8Array({ maxLength: 40 }).map((p) => frameMessage(net, 'ping', p)),
        fc.uint8Array({ maxLength: 60 }).map((p) => frameMessage(net, 'addrv2', p)),
      ),
      { minLength: 1, maxLength: 6 },
    );
    fc.assert(
      fc.property(
        frames.chain((fs) => {
          const bytes = Buffer.concat(fs);
          return fc.tuple(fc.constant(bytes), cutsFor(bytes.length));
        }),
        ([bytes, cuts]) => {
          const whole = decodeStream(bytes, []);
          const chunked = decodeStream(bytes, cuts);
          expect(normalise(chunked)).toEqual(normalise(whole));
          const oneByOne = decodeStream(bytes, Array.from({ length: bytes.length }, (_, i) => i));
          expect(normalise(oneByOne)).toEqual(normalise(whole));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reports only typed wire errors for random byte streams, never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cutsFor(300), (bytes, cuts) => {
        const events = decodeStream(bytes, cuts.filter((c) => c <= bytes.length));
        for (const e of events) if (e.kind === 'error') expect(WIRE_CODES.has(e.code!)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('reports only typed wire errors for streams of random frames with the right magic, never throws', () => {
    const commandField = fc.oneof(
      fc.constantFrom(...KNOWN_COMMANDS, 'inv', 'block').map((c) => {
        const f = Buffer.alloc(12);
        f.write(c, 'latin1');
        return f;
      }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => Buffer.from(b)),
    );
    const randomFrame = fc
      .record({
        command: commandField,
        body: fc.uint8Array({ maxLength: 120 }),
        declared: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 5_000_000 })),
        goodChecksum: fc.boolean(),
        checksum: fc.integer({ min: 0, max: 0xffffffff }),
      })
      .map(({ command, body, declared, goodChecksum, checksum }) => {
        const f = frameMessage(net, 'x', body);
        command.copy(f, 4);
        if (declared >= 0) f.writeUInt32LE(declared, 16);
        if (!goodChecksum) f.writeUInt32LE(checksum, 20);
        return f;
      });
    fc.assert(
      fc.property(fc.array(randomFrame, { minLength: 1, maxLength: 8 }), fc.nat(), (frames, seed) => {
        const bytes = Buffer.concat(frames);
        const cuts = [seed % (bytes.length + 1)];
        const events = decodeStream(bytes, cuts);
        for (const e of events) if (e.kind === 'error') expect(WIRE_CODES.has(e.code!)).toBe(true);
        expect(normalise(events)).toEqual(normalise(decodeStream(bytes, [])));
      }),
      { numRuns: 400 },
    );
  });

  it('reports only typed wire errors for mutated valid streams, never throws', () => {
    const mutation = fc.record({ at: fc.nat(), op: fc.constantFrom('flip', 'insert', 'delete'), value: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), (msgs, muts) => {
        let bytes = Buffer.concat(msgs.map((m) => encodeMessage(net, m)));
        for (const { at, op, value } of muts) {
          const i = at % (bytes.length + 1);
          if (op === 'flip' && i < bytes.length) bytes[i] = bytes[i]! ^ (value | 1);
          else if (op === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Uint8Array.of(value), bytes.subarray(i)]);
          else bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
        }
        const events = decodeStream(bytes, []);
        for (const e of events) if (e.kind === 'error') expect(WIRE_CODES.has(e.code!)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('decodePayload on arbitrary bytes returns a message or throws a WireError, for every command', () => {
    const commands = [...KNOWN_COMMANDS];
    fc.assert(
      fc.property(fc.constantFrom(...commands), fc.uint8Array({ maxLength: 400 }), (command, bytes) => {
        try {
          const msg: Message = decodePayload(command, bytes);
          expect(msg.command).toBe(command);
        } catch (err) {
          expect(err).toBeInstanceOf(WireError);
          expect(WIRE_CODES.has((err as WireError).code)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every address network through its text form', () => {
    fc.assert(
      fc.property(anyAddress, (addr) => {
        const text = formatAddress(addr);
        expect(normalise(parseAddress(text))).toEqual(normalise(addr));
        expect(formatAddress(parseAddress(text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });
});
