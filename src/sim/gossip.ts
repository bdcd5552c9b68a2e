/**
 * A mainnet-shaped address book for the simulator (issue 16), all off by
 * default: full getaddr answers, dead addresses, per-node round trips.
 *
 * - `answerSize`: every gossiping node pads its getaddr answer to this many
 *   entries (at most 1,000, as Core) with random draws from the whole
 *   gossip pool: every node's address, the dead addresses, IPv6 addresses
 *   from fd62:6974:7370::/48 (unique local: routed nowhere, and never dialled
 *   inside a loopback allow-list) and the plan's Tor/I2P/CJDNS addresses (addrv2
 *   only). Padding never changes the ground truth: every node is already
 *   discoverable through the plan's own links (topology.ts).
 * - `dead`: IPv4 addresses where no node is, gossiped only through padding.
 *   Nobody listens there, so a dial is refused at once; a benchmark that
 *   drops SYNs to that range (nftables in its own network namespace) makes
 *   each one cost a real connect timeout, as most of mainnet's gossip does.
 * - `rttMs`: each node gets a round trip drawn once, log-uniform between
 *   minMs and maxMs, added to every reply it sends (each reply answers a
 *   message that crossed the network and crosses back). The TCP connect
 *   itself stays instant: that needs a kernel delay (tc netem, or the
 *   benchmark's NFQUEUE delayer, bench/netdelay/), and with one the
 *   benchmark leaves rttMs out and puts the round trips in the kernel.
 * - `overlay`: per Tor / I2P network (nodes moved there by SimOptions.overlays),
 *   what the sim's fronts add: each node's connect delay through the front
 *   (circuit / tunnel build; for a 'refused' node, the time before the front
 *   gives up), drawn once, log-uniform in `connectMs` (`failMs`); its round
 *   trip in `rttMs` instead of the IP one; and `dead` addresses of that
 *   network nobody serves, gossiped only through padding (addrv2), which the
 *   fronts fail after a `failMs` draw. The connect delay counts in the node's
 *   serve time (SimNetwork.serveTimes()): a visit cannot be shorter.
 */
import type { AddrEntry } from '../wire/index.js';
import { NETWORK_ID } from '../wire/index.js';
import { UsageError } from '../errors.js';
import { ipv4ToInt } from './addresses.js';
import { checkKernelRttParams, nodeRttUs } from './kernel-rtt.js';
import { Prng } from './prng.js';
import type { NonIpAddress, SimPlan } from './topology.js';

export type Range = readonly [number, number];

/** What reaching one overlay network costs, per node (see the file's comment). */
export interface OverlayGossip {
  /** Connect delay through the front, log-uniform [min, max] ms. */
  connectMs: Range;
  /** Round trip added to every reply, log-uniform [min, max] ms. */
  rttMs: Range;
  /** How long the front takes to give up on a dead or refused address, log-uniform [min, max] ms. Default connectMs. */
  failMs?: Range;
  /** Addresses of this network nobody serves, gossiped through padding only. Default 0. */
  dead?: number;
}

export type GossipOverlayNetwork = 'onion' | 'i2p';

export interface GossipOptions {
  /** Pad each gossiping node's getaddr answer to this many entries (1-1,000). */
  answerSize?: number;
  /** Dead IPv4 addresses: `count` consecutive addresses from `base` (inside 127.0.0.0/8), on `port`. */
  dead?: { count: number; base: string; port?: number };
  /** Share of padding entries that are IPv6 (fd62:6974:7370::/48); default 0.1. */
  ipv6Share?: number;
  /** Share of padding entries that are the plan's Tor/I2P/CJDNS addresses (addrv2 answers only); default 0.05. */
  nonIpShare?: number;
  /**
   * Per-node round trip added to every reply, log-uniform in [minMs, maxMs].
   * With `seed`, each node's draw is kernel-rtt.ts's hash of (seed, address,
   * port), the same the benchmark's kernel delayer uses, instead of a draw
   * from the simulator's random stream.
   */
  rttMs?: { minMs: number; maxMs: number; seed?: number };
  /** Tor / I2P nodes' own delays and dead addresses (see the file's comment). */
  overlay?: Partial<Record<GossipOverlayNetwork, OverlayGossip>>;
}

/** Distinct IPv6 padding addresses per dead + node address (so they repeat across answers, as real gossip does). */
const IPV6_POOL_SHARE = 0.2;
/** Time field spread of gossiped entries (Core hands out addresses seen in the last days). */
const ENTRY_AGE_SECONDS = 3 * 86400;

export class SimGossip {
  readonly answerSize: number;
  private readonly deadBase: number;
  readonly deadCount: number;
  private readonly deadPort: number;
  private readonly ipv6Share: number;
  private readonly nonIpShare: number;
  private readonly ipv6Pool: number;
  /** Per-node round trip in ms (empty: none). */
  private readonly rtt: Float32Array;
  /** Per-node connect delay through a front in ms (0 for IP nodes; empty: no overlay options). */
  private readonly connect: Float32Array;
  private readonly overlay: Partial<Record<GossipOverlayNetwork, OverlayGossip>>;
  /** Dead Tor / I2P addresses (padding only). */
  readonly deadOverlay: readonly NonIpAddress[];

