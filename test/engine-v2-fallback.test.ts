/**
 * The v2 → v1 fallback of one dial (Core's ShouldReconnectV1), through
 * connectToNode: retried once with v1 when the peer closes (FIN) or resets
 * the v2 handshake having sent nothing; not when it sent a byte, not under
 * --transport v2, not twice. The transport policy and its bookkeeping.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeNode } from '../src/engine/probe.js';
import { Frontier } from '../src/engine/frontier.js';
import { reachableRecord, SummaryCollector } from '../src/engine/record.js';
import { PeerCap } from '../src/shared/peer-cap.js';
import { advertisesV2, dialTransport, parseTransportOption } from '../src/shared/transport.js';
import { parseCrawlArgs } from '../src/cli/commands/crawl.js';
import { startSimNetwork, type SimNetwork } from '../src/sim/index.js';

const V2_SERVICES = 0x809n; // NETWORK | WITNESS | P2P_V2

let sim: SimNetwork;
let v1Node: string;

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 4, seed: 5, mix: { modern: 1 }, p2pV2Share: 0, baseAddress: '127.190.0.0' });
  v1Node = sim.truth().nodes[0]!.addr;
});

afterAll(async () => {
  await sim.close();
});

/**
 * A front for the v1-only sim node: the first `misbehave` connections get
 * `first` (on the client's first bytes), later ones are piped to the node.
 */
