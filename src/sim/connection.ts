/**
 * One inbound connection to a simulated node: the node's side of the
 * protocol (as Bitcoin Core behaves, FACTS §4, §6, §10) and its misbehaviour.
 *
 * The simulator holds thousands of these at once, so there are no closures
 * per connection: socket events go to module-level handlers that find their
 * state on the socket, and delayed output runs through one timer per
 * connection at a time.
 */
import type { Socket } from 'node:net';
import type { AddrEntry, Message, NetworkParams } from '../wire/index.js';
import { encodeMessage, encodePayload, frameMessage, makeVersion, MessageDecoder, type MessageSink } from '../wire/index.js';
import type { WireError } from '../errors.js';
import type { LatencyModel } from './latency.js';
import type { Prng } from './prng.js';
import type { NonIpAddress, SimNodePlan, SimPlan } from './topology.js';
import { speaksAddrv2 } from './behaviours.js';

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

/** The first getaddr answer Core sends holds at most this many entries (MAX_ADDR_TO_SEND). */
export const MAX_ADDR_TO_SEND = 1000;
/** Versions below this are disconnected by Core (MIN_PEER_PROTO_VERSION). */
const MIN_PEER_PROTO_VERSION = 31800;
/** Keep at most this many violation records; further ones are only counted. */
export const MAX_VIOLATIONS_KEPT = 10_000;
/** `slow` nodes write 1..SLOW_MAX_BYTES bytes every SLOW_TICK_MS. */
const SLOW_MAX_BYTES = 8;
const SLOW_TICK_MS = 2;
/** `chatty` spreads its getaddr answer over this many messages, this far apart. */
const CHATTY_PARTS = 3;
const CHATTY_GAP_MS = 10;

/** Network-wide state shared by every connection. */
export interface SimRuntime {
  readonly net: NetworkParams;
  readonly plan: SimPlan;
  readonly rng: Prng;
  readonly latency: LatencyModel | null;
  readonly connections: Set<SimConnection>;
  openInbound: number;
  peakInbound: number;
  connectionsAccepted: number;
  /** Connections where the client's verack arrived after its version. */
  handshakes: number;
  getaddrAnswered: number;
  liveSockets: number;
  violations: SimViolation[];
  violationCount: number;
  onAllSocketsClosed: (() => void) | null;
}

const CONN = Symbol('simConnection');
type SimSocket = Socket & { [CONN]?: SimConnection };

export class SimConnection implements MessageSink {
  decoder: MessageDecoder | null = null;
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
  endWhenDrained = false;
  readonly out: Buffer[] = [];
  readonly outDue: number[] = [];
  lastDue = 0;
  timer: NodeJS.Timeout | null = null;
  acceptTimer: NodeJS.Timeout | null = null;

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
}

/** Takes over a freshly accepted socket for `node`. */
export function acceptConnection(sim: SimRuntime, node: SimNodePlan, socket: Socket): void {
  const conn = new SimConnection(socket, node, sim);
  (socket as SimSocket)[CONN] = conn;
  sim.connections.add(conn);
  sim.connectionsAccepted++;
  sim.liveSockets++;
  sim.openInbound++;
  if (sim.openInbound > sim.peakInbound) sim.peakInbound = sim.openInbound;
  socket.setNoDelay(true);
  socket.on('error', onSocketError);
  socket.on('close', onSocketClose);
  // A silent node accepts and never reads or writes: the client's bytes stay in kernel buffers.
  if (node.behaviour === 'silent') return;
  if (sim.latency !== null) conn.acceptTimer = setTimeout(startReading, sim.latency.sample(), conn);
  else startReading(conn);
}

function startReading(conn: SimConnection): void {
  conn.acceptTimer = null;
  if (conn.closed) return;
  conn.decoder = new MessageDecoder(conn.sim.net, conn);
  conn.socket.on('data', onSocketData);
}

function onSocketData(this: SimSocket, chunk: Buffer): void {
  const conn = this[CONN];
  if (conn === undefined || conn.closed || conn.decoder === null) return;
  if (conn.node.behaviour === 'garbage' && !conn.sentGarbage) {
    conn.sentGarbage = true;
    conn.mute = true;
    sendGarbage(conn);
  }
  conn.decoder.push(chunk);
}

function onSocketError(this: SimSocket): void {
  // ECONNRESET and friends: the client went away. 'close' follows and cleans up.
}

function onSocketClose(this: SimSocket): void {
  const conn = this[CONN];
  if (conn === undefined) return;
  releaseConnection(conn);
  const sim = conn.sim;
  sim.liveSockets--;
  if (sim.liveSockets === 0 && sim.onAllSocketsClosed !== null) sim.onAllSocketsClosed();
}

