/**
 * The simulator's least time per visit (SimNetwork.serveTimes(), the
 * reference of the slot-efficiency figure) must be what a client really had
 * to wait through. A node sends its replies in order, so its getaddr answer
 * leaves no sooner than its reply to the client's verack (sendcmpct, sent
 * with a delay of its own): counting only the answer's own delay made the
 * least time short by E[(a - b)+] over two independent delays.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startSimNetwork, type SimNetwork } from '../src/sim/index.js';
import { RawPeer } from './helpers/raw-peer.js';

const sims: SimNetwork[] = [];
afterAll(async () => {
  for (const s of sims) await s.close();
});

/** Connect, handshake, getaddr as fast as the client can: ms from the dial to the answer. */
async function visit(addr: string): Promise<number> {
  const peer = await RawPeer.open(addr);
  try {
    await peer.handshake();
    peer.send({ command: 'getaddr' });
    const answered = await peer.waitFor(() => peer.messages.some((r) => (r.msg.command === 'addrv2' || r.msg.command === 'addr') && r.msg.entries.length > 1), 60_000);
    if (!answered) throw new Error(`${addr}: no getaddr answer`);
    const at = peer.messages.find((r) => (r.msg.command === 'addrv2' || r.msg.command === 'addr') && r.msg.entries.length > 1)!.at;
    return at - peer.startedAt;
  } finally {
    peer.close();
  }
}

describe('simulator serve times (the least a visit can take)', () => {
  it('match what a prompt client waits, including the answer queued behind the verack reply', async () => {
    // Heavy-tailed delays (log-normal, median 400 ms, p99 4 s): two independent draws differ a lot.
    const sim = await startSimNetwork({ nodes: 60, seed: 21, baseAddress: '127.94.0.0', port: 19474, mix: { modern: 1 }, latency: { medianMs: 400, tailMs: 4000 } });
    sims.push(sim);
    const addrs = sim.truth().reachable.map((n) => n.addr);
    expect(addrs.length).toBe(60);
    const waited = await Promise.all(addrs.map((a) => visit(a)));
    const serve = sim.serveTimes();
    const excess = addrs.map((a, i) => waited[i]! - serve[a]!);
    // A lower bound: no client is faster than the least time (1 ms of clock rounding).
    for (const [i, e] of excess.entries()) expect(e, addrs[i]).toBeGreaterThanOrEqual(-1);
    // And a tight one: what is left is the client's own turn-around on a loopback socket. Counting
    // only the answer's own delay left ~230 ms per visit here (E[(a - b)+] of two such draws).
    const mean = excess.reduce((x, y) => x + y, 0) / excess.length;
    expect(mean).toBeLessThan(120);
  });
});
