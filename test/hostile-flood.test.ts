/**
 * Issue 11 item 9, address flood: a listener that answers every getaddr with
 * 1,000 fresh addresses, every one of which it also serves (one wildcard
 * listener on loopback answers for all of 127.200.0.0/16), next to a small
 * honest simulated network. Without per-source budgets the frontier grows
 * without end (to maxKnown) and the crawl never finishes. With them the crawl
 * finishes, finds every honest node, stays bounded, and reports the drops.
 *
 * Also the gossip port policy (item 12) as unit checks of GossipPolicy.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseCrawlArgs } from '../src/cli/commands/crawl.js';
import { Crawler } from '../src/engine/crawler.js';
import { GossipPolicy } from '../src/engine/gossip-policy.js';
import { formatSummary, type NodeRecord } from '../src/engine/record.js';
import { netgroupOf } from '../src/shared/netgroup.js';
import { startSimNetwork } from '../src/sim/index.js';
import { encodeMessage, MessageDecoder, NETWORKS, parseAddress, type AddrEntry, type Message } from '../src/wire/index.js';
import { startLoopbackPeer } from './helpers/loopback-peer.js';
import { addrEntry, answerVersion, startHostilePeer, versionMessage } from './helpers/hostile-peer.js';

const FLOOD_PORT = 28_444;

/** Serves every 127.200.x.y:FLOOD_PORT; each getaddr gets 1,000 addresses never handed out before. */
async function startFlood(): Promise<{ server: Server; handedOut: () => number; close: () => Promise<void> }> {
  let next = 1;
  const sockets = new Set<Socket>();
  // Entries built from bytes (no text parsing): the flood runs in the test's process, next to the sim.
  const time = Math.floor(Date.now() / 1000) - 3600;
  const fresh = (): AddrEntry => {
    const n = next++;
    return { time, services: 1033n, address: { network: 'ipv4', bytes: Uint8Array.of(127, 200, (n >> 8) & 0xff, n & 0xff), port: FLOOD_PORT }, networkId: 0 };
  };
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    // Loopback only, whatever the wildcard accepted.
    if (!(sock.localAddress ?? '').startsWith('127.200.')) return void sock.destroy();
    let v2 = false;
    const send = (m: Message): void => {
      if (!sock.destroyed) sock.write(encodeMessage(NETWORKS.regtest, m));
    };
    const decoder = new MessageDecoder(NETWORKS.regtest, {
      onMessage(msg: Message): void {
        if (msg.command === 'version') {
          send(versionMessage('/Flood:1.0/'));
          send({ command: 'sendaddrv2' });
          send({ command: 'verack' });
        } else if (msg.command === 'sendaddrv2') {
          v2 = true;
        } else if (msg.command === 'getaddr') {
          // 65,535 distinct hosts in the /16: enough to go far past any budget.
          const entries = Array.from({ length: 1000 }, fresh);
          send({ command: v2 ? 'addrv2' : 'addr', entries });
        }
      },
      onMessageError(): void {},
    });
    sock.on('data', (c: Buffer) => decoder.push(c));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '0.0.0.0', port: FLOOD_PORT, exclusive: true }, () => resolve());
  });
  return {
    server,
    handedOut: () => next - 1,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('address flood (issue 11, item 9)', () => {
  it('a flooding peer next to an honest network: the crawl finishes, finds every honest node, stays bounded, reports drops', async () => {
    const sim = await startSimNetwork({ nodes: 60, seed: 9, network: 'regtest' });
    const flood = await startFlood();
    const groupBudget = 1500;
    const crawler = new Crawler({
      network: 'regtest',
      seeds: [`127.200.0.0:${FLOOD_PORT}`, ...sim.seeds],
      only: ['127.0.0.0/8'],
      // The sim shares this process with the flood and the crawler's main thread: room for a busy loop.
      timeoutMs: 5000,
      addrQuietMs: 50,
      maxPeers: 100,
      maxAddrsPerSourceGroup: groupBudget,
      // Far above what the budgets allow: before them, the frontier ran into it.
      maxKnown: 200_000,
    });
    const records = new Map<string, NodeRecord>();
    crawler.on('node', (r: NodeRecord) => records.set(r.addr, r));
    let peakKnown = 0;
    const sampler = setInterval(() => (peakKnown = Math.max(peakKnown, crawler.stats().known)), 50);
    try {
      // A deadline of our own: without the budgets the crawl would not end before maxKnown.
      const outcome = await Promise.race([
        crawler.start().then((summary) => ({ summary })),
        new Promise<'late'>((r) => setTimeout(() => r('late'), 45_000).unref()),
      ]);
      if (outcome === 'late') {
        const s = crawler.stats();
        throw new Error(`crawl did not finish in 45 s: ${s.known} known, ${s.queued} queued, flood handed out ${flood.handedOut()}`);
      }
      const { summary } = outcome;
      peakKnown = Math.max(peakKnown, crawler.stats().known);
      for (const node of sim.truth().reachable) expect(records.get(node.addr)?.state, node.addr).toBe('reachable');
      // Bounded: the honest network plus what the flood's /16 may add (one budget), plus its seed.
      const honest = sim.truth().nodes.length + sim.truth().nonIp.length;
      expect(peakKnown).toBeLessThanOrEqual(honest + groupBudget + 1);
      const fromFlood = [...records.keys()].filter((a) => a.startsWith('127.200.')).length;
      expect(fromFlood).toBeLessThanOrEqual(groupBudget + 1);
      expect(summary.addrsDropped.perSourceGroup).toBeGreaterThan(0);
      expect(flood.handedOut()).toBeGreaterThan(groupBudget);
      expect(formatSummary(summary)).toMatch(/dropped: +\d+ over a peer's budget, [1-9]\d* over a source group's budget/);
    } finally {
      clearInterval(sampler);
      await crawler.stop();
      await flood.close();
      await sim.close();
    }
  });

  it('a peer that spent its budget cannot hide an honest address from the peers that send it later', async () => {
    const honest = await startLoopbackPeer({ host: '127.0.0.42' });
    const junk = Array.from({ length: 5 }, (_, i) => `127.0.5.${i + 1}:18444`);
    const attacker = await startHostilePeer({
      host: '127.0.0.40',
      onMessage(msg, c) {
        if (msg.command === 'version') answerVersion(c);
        if (msg.command === 'getaddr') {
          c.send({ command: 'addr', entries: junk.map((a) => addrEntry(a)) });
          c.send({ command: 'addr', entries: [addrEntry(honest.address), addrEntry('127.0.5.99:18444')] });
        }
      },
    });
    const later = await startHostilePeer({
      host: '127.0.0.41',
      onMessage(msg, c) {
        if (msg.command === 'version') answerVersion(c);
        if (msg.command === 'getaddr') c.send({ command: 'addr', entries: [addrEntry(honest.address), addrEntry('127.0.6.1:18444')] });
      },
    });
    const records = new Map<string, NodeRecord>();
    // One worker (every report goes through one memory of recent addresses), one peer at a time: the attacker first.
    const crawler = new Crawler({ network: 'regtest', seeds: [attacker.address, later.address], only: ['127.0.0.0/8'], workers: 1, maxPeers: 1, timeoutMs: 2000, addrQuietMs: 100, maxAddrsPerSource: 5 });
    crawler.on('node', (r: NodeRecord) => records.set(r.addr, r));
    try {
      const summary = await crawler.start();
      expect(summary.addrsDropped.perSource).toBe(2);
      expect(records.get(honest.address)?.state).toBe('reachable');
      expect(records.has('127.0.5.99:18444')).toBe(false);
    } finally {
      await crawler.stop();
      await Promise.all([attacker.close(), later.close(), honest.close()]);
    }
  });

  it('budgets per learned-from peer and per source netgroup; ports per host; Core bad ports', () => {
    const p = new GossipPolicy({ maxPerSource: 3, maxPerSourceGroup: 5, maxPortsPerHost: 2 });
    expect(['10.0.0.1:8333', '10.0.0.2:8333', '10.0.0.3:8333', '10.0.0.4:8333'].map((a) => p.judge(a, 'ipv4', '1.2.3.4:8333'))).toEqual([
      'accept',
      'accept',
      'accept',
      'over-source',
    ]);
    // Another peer of the same /16 shares the group budget (5): two more, then over.
    expect(['10.0.1.1:8333', '10.0.1.2:8333', '10.0.1.3:8333'].map((a) => p.judge(a, 'ipv4', '1.2.9.9:8333'))).toEqual(['accept', 'accept', 'over-group']);
    // A peer of another /16 has its own.
    expect(p.judge('10.0.2.1:8333', 'ipv4', '1.3.0.1:8333')).toBe('accept');
    expect(p.drops).toEqual({ perSource: 1, perSourceGroup: 1 });
    const q = new GossipPolicy({ maxPerSource: 100, maxPerSourceGroup: 100, maxPortsPerHost: 2 });
    expect(q.judge('10.0.0.1:22', 'ipv4', '1.2.3.4:8333')).toBe('bad-port');
    expect(q.judge('[2001:db8::1]:3389', 'ipv6', '1.2.3.4:8333')).toBe('bad-port');
    q.noteSeed('10.0.0.9:8333', 'ipv4');
    expect(q.judge('10.0.0.9:8334', 'ipv4', '1.2.3.4:8333')).toBe('accept');
    expect(q.judge('10.0.0.9:8335', 'ipv4', '1.2.3.4:8333')).toBe('port-limit');
  });

  it('takes the bounds from the command line', () => {
    const argv = '--seed 127.0.0.1:8333 --only 127.0.0.0/8 --max-known 5000 --max-addrs-per-source 10 --max-addrs-per-group 20 --max-ports-per-ip 1'.split(' ');
    expect(parseCrawlArgs(argv)).toMatchObject({ maxKnown: 5000, maxAddrsPerSource: 10, maxAddrsPerSourceGroup: 20, maxPortsPerHost: 1 });
    expect(() => parseCrawlArgs([...argv, '--max-known', '0'])).toThrow(/--max-known/);
  });

  it('groups sources like Core: /16, /32, 6to4 and Teredo by their IPv4, HE.net by /36, Tor by 4 bits', () => {
    const g = (t: string): string => netgroupOf(parseAddress(t));
    expect(g('1.2.3.4:1')).toBe('ipv4:1.2');
    expect(g('1.2.200.1:1')).toBe(g('1.2.3.4:1'));
    expect(g('[2001:db8:1::1]:1')).toBe('ipv6:2001:0db8');
    expect(g('[2002:102:304::1]:1')).toBe('ipv4:1.2');
    expect(g('[2001:0:4136:e378:8000:63bf:fefd:fcfb]:1')).toBe('ipv4:1.2');
    expect(g('[2001:470:1234::1]:1')).not.toBe(g('[2001:470:f234::1]:1'));
    expect(g('[2001:470:1234::1]:1')).toBe(g('[2001:470:1fff::1]:1'));
  });
});
