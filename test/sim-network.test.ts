/**
 * The simulated network as a whole: determinism from the seed, the shape of
 * the gossip graph and truth, listen modes, clean close, and the CLI.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startSimNetwork, parseMix, type SimNetwork } from '../src/sim/index.js';
import { generatePlan } from '../src/sim/topology.js';
import { computeTruth } from '../src/sim/truth.js';
import { behaviourCounts, gossips, normalizeMix } from '../src/sim/behaviours.js';
import { NETWORKS } from '../src/wire/index.js';
import { RawPeer } from './helpers/raw-peer.js';
import { pollUntil, waitUntil } from './helpers/wait.js';

/** Open sockets/servers, and timers (the test runner keeps a few of its own). */
function handles(): { tcp: string[]; timers: number } {
  const all = process.getActiveResourcesInfo();
  return { tcp: all.filter((r) => r.startsWith('TCP')), timers: all.filter((r) => r === 'Timeout').length };
}

/** Handles close on later turns of the event loop (no event tells when): wait, with a deadline, then check. */
async function expectNoLeakSoon(before: { tcp: string[]; timers: number }): Promise<void> {
  await pollUntil(() => {
    const now = handles();
    return now.tcp.join() === before.tcp.join() && now.timers <= before.timers;
  }, 'the sim\'s sockets and timers to be released').catch(() => undefined);
  expectNoLeak(before);
}

function expectNoLeak(before: { tcp: string[]; timers: number }): void {
  const now = handles();
  expect(now.tcp).toEqual(before.tcp);
  expect(now.timers).toBeLessThanOrEqual(before.timers);
}

describe('plan and truth', () => {
  const opts = { nodes: 500, seed: 5, network: 'regtest' as const, defaultPort: 18444, baseAddress: '127.100.0.0' };

  it('the same seed gives the same network, a different seed a different one', () => {
    const a = computeTruth(generatePlan(opts));
    const b = computeTruth(generatePlan(opts));
    const c = computeTruth(generatePlan({ ...opts, seed: 6 }));
    expect(b).toEqual(a);
    expect(c.nodes.map((n) => n.behaviour)).not.toEqual(a.nodes.map((n) => n.behaviour));
    expect(c.nonIp).not.toEqual(a.nonIp);
  });

  it('gives every behaviour its exact share and puts gossiping seeds at the lowest addresses', () => {
    const plan = generatePlan({ ...opts, mix: { silent: 0.1, refused: 0.1, old: 0.2 } });
    const count = (b: string): number => plan.nodes.filter((n) => n.behaviour === b).length;
    expect([count('silent'), count('refused'), count('old'), count('modern')]).toEqual([50, 50, 100, 300]);
    expect(plan.seeds).toEqual([0, 1, 2]);
    expect(plan.nodes.slice(0, 3).every((n) => n.behaviour === 'modern' && n.seed)).toBe(true);
    expect(behaviourCounts(7, normalizeMix(undefined))).toMatchObject({ modern: 5 });
  });

  it('makes every node discoverable from the seeds through gossiping nodes, with 8-30 known peers each', () => {
    const plan = generatePlan(opts);
    const truth = computeTruth(plan);
    expect(truth.nodes.every((n) => n.discoverable)).toBe(true);
    expect(truth.reachable.length + truth.failed.length).toBe(500);
    for (const node of plan.nodes) {
      expect(node.peers.length).toBeGreaterThanOrEqual(8);
      expect(node.peers.length).toBeLessThanOrEqual(40); // 8-30 random plus tree children
      expect(new Set(node.peers).size).toBe(node.peers.length);
      expect(node.peers.includes(node.index)).toBe(false);
    }
    expect(plan.nodes.every((n) => n.addr.startsWith('127.') && !/\.(0|255):/.test(n.addr))).toBe(true);
    expect(plan.nonIp.some((a) => a.network === 'cjdns' && a.bytes[0] === 0xfc)).toBe(true);
    expect(truth.nonIp.some((t) => t.endsWith('.onion:18444'))).toBe(true);
    expect(truth.nonIp.some((t) => t.endsWith('.b32.i2p:0'))).toBe(true);
    // Handshake-completing behaviours are reachable (toomany too); the broken ones are failed.
    expect(new Set(truth.failed.map((f) => f.behaviour))).toEqual(new Set(['silent', 'refused', 'garbage', 'badchecksum', 'oversized', 'dropafterversion']));
    expect(truth.reachable.some((r) => plan.nodes.find((n) => n.addr === r.addr)?.behaviour === 'toomany')).toBe(true);
    expect(plan.nodes.filter((n) => gossips(n.behaviour)).length).toBeGreaterThan(400);
  });

  it('builds tiny networks too: 10 nodes, 3 gossiping seeds, everyone discoverable', () => {
    const truth = computeTruth(generatePlan({ ...opts, nodes: 10 }));
    expect(truth.nodes).toHaveLength(10);
    expect(truth.nodes.filter((n) => n.seed)).toHaveLength(3);
    expect(truth.nodes.every((n) => n.discoverable)).toBe(true);
    expect(computeTruth(generatePlan({ ...opts, nodes: 1 })).reachable).toHaveLength(1);
  });

  it('rejects impossible options with a typed error', () => {
    expect(() => generatePlan({ ...opts, nodes: 0 })).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(() => generatePlan({ ...opts, mix: { silent: 1 } })).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(() => generatePlan({ ...opts, baseAddress: '10.0.0.0' })).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(() => generatePlan({ ...opts, seedCount: 0 })).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(() => generatePlan({ ...opts, mix: { modern: 0.5, old: 0.7 } })).not.toThrow(); // named modern: shares are normalized
    expect(() => generatePlan({ ...opts, mix: { old: 0.7, silent: 0.7 } })).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(() => parseMix('modern=0.5,bogus=0.5')).toThrow(expect.objectContaining({ code: 'ERR_BAD_OPTION' }));
    expect(parseMix('modern=0.7, old=0.3')).toEqual({ modern: 0.7, old: 0.3 });
  });
});