/** Forgets the connection's state and stops its timers; safe to call twice. */
export function releaseConnection(conn: SimConnection): void {
  if (conn.closed) return;
  conn.closed = true;
  if (conn.timer !== null) clearTimeout(conn.timer);
  if (conn.acceptTimer !== null) clearTimeout(conn.acceptTimer);
  conn.timer = null;
  conn.acceptTimer = null;
  conn.out.length = 0;
  conn.outDue.length = 0;
  conn.decoder = null;
  conn.sim.openInbound--;
  conn.sim.connections.delete(conn);
}

function drop(conn: SimConnection): void {
  releaseConnection(conn);
  conn.socket.destroy();
}

function violation(conn: SimConnection, kind: SimViolationKind, detail: string): void {
  const sim = conn.sim;
  sim.violationCount++;
  if (sim.violations.length < MAX_VIOLATIONS_KEPT) sim.violations.push({ node: conn.node.addr, kind, detail });
}

function handleWireError(conn: SimConnection, err: WireError, command: string | null, fatal: boolean): void {
  const what = command === null ? '' : ` (${command})`;
  switch (err.code) {
    case 'ERR_BAD_MAGIC':
      violation(conn, 'wrong-magic', err.message);
      break;
    case 'ERR_MESSAGE_TOO_LARGE':
      violation(conn, 'oversized-message', err.message + what);
      break;
    case 'ERR_BAD_CHECKSUM':
      violation(conn, 'bad-checksum', `checksum mismatch${what}`);
      break;
    default:
      violation(conn, 'bad-message', `${err.code}${what}: ${err.message}`);
  }
  // Core disconnects on a stream it cannot follow; everything else is a dropped message.
  if (fatal) drop(conn);
}

function handleMessage(conn: SimConnection, msg: Message): void {
  if (conn.closed) return;
  const node = conn.node;
  if (!conn.gotVersion) {
    if (msg.command !== 'version') {
      violation(conn, 'bytes-before-version', `'${commandName(msg)}' before version`);
      return;
    }
    conn.gotVersion = true;
    if (msg.payload.version < MIN_PEER_PROTO_VERSION) {
      drop(conn);
      return;
    }
    conn.commonVersion = Math.min(msg.payload.version, node.protocolVersion);
    if (!conn.mute) answerVersion(conn);
    return;
  }
  switch (msg.command) {
    case 'version':
      violation(conn, 'second-version', 'redundant version message');
      return;
    case 'verack':
      if (conn.gotVerack || conn.mute) return;
      conn.gotVerack = true;
      conn.sim.handshakes++;
      afterVerack(conn);
      return;
    case 'sendaddrv2':
      if (conn.gotVerack) {
        violation(conn, 'sendaddrv2-after-verack', 'sendaddrv2 received after verack');
        // A pre-BIP155 node does not know the command and so ignores it.
        if (speaksAddrv2(node.behaviour)) drop(conn);
        return;
      }
      if (speaksAddrv2(node.behaviour)) conn.wantsAddrv2 = true;
      return;
    case 'wtxidrelay':
      if (conn.gotVerack) {
        violation(conn, 'wtxidrelay-after-verack', 'wtxidrelay received after verack');
        if (conn.commonVersion >= 70016) drop(conn);
      }
      return;
    case 'getaddr':
      if (!conn.gotVerack) {
        violation(conn, 'getaddr-before-verack', 'getaddr before verack is ignored');
        return;
      }
      // Once per connection (Core: 'Ignoring repeated "getaddr"').
      if (conn.answeredGetaddr || conn.mute) return;
      conn.answeredGetaddr = true;
      conn.sim.getaddrAnswered++;
      answerGetaddr(conn);
      return;
    case 'ping':
      // Before the client's verack Core processes only negotiation messages (FACTS §4.6);
      // a pre-BIP31 ping (no nonce) expects no pong.
      if (conn.mute || !conn.gotVerack || msg.empty === true) return;
      send(conn, encodeMessage(conn.sim.net, { command: 'pong', nonce: msg.nonce }), delay(conn));
      return;
    default:
      // Unknown and other commands: ignored, as Core does.
      return;
  }
}

function commandName(msg: Message): string {
  return msg.command === 'unknown' ? msg.name : msg.command;
}

function versionFrame(conn: SimConnection): Buffer {
  const node = conn.node;
  const version = makeVersion({
    version: node.protocolVersion,
    services: node.services,
    timestamp: BigInt(Math.floor(Date.now() / 1000)),
    nonce: conn.sim.rng.nextU64(),
    userAgent: node.userAgent,
    startHeight: node.startHeight,
    relay: node.relay,
  });
  return encodeMessage(conn.sim.net, { command: 'version', payload: version });
}

