/**
 * One inbound connection to a simulated node: its state, and the socket
 * plumbing (accept, reads into the decoder, close). What the node answers is
 * responder.ts (Core's behaviour and the misbehaviours, misbehaviours.ts);
 * when its output leaves is output.ts.
 *
 * The simulator holds thousands of these at once, so there are no closures
 * per connection: socket events go to module-level handlers that find their
 * state on the socket, and delayed output runs through one timer per
 * connection at a time.
 */
import type { Socket } from 'node:net';
import type { Message, NetworkParams } from '../wire/index.js';
import { MessageDecoder, type MessageSink } from '../wire/index.js';
import type { WireError } from '../errors.js';
import type { LatencyModel } from './latency.js';
import type { SimGossip } from './gossip.js';
import type { Prng } from './prng.js';
import type { SimNodePlan, SimPlan } from './topology.js';
import type { AddressNetwork } from '../wire/types.js';
import { handleMessage, handleWireError } from './responder.js';
import { sendGarbage } from './misbehaviours.js';
import type { SimChurn } from './churn.js';
import { V1_PREFIX_LENGTH, type V2Transport, type V2TransportSink } from '../wire/v2/index.js';
import { commandLength } from '../wire/framing.js';
import { onV2Ready, runsV2Responder, sendKeyWithoutTerminator, startV2Responder } from './v2-responder.js';
import { delay, send } from './output.js';

export type SimViolationKind =
  | 'bytes-before-version' // a message other than version came first (Core ignores it)
  | 'getaddr-before-verack' // getaddr before the client's verack (Core ignores it)
  | 'sendaddrv2-after-verack' // Core disconnects
  | 'wtxidrelay-after-verack' // Core disconnects
  | 'bad-checksum' // message dropped
  | 'wrong-magic' // Core disconnects
  | 'oversized-message' // declared length over 4,000,000: Core disconnects
  | 'second-version' // Core ignores it
  | 'bad-message'; // bad command bytes or a payload that does not decode (dropped)

export interface SimViolation {
  /** The node's address text, "127.100.0.7:18444". */
  node: string;
  kind: SimViolationKind;
  detail: string;
}

/** Network-wide state shared by every connection. */
export interface SimRuntime {
  readonly net: NetworkParams;
  readonly plan: SimPlan;
  readonly rng: Prng;
  readonly latency: LatencyModel | null;
  /** Scheduled downtime and version changes (churn.ts), or null. */
  readonly churn: SimChurn | null;
  /** Mainnet-shaped extras (gossip.ts): full answers, dead addresses, per-node round trips; null: off. */
  readonly gossip: SimGossip | null;
  /**
   * Per node, its latest connection that got a getaddr answer: the sum of
   * the delays the node put before the replies a client waits for (reading,
   * version/verack, the answer and, for a split answer, its gaps; NaN: none
   * yet). The least a client's visit can take on this network, whatever the
   * client does: the benchmark's slot-efficiency reference.
   */
  readonly serveMs: Float64Array;
  readonly connections: Set<SimConnection>;
  openInbound: number;
  /** Inbound connections open now / at most at once, by the network of the node they reached. */
  readonly openByNetwork: Record<AddressNetwork, number>;
  readonly peakByNetwork: Record<AddressNetwork, number>;
  peakInbound: number;
  connectionsAccepted: number;
  /** Connections where the client's verack arrived after its version. */
  handshakes: number;
  getaddrAnswered: number;
  /** Connections a v2 responder completed in v2 / handed to v1 (the client spoke v1). */
  v2Sessions: number;
  v1OnV2Nodes: number;
  /** v2 handshakes a v1-only node turned down (closed on the client's key, as Core without v2 does). */
  v2Refused: number;
  liveSockets: number;
  violations: SimViolation[];
  violationCount: number;
  onAllSocketsClosed: (() => void) | null;
}

const CONN = Symbol('simConnection');
type SimSocket = Socket & { [CONN]?: SimConnection };

export class SimConnection implements MessageSink, V2TransportSink {
  decoder: MessageDecoder | null = null;
  /** The v2 responder while it runs (NODE_P2P_V2 nodes), else null. */
  v2: V2Transport | null = null;
  gotVersion = false;
  gotVerack = false;
  answeredGetaddr = false;
  wantsAddrv2 = false;
  /** min(client version, node version): decides which feature messages go out. */
  commonVersion = 0;
  /** Set once a broken behaviour has done its one trick; further input is only checked. */
  mute = false;
  sentGarbage = false;
  closed = false;
  /** Output scheduler (output.ts): frames waiting, their due times, its one timer. */
  endWhenDrained = false;
  readonly out: Buffer[] = [];
  readonly outDue: number[] = [];
  lastDue = 0;
  timer: NodeJS.Timeout | null = null;
  acceptTimer: NodeJS.Timeout | null = null;
  /**
   * The delays this node put before the replies a client must wait for
   * (reading the connection, the version/verack reply): the getaddr answer's
   * delay is added when it is sent (SimRuntime.serveMs).
   */
  waitedMs = 0;

  constructor(
    readonly socket: Socket,
    readonly node: SimNodePlan,
    readonly sim: SimRuntime,
  ) {}

  onMessage(msg: Message): void {
    handleMessage(this, msg);
  }

