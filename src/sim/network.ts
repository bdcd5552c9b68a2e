/**
 * startSimNetwork: turns a plan (topology.ts) into listening sockets.
 *
 * Two ways to listen, because of the ~20,000 file descriptors per process:
 * - `per-node`: one listener per node address (one fd each). Others can run
 *   their own simulators on other 127.x addresses with the same ports.
 * - `shared`: one wildcard listener per port (a handful of fds) that serves
 *   every node address; the node is found from the connection's local
 *   address. It takes those ports on every address of the machine, so only
 *   one shared-mode simulator per port set can run at a time.
 * `auto` (default) picks per-node when the listeners fit with room to spare.
 * `refused` nodes never need a listener: they sit on a port nobody listens on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { formatAddress, formatHost, NETWORKS } from '../wire/index.js';
import type { AddressNetwork, NetworkName } from '../wire/types.js';
import { PeerError, UsageError } from '../errors.js';
import { DEFAULT_BASE_ADDRESS, LoopbackRange } from './addresses.js';
import type { SimBehaviour } from './behaviours.js';
import { acceptConnection, releaseConnection, type SimConnection, type SimRuntime, type SimViolation } from './connection.js';
import { LatencyModel, type LatencyOptions } from './latency.js';
import { Prng } from './prng.js';
import { generatePlan, type NonIpAddress, type SimNodePlan, type SimOverlays, type SimPlan } from './topology.js';
import { computeTruth, type SimTruth } from './truth.js';
import { SimChurn, type ChurnOptions } from './churn.js';
import { SimGossip, type GossipOptions } from './gossip.js';
import type { OverlayTarget } from './socks5-front.js';

export type SimListenMode = 'per-node' | 'shared';

export interface SimOptions {
  nodes: number;
  /** PRNG seed: the same seed gives the same network. Default 1. */
  seed?: number;
  network?: NetworkName;
  /** Share per behaviour; unnamed behaviours get 0 except modern, which takes the rest. */
  mix?: Partial<Record<SimBehaviour, number>>;
  /** Delay before a node reads a new connection and before each reply. Off by default. */
  latency?: LatencyOptions | false;
  /** How many seed nodes (gossiping, at the lowest addresses). Default 3. */
  seedCount?: number;
  /**
   * First node address. Default 127.100.0.0 (node 0 is 127.100.0.1); when the
   * default range is taken (another simulator), the next free /16 is used.
   * An explicit base is used as given or fails with EADDRINUSE.
   */
  baseAddress?: string;
  /** Main port; default the network's default port (regtest 18444). */
  port?: number;
  listen?: SimListenMode | 'auto';
  /**
   * Share of nodes on IPv6 (listening on ::1, a port each) and behind the
   * fronts as Tor v3 / I2P / CJDNS nodes (startSocksFront, startSamFront).
   * Seeds stay IPv4. Default none.
   */
  overlays?: SimOverlays;
  /** Nodes that go down and come back, and nodes that change version (churn.ts). Off by default. */
  churn?: ChurnOptions | false;
  /** Mainnet-shaped extras, off by default: full answers, dead addresses, per-node round trips (gossip.ts). */
  gossip?: GossipOptions;
  /** Share of eligible nodes advertising NODE_P2P_V2 (and so speaking v2); default half (topology.ts). */
  p2pV2Share?: number;
}

export interface SimStats {
  /** Most inbound connections open at once, across the whole network. */
  peakInbound: number;
  /** The same per network of the nodes reached (a per-network budget shows here). */
  peakInboundByNetwork: Record<AddressNetwork, number>;
  openInbound: number;
  connectionsAccepted: number;
  /** Connections on which the client completed its side of the handshake (version, then verack). */
  handshakes: number;
  /** getaddr messages answered (at most one per connection; badchecksum nodes count but send nothing). */
  getaddrAnswered: number;
  /** BIP324: version packets v2 nodes received (sessions up), v1 clients of v2 nodes, v2 handshakes v1-only nodes turned down. */
  v2Sessions: number;
  v1OnV2Nodes: number;
  v2Refused: number;
  /** Protocol violations clients committed (the first 10,000 kept). */
  violations: SimViolation[];
  violationCount: number;
}

