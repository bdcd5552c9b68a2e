/**
 * The streaming MessageDecoder: chunking, limits, skipping, error reporting.
 */
import { describe, expect, it } from 'vitest';
import {
  HEADER_SIZE,
  MessageDecoder,
  NETWORKS,
  encodeMessage,
  frameMessage,
  makeVersion,
  parseAddress,
  type AddrEntry,
  type Message,
} from '../src/wire/index.js';
import { recordingSink } from './wire-helpers.js';

const net = NETWORKS.regtest;

function addrEntries(n: number): AddrEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    time: 1_700_000_000 + i,
    services: 9n,
    address: parseAddress(`10.${(i >> 8) & 255}.${i & 255}.1:8333`),
    networkId: 1,
  }));
}

function decodeAll(bytes: Uint8Array, chunk = bytes.length, opts = {}) {
  const sink = recordingSink();
  const d = new MessageDecoder(net, sink, opts);
  for (let i = 0; i < bytes.length; i += chunk) d.push(bytes.subarray(i, Math.min(bytes.length, i + chunk)));
  return { sink, d };
}

describe('MessageDecoder', () => {
  it('decodes many messages delivered in one chunk, in order', () => {
    const msgs: Message[] = [
      { command: 'version', payload: makeVersion({ nonce: 7n, timestamp: 1n }) },
      { command: 'verack' },
      { command: 'ping', nonce: 42n },
      { command: 'addr', entries: addrEntries(3) },
    ];
    const { sink, d } = decodeAll(Buffer.concat(msgs.map((m) => encodeMessage(net, m))));
    expect(sink.events.map((e) => e.msg?.command)).toEqual(['version', 'verack', 'ping', 'addr']);
    expect(d.messagesDecoded).toBe(4);
    expect(d.bufferedBytes).toBe(0);
  });

  it('decodes a message fed one byte at a time', () => {
    const frame = encodeMessage(net, { command: 'addr', entries: addrEntries(20) });
    const sink = recordingSink();
    const d = new MessageDecoder(net, sink);
    for (let i = 0; i < frame.length - 1; i++) {
      d.push(frame.subarray(i, i + 1));
      expect(d.bufferedBytes).toBe(i + 1 <= HEADER_SIZE ? (i + 1) % HEADER_SIZE : i + 1 - HEADER_SIZE);
    }
    expect(sink.events).toHaveLength(0);
    d.push(frame.subarray(frame.length - 1));
    expect(sink.events).toHaveLength(1);
    const m = sink.events[0]!.msg!;
    expect(m.command === 'addr' && m.entries.length).toBe(20);
    expect(d.bufferedBytes).toBe(0);
  });

  it('passes an unknown command through as a view of its payload', () => {
    const payload = Buffer.from('0102030405', 'hex');
    const frame = frameMessage(net, 'inv', payload);
    const { sink } = decodeAll(frame);
    const m = sink.events[0]!.msg!;
    expect(m).toMatchObject({ command: 'unknown', name: 'inv' });
    if (m.command !== 'unknown') throw new Error('unreachable');
    expect(Buffer.from(m.payload).equals(payload)).toBe(true);
    // A view into the pushed chunk, not a copy.
    expect(m.payload.buffer).toBe(frame.buffer);
  });

  it('skips unknown command bodies entirely with skipUnknown', () => {
    const bytes = Buffer.concat([frameMessage(net, 'block', Buffer.alloc(100_000, 1)), encodeMessage(net, { command: 'verack' })]);
    const sink = recordingSink();
    const d = new MessageDecoder(net, sink, { skipUnknown: true });
    let maxBuffered = 0;
    for (let i = 0; i < bytes.length; i += 1000) {
      d.push(bytes.subarray(i, i + 1000));
      maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
    }
    expect(sink.events.map((e) => e.msg?.command)).toEqual(['verack']);
    expect(d.messagesSkipped).toBe(1);
    expect(maxBuffered).toBeLessThan(HEADER_SIZE);
  });

  it('rejects a wrong magic as fatal and ignores everything after it', () => {
    const frame = encodeMessage(NETWORKS.mainnet, { command: 'verack' });
    const sink = recordingSink();
    const d = new MessageDecoder(net, sink);
    d.push(Buffer.concat([frame, encodeMessage(net, { command: 'verack' })]));
    d.push(encodeMessage(net, { command: 'verack' }));
    expect(sink.events).toEqual([{ kind: 'error', code: 'ERR_BAD_MAGIC', command: null, fatal: true }]);
    expect(d.failed).toBe(true);
  });

  it('rejects a declared length over 4,000,000 from the header alone, before any body arrives', () => {
    const header = frameMessage(net, 'block', Buffer.alloc(0));
    header.writeUInt32LE(4_000_001, 16);
    const { sink, d } = decodeAll(header);
    expect(sink.events).toEqual([{ kind: 'error', code: 'ERR_MESSAGE_TOO_LARGE', command: 'block', fatal: true }]);
    expect(d.bufferedBytes).toBe(0);
  });

  it('accepts a declared length of exactly 4,000,000 for an unknown command', () => {
    const { sink } = decodeAll(frameMessage(net, 'block', Buffer.alloc(4_000_000)), 65536);
    expect(sink.events).toHaveLength(1);
    expect(sink.events[0]!.msg).toMatchObject({ command: 'unknown', name: 'block' });
  });

  it('skips an addr body over its 30,003-byte limit without buffering it, then carries on', () => {
    const big = frameMessage(net, 'addr', Buffer.alloc(30_004));
    const bytes = Buffer.concat([big, encodeMessage(net, { command: 'ping', nonce: 1n })]);
    const sink = recordingSink();
    const d = new MessageDecoder(net, sink);
    let maxBuffered = 0;
    for (let i = 0; i < bytes.length; i += 512) {
      d.push(bytes.subarray(i, i + 512));
      maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
    }
    expect(sink.events[0]).toEqual({ kind: 'error', code: 'ERR_MESSAGE_TOO_LARGE', command: 'addr', fatal: false });
    expect(sink.events[1]!.msg).toEqual({ command: 'ping', nonce: 1n });
    expect(maxBuffered).toBeLessThan(HEADER_SIZE);
  });

  it('drops a message with a bad checksum and stays in sync', () => {
    const bad = encodeMessage(net, { command: 'ping', nonce: 5n });
    bad[20] = bad[20]! ^ 0xff;
    const { sink, d } = decodeAll(Buffer.concat([bad, encodeMessage(net, { command: 'pong', nonce: 5n })]), 7);
    expect(sink.events[0]).toEqual({ kind: 'error', code: 'ERR_BAD_CHECKSUM', command: 'ping', fatal: false });
    expect(sink.events[1]!.msg).toEqual({ command: 'pong', nonce: 5n });
    expect(d.failed).toBe(false);
  });

  it('drops a message whose command has a byte after the first NUL', () => {
    const frame = encodeMessage(net, { command: 'verack' });
    frame[4 + 8] = 0x41; // "verack\0\0A\0\0\0"
    const { sink } = decodeAll(Buffer.concat([frame, encodeMessage(net, { command: 'getaddr' })]));
    expect(sink.events[0]).toMatchObject({ kind: 'error', code: 'ERR_BAD_COMMAND', fatal: false });
    expect(sink.events[1]!.msg).toEqual({ command: 'getaddr' });
  });

  it('reports a payload that fails to decode without losing the next message', () => {
    const bytes = Buffer.concat([frameMessage(net, 'pong', Buffer.alloc(3)), encodeMessage(net, { command: 'verack' })]);
    const { sink } = decodeAll(bytes, 5);
    expect(sink.events[0]).toEqual({ kind: 'error', code: 'ERR_TRUNCATED', command: 'pong', fatal: false });
    expect(sink.events[1]!.msg).toEqual({ command: 'verack' });
  });

  it('reports a verack with a payload as over its size limit', () => {
    const { sink } = decodeAll(frameMessage(net, 'verack', Buffer.alloc(1)));
    expect(sink.events[0]).toEqual({ kind: 'error', code: 'ERR_MESSAGE_TOO_LARGE', command: 'verack', fatal: false });
  });

  it('delivers decoded addresses that own their bytes (no view into the message)', () => {
    const frame = encodeMessage(net, { command: 'addr', entries: addrEntries(2) });
    const { sink } = decodeAll(frame);
    const m = sink.events[0]!.msg!;
    if (m.command !== 'addr') throw new Error('unreachable');
    const bytes = m.entries[0]!.address!.bytes;
    expect(bytes.buffer).not.toBe(frame.buffer);
    expect(bytes.byteLength).toBe(4);
    frame.fill(0);
    expect(Array.from(bytes)).toEqual([10, 0, 0, 1]);
  });

  it('streams past the body of a message with an invalid command without buffering it', () => {
    const frame = frameMessage(net, 'ok', Buffer.alloc(50_000, 7));
    frame[4 + 2] = 0x01; // "ok\x01": a control byte after the name
    const bytes = Buffer.concat([frame, encodeMessage(net, { command: 'verack' })]);
    const sink = recordingSink();
    const d = new MessageDecoder(net, sink);
    let maxBuffered = 0;
    for (let i = 0; i < bytes.length; i += 1448) {
      d.push(bytes.subarray(i, i + 1448));
      maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
    }
    expect(sink.events[0]).toMatchObject({ kind: 'error', code: 'ERR_BAD_COMMAND', fatal: false });
    expect(sink.events[1]!.msg).toEqual({ command: 'verack' });
    expect(maxBuffered).toBeLessThan(HEADER_SIZE);
  });

  it('keeps an unknown payload assembled from several chunks intact after later pushes', () => {
    const payload = Buffer.alloc(5000, 0xab);
    const bytes = Buffer.concat([frameMessage(net, 'tx', payload), encodeMessage(net, { command: 'ping', nonce: 3n })]);
    const sink = recordingSink();
    const d = new MessageDecoder(net, sink);
    const scratch = Buffer.alloc(1000);
    for (let i = 0; i < bytes.length; i += 1000) {
      // Reuse one input buffer, as a socket reader with a fixed buffer would.
      const n = bytes.copy(scratch, 0, i, i + 1000);
      d.push(scratch.subarray(0, n));
    }
    const m = sink.events[0]!.msg!;
    if (m.command !== 'unknown') throw new Error('expected the tx to pass through');
    expect(Buffer.from(m.payload).equals(payload)).toBe(true);
    expect(sink.events[1]!.msg).toEqual({ command: 'ping', nonce: 3n });
  });

  it('reads only `length` bytes of a reused read buffer and keeps nothing of it (node:net onread)', () => {
    const version = makeVersion({ version: 70016, services: 1n, userAgent: '/t:1/', relay: true, startHeight: 7, nonce: 5n });
    const bytes = Buffer.concat([
      encodeMessage(net, { command: 'version', payload: version }),
      encodeMessage(net, { command: 'addr', entries: addrEntries(40) }),
      encodeMessage(net, { command: 'ping', nonce: 9n }),
    ]);
    const sink = recordingSink();
    const d = new MessageDecoder(net, sink);
    const readBuffer = Buffer.alloc(2048, 0xee);
    for (let i = 0; i < bytes.length; i += 700) {
      const n = bytes.copy(readBuffer, 0, i, i + 700);
      d.push(readBuffer, n); // the bytes after n are stale garbage, as in a reused buffer
      readBuffer.fill(0xff); // the socket overwrites it before the next read
    }
    expect(sink.events.map((e) => e.kind)).toEqual(['message', 'message', 'message']);
    const [v, a, p] = sink.events.map((e) => e.msg!);
    expect(v).toMatchObject({ command: 'version', payload: { userAgent: '/t:1/', startHeight: 7 } });
    if (a!.command !== 'addr') throw new Error('expected addr');
    expect(a!.entries.map((e) => e.address!.port)).toEqual(addrEntries(40).map(() => 8333));
    expect(a!.list!.textAt(39)).toBe('10.0.39.1:8333');
    expect(p).toEqual({ command: 'ping', nonce: 9n });
  });

  it('marks itself failed when a sink throws, so a half-processed chunk cannot desynchronise it', () => {
    const d = new MessageDecoder(net, {
      onMessage() {
        throw new Error('sink bug');
      },
      onMessageError() {},
    });
    expect(() => d.push(encodeMessage(net, { command: 'verack' }))).toThrow('sink bug');
    expect(d.failed).toBe(true);
  });
});

