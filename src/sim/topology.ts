/**
 * The simulated network as pure data, generated from a seed: which node has
 * which behaviour, version fields, address and port, and whom it knows.
 * No sockets here, so the same plan can be checked, crawled in theory
 * (truth.ts) and served (network.ts).
 */
import type { AddressNetwork, NetAddress, NetworkName } from '../wire/types.js';
import { PROTOCOL_VERSION, WTXID_RELAY_VERSION } from '../wire/constants.js';
import { formatAddress } from '../wire/address-text.js';
import { UsageError } from '../errors.js';
import { Prng } from './prng.js';
import { LoopbackRange, simPorts, type SimPorts } from './addresses.js';
import { SIM_BEHAVIOURS, advertisesP2pV2, behaviourCounts, gossips, normalizeMix, speaksAddrv2, type SimBehaviour } from './behaviours.js';

export interface SimNodePlan {
  readonly index: number;
  /**
   * The network others know the node on. 'ipv4' nodes listen on their 127.x
   * address; 'ipv6' nodes on ::1 with a port of their own; 'onion', 'i2p'
   * and 'cjdns' nodes listen on a hidden 127.x address that only the sim's
   * SOCKS5 / SAM fronts map their overlay address to.
   */
  readonly network: AddressNetwork;
  /** What others gossip (and the truth reports): the address behind `addr`. */
  readonly address: NetAddress;
  /** Where the node listens (for 'onion' / 'i2p' / 'cjdns': the front's target). */
  readonly ip: string;
  /** The same IPv4 address as a uint32, for building addr entries without parsing text. */
  readonly ipInt: number;
  readonly port: number;
  /** Core text form of `address`, "127.100.0.1:18444", "[::1]:28444", "<onion>.onion:18444". */
  readonly addr: string;
  readonly behaviour: SimBehaviour;
  readonly seed: boolean;
  readonly protocolVersion: number;
  readonly services: bigint;
  readonly userAgent: string;
  readonly startHeight: number;
  readonly relay: boolean;
  /** Indexes of the nodes it knows (its getaddr answer), no duplicates, never itself. */
  readonly peers: Int32Array;
  /** Indexes into SimPlan.nonIp of the Tor/I2P/CJDNS addresses it knows. */
  readonly nonIp: Int32Array;
}

export interface NonIpAddress {
  readonly network: Exclude<AddressNetwork, 'ipv4' | 'ipv6'>;
  readonly bytes: Uint8Array;
  readonly port: number;
}

export interface SimPlan {
  readonly network: NetworkName;
  readonly seed: number;
  readonly ports: SimPorts;
  readonly nodes: readonly SimNodePlan[];
  readonly seeds: readonly number[];
  readonly nonIp: readonly NonIpAddress[];
}

export interface PlanOptions {
  nodes: number;
  seed: number;
  network: NetworkName;
  defaultPort: number;
  mix?: Partial<Record<SimBehaviour, number>> | undefined;
  seedCount?: number | undefined;
  baseAddress: string;
  /** Share of nodes on each network other than IPv4 (never the seeds). Default none. */
  overlays?: SimOverlays | undefined;
  /**
   * Share of the nodes that may advertise NODE_P2P_V2 (all but old, garbage,
   * badchecksum, oversized) that do. Default: half of them, drawn with their
   * other service bits. Drawn from its own stream, so the rest of the plan is
   * the same whatever the share.
   */
  p2pV2Share?: number | undefined;
}

export type OverlayNetwork = Exclude<AddressNetwork, 'ipv4'>;
export type SimOverlays = Partial<Record<OverlayNetwork, number>>;
export const OVERLAY_NETWORKS: readonly OverlayNetwork[] = ['ipv6', 'onion', 'i2p', 'cjdns'];

export const MIN_NODES = 1;
export const MAX_NODES = 1_000_000;
const MIN_KNOWN = 8;
const MAX_KNOWN = 30;
/** Share of non-IP (Tor v3 / I2P / CJDNS) addresses relative to the node count. */
const NON_IP_SHARE = 0.05;

