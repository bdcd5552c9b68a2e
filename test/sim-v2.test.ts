/**
 * The simulator's BIP324 side, probed by raw v1 and v2 clients: NODE_P2P_V2
 * nodes answer v2 and still accept v1, v1-only nodes turn a v2 key down as
 * Core does, `fakev2` advertises v2 and speaks v1, and each v2 breaker costs
 * a v2 client its connection with the typed code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimNetwork, type SimBehaviour, type SimNetwork, type SimTruthNode } from '../src/sim/index.js';
import { RawPeer } from './helpers/raw-peer.js';
import { V2Client } from './helpers/v2-client.js';

let sim: SimNetwork;
let nodes: SimTruthNode[];

beforeAll(async () => {
  const mix = { modern: 0.4, fakev2: 0.1, v2noterminator: 0.1, v2longgarbage: 0.1, v2badtag: 0.1, v2noversion: 0.1, v2oversize: 0.1 };
  sim = await startSimNetwork({ nodes: 60, seed: 21, mix, baseAddress: '127.188.0.0' });
  nodes = sim.truth().nodes;
});

afterAll(async () => {
  await sim.close();
});

function nodeOf(behaviour: SimBehaviour, speaksV2?: boolean): SimTruthNode {
  const found = nodes.find((n) => n.behaviour === behaviour && (speaksV2 === undefined || n.speaksV2 === speaksV2));
  if (found === undefined) throw new Error(`no ${behaviour} node (speaksV2 ${String(speaksV2)}) in the test network`);
  return found;
}

describe('a NODE_P2P_V2 node', () => {
  it('completes a v2 handshake, then the version handshake and getaddr over v2 packets', async () => {
    const node = nodeOf('modern', true);
    expect(node.p2pV2).toBe(true);
    const before = sim.stats().v2Sessions;
    const c = await V2Client.open(node.addr);
    try {
      expect(await c.waitFor(() => c.ready && c.versionPacket)).toBe(true);
      c.sendVersion();
      c.send({ command: 'wtxidrelay' });
      c.send({ command: 'sendaddrv2' });
      expect(await c.waitFor(() => c.commands().includes('verack'))).toBe(true);
      expect(c.commands().slice(0, 4)).toEqual(['version', 'wtxidrelay', 'sendaddrv2', 'verack']);
      c.send({ command: 'verack' });
      c.send({ command: 'getaddr' });
      expect(await c.waitFor(() => c.commands().includes('addrv2'))).toBe(true);
      const known = sim.knownBy(node.addr)!;
      const answer = c.messages.find((m) => m.command === 'addrv2') as { readonly entries: readonly unknown[] };
      expect(answer.entries.length).toBe(known.peers.length + known.nonIp.length);
      expect(c.errors).toEqual([]);
      expect(sim.stats().v2Sessions).toBe(before + 1);
    } finally {
      c.close();
    }
  });

  it('still accepts a v1 client, told from its first 16 bytes', async () => {
    const node = nodeOf('modern', true);
    const before = sim.stats().v1OnV2Nodes;
    const peer = await RawPeer.open(node.addr);
    try {
      await peer.handshake({ addrv2: true });
      expect(peer.commands().slice(0, 4)).toEqual(['version', 'wtxidrelay', 'sendaddrv2', 'verack']);
      expect(sim.stats().v1OnV2Nodes).toBe(before + 1);
    } finally {
      peer.close();
    }
  });
});

describe('nodes that speak v1 only', () => {
  it.each([
    ['modern', false],
    ['fakev2', undefined],
  ] as const)('%s: closes on a v2 key (not a client violation), then serves a v1 client', async (behaviour, speaksV2) => {
    const node = nodeOf(behaviour, speaksV2);
    expect(node.speaksV2).toBe(false);
    expect(node.p2pV2).toBe(behaviour === 'fakev2');
    const refused = sim.stats().v2Refused;
    const c = await V2Client.open(node.addr);
    expect(await c.waitFor(() => c.closed)).toBe(true);
    // It closed having sent nothing: Core's condition for retrying with v1.
    expect(c.t.shouldReconnectV1).toBe(true);
    expect(sim.stats().v2Refused).toBe(refused + 1);
    expect(sim.stats().violations.filter((v) => v.node === node.addr)).toEqual([]);
    const peer = await RawPeer.open(node.addr);
    try {
      await peer.handshake({ addrv2: true });
      expect(peer.commands()[0]).toBe('version');
    } finally {
      peer.close();
    }
  });
});

describe('v2 breakers cost a v2 client its connection, with the typed code', () => {
  it('v2noterminator: key and garbage, no terminator, then FIN: ERR_V2_NO_GARBAGE_TERMINATOR', async () => {
    const c = await V2Client.open(nodeOf('v2noterminator').addr);
    expect(await c.waitFor(() => c.closed)).toBe(true);
    expect(c.endError).toBe('ERR_V2_NO_GARBAGE_TERMINATOR');
    expect(c.t.shouldReconnectV1).toBe(false);
  });

  it.each([
    ['v2longgarbage', 'ERR_V2_GARBAGE_TOO_LONG'],
    ['v2badtag', 'ERR_V2_BAD_TAG'],
    ['v2noversion', 'ERR_V2_BAD_VERSION_PACKET'],
    ['v2oversize', 'ERR_MESSAGE_TOO_LARGE'],
  ] as const)('%s: %s (fatal)', async (behaviour, code) => {
    const node = nodeOf(behaviour);
    expect(node.speaksV2).toBe(true);
    const c = await V2Client.open(node.addr);
    try {
      expect(await c.waitFor(() => c.errors.length > 0)).toBe(true);
      expect(c.errors).toEqual([{ code, fatal: true }]);
      expect(c.messages).toEqual([]);
      expect(c.t.phase).toBe('failed');
    } finally {
      c.close();
    }
  });
});
