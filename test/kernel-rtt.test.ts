/**
 * The benchmark's kernel delayer (bench/netdelay/netdelay.c) and the
 * simulator's truth (src/sim/kernel-rtt.ts) must give every node the same
 * round trip, or the slot-efficiency figure compares slots against the wrong
 * least time. The C program is compiled here (gcc + libnetfilter-queue-dev)
 * and asked for its RTTs with --print-rtt, which needs no root and no queue.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETDELAY_SOURCE, gccArgs } from '../bench/netdelay.mjs';
import { nodeRttUs, type KernelRttParams } from '../src/sim/kernel-rtt.js';
import { intToIpv4 } from '../src/sim/addresses.js';
import { startSimNetwork } from '../src/sim/index.js';

let dir = '';
let bin = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'netdelay-test-'));
  bin = join(dir, 'netdelay');
  execFileSync('gcc', gccArgs(NETDELAY_SOURCE, bin), { stdio: 'pipe' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cRtts(p: KernelRttParams, targets: Array<[number, number]>): number[] {
  const args = ['--min-rtt', String(p.minMs), '--max-rtt', String(p.maxMs), '--seed', String(p.seed), '--print-rtt', ...targets.map(([a, port]) => `${intToIpv4(a)}:${port}`)];
  const lines = execFileSync(bin, args, { encoding: 'utf8' }).trim().split('\n');
  expect(lines).toHaveLength(targets.length);
  return lines.map((l, i) => {
    const [who, us] = l.split(' ');
    expect(who).toBe(`${intToIpv4(targets[i]![0])}:${targets[i]![1]}`);
    return Number(us);
  });
}

describe('kernel delayer round trips', () => {
  it('C and JS agree on every node, for several ranges and seeds, and the draws span [min, max]', () => {
    const targets: Array<[number, number]> = [];
    // Lane 0 of the benchmark, some of every other lane, and the edges of 127/8 and of the port range.
    for (let i = 0; i < 400; i++) targets.push([(0x7f6e0000 + 1 + i * 97) >>> 0, 25_000]);
    for (let lane = 1; lane < 10; lane++) for (let i = 0; i < 20; i++) targets.push([(0x7f6e0000 + (lane << 16) + 1 + i * 251) >>> 0, 25_000 + 10 * lane + (i % 3) * 1000]);
    targets.push([0x7f000001, 1], [0x7fffffff, 65535], [0x7f000000, 0]);
    for (const p of [
      { minMs: 20, maxMs: 300, seed: 16 },
      { minMs: 1, maxMs: 1000, seed: 0 },
      { minMs: 50, maxMs: 50, seed: 7 },
      { minMs: 0.5, maxMs: 2.5, seed: Number.MAX_SAFE_INTEGER },
    ]) {
      const c = cRtts(p, targets);
      const js = targets.map(([a, port]) => nodeRttUs(a, port, p));
      // exp() may differ by an ulp between glibc and V8: at most 1 µs after rounding.
      const off = js.map((v, i) => Math.abs(v - c[i]!));
      expect(Math.max(...off)).toBeLessThanOrEqual(1);
      expect(off.filter((d) => d === 0).length).toBeGreaterThan(targets.length * 0.99);
      expect(Math.min(...js)).toBeGreaterThanOrEqual(Math.round(p.minMs * 1000));
      expect(Math.max(...js)).toBeLessThanOrEqual(Math.round(p.maxMs * 1000));
      if (p.maxMs > p.minMs * 2) {
        // Log-uniform: about half the nodes below the geometric mean, and the draws reach both ends.
        const geo = Math.sqrt(p.minMs * p.maxMs) * 1000;
        const below = js.filter((v) => v < geo).length / js.length;
        expect(below).toBeGreaterThan(0.4);
        expect(below).toBeLessThan(0.6);
        expect(Math.min(...js)).toBeLessThan(p.minMs * 1000 * 1.1);
        expect(Math.max(...js)).toBeGreaterThan(p.maxMs * 1000 * 0.9);
      }
    }
    // Another seed is another network.
    const a = targets.map(([x, port]) => nodeRttUs(x, port, { minMs: 20, maxMs: 300, seed: 16 }));
    const b = targets.map(([x, port]) => nodeRttUs(x, port, { minMs: 20, maxMs: 300, seed: 17 }));
    expect(a.filter((v, i) => v === b[i]).length).toBeLessThan(targets.length * 0.05);
  });

  it('the delayer releases held packets by due time, then in arrival order (a flow clamped to one due time is never reordered)', () => {
    const r = spawnSync(bin, ['--check-order'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^ok \d+/);
    expect(r.status).toBe(0);
  });

  it('the C program refuses bad parameters with exit status 64 and says why', () => {
    for (const args of [
      ['--min-rtt', '0', '--max-rtt', '10', '--print-rtt', '127.0.0.1:1'],
      ['--min-rtt', '30', '--max-rtt', '10', '--print-rtt', '127.0.0.1:1'],
      ['--min-rtt', '1', '--max-rtt', '10', '--print-rtt', '127.0.0.1:70000'],
      ['--min-rtt', '1', '--max-rtt', '10', '--loss', '1.5', '--queue', '3', '--range', '127.1.0.0-127.2.0.0'],
      ['--min-rtt', '1', '--max-rtt', '10', '--queue', '3'],
      ['--bogus', '1'],
    ]) {
      const r = spawnSync(bin, args, { encoding: 'utf8' });
      expect(r.status, args.join(' ')).toBe(64);
      expect(r.stderr).toMatch(/^netdelay: .+\nusage: netdelay/);
    }
  });

  it("the sim's emulated round trips are the same hash (rttMs.seed): a node's serve time carries two of its RTTs", async () => {
    const rttMs = { minMs: 20, maxMs: 120, seed: 16 };
    const sim = await startSimNetwork({ nodes: 30, seed: 3, baseAddress: '127.93.0.0', port: 19544, mix: { modern: 1 }, gossip: { rttMs } });
    try {
      const { probeNode } = await import('../src/index.js');
      const node = sim.truth().nodes.find((n) => n.seed)!;
      const rec = await probeNode(node.addr, { network: 'regtest', only: ['127.0.0.0/8'], timeoutMs: 3000 });
      expect(rec.state).toBe('reachable');
      const [ip, port] = node.addr.split(':') as [string, string];
      const parts = ip.split('.').map(Number) as [number, number, number, number];
      const ipInt = ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
      const rtt = nodeRttUs(ipInt, Number(port), rttMs) / 1000;
      // No latency model: the version reply and the getaddr answer each wait exactly the node's round trip.
      expect(sim.serveTimes()[node.addr]).toBeCloseTo(2 * rtt, 2);
    } finally {
      await sim.close();
    }
  });
});