const MODERN_AGENTS = [
  '/Satoshi:27.1.0/',
  '/Satoshi:27.0.0/',
  '/Satoshi:27.2.0/',
  '/Satoshi:28.0.0/',
  '/Satoshi:28.1.0/',
  '/Satoshi:29.0.0/',
  '/Satoshi:29.1.0/',
  '/Satoshi:30.0.0/',
  '/Satoshi:26.2.0/',
  '/Satoshi:25.1.0/',
  '/Satoshi:28.1.0/Knots:20250305/',
  '/Satoshi:29.0.0(bitspread-sim)/',
  '/btcd:0.24.2/',
] as const;
const OLD_AGENTS = ['/Satoshi:0.20.1/', '/Satoshi:0.20.0/', '/Satoshi:0.19.1/', '/Satoshi:0.19.0.1/'] as const;

// Service bits (FACTS §9).
const NETWORK = 0x1n;
const BLOOM = 0x4n;
const WITNESS = 0x8n;
const COMPACT_FILTERS = 0x40n;
const NETWORK_LIMITED = 0x400n;
const P2P_V2 = 0x800n;

/** Rough chain tips so start heights look like the network's. */
const TIP: Record<NetworkName, number> = { mainnet: 925_000, testnet3: 4_700_000, testnet4: 110_000, signet: 270_000, regtest: 300 };