export interface SimNetwork {
  /** Seed nodes' addresses, "127.100.0.1:18444". */
  readonly seeds: string[];
  readonly network: NetworkName;
  readonly size: number;
  readonly listenMode: SimListenMode;
  /** The base address actually used (after any retry). */
  readonly baseAddress: string;
  /** Listening sockets (file descriptors) the network holds. */
  readonly listeners: number;
  /**
   * The longest single delay latency can add (0 without latency). A handshake
   * waits at most two (accept + reply), a getaddr answer one (chatty: plus
   * 20 ms). Step timeouts above 2 × this never fail a working node.
   */
  readonly maxDelayMs: number;
  /** The churn schedule (advance(), truth()), or null without `churn`. */
  readonly churn: SimChurn | null;
  truth(): SimTruth;
  /**
   * Where the node behind an overlay host listens: a Tor v3 name
   * (`<56>.onion`), an I2P name (`<52>.b32.i2p`) or a CJDNS address
   * (`fc…`), lowercase, without port. What the fronts resolve with.
   */
  overlayTarget(host: string): OverlayTarget | undefined;
  /** How long a front takes to give up on a `network` address nobody serves (gossip.overlay's failMs draw), or undefined: the front's own delay. */
  overlayFailDelay(network: AddressNetwork): number | undefined;
  /** What one node knows (its getaddr answer before format filtering), or undefined for an unknown address. */
  knownBy(addr: string): { peers: string[]; nonIp: string[] } | undefined;
  stats(): SimStats;
  /** Per node address: the delays a client had to wait through on its latest answered connection, ms (SimRuntime.serveMs): the least a visit takes. */
  serveTimes(): Record<string, number>;
  /** Closes every listener and connection and clears every timer. Idempotent. */
  close(): Promise<void>;
}

/** File descriptors left free for connections (the crawler's and ours) when auto picks per-node. */
const FD_RESERVE = 4096;
/** Listen calls in flight at once while starting. */
const LISTEN_BATCH = 256;
/** Alternate base ranges tried when the default range is in use. */
const MAX_BASE_RETRIES = 8;

const NODE = Symbol('simNode');
const SIM = Symbol('simRuntime');
type NodeServer = Server & { [NODE]: SimNodePlan; [SIM]: SimRuntime };
type SharedServer = Server & { [SIM]: SimRuntime; [NODE]: Map<string, SimNodePlan> };

export async function startSimNetwork(opts: SimOptions): Promise<SimNetwork> {
  const networkName = opts.network ?? 'regtest';
  const params = NETWORKS[networkName];
  if (params === undefined) throw new UsageError('ERR_BAD_OPTION', `network: unknown network '${String(networkName)}'`);
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed)) throw new UsageError('ERR_BAD_OPTION', `seed: must be an integer, got ${seed}`);
  const port = opts.port ?? params.defaultPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('ERR_BAD_OPTION', `port: must be 1-65535, got ${port}`);
  if (opts.listen !== undefined && !['auto', 'per-node', 'shared'].includes(opts.listen)) {
    throw new UsageError('ERR_BAD_OPTION', `listen: expected 'auto', 'per-node' or 'shared', got '${String(opts.listen)}'`);
  }
  const explicitBase = opts.baseAddress !== undefined;
  let base = opts.baseAddress ?? DEFAULT_BASE_ADDRESS;

  for (let attempt = 0; ; attempt++) {
    const plan = generatePlan({ nodes: opts.nodes, seed, network: networkName, defaultPort: port, mix: opts.mix, seedCount: opts.seedCount, baseAddress: base, overlays: opts.overlays, p2pV2Share: opts.p2pV2Share });
    const listening = plan.nodes.filter((n) => n.behaviour !== 'refused');
    const mode = opts.listen === undefined || opts.listen === 'auto' ? autoListenMode(listening.length) : opts.listen;
    // Runtime draws (nonces, garbage, delays) come from their own stream, so
    // serving traffic never changes what the plan stream generates.
    const rng = new Prng(seed ^ 0x5eed5eed);
    const sim: SimRuntime = {
      net: params,
      plan,
      rng,
      latency: LatencyModel.from(opts.latency, rng),
      churn: opts.churn === undefined || opts.churn === false ? null : new SimChurn(plan, opts.churn),
      gossip: opts.gossip === undefined ? null : new SimGossip(opts.gossip, plan, rng),
      serveMs: new Float64Array(plan.nodes.length).fill(NaN),
      connections: new Set<SimConnection>(),
      openInbound: 0,
      openByNetwork: { ipv4: 0, ipv6: 0, onion: 0, i2p: 0, cjdns: 0 },
      peakByNetwork: { ipv4: 0, ipv6: 0, onion: 0, i2p: 0, cjdns: 0 },
      peakInbound: 0,
      connectionsAccepted: 0,
      handshakes: 0,
      v2Sessions: 0,
      v1OnV2Nodes: 0,
      v2Refused: 0,
      getaddrAnswered: 0,
      liveSockets: 0,
      violations: [],
      violationCount: 0,
      onAllSocketsClosed: null,
    };
    const servers: Server[] = [];
    try {
      if (mode === 'per-node') await listenPerNode(sim, listening, servers);
      else {
        // IPv6 nodes each have their own port on ::1: one listener each in either mode.
        await listenPerNode(sim, listening.filter((n) => n.network === 'ipv6'), servers);
        await listenShared(sim, listening.filter((n) => n.network !== 'ipv6'), servers);
      }
    } catch (err) {
      await closeAll(sim, servers);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' && !explicitBase && mode === 'per-node' && attempt < MAX_BASE_RETRIES) {
        base = new LoopbackRange(base, opts.nodes).nextBase();
        // Two simulators racing for the same range would otherwise retry in lockstep.
        await new Promise((resolve) => setTimeout(resolve, process.pid % 37));
        continue;
      }
      throw listenError(err, mode, base, port);
    }
    return makeHandle(sim, plan, mode, base, servers);
  }
}

