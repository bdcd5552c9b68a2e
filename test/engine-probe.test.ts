import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeNode } from '../src/engine/probe.js';
import { PeerCap } from '../src/shared/peer-cap.js';
import { startLoopbackPeer, type LoopbackPeer, type PeerBehaviour } from './helpers/loopback-peer.js';

const peers: LoopbackPeer[] = [];
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

async function peer(host: string, behaviour: PeerBehaviour = 'normal', extra: Partial<Parameters<typeof startLoopbackPeer>[0]> = {}): Promise<LoopbackPeer> {
  const p = await startLoopbackPeer({ host, behaviour, ...extra });
  peers.push(p);
  return p;
}

const base = { network: 'regtest' as const, only: ['127.0.0.0/8'], timeoutMs: 1500, addrQuietMs: 50 };

describe('probeNode: one peer, handshake and getaddr', () => {
  it('records a reachable node with the exact version fields and what it answered', async () => {
    const p = await peer('127.61.0.1', 'normal', {
      userAgent: '/Satoshi:26.1.0/',
      services: 1037n,
      startHeight: 4242,
      relay: false,
      addrs: ['127.61.0.7:18444', '127.61.0.8:18444', '[::1]:18444'],
    });
    const cap = PeerCap.create(10);
    const t0 = performance.now();
    const rec = await probeNode(p.address, { ...base, cap });
    const elapsed = performance.now() - t0;
    expect(rec).toMatchObject({
      addr: p.address,
      network: 'ipv4',
      state: 'reachable',
      protocolVersion: 70016,
      userAgent: '/Satoshi:26.1.0/',
      services: 1037,
      startHeight: 4242,
      relay: false,
      addrsReturned: 4,
    });
    expect(rec.error).toBeUndefined();
    // Both timings are real durations inside the call's own wall time (not NaN, negative or made up).
    for (const ms of [rec.connectMs, rec.handshakeMs]) {
      expect(Number.isFinite(ms)).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(elapsed + 1);
    }
    // The handshake is timed from the connection, so the two add up to at most the whole call.
    expect(rec.connectMs! + rec.handshakeMs!).toBeLessThanOrEqual(elapsed + 1);
    expect(rec.learned.map((e) => e[0]).sort()).toEqual([p.address, '127.61.0.7:18444', '127.61.0.8:18444', '[::1]:18444'].sort());
    // FACTS §4: version first; feature messages after the peer's version and before our verack; getaddr after verack.
    expect(p.sessions[0]).toEqual(['version', 'wtxidrelay', 'sendaddrv2', 'verack', 'getaddr']);
    expect(cap.open()).toBe(0);
  });

  it('never opens a socket outside the allow-list: ERR_NOT_ALLOWED and no connection accepted', async () => {
    const p = await peer('127.0.0.1');
    await expect(probeNode(p.address, { ...base, only: ['127.0.0.2/32'] })).rejects.toMatchObject({ code: 'ERR_NOT_ALLOWED' });
    // A dial that had been opened would reach the listener before this one, made after the refusal.
    await expect(probeNode(p.address, { ...base, only: ['127.0.0.1/32'] })).resolves.toMatchObject({ state: 'reachable' });
    expect(p.accepted()).toBe(1);
  });

  it('refuses a dial at the peer cap with ERR_MAX_PEERS, before any socket', async () => {
    const p = await peer('127.61.0.2');
    const cap = PeerCap.create(1);
    expect(cap.tryAcquire(0)).toBe(true);
    await expect(probeNode(p.address, { ...base, cap })).rejects.toMatchObject({ code: 'ERR_MAX_PEERS' });
    expect(p.accepted()).toBe(0);
    cap.release(0);
    expect(cap.open()).toBe(0);
  });

  it('maps a refused connection to ERR_CONNECTION_REFUSED', async () => {
    // Take a free port, then close it so nothing listens there.
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.61.0.3', () => r()));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const cap = PeerCap.create(5);
    const rec = await probeNode(`127.61.0.3:${port}`, { ...base, cap });
    expect(rec).toMatchObject({ state: 'failed', error: 'ERR_CONNECTION_REFUSED' });
    expect(cap.open()).toBe(0);
  });

  it.each([
    ['silent', 'ERR_HANDSHAKE_TIMEOUT'],
    ['garbage', 'ERR_PROTOCOL'],
    ['old', 'ERR_VERSION_TOO_OLD'],
    ['close-after-version', 'ERR_PEER_CLOSED'],
  ] as const)('records a %s peer as failed %s and releases its slot', async (behaviour, code) => {
    const p = await peer('127.61.0.4', behaviour);
    const cap = PeerCap.create(5);
    const rec = await probeNode(p.address, { ...base, cap, timeoutMs: 400 });
    expect(rec).toMatchObject({ addr: p.address, state: 'failed', error: code });
    expect(rec.protocolVersion).toBeUndefined();
    expect(cap.open()).toBe(0);
  });

  it('keeps a node that never answers getaddr reachable, with 0 addresses', async () => {
    const p = await peer('127.61.0.5', 'no-getaddr');
    const rec = await probeNode(p.address, { ...base, getaddrTimeoutMs: 200 });
    expect(rec).toMatchObject({ state: 'reachable', addrsReturned: 0, protocolVersion: 70016 });
  });

  it('does not take the one-entry self-announcement as the whole answer', async () => {
    const p = await peer('127.61.0.6', 'normal', { addrs: ['127.61.0.9:18444', '127.61.0.10:18444'], answerDelayMs: 300 });
    const rec = await probeNode(p.address, { ...base, getaddrTimeoutMs: 2000 });
    expect(rec.addrsReturned).toBe(3);
  });

  it('rejects a dial without any allow-list unless allowAny is explicit', async () => {
    await expect(probeNode('127.0.0.1:1', { network: 'regtest' })).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
  });
});

describe('probeNode over IPv6 loopback', () => {
  it('handshakes with a peer on [::1] and reports it as ipv6', async () => {
    const p = await peer('::1', 'normal', { addrs: ['[::1]:18444', '127.61.0.20:18444'] });
    expect(p.address).toMatch(/^\[::1\]:\d+$/);
    const rec = await probeNode(p.address, { ...base, only: ['::1/128'] });
    expect(rec).toMatchObject({ addr: p.address, network: 'ipv6', state: 'reachable', addrsReturned: 3 });
    // The same peer is outside an IPv4-only allow-list.
    await expect(probeNode(p.address, { ...base, only: ['127.0.0.0/8'] })).rejects.toMatchObject({ code: 'ERR_NOT_ALLOWED' });
    expect(p.accepted()).toBe(1);
  });
});