  constructor(opts: GossipOptions, plan: SimPlan, rng: Prng) {
    const size = opts.answerSize ?? 0;
    if (!Number.isInteger(size) || size < 0 || size > 1000) throw new UsageError('ERR_BAD_OPTION', `answerSize: must be 0-1000, got ${size}`);
    this.answerSize = size;
    const dead = opts.dead;
    this.deadCount = dead?.count ?? 0;
    if (!Number.isInteger(this.deadCount) || this.deadCount < 0) throw new UsageError('ERR_BAD_OPTION', 'dead.count: must be a whole number >= 0');
    this.deadBase = dead === undefined ? 0 : ipv4ToInt(dead.base);
    if (dead !== undefined && (this.deadBase >>> 24 !== 127 || (this.deadBase + this.deadCount) >>> 24 !== 127)) {
      throw new UsageError('ERR_BAD_OPTION', `dead: ${this.deadCount} addresses from ${dead.base} must stay inside 127.0.0.0/8`);
    }
    this.deadPort = dead?.port ?? plan.ports.main;
    this.ipv6Share = opts.ipv6Share ?? 0.1;
    this.nonIpShare = opts.nonIpShare ?? 0.05;
    this.ipv6Pool = Math.max(1, Math.round((plan.nodes.length + this.deadCount) * IPV6_POOL_SHARE));
    // Tor / I2P nodes keep their own round trips even without rttMs (IP nodes then get none).
    this.rtt = new Float32Array(opts.rttMs === undefined && opts.overlay === undefined ? 0 : plan.nodes.length);
    if (opts.rttMs !== undefined) {
      const { minMs, maxMs, seed } = opts.rttMs;
      if (!(minMs > 0 && maxMs >= minMs)) throw new UsageError('ERR_BAD_OPTION', 'rttMs: need 0 < minMs <= maxMs');
      if (seed !== undefined) {
        const params = { minMs, maxMs, seed };
        checkKernelRttParams(params);
        plan.nodes.forEach((n, i) => (this.rtt[i] = nodeRttUs(n.ipInt, n.port, params) / 1000));
      } else {
        for (let i = 0; i < this.rtt.length; i++) this.rtt[i] = logUniform([minMs, maxMs], rng.next());
      }
    }
    this.overlay = opts.overlay ?? {};
    const deadOverlay: NonIpAddress[] = [];
    this.connect = new Float32Array(opts.overlay === undefined ? 0 : plan.nodes.length);
    for (const [net, o] of Object.entries(this.overlay) as Array<[string, OverlayGossip]>) {
      if (net !== 'onion' && net !== 'i2p') throw new UsageError('ERR_BAD_OPTION', `overlay: '${net}' is not onion or i2p`);
      for (const [k, r] of [['connectMs', o.connectMs], ['rttMs', o.rttMs], ['failMs', o.failMs ?? o.connectMs]] as const) {
        if (!Array.isArray(r) || !(r[0] > 0 && r[1] >= r[0])) throw new UsageError('ERR_BAD_OPTION', `overlay.${net}.${k}: need [min, max] with 0 < min <= max`);
      }
      const count = o.dead ?? 0;
      if (!Number.isInteger(count) || count < 0) throw new UsageError('ERR_BAD_OPTION', `overlay.${net}.dead: must be a whole number >= 0`);
      // Drawn from a stream of their own: the plan and the other draws stay as they were.
      const deadRng = new Prng(plan.seed ^ (net === 'onion' ? 0x0de4d : 0x12bd));
      for (let k = 0; k < count; k++) deadOverlay.push({ network: net, bytes: deadRng.fill(new Uint8Array(32)), port: net === 'i2p' ? 0 : plan.ports.main });
    }
    this.deadOverlay = deadOverlay;
    if (opts.overlay !== undefined) {
      // Own stream too, so adding overlay options never moves the IP nodes' round trips.
      const orng = new Prng(plan.seed ^ 0x0f2047);
      for (const node of plan.nodes) {
        const o = node.network === 'onion' || node.network === 'i2p' ? this.overlay[node.network] : undefined;
        if (o === undefined) continue;
        const refused = node.behaviour === 'refused';
        this.connect[node.index] = logUniform(refused ? (o.failMs ?? o.connectMs) : o.connectMs, orng.next());
        if (this.rtt.length > 0) this.rtt[node.index] = logUniform(o.rttMs, orng.next());
      }
    }
  }

  /** Node `index`'s connect delay through its front, ms (0: an IP node, or no overlay options). */
  connectDelayOf(index: number): number {
    return this.connect.length === 0 ? 0 : (this.connect[index] as number);
  }