function answerVersion(conn: SimConnection): void {
  const net = conn.sim.net;
  switch (conn.node.behaviour) {
    case 'oversized':
      conn.mute = true;
      send(conn, oversizedFrame(conn), delay(conn));
      return;
    case 'dropafterversion':
      conn.mute = true;
      send(conn, versionFrame(conn), delay(conn));
      endWhenDrained(conn);
      return;
    default:
      break;
  }
  const frames: Buffer[] = [versionFrame(conn)];
  if (conn.node.behaviour === 'badchecksum') {
    const v = frames[0] as Buffer;
    v[20] = (v[20] as number) ^ 0xff; // checksum occupies header bytes 20..23
  }
  // Core sends wtxidrelay and sendaddrv2 only when the common version is >= 70016 (FACTS §4).
  if (conn.commonVersion >= 70016 && speaksAddrv2(conn.node.behaviour)) {
    frames.push(encodeMessage(net, { command: 'wtxidrelay' }), encodeMessage(net, { command: 'sendaddrv2' }));
  }
  frames.push(encodeMessage(net, { command: 'verack' }));
  send(conn, Buffer.concat(frames), delay(conn));
}

function afterVerack(conn: SimConnection): void {
  const net = conn.sim.net;
  const frames: Buffer[] = [];
  if (conn.commonVersion >= 70014) frames.push(encodeMessage(net, { command: 'sendcmpct', announce: false, cmpctVersion: 2n }));
  if (conn.node.behaviour === 'chatty') {
    // Core announces itself in a one-entry message before any getaddr batch, and pings at once.
    const self = ipv4Entry(conn.node, nowSeconds());
    frames.push(encodeMessage(net, { command: conn.wantsAddrv2 ? 'addrv2' : 'addr', entries: [self] }));
    frames.push(encodeMessage(net, { command: 'ping', nonce: conn.sim.rng.nextU64() }));
  }
  if (frames.length > 0) send(conn, Buffer.concat(frames), delay(conn));
}

function answerGetaddr(conn: SimConnection): void {
  const { node, sim } = conn;
  if (node.behaviour === 'badchecksum') return; // never trusted (its version never decodes), so never heard
  const command = conn.wantsAddrv2 ? 'addrv2' : 'addr';
  const entries = getaddrEntries(conn);
  const wait = delay(conn);
  if (node.behaviour === 'toomany') {
    send(conn, tooManyFrame(conn, command, entries), wait);
    return;
  }
  if (entries.length > MAX_ADDR_TO_SEND) entries.length = MAX_ADDR_TO_SEND;
  if (node.behaviour === 'chatty' && entries.length > 1) {
    const per = Math.ceil(entries.length / CHATTY_PARTS);
    for (let i = 0, part = 0; i < entries.length; i += per, part++) {
      send(conn, encodeMessage(sim.net, { command, entries: entries.slice(i, i + per) }), wait + part * CHATTY_GAP_MS);
    }
    return;
  }
  send(conn, encodeMessage(sim.net, { command, entries }), wait);
}

function getaddrEntries(conn: SimConnection): AddrEntry[] {
  const { node, sim } = conn;
  const now = nowSeconds();
  const nodes = sim.plan.nodes;
  const entries: AddrEntry[] = [];
  for (const p of node.peers) {
    const peer = nodes[p];
    if (peer !== undefined) entries.push(ipv4Entry(peer, now - sim.rng.int(0, 3 * 86400)));
  }
  // Tor v3, I2P and CJDNS cannot be written in v1 addr: Core sends them only in addrv2.
  if (conn.wantsAddrv2) {
    for (const k of node.nonIp) {
      const a = sim.plan.nonIp[k];
      if (a !== undefined) entries.push(nonIpEntry(a, now - sim.rng.int(0, 3 * 86400)));
    }
  }
  return entries;
}

function ipv4Entry(node: SimNodePlan, time: number): AddrEntry {
  const v = node.ipInt;
  const bytes = new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  return { time, services: node.services, address: { network: 'ipv4', bytes, port: node.port }, networkId: 1 };
}

const NETWORK_ID: Record<NonIpAddress['network'], number> = { onion: 4, i2p: 5, cjdns: 6 };

function nonIpEntry(a: NonIpAddress, time: number): AddrEntry {
  return { time, services: 0x409n, address: { network: a.network, bytes: a.bytes, port: a.port }, networkId: NETWORK_ID[a.network] };
}

