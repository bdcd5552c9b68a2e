/**
 * The simulator's mainnet-shaped extras (src/sim/gossip.ts), off by default:
 * answers padded to 1,000 entries from the whole pool, dead addresses that
 * nobody serves, per-node round trips, and the per-node serve time the
 * benchmark compares slot times against.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startSimNetwork, type SimNetwork } from '../src/sim/index.js';
import { probeNode as connectToNode } from '../src/index.js';

const sims: SimNetwork[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

describe('simulator gossip options', () => {
  it('pads a getaddr answer to 1,000 distinct entries mixing nodes, dead IPv4, IPv6 and non-IP addresses; the truth is unchanged', async () => {
    const plain = await startSimNetwork({ nodes: 300, seed: 5, baseAddress: '127.90.0.0', port: 19444, mix: { modern: 1 } });
    const truthPlain = plain.truth();
    await plain.close();
    const sim = await startSimNetwork({
      nodes: 300,
      seed: 5,
      baseAddress: '127.90.0.0',
      port: 19444,
      mix: { modern: 1 },
      gossip: { answerSize: 1000, dead: { count: 2000, base: '127.91.0.0' }, ipv6Share: 0.1, nonIpShare: 0.05, rttMs: { minMs: 20, maxMs: 40 } },
    });
    sims.push(sim);
    expect(sim.truth().reachable).toEqual(truthPlain.reachable);
    const rec = await connectToNode(sim.seeds[0]!, { network: 'regtest', only: ['127.0.0.0/8'], timeoutMs: 3000 });
    expect(rec.state).toBe('reachable');
    const learned = rec.learned.map(([text]) => text);
    // The peer's answer: exactly 1,000 entries, all distinct (plus nothing else: modern nodes do not self-announce).
    expect(learned.length).toBe(1000);
    expect(new Set(learned).size).toBe(1000);
    expect(learned.some((t) => t.startsWith('127.91.'))).toBe(true);
    expect(learned.some((t) => t.startsWith('[fd62:6974:7370:'))).toBe(true);
    expect(rec.learned.some(([, n]) => n === 'onion' || n === 'i2p' || n === 'cjdns')).toBe(true);
    // Serve time: every delay the node put before the replies a client waited for, with two round trips of 20-40 ms.
    const serve = sim.serveTimes()[sim.seeds[0]!];
    expect(serve).toBeGreaterThanOrEqual(40);
    expect(serve).toBeLessThanOrEqual(80);
  });

  it('a dead address has no listener: dialling it is refused', async () => {
    const sim = await startSimNetwork({ nodes: 20, seed: 6, baseAddress: '127.92.0.0', port: 19454, gossip: { answerSize: 100, dead: { count: 10, base: '127.92.200.0' } } });
    sims.push(sim);
    const rec = await connectToNode('127.92.200.1:19454', { network: 'regtest', only: ['127.0.0.0/8'], timeoutMs: 2000 });
    expect(rec).toMatchObject({ state: 'failed', error: 'ERR_CONNECTION_REFUSED' });
  });

  it('rejects an answer size over Core\'s 1,000, dead addresses outside loopback and bad Tor / I2P delays', async () => {
    await expect(startSimNetwork({ nodes: 5, seed: 1, baseAddress: '127.93.0.0', port: 19464, gossip: { answerSize: 1001 } })).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
    await expect(startSimNetwork({ nodes: 5, seed: 1, baseAddress: '127.93.0.0', port: 19464, gossip: { dead: { count: 10, base: '10.0.0.0' } } })).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
    // Tor / I2P delays: ranges must be [min, max] with 0 < min <= max, networks onion or i2p, dead a whole number.
    await expect(startSimNetwork({ nodes: 5, seed: 1, baseAddress: '127.93.0.0', port: 19464, gossip: { overlay: { onion: { connectMs: [500, 100], rttMs: [1, 2] } } } })).rejects.toThrow(/overlay\.onion\.connectMs/);
    await expect(startSimNetwork({ nodes: 5, seed: 1, baseAddress: '127.93.0.0', port: 19464, gossip: { overlay: { i2p: { connectMs: [1, 2], rttMs: [1, 2], dead: -1 } } } })).rejects.toThrow(/overlay\.i2p\.dead/);
    await expect(startSimNetwork({ nodes: 5, seed: 1, baseAddress: '127.93.0.0', port: 19464, gossip: { overlay: { cjdns: { connectMs: [1, 2], rttMs: [1, 2] } } as never } })).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
  });
});