  onMessageError(err: WireError, command: string | null, fatal: boolean): void {
    handleWireError(this, err, command, fatal);
  }

  // ---- V2TransportSink ----

  send(data: Buffer): void {
    send(this, data, delay(this));
  }

  onReady(): void {
    onV2Ready(this);
  }

  onVersionPacket(): void {
    this.sim.v2Sessions++;
  }

  /** The client spoke v1 to this v2 node: continue with the v1 decoder on the same bytes. */
  onV1Peer(received: Buffer): void {
    this.v2 = null;
    this.sim.v1OnV2Nodes++;
    this.decoder = new MessageDecoder(this.sim.net, this);
    this.decoder.push(received);
  }

  /** Forgets the connection's state and stops its timers; safe to call twice. */
  release(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.acceptTimer !== null) clearTimeout(this.acceptTimer);
    this.timer = null;
    this.acceptTimer = null;
    this.out.length = 0;
    this.outDue.length = 0;
    this.decoder = null;
    this.v2 = null;
    this.sim.openInbound--;
    this.sim.openByNetwork[this.node.network]--;
    this.sim.connections.delete(this);
  }

  /** The node disconnects at once (as Core does on a stream it cannot follow). */
  drop(): void {
    this.release();
    this.socket.destroy();
  }
}

/** Takes over a freshly accepted socket for `node`. */
export function acceptConnection(sim: SimRuntime, node: SimNodePlan, socket: Socket): void {
  if (sim.churn !== null && sim.churn.isDown(node.index)) {
    // Down for this epoch: the connection is reset as soon as it is accepted.
    socket.on('error', onSocketError);
    socket.resetAndDestroy();
    return;
  }
  const conn = new SimConnection(socket, node, sim);
  (socket as SimSocket)[CONN] = conn;
  sim.connections.add(conn);
  sim.connectionsAccepted++;
  sim.liveSockets++;
  sim.openInbound++;
  if (sim.openInbound > sim.peakInbound) sim.peakInbound = sim.openInbound;
  const open = ++sim.openByNetwork[node.network];
  if (open > sim.peakByNetwork[node.network]) sim.peakByNetwork[node.network] = open;
  socket.setNoDelay(true);
  socket.on('error', onSocketError);
  socket.on('close', onSocketClose);
  // A silent node accepts and never reads or writes: the client's bytes stay in kernel buffers.
  if (node.behaviour === 'silent') return;
  if (sim.latency !== null) {
    conn.waitedMs = sim.latency.sample();
    conn.acceptTimer = setTimeout(startReading, conn.waitedMs, conn);
  }
  else startReading(conn);
}

/**
 * The first 16 bytes of a connection are not a v1 header start: not our magic,
 * and no valid command after it (a v1 frame of another network has one; a
 * random 64-byte key has one with probability about 2^-60).
 */
function looksLikeV2Key(conn: SimConnection, chunk: Buffer): boolean {
  if (chunk.length < V1_PREFIX_LENGTH) return false;
  const magic = conn.sim.net.magic;
  if (chunk[0] === magic[0] && chunk[1] === magic[1] && chunk[2] === magic[2] && chunk[3] === magic[3]) return false;
  return commandLength(chunk, 4) < 0;
}

/** Forgets the connection's state and stops its timers; safe to call twice. */
export function releaseConnection(conn: SimConnection): void {
  conn.release();
}

function startReading(conn: SimConnection): void {
  conn.acceptTimer = null;
  if (conn.closed) return;
  if (runsV2Responder(conn.node)) conn.v2 = startV2Responder(conn);
  else conn.decoder = new MessageDecoder(conn.sim.net, conn);
  conn.socket.on('data', onSocketData);
}

function onSocketData(this: SimSocket, chunk: Buffer): void {
  const conn = this[CONN];
  if (conn === undefined || conn.closed) return;
  if (conn.node.behaviour === 'v2noterminator') {
    // Its one trick, once; it never decodes what the client says.
    if (!conn.sentGarbage) sendKeyWithoutTerminator(conn);
    conn.sentGarbage = true;
    return;
  }
  if (conn.node.behaviour === 'garbage' && !conn.sentGarbage) {
    conn.sentGarbage = true;
    conn.mute = true;
    sendGarbage(conn);
  }
  // v2 first (a v1 client makes it hand over to the decoder, inside this push).
  if (conn.v2 !== null) return conn.v2.push(chunk);
  if (conn.decoder === null) return;
  if (conn.decoder.messagesDecoded === 0 && conn.decoder.messagesRejected === 0 && conn.decoder.bufferedBytes === 0 && looksLikeV2Key(conn, chunk)) {
    // A BIP324 key at a v1-only node: Core without v2 disconnects (wrong
    // message start) and the client retries with v1. Not a violation.
    conn.sim.v2Refused++;
    return conn.drop();
  }
  conn.decoder.push(chunk);
}

function onSocketError(this: SimSocket): void {
  // ECONNRESET and friends: the client went away. 'close' follows and cleans up.
}

function onSocketClose(this: SimSocket): void {
  const conn = this[CONN];
  if (conn === undefined) return;
  conn.release();
  const sim = conn.sim;
  sim.liveSockets--;
  if (sim.liveSockets === 0 && sim.onAllSocketsClosed !== null) sim.onAllSocketsClosed();
}
