/**
 * A plain reference crawler, written here with node:net and our codec
 * (connect, handshake, getaddr, collect, next; a small fixed concurrency),
 * must find exactly the simulator's ground truth: the reachable set with
 * its version fields, and the non-IP addresses.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatAddress } from '../src/wire/index.js';
import { startSimNetwork, type SimNetwork, type SimReachableNode } from '../src/sim/index.js';
import { RawPeer } from './helpers/raw-peer.js';

/** Generous: the sim shares this process's event loop, which lags far behind its timers under load. */
const STEP_TIMEOUT_MS = 5000;
/** A getaddr answer may come in parts (10 ms apart in sim time): stop once no addr message arrived for this long. */
const ANSWER_QUIET_MS = 400;
const CONCURRENCY = 24;

let sim: SimNetwork;
let slowSim: SimNetwork;

beforeAll(async () => {
  sim = await startSimNetwork({ nodes: 300, seed: 11, baseAddress: '127.182.0.0' });
  slowSim = await startSimNetwork({ nodes: 150, seed: 12, baseAddress: '127.186.0.0', latency: { medianMs: 20, tailMs: 80 } });
});

afterAll(async () => {
  await Promise.all([sim.close(), slowSim.close()]);
});

interface Visit {
  reachable?: SimReachableNode;
  learned: string[];
  nonIp: string[];
}

async function visit(addr: string): Promise<Visit> {
  const out: Visit = { learned: [], nonIp: [] };
  let peer: RawPeer;
  try {
    peer = await RawPeer.open(addr);
  } catch {
    return out;
  }
  try {
    peer.sendVersion();
    const shook = await peer.waitFor(() => peer.closed || (peer.find('version').length > 0 && peer.find('verack').length > 0), STEP_TIMEOUT_MS);
    const version = peer.find('version')[0]?.payload;
    if (!shook || peer.closed || version === undefined || peer.errors.some((e) => e.fatal)) return out;
    out.reachable = { addr, network: 'ipv4', userAgent: version.userAgent ?? '', protocolVersion: version.version, services: Number(version.services), startHeight: version.startHeight ?? 0 };
    peer.send({ command: 'sendaddrv2' });
    peer.send({ command: 'verack' });
    peer.send({ command: 'getaddr' });
    const seen = (): number => peer.find('addr').length + peer.find('addrv2').length + peer.errors.length;
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    await peer.waitFor(() => seen() > 0, STEP_TIMEOUT_MS);
    // Keep reading while parts keep coming.
    for (let n = seen(); Date.now() < deadline; n = seen()) {
      await peer.waitFor(() => seen() > n || peer.closed, ANSWER_QUIET_MS);
      if (seen() === n || peer.closed) break;
    }
    for (const m of [...peer.find('addr'), ...peer.find('addrv2')]) {
      for (const e of m.entries) {
        if (e.address === null) continue;
        const text = formatAddress(e.address);
        if (e.address.network === 'ipv4' || e.address.network === 'ipv6') out.learned.push(text);
        else out.nonIp.push(text);
      }
    }
    return out;
  } finally {
    peer.close();
  }
}

async function crawlAndCompare(sim: SimNetwork): Promise<void> {
  const queue = [...sim.seeds];
  const known = new Set(queue);
  const reachable: SimReachableNode[] = [];
  const nonIp = new Set<string>();
  let visited = 0;
  let active = 0;
  async function worker(): Promise<void> {
    for (;;) {
      const addr = queue.shift();
      if (addr === undefined) {
        if (active === 0) return; // nothing queued and nobody can add more
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      // The company's rule, checked before every dial: loopback only.
      expect(addr.startsWith('127.')).toBe(true);
      active++;
      const v = await visit(addr);
      active--;
      visited++;
      if (v.reachable !== undefined) reachable.push(v.reachable);
      for (const a of v.nonIp) nonIp.add(a);
      for (const a of v.learned) {
        if (!known.has(a)) {
          known.add(a);
          queue.push(a);
        }
      }
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));

  const truth = sim.truth();
  const byAddr = (a: SimReachableNode, b: SimReachableNode): number => a.addr.localeCompare(b.addr);
  expect(truth.reachable.length).toBeGreaterThan(sim.size * 0.7);
  expect(truth.nonIp.length).toBeGreaterThan(5);
  expect(reachable.sort(byAddr)).toEqual([...truth.reachable].sort(byAddr));
  expect([...nonIp].sort()).toEqual([...truth.nonIp].sort());
  expect(visited).toBe(truth.reachable.length + truth.failed.length);
  const stats = sim.stats();
  expect(stats.violations).toEqual([]);
  // The reference crawler sends verack and getaddr only after decoding version and verack: to exactly the reachable nodes, once.
  expect(stats.getaddrAnswered).toBe(truth.reachable.length);
  expect(stats.handshakes).toBe(truth.reachable.length);
  expect(sim.stats().peakInbound).toBeGreaterThan(1);
  // The server side sees a close a little after the client's destroy(), so allow some overlap.
  expect(sim.stats().peakInbound).toBeLessThanOrEqual(CONCURRENCY * 2);
}

it('a plain reference crawler finds exactly the ground truth of a 300-node network', async () => {
  await crawlAndCompare(sim);
});

it('a plain reference crawler finds exactly the ground truth of a 150-node network with latency', async () => {
  expect(slowSim.maxDelayMs).toBe(160);
  expect(2 * slowSim.maxDelayMs).toBeLessThan(STEP_TIMEOUT_MS);
  await crawlAndCompare(slowSim);
});
