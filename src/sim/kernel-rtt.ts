/**
 * Per-node round trips by hash, the twin of bench/netdelay/netdelay.c's
 * node_rtt_us(): the benchmark's kernel delayer (an NFQUEUE program, for
 * kernels without tc netem) holds every packet to or from a simulated node
 * for half that node's round trip, and the simulator's truth needs the same
 * number to know the least time a visit can take. Both compute:
 *
 *   h = splitmix64(seed XOR (address << 16 | port))
 *   u = (h >> 11) / 2^53                      (uniform in [0, 1))
 *   rtt = round(minMs × 1000 × exp(ln(maxMs / minMs) × u)) µs   (log-uniform)
 *
 * test/kernel-rtt.test.ts checks the two agree (the C program's --print-rtt).
 */
import { UsageError } from '../errors.js';

export interface KernelRttParams {
  minMs: number;
  maxMs: number;
  /** A whole number, 0 to 2^53 - 1. */
  seed: number;
}

const MASK64 = (1n << 64n) - 1n;

function splitmix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** Throws ERR_BAD_OPTION unless 0 < minMs <= maxMs and seed is a safe whole number >= 0. */
export function checkKernelRttParams(p: KernelRttParams): void {
  if (!(p.minMs > 0 && p.maxMs >= p.minMs && Number.isFinite(p.maxMs))) throw new UsageError('ERR_BAD_OPTION', 'rttMs: need 0 < minMs <= maxMs');
  if (!Number.isSafeInteger(p.seed) || p.seed < 0) throw new UsageError('ERR_BAD_OPTION', `rttMs.seed: need a whole number >= 0, got ${p.seed}`);
}

/** The round trip of the node at IPv4 `addrInt` (host order) and `port`, in whole microseconds. */
export function nodeRttUs(addrInt: number, port: number, p: KernelRttParams): number {
  const key = (BigInt(addrInt >>> 0) << 16n) | BigInt(port & 0xffff);
  const h = splitmix64(BigInt(p.seed) ^ key);
  const u = Number(h >> 11n) / 2 ** 53;
  return Math.round(p.minMs * 1000 * Math.exp(Math.log(p.maxMs / p.minMs) * u));
}
