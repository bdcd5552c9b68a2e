/**
 * Issue 11 item 12, port scanning by gossip: one peer made the crawler dial
 * 1,000 ports of one allowed host (and the snapshot showed which was open).
 * Gossiped addresses on Core's bad ports are recorded `skipped` `bad-port`,
 * at most 3 ports per IP are taken from gossip (the rest `skipped`
 * `port-limit`); seeds the user gives are dialled whatever their port.
 */
import { describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { NodeRecord } from '../src/engine/record.js';
import { BAD_PORTS } from '../src/shared/bad-ports.js';
import { addrEntry, answerVersion, startHostilePeer } from './helpers/hostile-peer.js';

describe('port scanning by gossip (issue 11, item 12)', () => {
  it('skips bad ports and limits ports per IP for gossip, not for seeds', async () => {
    const victim = '127.0.0.8';
    const bad = [22, 25, 3306, 5432, 27017];
    const scan = Array.from({ length: 1000 }, (_, i) => 20_000 + i);
    // The hostile peer itself listens on a bad port (IRC, 6667): as a seed it is dialled anyway.
    const peer = await startHostilePeer({
      host: '127.0.0.7',
      port: 6667,
      onMessage(msg, conn) {
        if (msg.command === 'version') answerVersion(conn);
        if (msg.command === 'getaddr') {
          const cmd = conn.wantsV2 ? 'addrv2' : 'addr';
          conn.send({ command: cmd, entries: bad.map((p) => addrEntry(`${victim}:${p}`)) });
          conn.send({ command: cmd, entries: scan.map((p) => addrEntry(`${victim}:${p}`)) });
        }
      },
    });
    const records: NodeRecord[] = [];
    const crawler = new Crawler({ network: 'regtest', seeds: [peer.address], only: ['127.0.0.0/8'], workers: 1, timeoutMs: 2000, addrQuietMs: 100 });
    crawler.on('node', (r: NodeRecord) => records.push(r));
    try {
      const summary = await crawler.start();
      expect(records.find((r) => r.addr === peer.address)?.state).toBe('reachable');
      const onVictim = records.filter((r) => r.addr.startsWith(`${victim}:`));
      const dialled = onVictim.filter((r) => r.state !== 'skipped');
      expect(dialled.length).toBe(3);
      expect(dialled.every((r) => r.error === 'ERR_CONNECTION_REFUSED')).toBe(true);
      for (const p of bad) expect(onVictim.find((r) => r.addr === `${victim}:${p}`)).toMatchObject({ state: 'skipped', reason: 'bad-port' });
      expect(onVictim.filter((r) => r.reason === 'port-limit').length).toBe(scan.length - 3);
      expect(summary.bySkipReason).toEqual({ 'bad-port': bad.length, 'port-limit': scan.length - 3 });
    } finally {
      await crawler.stop();
      await peer.close();
    }
  });

  it('has Core\'s bad-port list', () => {
    expect(BAD_PORTS.size).toBe(85);
    for (const p of [1, 22, 25, 53, 3389, 5432, 6667, 10080, 27017]) expect(BAD_PORTS.has(p)).toBe(true);
    for (const p of [8333, 18333, 18444, 38333, 48333, 80, 443]) expect(BAD_PORTS.has(p)).toBe(false);
  });
});