export function generatePlan(opts: PlanOptions): SimPlan {
  const n = opts.nodes;
  if (!Number.isInteger(n) || n < MIN_NODES || n > MAX_NODES) throw new UsageError('ERR_BAD_OPTION', `nodes: must be a whole number from ${MIN_NODES} to ${MAX_NODES}, got ${n}`);
  if (opts.seedCount !== undefined && (!Number.isInteger(opts.seedCount) || opts.seedCount < 1)) {
    throw new UsageError('ERR_BAD_OPTION', `seedCount: must be a whole number >= 1, got ${opts.seedCount}`);
  }
  const rng = new Prng(opts.seed);
  const v2Share = opts.p2pV2Share;
  if (v2Share !== undefined && (!Number.isFinite(v2Share) || v2Share < 0 || v2Share > 1)) {
    throw new UsageError('ERR_BAD_OPTION', `p2pV2Share: must be a number from 0 to 1, got ${v2Share}`);
  }
  const v2Rng = new Prng(opts.seed ^ 0x0324);
  const ports = simPorts(opts.defaultPort);
  const range = new LoopbackRange(opts.baseAddress, n);

  const counts = behaviourCounts(n, normalizeMix(opts.mix));
  const behaviours: SimBehaviour[] = [];
  for (const b of SIM_BEHAVIOURS) for (let i = 0; i < counts[b]; i++) behaviours.push(b);
  rng.shuffle(behaviours);

  const gossipTotal = behaviours.filter(gossips).length;
  const seedCount = Math.min(opts.seedCount ?? 3, gossipTotal);
  if (seedCount < 1) throw new UsageError('ERR_BAD_OPTION', 'mix: no node would answer getaddr (modern, old, chatty or slow), so nothing is discoverable');
  // Seeds sit at the lowest addresses and are gossiping nodes (modern when possible).
  for (let s = 0; s < seedCount; s++) {
    if (gossips(behaviours[s] as SimBehaviour) && (behaviours[s] === 'modern' || !behaviours.slice(s).includes('modern'))) continue;
    let j = behaviours.indexOf('modern', s + 1);
    if (j < 0) j = behaviours.findIndex((b, k) => k > s && gossips(b));
    const tmp = behaviours[s] as SimBehaviour;
    behaviours[s] = behaviours[j] as SimBehaviour;
    behaviours[j] = tmp;
  }

  const tip = TIP[opts.network];
  const peerLists: number[][] = [];
  const nodes: Array<Omit<SimNodePlan, 'peers' | 'nonIp'>> = [];
  for (let i = 0; i < n; i++) {
    const behaviour = behaviours[i] as SimBehaviour;
    const old = behaviour === 'old';
    const port = behaviour === 'refused' ? ports.refused : rng.next() < 0.85 ? ports.main : rng.pick(ports.alternates);
    const ip = range.address(i);
    nodes.push({
      index: i,
      network: 'ipv4',
      address: { network: 'ipv4', bytes: ipv4Bytes(range.addressInt(i)), port },
      ip,
      ipInt: range.addressInt(i),
      port,
      addr: `${ip}:${port}`,
      behaviour,
      seed: i < seedCount,
      // Old: the last version before wtxidrelay/addrv2 (70015); modern: what Core 31.x announces.
      protocolVersion: old ? WTXID_RELAY_VERSION - 1 : PROTOCOL_VERSION,
      services: old ? pickServicesOld(rng) : withP2pV2(pickServicesModern(rng), behaviour, v2Share === undefined ? undefined : v2Rng.next() < v2Share),
      userAgent: rng.pick(old ? OLD_AGENTS : MODERN_AGENTS),
      startHeight: Math.max(0, tip - (rng.next() < 0.9 ? rng.int(0, 3) : rng.int(0, 2000))),
      relay: rng.next() < 0.9,
    });
    peerLists.push([]);
  }

  assignOverlays(nodes, opts, seedCount);
  /** A node only an addrv2 speaker can tell others about. */
  const v2Only = (i: number): boolean => needsAddrv2((nodes[i] as { network: AddressNetwork }).network);

  const link = (from: number, to: number): boolean => {
    const list = peerLists[from] as number[];
    if (from === to || list.includes(to)) return false;
    list.push(to);
    return true;
  };

  // 1. A random tree over the gossiping nodes, rooted at the seeds: every
  //    gossiping node is discoverable from the seeds through gossiping nodes only.
  const gossipers: number[] = [];
  for (let i = 0; i < n; i++) if (gossips(behaviours[i] as SimBehaviour)) gossipers.push(i);
  const order = gossipers.slice(seedCount);
  rng.shuffle(order);
  const inTree = gossipers.slice(0, seedCount);
  const parentFor = (pool: readonly number[], child: number): number => {
    if (!v2Only(child)) return rng.pick(pool);
    const v2 = pool.filter((i) => speaksAddrv2(behaviours[i] as SimBehaviour));
    return rng.pick(v2.length > 0 ? v2 : pool);
  };
  for (const child of order) {
    link(parentFor(inTree, child), child);
    inTree.push(child);
  }
  // 2. Every other node (broken, refused, toomany) is known by at least one gossiping node.
  for (let i = 0; i < n; i++) if (!gossips(behaviours[i] as SimBehaviour)) link(parentFor(gossipers, i), i);
  // 3. Random extra knowledge: 8-30 known peers each (fewer in tiny networks).
  for (let i = 0; i < n; i++) {
    const list = peerLists[i] as number[];
    const target = Math.min(n - 1, rng.int(MIN_KNOWN, MAX_KNOWN));
    for (let tries = 0; list.length < target && tries < target * 4; tries++) link(i, rng.int(0, n - 1));
  }

  // 4. Non-IP addresses nobody can dial here, each known by 1-3 addrv2-speaking
  //    gossipers (so a correct crawler learns it) and now and then by anyone.
  const nonIp: NonIpAddress[] = [];
  const nonIpLists: number[][] = nodes.map(() => []);
  const v2Gossipers = gossipers.filter((i) => speaksAddrv2(behaviours[i] as SimBehaviour));
  const nonIpCount = Math.max(3, Math.round(n * NON_IP_SHARE));
  for (let k = 0; k < nonIpCount; k++) {
    const r = rng.next();
    const network = r < 0.6 ? 'onion' : r < 0.85 ? 'i2p' : 'cjdns';
    const bytes = rng.fill(new Uint8Array(network === 'cjdns' ? 16 : 32));
    if (network === 'cjdns') bytes[0] = 0xfc;
    nonIp.push({ network, bytes, port: network === 'i2p' ? 0 : opts.defaultPort });
    const holders = rng.int(1, 3);
    for (let h = 0; h < holders; h++) {
      const who = v2Gossipers.length > 0 && rng.next() < 0.8 ? rng.pick(v2Gossipers) : rng.int(0, n - 1);
      const list = nonIpLists[who] as number[];
      if (!list.includes(k)) list.push(k);
    }
  }

  return {
    network: opts.network,
    seed: opts.seed,
    ports,
    nodes: nodes.map((node, i) => ({ ...node, peers: Int32Array.from(peerLists[i] as number[]), nonIp: Int32Array.from(nonIpLists[i] as number[]) })),
    seeds: gossipers.slice(0, seedCount),
    nonIp,
  };
}