/**
 * `toomany`: one addr/addrv2 message with 1,001+ entries, more than the codec
 * will encode in one go (and more than Core accepts). Encode two legal
 * payloads and join their entry lists under one count.
 */
function tooManyFrame(conn: SimConnection, command: 'addr' | 'addrv2', known: AddrEntry[]): Buffer {
  const { sim } = conn;
  const total = MAX_ADDR_TO_SEND + 1 + sim.rng.int(0, 99);
  const entries = known.slice(0, total);
  const now = nowSeconds();
  // Fillers: loopback addresses in 127.99.0.0/16 on the refused port, where nothing listens.
  for (let i = 0; entries.length < total; i++) {
    const bytes = new Uint8Array([127, 99, (i >>> 8) & 0xff, 1 + (i & 0x7f)]);
    entries.push({ time: now, services: 0x409n, address: { network: 'ipv4', bytes, port: sim.plan.ports.refused }, networkId: 1 });
  }
  const head = encodePayload({ command, entries: entries.slice(0, MAX_ADDR_TO_SEND) });
  const tail = encodePayload({ command, entries: entries.slice(MAX_ADDR_TO_SEND) });
  // head starts with CompactSize(1000) = fd e8 03; tail's count (< 253) is one byte.
  const count = Buffer.from([0xfd, total & 0xff, total >>> 8]);
  const payload = Buffer.concat([count, head.subarray(3), tail.subarray(1)]);
  return frameMessage(sim.net, command, payload);
}

/** A header whose declared payload length is over MAX_MESSAGE_LENGTH (4,000,000), then a few bytes. */
function oversizedFrame(conn: SimConnection): Buffer {
  const { net, rng } = conn.sim;
  const frame = Buffer.alloc(24 + 64);
  frame.set(net.magic, 0);
  frame.write('version', 4, 'ascii');
  frame.writeUInt32LE(4_000_001 + rng.int(0, 1_000_000), 16);
  rng.fill(frame.subarray(20));
  return frame;
}

function sendGarbage(conn: SimConnection): void {
  const bytes = Buffer.alloc(conn.sim.rng.int(64, 512));
  conn.sim.rng.fill(bytes);
  // Never start with the network's first magic byte, so no client can mistake it for a frame.
  if (bytes[0] === conn.sim.net.magic[0]) bytes[0] = (bytes[0] as number) ^ 0xff;
  send(conn, bytes, delay(conn));
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function delay(conn: SimConnection): number {
  return conn.sim.latency === null ? 0 : conn.sim.latency.sample();
}

/**
 * Queues bytes to go out `delayMs` from now, after everything queued before
 * (replies never overtake each other). Undelayed output from a node that is
 * not slow goes straight to the socket.
 */
function send(conn: SimConnection, bytes: Buffer, delayMs: number): void {
  if (conn.closed) return;
  const slow = conn.node.behaviour === 'slow';
  if (delayMs <= 0 && !slow && conn.out.length === 0) {
    conn.socket.write(bytes);
    return;
  }
  const due = Math.max(Date.now() + delayMs, conn.lastDue);
  conn.lastDue = due;
  conn.out.push(bytes);
  conn.outDue.push(due);
  if (conn.timer === null) armTimer(conn, due - Date.now());
}

function endWhenDrained(conn: SimConnection): void {
  if (conn.closed) return;
  if (conn.out.length === 0) conn.socket.end();
  else conn.endWhenDrained = true;
}

function armTimer(conn: SimConnection, ms: number): void {
  conn.timer = setTimeout(drainOutput, Math.max(0, ms), conn);
}

function drainOutput(conn: SimConnection): void {
  conn.timer = null;
  if (conn.closed) return;
  const slow = conn.node.behaviour === 'slow';
  const now = Date.now();
  while (conn.out.length > 0 && (conn.outDue[0] as number) <= now) {
    const head = conn.out[0] as Buffer;
    if (slow) {
      const n = Math.min(head.length, conn.sim.rng.int(1, SLOW_MAX_BYTES));
      conn.socket.write(head.subarray(0, n));
      if (n === head.length) {
        conn.out.shift();
        conn.outDue.shift();
      } else {
        conn.out[0] = head.subarray(n);
      }
      if (conn.out.length > 0) armTimer(conn, SLOW_TICK_MS);
      else if (conn.endWhenDrained) conn.socket.end();
      return;
    }
    conn.socket.write(head);
    conn.out.shift();
    conn.outDue.shift();
  }
  if (conn.out.length > 0) armTimer(conn, (conn.outDue[0] as number) - now);
  else if (conn.endWhenDrained) conn.socket.end();
}
