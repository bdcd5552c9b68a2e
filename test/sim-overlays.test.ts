import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimNetwork, type SimNetwork } from '../src/sim/index.js';
import { RawPeer } from './helpers/raw-peer.js';
import { formatAddress } from '../src/wire/index.js';

let sim: SimNetwork;
beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 200, seed: 5, overlays: { ipv6: 0.1, onion: 0.1, i2p: 0.1, cjdns: 0.05 } });
});
afterAll(async () => {
  await sim?.close();
});

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

describe('sim overlays: nodes on IPv6 (::1), Tor v3, I2P and CJDNS', () => {
  it('the truth names every node with its network, seeds stay IPv4, addresses are unique', () => {
    const truth = sim.truth();
    const count = (net: string): number => truth.nodes.filter((n) => n.network === net).length;
    expect([count('ipv6'), count('onion'), count('i2p'), count('cjdns')]).toEqual([20, 20, 20, 10]);
    expect(count('ipv4')).toBe(130);
    for (const n of truth.nodes.filter((x) => x.seed)) expect(n.network).toBe('ipv4');
    expect(new Set(truth.nodes.map((n) => n.addr)).size).toBe(200);
    for (const n of truth.nodes) {
      if (n.network === 'ipv6') expect(n.addr).toMatch(/^\[::1\]:\d+$/);
      if (n.network === 'onion') expect(n.addr).toMatch(/^[a-z2-7]{56}\.onion:18444$/);
      if (n.network === 'i2p') expect(n.addr).toMatch(/^[a-z2-7]{52}\.b32\.i2p:0$/);
      if (n.network === 'cjdns') expect(n.addr).toMatch(/^\[fc[0-9a-f]*:[0-9a-f:]+\]:18444$/);
    }
    for (const r of truth.reachable) expect(typeof r.network).toBe('string');
  });

  it('a node gossips its Tor/I2P/CJDNS peers in addrv2 and leaves them out of v1 addr', async () => {
    const truth = sim.truth();
    const overlay = new Set(truth.nodes.filter((n) => ['onion', 'i2p', 'cjdns'].includes(n.network)).map((n) => n.addr));
    const holder = truth.nodes.find((n) => n.network === 'ipv4' && n.behaviour === 'modern' && sim.knownBy(n.addr)!.peers.some((p) => overlay.has(p)))!;
    const expected = sim.knownBy(holder.addr)!.peers.filter((p) => overlay.has(p)).sort();
    for (const addrv2 of [true, false]) {
      const peer = await RawPeer.open(holder.addr);
      await peer.handshake({ addrv2 });
      peer.send({ command: 'getaddr' });
      const cmd = addrv2 ? 'addrv2' : 'addr';
      expect(await peer.waitFor(() => peer.find(cmd).length > 0, 5000)).toBe(true);
      const texts = peer.find(cmd).flatMap((m) => m.entries.map((e) => (e.address === null ? '' : formatAddress(e.address))));
      expect(texts.filter((t) => overlay.has(t)).sort()).toEqual(addrv2 ? expected : []);
      peer.socket.destroy();
    }
  });

  it("IPv6 nodes listen on ::1, each on its own port, and the sim counts peak connections per network", async () => {
    const v6 = sim.truth().nodes.filter((n) => n.network === 'ipv6' && n.behaviour === 'modern').slice(0, 3);
    expect(v6).toHaveLength(3);
    const peers = v6.map((n) => RawPeer.adopt(connect({ host: '::1', port: Number(n.addr.slice(n.addr.lastIndexOf(':') + 1)) })));
    for (const p of peers) p.sendVersion();
    for (const p of peers) expect(await p.waitFor(() => p.find('version').length > 0, 5000)).toBe(true);
    expect(await until(() => sim.stats().peakInboundByNetwork.ipv6 === 3)).toBe(true);
    expect(sim.stats().peakInboundByNetwork.onion).toBe(0);
    for (const p of peers) p.socket.destroy();
  });

  it('overlayTarget maps onion / i2p / cjdns hosts to a hidden loopback listener', () => {
    for (const n of sim.truth().nodes) {
      if (n.network === 'ipv4' || n.network === 'ipv6') continue;
      const host = n.addr.startsWith('[') ? n.addr.slice(1, n.addr.indexOf(']')) : n.addr.slice(0, n.addr.lastIndexOf(':'));
      const t = sim.overlayTarget(host);
      expect(t?.network).toBe(n.network);
      expect(t?.host.startsWith('127.')).toBe(true);
    }
    expect(sim.overlayTarget('nope.onion')).toBeUndefined();
  });

  it('a second simulator with IPv6 nodes starts beside the first (its ::1 ports move with its base address)', async () => {
    const other = await startSimNetwork({ nodes: 50, seed: 6, overlays: { ipv6: 0.2 } });
    try {
      expect(other.baseAddress).not.toBe(sim.baseAddress);
      const mine = new Set(sim.truth().nodes.filter((n) => n.network === 'ipv6').map((n) => n.addr));
      const theirs = other.truth().nodes.filter((n) => n.network === 'ipv6').map((n) => n.addr);
      expect(theirs.length).toBe(10);
      for (const a of theirs) expect(mine.has(a)).toBe(false);
    } finally {
      await other.close();
    }
  });
});