async function front(host: string, first: (s: Socket) => void, misbehave = 1): Promise<{ addr: string; accepted: () => number; server: Server }> {
  let accepted = 0;
  const server = createServer((s) => {
    s.on('error', () => undefined);
    if (++accepted <= misbehave) {
      s.once('data', () => first(s));
      return;
    }
    const [h, p] = [v1Node.slice(0, v1Node.lastIndexOf(':')), Number(v1Node.slice(v1Node.lastIndexOf(':') + 1))];
    const up = connect({ host: h, port: p });
    up.on('error', () => s.destroy());
    s.pipe(up).pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return { addr: `${host}:${(server.address() as { port: number }).port}`, accepted: () => accepted, server };
}

const opts = { network: 'regtest' as const, only: ['127.0.0.0/8'], timeoutMs: 2000, addrQuietMs: 50, services: V2_SERVICES };

describe('v2 dial, fallback to v1', () => {
  it.each([
    ['closes (FIN)', (s: Socket) => s.end()],
    ['resets (RST)', (s: Socket) => s.resetAndDestroy()],
  ])('the peer %s on our key with nothing sent: one v1 redial in the same slot, recorded v2Fallback', async (_what, first) => {
    const f = await front('127.190.1.1', first);
    try {
      const cap = PeerCap.create(2);
      const rec = await probeNode(f.addr, { ...opts, cap });
      expect(rec).toMatchObject({ state: 'reachable', transport: 'v1', v2Fallback: true });
      expect(f.accepted()).toBe(2);
      expect(cap.peak()).toBe(1);
      expect(cap.open()).toBe(0);
    } finally {
      f.server.close();
    }
  });

  it('does not fall back when the peer sent a byte first (it spoke, then broke v2)', async () => {
    const f = await front('127.190.1.2', (s) => s.end(Buffer.from([0x42])));
    try {
      const rec = await probeNode(f.addr, opts);
      expect(rec).toMatchObject({ state: 'failed', error: 'ERR_PEER_CLOSED', transport: 'v2' });
      expect(rec.v2Fallback).toBeUndefined();
      expect(f.accepted()).toBe(1);
    } finally {
      f.server.close();
    }
  });

  it('falls back at most once: a second close is the outcome, recorded v1 with v2Fallback', async () => {
    const f = await front('127.190.1.3', (s) => s.end(), 2);
    try {
      const rec = await probeNode(f.addr, opts);
      expect(rec).toMatchObject({ state: 'failed', error: 'ERR_PEER_CLOSED', transport: 'v1', v2Fallback: true });
      expect(f.accepted()).toBe(2);
    } finally {
      f.server.close();
    }
  });

  it('--transport v2 never falls back', async () => {
    const f = await front('127.190.1.4', (s) => s.end());
    try {
      const rec = await probeNode(f.addr, { ...opts, transport: 'v2' });
      expect(rec).toMatchObject({ state: 'failed', error: 'ERR_PEER_CLOSED', transport: 'v2' });
      expect(f.accepted()).toBe(1);
    } finally {
      f.server.close();
    }
  });
});

describe('transport policy and bookkeeping', () => {
  it('auto dials v2 only for an address gossiped with NODE_P2P_V2; v1/v2 force', () => {
    expect(dialTransport('auto', true)).toBe('v2');
    expect(dialTransport('auto', false)).toBe('v1');
    expect(dialTransport('auto', undefined)).toBe('v1');
    expect(dialTransport('v2', false)).toBe('v2');
    expect(dialTransport('v1', true)).toBe('v1');
    expect(advertisesV2(0x809n)).toBe(true);
    expect(advertisesV2(0x409)).toBe(false);
    expect(parseTransportOption(undefined)).toBe('auto');
    expect(() => parseTransportOption('v3')).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
  });

  it('the CLI takes --transport and refuses anything else (ERR_BAD_OPTION)', () => {
    const base = ['--only', '127.0.0.0/8', '--seed', '127.0.0.1:8333'];
    expect(parseCrawlArgs([...base, '--transport', 'v2'])).toMatchObject({ transport: 'v2' });
    expect(parseCrawlArgs(base)).toMatchObject({ transport: 'auto' });
    expect(() => parseCrawlArgs([...base, '--transport', 'tls'])).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
  });

  it('the frontier keeps the NODE_P2P_V2 flag (OR over reports) through next() and requeue()', () => {
    const f = new Frontier();
    f.add('127.0.0.1:8333', 'ipv4');
    f.add('127.0.0.2:8333', 'ipv4', true, true); // dial, p2pV2
    expect(f.advertisesV2('127.0.0.1:8333')).toBe(false);
    expect(f.add('127.0.0.1:8333', 'ipv4', true, true)).toBe(false); // known already, flag OR-ed in
    expect(f.add('127.0.0.2:8333', 'ipv4', true, false)).toBe(false); // a later report without it clears nothing
    expect(f.advertisesV2('127.0.0.1:8333')).toBe(true);
    expect(f.advertisesV2('127.0.0.2:8333')).toBe(true);
    expect(f.next()).toBe('127.0.0.1:8333');
    expect(f.stateOf('127.0.0.1:8333')).toBe('taken');
    expect(f.advertisesV2('127.0.0.1:8333')).toBe(true);
    f.requeue('127.0.0.1:8333');
    expect(f.stateOf('127.0.0.1:8333')).toBe('queued');
    expect(f.advertisesV2('127.0.0.1:8333')).toBe(true);
    expect(f.queued).toBe(2);
    expect(f.taken).toBe(0);
  });

  it('the summary counts reachable nodes per transport, the v2 share and the fallbacks', () => {
    const info = { protocolVersion: 70016, userAgent: '/x/', services: 1, startHeight: 0, relay: true, connectMs: 1, handshakeMs: 1, addrsReturned: 0 };
    const c = new SummaryCollector();
    c.add(reachableRecord('127.0.0.1:1', 'ipv4', { ...info, transport: 'v2' }));
    c.add(reachableRecord('127.0.0.2:1', 'ipv4', { ...info, transport: 'v2' }));
    c.add(reachableRecord('127.0.0.3:1', 'ipv4', { ...info, transport: 'v1', v2Fallback: true }));
    c.add({ addr: '127.0.0.4:1', network: 'ipv4', state: 'failed', error: 'ERR_PROTOCOL', detail: 'ERR_V2_BAD_TAG', transport: 'v2' });
    const s = c.finish({ durationMs: 1, peakOpen: 1, workerCrashes: 0, stopped: false });
    expect(s.byTransport).toEqual({ v1: 1, v2: 2 });
    expect(s.v2Share).toBeCloseTo(2 / 3, 10);
    expect(s.v2Fallbacks).toBe(1);
    expect(reachableRecord('127.0.0.3:1', 'ipv4', { ...info, transport: 'v1', v2Fallback: true })).toMatchObject({ transport: 'v1', v2Fallback: true });
  });
});