describe('network', () => {
  it('the same seed serves the same truth; close() leaves no handles or timers', async () => {
    const before = handles();
    const a = await startSimNetwork({ nodes: 40, seed: 9, baseAddress: '127.183.0.0', latency: { medianMs: 5 } });
    const truthA = a.truth();
    // Leave connections open in every state, with latency timers pending.
    const peers = await Promise.all(a.truth().reachable.slice(0, 10).map((r) => RawPeer.open(r.addr)));
    for (const p of peers.slice(0, 5)) p.sendVersion();
    await pollUntil(() => a.stats().connectionsAccepted >= 10, 'the sim to accept 10 connections');
    expect(a.stats().openInbound).toBe(10);
    expect(a.stats().peakInbound).toBe(10);
    expect(a.stats().connectionsAccepted).toBe(10);
    await a.close();
    await a.close(); // idempotent
    for (const p of peers) p.close();
    await expectNoLeakSoon(before);
    expect(a.stats().openInbound).toBe(0);

    const b = await startSimNetwork({ nodes: 40, seed: 9, baseAddress: '127.183.0.0', latency: { medianMs: 5 } });
    const c = await startSimNetwork({ nodes: 40, seed: 10, baseAddress: '127.183.1.0' });
    try {
      expect(b.truth()).toEqual(truthA);
      expect(c.truth()).not.toEqual(truthA);
    } finally {
      await b.close();
      await c.close();
    }
    await expectNoLeakSoon(before);
  });

  it('rejects bad options before listening', async () => {
    await expect(startSimNetwork({ nodes: 5, listen: 'everywhere' as 'shared' })).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
    await expect(startSimNetwork({ nodes: 5, latency: { medianMs: -1 } })).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
    await expect(startSimNetwork({ nodes: 5, port: 70_000 })).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
  });

  it('moves to the next free range when the default addresses are taken', async () => {
    const first = await startSimNetwork({ nodes: 20, seed: 1 });
    const second = await startSimNetwork({ nodes: 20, seed: 1 });
    try {
      expect(second.baseAddress).not.toBe(first.baseAddress);
      expect(second.seeds[0]).not.toBe(first.seeds[0]);
      expect(second.truth().reachable.length).toBe(first.truth().reachable.length);
      // An explicit base is used as given: taken means a typed error, and nothing left listening.
      await expect(startSimNetwork({ nodes: 20, seed: 1, baseAddress: first.baseAddress })).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('shared listen mode serves every node from one wildcard listener per port; refused stays refused', async () => {
    let sim: SimNetwork | undefined;
    try {
      sim = await startSimNetwork({ nodes: 60, seed: 4, listen: 'shared', port: 24_111, baseAddress: '127.184.0.0', mix: { refused: 0.2 } });
      expect(sim.listenMode).toBe('shared');
      expect(sim.listeners).toBeLessThanOrEqual(3);
      const truth = sim.truth();
      const reach = truth.reachable[truth.reachable.length - 1];
      const peer = await RawPeer.open(reach?.addr ?? '');
      peer.sendVersion();
      expect(await peer.waitFor(() => peer.find('verack').length === 1)).toBe(true);
      expect(peer.find('version')[0]?.payload.userAgent).toBe(reach?.userAgent);
      peer.close();
      const refused = truth.failed.find((f) => f.behaviour === 'refused');
      await expect(RawPeer.open(refused?.addr ?? '')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      // An address on a served port that belongs to no node is cut off at once.
      const stray = await RawPeer.open('127.184.250.1:24111').then(
        (p) => p.waitFor(() => p.closed).then((closed) => (closed ? 'closed' : 'open')),
        (err: NodeJS.ErrnoException) => err.code,
      );
      expect(['closed', 'ECONNRESET']).toContain(stray);
    } finally {
      await sim?.close();
    }
  });
});

describe('other networks', () => {
  it('serves mainnet with its magic and default port', async () => {
    const sim = await startSimNetwork({ nodes: 12, seed: 2, network: 'mainnet', mix: { modern: 1 }, baseAddress: '127.187.0.0' });
    try {
      expect(sim.seeds[0]).toMatch(/^127\.187\.0\.1:(8333|9333|10333)$/);
      const main = sim.truth().reachable.find((r) => r.addr.endsWith(':8333'));
      const peer = await RawPeer.open(main?.addr ?? '', NETWORKS.mainnet);
      peer.sendVersion();
      expect(await peer.waitFor(() => peer.find('verack').length === 1)).toBe(true);
      expect(Buffer.concat(peer.chunks).subarray(0, 4).toString('hex')).toBe('f9beb4d9');
      expect(peer.find('version')[0]?.payload.startHeight).toBeGreaterThan(900_000);
      peer.close();
    } finally {
      await sim.close();
    }
  });
});

describe('bitspread sim', () => {
  it('prints the seeds and a summary, writes the truth, and exits 0 on SIGINT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitspread-sim-'));
    const truthFile = join(dir, 'truth.json');
    const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
    const child = spawn(process.execPath, [cli, 'sim', '--nodes', '50', '--seed', '3', '--base', '127.185.0.0', '--truth', truthFile, '--mix', 'modern=0.8,silent=0.2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitUntil([[child.stdout, ['data']]], () => out.includes('Ctrl-C'), 'the sim to print its summary line');
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/^127\.185\.0\.1:\d+$/);
    expect(lines[1]).toMatch(/^127\.185\.0\.2:\d+$/);
    expect(lines[2]).toMatch(/^127\.185\.0\.3:\d+$/);
    expect(lines[3]).toMatch(/^sim: 50 nodes on regtest .* 40 reachable, 10 failed/);
    const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as { reachable: Array<{ services: unknown }>; nonIp: string[] };
    expect(truth.reachable).toHaveLength(40);
    expect(typeof truth.reachable[0]?.services).toBe('number');
    expect(truth.nonIp.length).toBeGreaterThan(0);
    const peer = await RawPeer.open(lines[0] ?? '');
    peer.sendVersion();
    expect(await peer.waitFor(() => peer.find('verack').length === 1)).toBe(true);
    peer.close();
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('rejects a bad option with exit code 2', async () => {
    const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
    const child = spawn(process.execPath, [cli, 'sim', '--nodes', 'lots'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toContain('--nodes');
  });
});