describe('MessageDecoder: memory of a half-sent body', () => {
  function header(command: string, length: number): Buffer {
    const h = frameMessage(net, command, Buffer.alloc(0)).subarray(0, HEADER_SIZE);
    const out = Buffer.from(h);
    out.writeUInt32LE(length, 16);
    return out;
  }

  it('a header declaring a 500,000-byte addrv2 followed by 10 bytes costs about 10 bytes, not 500 KB', () => {
    const before = process.memoryUsage().arrayBuffers;
    const decoders: MessageDecoder[] = [];
    for (let i = 0; i < 40; i++) {
      const d = new MessageDecoder(net, recordingSink());
      d.push(header('addrv2', 500_000));
      d.push(Buffer.alloc(10, 1));
      decoders.push(d);
    }
    for (const d of decoders) {
      expect(d.failed).toBe(false);
      expect(d.bufferedBytes).toBe(10);
      expect(d.allocatedBytes).toBeLessThanOrEqual(64 * 1024);
    }
    // 40 × 500 KB would be 20 MB; 40 × 64 KiB is 2.6 MB.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8_000_000);
  });

  it('a large body arriving in small chunks still decodes intact as its buffer grows', () => {
    // addrv2 with 1,000 entries of an unknown network id carrying 500-byte addresses (~510 KB).
    const parts: Buffer[] = [Buffer.from([0xfd, 0xe8, 0x03])];
    for (let i = 0; i < 1000; i++) {
      const e = Buffer.alloc(4 + 1 + 1 + 3 + 500 + 2);
      e.writeUInt32LE(1_700_000_000 + i, 0);
      e[4] = 1; // services
      e[5] = 0x77; // unknown network id
      e[6] = 0xfd;
      e.writeUInt16LE(500, 7);
      e.fill(i & 255, 9, 509);
      e.writeUInt16BE(8333, 509);
      parts.push(e);
    }
    const payload = Buffer.concat(parts);
    expect(payload.length).toBeGreaterThan(500_000);
    const { sink, d } = decodeAll(frameMessage(net, 'addrv2', payload), 1000);
    expect(sink.events.map((e) => (e.kind === 'error' ? e.code : e.msg?.command))).toEqual(['addrv2']);
    const msg = sink.events[0]!.msg;
    expect(msg?.command === 'addrv2' ? msg.entries.length : -1).toBe(1000);
    expect(d.bufferedBytes).toBe(0);
    expect(d.allocatedBytes).toBe(0);
  });

  it('an unknown command body assembled from chunks is delivered byte for byte', () => {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 255;
    const { sink } = decodeAll(frameMessage(net, 'blob', payload), 4096);
    const msg = sink.events[0]?.msg;
    expect(msg?.command).toBe('unknown');
    expect(msg?.command === 'unknown' ? Buffer.from(msg.payload).equals(payload) : false).toBe(true);
  });
});