  /** A front's time to give up on an address of `network` nobody serves (undefined: no overlay options for it). */
  failDelay(network: string, u: number): number | undefined {
    const o = network === 'onion' || network === 'i2p' ? this.overlay[network] : undefined;
    return o === undefined ? undefined : logUniform(o.failMs ?? o.connectMs, u);
  }

  /** The round trip added to node `index`'s replies (0 without rttMs). */
  rttOf(index: number): number {
    return this.rtt.length === 0 ? 0 : (this.rtt[index] as number);
  }

  /**
   * Pads `entries` (the node's own answer) up to answerSize with distinct
   * random pool entries. `have` holds keys of what is already in it.
   */
  pad(entries: AddrEntry[], plan: SimPlan, rng: Prng, addrv2: boolean, now: number): void {
    const target = this.answerSize;
    if (entries.length >= target) return;
    const have = new Set<number>();
    for (const e of entries) {
      if (e.address?.network === 'ipv4') have.add(ipv4KeyOf(e.address.bytes, e.address.port));
      else if (e.address != null && e.address.bytes.length === 32) have.add(overlayKeyOf(e.address.bytes));
    }
    const deadOverlay = this.deadOverlay;
    const nodes = plan.nodes;
    const ipv4Pool = nodes.length + this.deadCount;
    const services = 0x409n;
    for (let tries = 0; entries.length < target && tries < target * 4; tries++) {
      const r = rng.next();
      const time = now - rng.int(0, ENTRY_AGE_SECONDS);
      if (addrv2 && r < this.nonIpShare && plan.nonIp.length + deadOverlay.length > 0) {
        const k = rng.int(0, plan.nonIp.length + deadOverlay.length - 1);
        const a = k < plan.nonIp.length ? plan.nonIp[k]! : deadOverlay[k - plan.nonIp.length]!;
        const key = a.bytes.length === 32 ? overlayKeyOf(a.bytes) : -1 - k;
        if (have.has(key)) continue;
        have.add(key);
        entries.push({ time, services, address: { network: a.network, bytes: a.bytes, port: a.port }, networkId: NETWORK_ID[a.network] });
      } else if (r < this.nonIpShare + this.ipv6Share) {
        const k = rng.int(0, this.ipv6Pool - 1);
        if (have.has(-1_000_000_000 - k)) continue;
        have.add(-1_000_000_000 - k);
        const bytes = new Uint8Array(16);
        // fd62:6974:7370::/48 ("bitsp"), unique local: valid to Core (unlike 2001:db8::/32,
        // documentation space, which Core never learns) and routed nowhere.
        bytes[0] = 0xfd;
        bytes[1] = 0x62;
        bytes[2] = 0x69;
        bytes[3] = 0x74;
        bytes[4] = 0x73;
        bytes[5] = 0x70;
        bytes[12] = k >>> 24;
        bytes[13] = (k >>> 16) & 0xff;
        bytes[14] = (k >>> 8) & 0xff;
        bytes[15] = k & 0xff;
        entries.push({ time, services, address: { network: 'ipv6', bytes, port: plan.ports.main }, networkId: NETWORK_ID.ipv6 });
      } else {
        const k = rng.int(0, ipv4Pool - 1);
        const node = k < nodes.length ? nodes[k]! : undefined;
        if (node !== undefined && node.network !== 'ipv4') {
          // A Tor / I2P / CJDNS / IPv6 node is gossiped by the address others know it on (never its hidden 127.x one).
          if (!addrv2 && node.network !== 'ipv6') continue;
          const okey = node.address.bytes.length === 32 ? overlayKeyOf(node.address.bytes) : -2_000_000_000 - k;
          if (have.has(okey)) continue;
          have.add(okey);
          entries.push({ time, services: node.services, address: node.address, networkId: NETWORK_ID[node.network] });
          continue;
        }
        const v = k < nodes.length ? nodes[k]!.ipInt : (this.deadBase + (k - nodes.length)) >>> 0;
        const port = k < nodes.length ? nodes[k]!.port : this.deadPort;
        const key = ipv4KeyOf4(v, port);
        if (have.has(key)) continue;
        have.add(key);
        const bytes = new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
        entries.push({ time, services: k < nodes.length ? nodes[k]!.services : services, address: { network: 'ipv4', bytes, port }, networkId: NETWORK_ID.ipv4 });
      }
    }
  }
}

/** log-uniform in [r[0], r[1]] for u in [0, 1). */
function logUniform(r: Range, u: number): number {
  return r[0] * Math.exp(Math.log(r[1] / r[0]) * u);
}

/** A 32-byte Tor v3 / I2P address as a key apart from the IPv4 ones (negative, below the IPv6 keys). */
function overlayKeyOf(b: Uint8Array): number {
  return -3_000_000_000 - (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) * 4 - (b[4]! & 3);
}

function ipv4KeyOf(b: Uint8Array, port: number): number {
  return ipv4KeyOf4(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0, port);
}

function ipv4KeyOf4(v: number, port: number): number {
  return v * 65536 + port;
}