function ipv4Bytes(v: number): Uint8Array {
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

/** Tor v3, I2P and CJDNS addresses travel only in addrv2 (BIP155); IPv4 and IPv6 in either. */
export function needsAddrv2(network: AddressNetwork): boolean {
  return network === 'onion' || network === 'i2p' || network === 'cjdns';
}

/**
 * First port of the IPv6 nodes on ::1 (the k-th of them listens on base + k).
 * ::1 is one address for every simulator on the machine, so the range follows
 * the base address: a simulator that moves to the next /16 after EADDRINUSE
 * also moves its IPv6 ports. 16 ranges of 1,400 ports in 10000-32399, below
 * Linux's ephemeral ports.
 */
export function ipv6BasePort(baseAddress: string): number {
  const second = Number(baseAddress.split('.')[1] ?? 0);
  return 10_000 + (second % 16) * 1400;
}

type MutableNode = { -readonly [K in keyof Omit<SimNodePlan, 'peers' | 'nonIp'>]: Omit<SimNodePlan, 'peers' | 'nonIp'>[K] };

/**
 * Moves a share of the non-seed nodes to other networks, drawing from its
 * own stream so a plan without overlays is the same as before they existed.
 * The node keeps its behaviour and version fields; what changes is the
 * address others know it by (and, for IPv6, where it listens).
 */
function assignOverlays(nodes: Array<Omit<SimNodePlan, 'peers' | 'nonIp'>>, opts: PlanOptions, seedCount: number): void {
  const overlays = opts.overlays;
  if (overlays === undefined) return;
  let total = 0;
  for (const [net, share] of Object.entries(overlays)) {
    if (!(OVERLAY_NETWORKS as readonly string[]).includes(net)) throw new UsageError('ERR_BAD_OPTION', `overlays: unknown network '${net}' (known: ${OVERLAY_NETWORKS.join(', ')})`);
    if (typeof share !== 'number' || !Number.isFinite(share) || share < 0) throw new UsageError('ERR_BAD_OPTION', `overlays: share of '${net}' must be a number >= 0`);
    total += share;
  }
  if (total > 1 + 1e-9) throw new UsageError('ERR_BAD_OPTION', `overlays: shares sum to ${total}, more than 1`);
  const rng = new Prng(opts.seed ^ 0x0e1a75);
  const candidates = nodes.map((_, i) => i).slice(seedCount);
  rng.shuffle(candidates);
  let next = 0;
  let v6 = 0;
  const v6Base = ipv6BasePort(opts.baseAddress);
  for (const net of OVERLAY_NETWORKS) {
    const count = Math.round((overlays[net] ?? 0) * nodes.length);
    for (let c = 0; c < count && next < candidates.length; c++) {
      const node = nodes[candidates[next++] as number] as MutableNode;
      node.network = net;
      if (net === 'ipv6') {
        // Every IPv6 node has a port of its own on ::1 ('refused' ones too: nothing listens there).
        node.ip = '::1';
        node.port = v6Base + v6++;
        node.address = { network: 'ipv6', bytes: Uint8Array.from([...new Array<number>(15).fill(0), 1]), port: node.port };
      } else {
        const bytes = rng.fill(new Uint8Array(net === 'cjdns' ? 16 : 32));
        if (net === 'cjdns') bytes[0] = 0xfc;
        // I2P has no ports (SAM 3.1): Core gossips and dials them with port 0.
        node.address = { network: net, bytes, port: net === 'i2p' ? 0 : opts.defaultPort };
      }
      node.addr = formatAddress(node.address);
    }
  }
}

function pickServicesModern(rng: Prng): bigint {
  let s = rng.next() < 0.85 ? NETWORK | WITNESS : NETWORK_LIMITED | WITNESS;
  if (rng.next() < 0.6) s |= NETWORK_LIMITED;
  if (rng.next() < 0.5) s |= P2P_V2;
  if (rng.next() < 0.1) s |= BLOOM;
  if (rng.next() < 0.1) s |= COMPACT_FILTERS;
  return s;
}

/** The drawn services with NODE_P2P_V2 set or cleared as the behaviour requires (no extra draw: plans stay as they were). */
function withP2pV2(drawn: bigint, behaviour: SimBehaviour, chosen: boolean | undefined): bigint {
  return advertisesP2pV2(behaviour, chosen ?? (drawn & P2P_V2) !== 0n) ? drawn | P2P_V2 : drawn & ~P2P_V2;
}

function pickServicesOld(rng: Prng): bigint {
  let s = NETWORK | WITNESS;
  if (rng.next() < 0.5) s |= NETWORK_LIMITED;
  if (rng.next() < 0.2) s |= BLOOM;
  return s;
}
