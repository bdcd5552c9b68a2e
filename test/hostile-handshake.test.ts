/**
 * Issue 11 items 13 and 16, the handshake as Core does it.
 * 13: a verack sent BEFORE the peer's version made the peer `reachable`.
 *     Core ignores every message before version (and addresses before the
 *     handshake completes); the handshake completes only with a verack
 *     after the version.
 * 16: our version gave the peer's address as `[::]:0`; Core sends the
 *     address it sees for the peer (addr_recv = the address we dialled).
 */
import { describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { formatAddress, type Message } from '../src/wire/index.js';
import { addrEntry, answerVersion, startHostilePeer, versionMessage, type HostileConn } from './helpers/hostile-peer.js';

async function crawlOne(
  host: string,
  onConnect: ((c: HostileConn) => void) | undefined,
  onMessage: (msg: Message, c: HostileConn) => void,
): Promise<{ records: NodeRecord[]; address: string; conns: HostileConn[] }> {
  const peer = await startHostilePeer({ host, onConnect, onMessage });
  const records: NodeRecord[] = [];
  const crawler = new Crawler({
    network: 'regtest',
    seeds: [peer.address],
    only: ['127.0.0.0/8', '::1/128'],
    workers: 1,
    connectTimeoutMs: 3000,
    handshakeTimeoutMs: 600,
    getaddrTimeoutMs: 300,
    addrQuietMs: 50,
  });
  crawler.on('node', (r: NodeRecord) => records.push(r));
  try {
    await crawler.start();
    return { records, address: peer.address, conns: peer.conns };
  } finally {
    await crawler.stop();
    await peer.close();
  }
}

describe('verack before version (issue 11, item 13)', () => {
  it('a verack before the version does not complete the handshake', async () => {
    const { records, address } = await crawlOne(
      '127.0.0.21',
      (c) => c.send({ command: 'verack' }),
      (msg, c) => {
        if (msg.command === 'version') c.send(versionMessage());
      },
    );
    expect(records).toEqual([expect.objectContaining({ addr: address, state: 'failed', error: 'ERR_HANDSHAKE_TIMEOUT' })]);
  });

  it('verack, version, then verack: reachable (the verack after the version completes it)', async () => {
    const { records, address } = await crawlOne(
      '127.0.0.22',
      (c) => c.send({ command: 'verack' }),
      (msg, c) => {
        if (msg.command === 'version') c.send(versionMessage());
        if (msg.command === 'verack') c.send({ command: 'verack' });
      },
    );
    expect(records).toEqual([expect.objectContaining({ addr: address, state: 'reachable' })]);
  });

  it('addresses sent before the handshake completes are ignored, as Core ignores them', async () => {
    const { records, address } = await crawlOne(
      '127.0.0.23',
      (c) => c.send({ command: 'addr', entries: [addrEntry('127.0.0.99:1111')] }),
      (msg, c) => {
        if (msg.command === 'version') {
          c.send(versionMessage());
          c.send({ command: 'addr', entries: [addrEntry('127.0.0.99:2222')] });
          c.send({ command: 'verack' });
        }
        if (msg.command === 'getaddr') c.send({ command: 'addr', entries: [addrEntry('127.0.0.99:3333'), addrEntry('127.0.0.99:4444')] });
      },
    );
    expect(records.map((r) => r.addr).sort()).toEqual([address, '127.0.0.99:3333', '127.0.0.99:4444'].sort());
  });
});

describe('addr_recv of our version (issue 11, item 16)', () => {
  it.each([['127.0.0.24'], ['::1']])('is the address we dialled (%s), services 0', async (host) => {
    const { address, conns } = await crawlOne(host, undefined, (msg, c) => {
      if (msg.command === 'version') answerVersion(c);
    });
    const version = conns[0]?.received.find((m) => m.command === 'version');
    if (version?.command !== 'version') throw new Error('the peer received no version');
    const recv = version.payload.addrRecv;
    expect(recv.address === null ? null : formatAddress(recv.address)).toBe(address);
    expect(recv.services).toBe(0n);
  });
});
