/**
 * Issue 11 item 14, lossy user agents: a user agent that is not valid UTF-8
 * was decoded with U+FFFD replacement, so the decoder's own output could not
 * be re-encoded (ERR_USER_AGENT_TOO_LONG: one bad byte became three) and the
 * snapshot did not say which bytes the node sent. The text form is now a
 * lossless escape (`\\` for a backslash, `\xNN` for a byte outside
 * well-formed UTF-8) and encode(decode(x)) is x for every valid frame.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { decodePayload, encodeCompactSize, encodePayload, makeVersion, userAgentBytes, userAgentText } from '../src/wire/index.js';
import { messageToJson } from '../src/wire/json.js';
import { startHostilePeer } from './helpers/hostile-peer.js';

/** A version payload as raw bytes, every field drawn at random, optional fields a prefix (as Core reads them). */
const versionFrame = fc
  .record({
    head: fc.uint8Array({ minLength: 12, maxLength: 12 }), // version, services
    time: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), // Core clamps a negative time: not a round trip by design
    addrRecv: fc.uint8Array({ minLength: 26, maxLength: 26 }),
    addrFromNonce: fc.uint8Array({ minLength: 34, maxLength: 34 }),
    agent: fc.oneof(fc.uint8Array({ maxLength: 256 }), fc.constant(new Uint8Array(256).fill(0xff))),
    height: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    relay: fc.constantFrom(0, 1), // any non-zero reads as true and is written as 1
    fields: fc.integer({ min: 0, max: 4 }),
  })
  .map(({ head, time, addrRecv, addrFromNonce, agent, height, relay, fields }) => {
    const t = Buffer.alloc(8);
    t.writeBigInt64LE(time);
    const parts: Uint8Array[] = [head, t, addrRecv];
    if (fields >= 1) parts.push(addrFromNonce);
    if (fields >= 2) parts.push(encodeCompactSize(agent.length), agent);
    if (fields >= 3) parts.push(height);
    if (fields >= 4) parts.push(Uint8Array.of(relay));
    return Uint8Array.from(Buffer.concat(parts));
  });

describe('user agents are kept losslessly (issue 11, item 14)', () => {
  it('encode(decode(x)) is x for every valid version frame, whatever bytes the user agent holds', () => {
    fc.assert(
      fc.property(versionFrame, (frame) => {
        expect(Buffer.from(encodePayload(decodePayload('version', frame))).toString('hex')).toBe(Buffer.from(frame).toString('hex'));
      }),
      { numRuns: 3000 },
    );
  });

  it('escapes invalid UTF-8 and backslashes, and reads valid UTF-8 as itself', () => {
    const bytes = Buffer.concat([Buffer.from('/Satoshi:27.0.0/ü'), Buffer.of(0xff, 0xc3, 0x28, 0x5c, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98, 0x80)]);
    const text = userAgentText(bytes);
    expect(text).toBe('/Satoshi:27.0.0/ü\\xff\\xc3(\\\\\\xed\\xa0\\x80😀');
    expect(Buffer.from(userAgentBytes(text))).toEqual(bytes);
    expect(userAgentText(Buffer.from('/Satoshi:27.0.0/'))).toBe('/Satoshi:27.0.0/');
    // 256 bad bytes: the text is longer than 256 characters, the bytes are not.
    const full = new Uint8Array(256).fill(0xff);
    const v = decodePayload('version', encodePayload({ command: 'version', payload: makeVersion({ userAgent: userAgentText(full) }) }));
    if (v.command !== 'version') throw new Error('expected version');
    expect(v.payload.userAgent).toBe('\\xff'.repeat(256));
    expect(messageToJson(v).userAgent).toBe('\\xff'.repeat(256));
    // A lone surrogate has no UTF-8 form: a typed error, not a silent U+FFFD.
    expect(() => userAgentBytes('a\ud800')).toThrow(expect.objectContaining({ code: 'ERR_UNENCODABLE' }));
  });

  it('a peer whose user agent is not UTF-8 is recorded with the exact bytes, escaped', async () => {
    const agent = Buffer.concat([Buffer.from('/Evil:'), Buffer.of(0xff, 0xfe), Buffer.from('\\/')]);
    const peer = await startHostilePeer({
      host: '127.0.0.1',
      onMessage(msg, conn) {
        if (msg.command === 'version') {
          conn.send({ command: 'version', payload: makeVersion({ version: 70016, services: 1033n, userAgent: userAgentText(agent), startHeight: 7, relay: true }) });
          conn.send({ command: 'verack' });
        }
      },
    });
    const records: NodeRecord[] = [];
    const crawler = new Crawler({ network: 'regtest', seeds: [peer.address], only: ['127.0.0.0/8'], workers: 1, timeoutMs: 3000, getaddrTimeoutMs: 200 });
    crawler.on('node', (r: NodeRecord) => records.push(r));
    try {
      await crawler.start();
      expect(records).toEqual([expect.objectContaining({ addr: peer.address, state: 'reachable', userAgent: '/Evil:\\xff\\xfe\\\\/' })]);
      expect(Buffer.from(userAgentBytes(records[0]!.userAgent!))).toEqual(agent);
    } finally {
      await crawler.stop();
      await peer.close();
    }
  });
});