function makeHandle(sim: SimRuntime, plan: SimPlan, mode: SimListenMode, base: string, servers: Server[]): SimNetwork {
  let truth: SimTruth | null = null;
  let byAddr: Map<string, SimNodePlan> | null = null;
  let byOverlay: Map<string, SimNodePlan> | null = null;
  let closing: Promise<void> | null = null;
  return {
    seeds: plan.seeds.map((i) => (plan.nodes[i] as SimNodePlan).addr),
    network: plan.network,
    size: plan.nodes.length,
    listenMode: mode,
    baseAddress: base,
    listeners: servers.length,
    maxDelayMs: sim.latency?.maxMs ?? 0,
    churn: sim.churn,
    truth() {
      truth ??= computeTruth(plan);
      return structuredClone(truth);
    },
    overlayTarget(host) {
      if (byOverlay === null) {
        byOverlay = new Map();
        for (const n of plan.nodes) {
          if (n.network === 'onion' || n.network === 'i2p' || n.network === 'cjdns') byOverlay.set(formatHost(n.address), n);
        }
      }
      const node = byOverlay.get(host.toLowerCase());
      if (node === undefined) return undefined;
      const connectDelayMs = sim.gossip?.connectDelayOf(node.index) ?? 0;
      return { host: node.ip, port: node.port, network: node.network, addr: node.addr, ...(connectDelayMs > 0 ? { connectDelayMs } : {}) };
    },
    overlayFailDelay(network) {
      return sim.gossip?.failDelay(network, Math.random());
    },
    knownBy(addr) {
      byAddr ??= new Map(plan.nodes.map((n) => [n.addr, n]));
      const node = byAddr.get(addr);
      if (node === undefined) return undefined;
      return {
        peers: Array.from(node.peers, (p) => (plan.nodes[p] as SimNodePlan).addr),
        nonIp: Array.from(node.nonIp, (k) => formatAddress(plan.nonIp[k] as NonIpAddress)),
      };
    },
    stats() {
      return {
        peakInbound: sim.peakInbound,
        openInbound: sim.openInbound,
        peakInboundByNetwork: { ...sim.peakByNetwork },
        connectionsAccepted: sim.connectionsAccepted,
        handshakes: sim.handshakes,
        v2Sessions: sim.v2Sessions,
        v1OnV2Nodes: sim.v1OnV2Nodes,
        v2Refused: sim.v2Refused,
        getaddrAnswered: sim.getaddrAnswered,
        violations: sim.violations.map((v) => ({ ...v })),
        violationCount: sim.violationCount,
      };
    },
    serveTimes() {
      const out: Record<string, number> = {};
      sim.serveMs.forEach((ms, i) => {
        if (!Number.isNaN(ms)) out[(plan.nodes[i] as SimNodePlan).addr] = ms;
      });
      return out;
    },
    close() {
      closing ??= closeAll(sim, servers);
      return closing;
    },
  };
}

