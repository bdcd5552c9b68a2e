/**
 * Issue 11 item 10, CJDNS shadowing: an addrv2 entry with the CJDNS network
 * id but an address outside fc00::/8 is invalid in Core (IsCJDNS() but
 * !IsValid(), so addrman never stores it). Learned as `cjdns` it had the same
 * text as the IPv6 address and hid the real IPv6 node behind `skipped non-ip`.
 */
import { describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { addressKey, keyNetwork, keyText } from '../src/shared/address-key.js';
import { decodePayload, encodePayload, parseAddress, type AddrEntry } from '../src/wire/index.js';
import { startLoopbackPeer } from './helpers/loopback-peer.js';
import { addrEntry, answerVersion, startHostilePeer } from './helpers/hostile-peer.js';

const LOOPBACK6 = parseAddress('[::1]:1').bytes;

function cjdnsEntry(bytes: Uint8Array, port: number): AddrEntry {
  return { time: Math.floor(Date.now() / 1000) - 60, services: 1033n, address: { network: 'cjdns', bytes, port }, networkId: 6 };
}

describe('CJDNS entries outside fc00::/8 (issue 11, item 10)', () => {
  it('marks them invalid in the decoded list, and keeps real CJDNS valid', () => {
    const payload = encodePayload({ command: 'addrv2', entries: [cjdnsEntry(LOOPBACK6, 18555), addrEntry('[fc00::1]:8333')] });
    const msg = decodePayload('addrv2', payload);
    if (msg.command !== 'addrv2' || msg.list === undefined) throw new Error('expected an addrv2 list');
    expect(msg.list.networkAt(0)).toBe('cjdns');
    expect(msg.list.validAt(0)).toBe(false);
    expect(msg.list.networkAt(1)).toBe('cjdns');
    expect(msg.list.validAt(1)).toBe(true);
    // Still lossless: the codec reads what Core reads.
    expect(encodePayload(msg)).toEqual(payload);
  });

  it('keys a worker\'s recent-address memory by network, so a CJDNS twin cannot hide the IPv6 text', () => {
    const k = addressKey('[fc00::1]:8333', 'cjdns');
    expect(k).not.toBe(addressKey('[fc00::1]:8333', 'ipv6'));
    expect(keyNetwork(k)).toBe('cjdns');
    expect(keyText(k)).toBe('[fc00::1]:8333');
  });

  it('a hostile peer announcing a CJDNS twin of a real IPv6 node does not hide it', async () => {
    const honest = await startLoopbackPeer({ host: '::1' });
    const port = honest.port;
    const hostile = await startHostilePeer({
      host: '127.0.0.1',
      onMessage(msg, conn) {
        if (msg.command === 'version') answerVersion(conn);
        if (msg.command === 'getaddr') {
          // The invalid twin first, so that it is learned before the real entry.
          conn.send({ command: conn.wantsV2 ? 'addrv2' : 'addr', entries: [cjdnsEntry(LOOPBACK6, port), addrEntry(`[::1]:${port}`)] });
        }
      },
    });
    const records: NodeRecord[] = [];
    const crawler = new Crawler({ network: 'regtest', seeds: [hostile.address], only: ['127.0.0.0/8', '::1/128'], workers: 1, timeoutMs: 3000, addrQuietMs: 50 });
    crawler.on('node', (r: NodeRecord) => records.push(r));
    try {
      const summary = await crawler.start();
      const ipv6 = records.filter((r) => r.addr === `[::1]:${port}`);
      expect(ipv6).toEqual([expect.objectContaining({ network: 'ipv6', state: 'reachable' })]);
      expect(records.some((r) => r.network === 'cjdns')).toBe(false);
      expect(summary.byState.reachable).toBe(2);
      expect(honest.accepted()).toBe(1);
    } finally {
      await crawler.stop();
      await hostile.close();
      await honest.close();
    }
  });
});
