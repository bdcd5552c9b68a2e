/**
 * Loopback address arithmetic for the simulator: node i's 127.x.y.z address,
 * and the ports nodes sit on. Every 127.0.0.0/8 address answers on Linux
 * without setup, so each simulated node gets one of its own.
 */
import { UsageError } from '../errors.js';

export const DEFAULT_BASE_ADDRESS = '127.100.0.0';
/** Host bytes skipped: .0 and .255 look like network/broadcast addresses to humans and some tools. */
const HOSTS_PER_BLOCK = 254;

export function ipv4ToInt(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (m === null) throw new UsageError('ERR_BAD_OPTION', `baseAddress: expected an IPv4 address like 127.100.0.0, got '${text}'`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw new UsageError('ERR_BAD_OPTION', `baseAddress: '${text}' is not an IPv4 address`);
  const [a, b, c, d] = parts as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export function intToIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/**
 * Maps node indexes to consecutive usable addresses from `base` upward,
 * skipping host bytes 0 and 255, and refuses to leave 127.0.0.0/8 (the
 * company's rule: loopback only).
 */
export class LoopbackRange {
  private readonly firstBlock: number;
  private readonly firstHost: number;

  constructor(base: string, readonly count: number) {
    let first = ipv4ToInt(base);
    if ((first & 0xff) === 0) first += 1;
    else if ((first & 0xff) === 255) first += 2;
    this.firstBlock = first >>> 8;
    this.firstHost = first & 0xff;
    if (first >>> 24 !== 127) throw new UsageError('ERR_BAD_OPTION', `baseAddress: ${base} is not in 127.0.0.0/8 (the simulator only uses loopback)`);
    if (count > 0 && this.addressInt(count - 1) >>> 24 !== 127) {
      throw new UsageError('ERR_BAD_OPTION', `baseAddress: ${count} nodes from ${base} would leave 127.0.0.0/8`);
    }
  }

  addressInt(index: number): number {
    const linear = this.firstHost - 1 + index;
    const block = this.firstBlock + Math.floor(linear / HOSTS_PER_BLOCK);
    return ((block << 8) | (1 + (linear % HOSTS_PER_BLOCK))) >>> 0;
  }

  address(index: number): string {
    return intToIpv4(this.addressInt(index));
  }

  /** The base of the next free /16 after this range: where a retry after EADDRINUSE goes. */
  nextBase(): string {
    const last = this.count > 0 ? this.addressInt(this.count - 1) : this.addressInt(0);
    const nextB16 = ((last >>> 16) + 1) << 16;
    return intToIpv4(nextB16 >>> 0);
  }
}

export interface SimPorts {
  /** Where most nodes listen (the network's default port unless overridden). */
  readonly main: number;
  /** A minority of nodes listen on these, as some real nodes do. */
  readonly alternates: readonly number[];
  /**
   * `refused` nodes sit on this port, which the simulator never listens on,
   * so a dial gets ECONNREFUSED even when one wildcard listener per port
   * serves every address (the shared listen mode).
   */
  readonly refused: number;
}

export function simPorts(main: number): SimPorts {
  const shift = (k: number): number => {
    const up = main + 1000 * k;
    return up <= 65535 ? up : main - 1000 * k;
  };
  return { main, alternates: [shift(1), shift(2)], refused: shift(3) };
}