function listenError(err: unknown, mode: SimListenMode, base: string, port: number): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EMFILE' || e.code === 'ENFILE') {
    return new PeerError('ERR_RESOURCE', `sim: out of file descriptors while listening (${mode} mode); use listen: 'shared', fewer nodes, or several processes`, { cause: err });
  }
  if (e.code === 'EADDRINUSE') {
    const where =
      mode === 'shared'
        ? `ports ${port}, +1000, +2000 on every address (shared mode; keep them below the ephemeral range, 32768+ on Linux)`
        : `addresses from ${base}`;
    return new UsageError('ERR_BAD_OPTION', `sim: ${where} already in use (${e.message}); choose another baseAddress or port`, { cause: err });
  }
  return e instanceof Error ? e : new Error(String(err));
}

function autoListenMode(listeners: number): SimListenMode {
  return openFds() + listeners + FD_RESERVE <= fdLimit() ? 'per-node' : 'shared';
}

/** The soft RLIMIT_NOFILE, read from /proc (Node has no getrlimit); 20,000 if unknown. */
function fdLimit(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m !== null) return Number(m[1]);
  } catch {
    // not Linux: fall through
  }
  return 20_000;
}

function openFds(): number {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 64;
  }
}

async function listenPerNode(sim: SimRuntime, nodes: readonly SimNodePlan[], servers: Server[]): Promise<void> {
  for (let i = 0; i < nodes.length; i += LISTEN_BATCH) {
    const batch: Array<Promise<void>> = [];
    for (const node of nodes.slice(i, i + LISTEN_BATCH)) {
      const server = createServer(onNodeConnection) as NodeServer;
      server[NODE] = node;
      server[SIM] = sim;
      servers.push(server);
      batch.push(listen(server, node.ip, node.port));
    }
    // Settle the whole batch before failing, so no listen completes after close.
    const results = await Promise.allSettled(batch);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}

async function listenShared(sim: SimRuntime, nodes: readonly SimNodePlan[], servers: Server[]): Promise<void> {
  const byPort = new Map<number, Map<string, SimNodePlan>>();
  for (const node of nodes) {
    let m = byPort.get(node.port);
    if (m === undefined) byPort.set(node.port, (m = new Map()));
    m.set(node.ip, node);
  }
  for (const [port, byIp] of byPort) {
    const server = createServer(onSharedConnection) as SharedServer;
    server[NODE] = byIp;
    server[SIM] = sim;
    servers.push(server);
    await listen(server, '0.0.0.0', port);
  }
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true, backlog: 511 }, () => {
      server.off('error', reject);
      server.on('error', ignoreServerError);
      resolve();
    });
  });
}

function ignoreServerError(): void {
  // EMFILE on accept and the like: that connection is lost, the node keeps listening.
}

function onNodeConnection(this: NodeServer, socket: Socket): void {
  acceptConnection(this[SIM], this[NODE], socket);
}

function onSharedConnection(this: SharedServer, socket: Socket): void {
  const remote = socket.remoteAddress ?? '';
  const node = this[NODE].get(stripMapped(socket.localAddress ?? ''));
  // The wildcard listener also hears other hosts: serve loopback clients of known nodes only.
  if (node === undefined || !stripMapped(remote).startsWith('127.')) {
    socket.on('error', ignoreServerError);
    socket.resetAndDestroy();
    return;
  }
  acceptConnection(this[SIM], node, socket);
}

function stripMapped(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

async function closeAll(sim: SimRuntime, servers: readonly Server[]): Promise<void> {
  sim.churn?.stop();
  const closed = servers.map(
    (s) =>
      new Promise<void>((resolve) => {
        if (!s.listening) return resolve();
        s.close(() => resolve());
      }),
  );
  const socketsGone =
    sim.liveSockets === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          sim.onAllSocketsClosed = resolve;
        });
  for (const conn of [...sim.connections]) {
    releaseConnection(conn);
    conn.socket.destroy();
  }
  await Promise.all([...closed, socketsGone]);
}
