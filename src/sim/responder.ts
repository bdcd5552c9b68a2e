/**
 * What a simulated node answers, as Bitcoin Core 31.x does (FACTS §4, §6,
 * §10): the version/verack handshake with feature negotiation, one getaddr
 * answer per connection, pongs; and where its behaviour says so, the
 * misbehaviours (misbehaviours.ts). It also checks the client: every
 * protocol violation Core would notice is recorded, and the node disconnects
 * where Core would.
 */
import type { AddrEntry, Message } from '../wire/index.js';
import { makeVersion, MAX_ADDR_PER_MESSAGE, MIN_PEER_PROTO_VERSION, NETWORK_ID, SHORT_IDS_BLOCKS_VERSION, WTXID_RELAY_VERSION } from '../wire/index.js';
import type { WireError } from '../errors.js';
import type { SimConnection, SimViolationKind } from './connection.js';
import { needsAddrv2, type NonIpAddress, type SimNodePlan } from './topology.js';
import { speaksAddrv2 } from './behaviours.js';
import { corruptChecksum, oversizedFrame, tooManyFrame } from './misbehaviours.js';
import { delay, endWhenDrained, send } from './output.js';
import { frame } from './v2-responder.js';

/** Keep at most this many violation records; further ones are only counted. */
export const MAX_VIOLATIONS_KEPT = 10_000;
/** `chatty` spreads its getaddr answer over this many messages, this far apart. */
const CHATTY_PARTS = 3;
const CHATTY_GAP_MS = 10;
/** Services announced for the non-IP addresses a node gossips. */
const GOSSIPED_SERVICES = 0x409n;

function violation(conn: SimConnection, kind: SimViolationKind, detail: string): void {
  const sim = conn.sim;
  sim.violationCount++;
  if (sim.violations.length < MAX_VIOLATIONS_KEPT) sim.violations.push({ node: conn.node.addr, kind, detail });
}

export function handleWireError(conn: SimConnection, err: WireError, command: string | null, fatal: boolean): void {
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
  if (fatal) conn.drop();
}

export function handleMessage(conn: SimConnection, msg: Message): void {
  if (conn.closed) return;
  const node = conn.node;
  if (!conn.gotVersion) {
    if (msg.command !== 'version') {
      violation(conn, 'bytes-before-version', `'${commandName(msg)}' before version`);
      return;
    }
    conn.gotVersion = true;
    if (msg.payload.version < MIN_PEER_PROTO_VERSION) {
      conn.drop();
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
        if (speaksAddrv2(node.behaviour)) conn.drop();
        return;
      }
      if (speaksAddrv2(node.behaviour)) conn.wantsAddrv2 = true;
      return;
    case 'wtxidrelay':
      if (conn.gotVerack) {
        violation(conn, 'wtxidrelay-after-verack', 'wtxidrelay received after verack');
        if (conn.commonVersion >= WTXID_RELAY_VERSION) conn.drop();
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
      send(conn, frame(conn, { command: 'pong', nonce: msg.nonce }), delay(conn));
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
  const id = conn.sim.churn === null ? node : conn.sim.churn.identity(node);
  const version = makeVersion({
    version: id.protocolVersion,
    services: node.services,
    timestamp: BigInt(nowSeconds()),
    nonce: conn.sim.rng.nextU64(),
    userAgent: id.userAgent,
    startHeight: node.startHeight,
    relay: node.relay,
  });
  return frame(conn, { command: 'version', payload: version });
}

function answerVersion(conn: SimConnection): void {
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
  if (conn.node.behaviour === 'badchecksum') corruptChecksum(frames[0] as Buffer);
  // Core sends wtxidrelay and sendaddrv2 only when the common version is >= 70016 (FACTS §4).
  if (conn.commonVersion >= WTXID_RELAY_VERSION && speaksAddrv2(conn.node.behaviour)) {
    frames.push(frame(conn, { command: 'wtxidrelay' }), frame(conn, { command: 'sendaddrv2' }));
  }
  frames.push(frame(conn, { command: 'verack' }));
  const wait = delay(conn);
  conn.waitedMs += wait;
  send(conn, Buffer.concat(frames), wait);
}

function afterVerack(conn: SimConnection): void {
  const frames: Buffer[] = [];
  if (conn.commonVersion >= SHORT_IDS_BLOCKS_VERSION) frames.push(frame(conn, { command: 'sendcmpct', announce: false, cmpctVersion: 2n }));
  if (conn.node.behaviour === 'chatty') {
    // Core announces itself in a one-entry message before any getaddr batch, and pings at once.
    const self = entryFor(conn, conn.node, nowSeconds());
    if (self !== null) frames.push(frame(conn, { command: conn.wantsAddrv2 ? 'addrv2' : 'addr', entries: [self] }));
    frames.push(frame(conn, { command: 'ping', nonce: conn.sim.rng.nextU64() }));
  }
  if (frames.length > 0) send(conn, Buffer.concat(frames), delay(conn));
}

function answerGetaddr(conn: SimConnection): void {
  const { node, sim } = conn;
  if (node.behaviour === 'badchecksum') return; // never trusted (its version never decodes), so never heard
  const command = conn.wantsAddrv2 ? 'addrv2' : 'addr';
  const entries = getaddrEntries(conn);
  const wait = delay(conn);
  // The least a visit to this node takes: every delay the client had to wait through.
  const parts = node.behaviour === 'chatty' && entries.length > 1 ? Math.min(CHATTY_PARTS, entries.length) : 1;
  // Replies never overtake each other (output.ts): the answer leaves no sooner than what is still
  // queued ahead of it (the reply to the client's verack, sent with a delay of its own), so the
  // client waits for the later of the two. Counting only the answer's own delay made the least
  // time too short by E[(a - b)+] for two independent delays (~90 ms on the reference network).
  const behind = conn.out.length > 0 ? Math.max(0, conn.lastDue - Date.now()) : 0;
  const answered = Math.max(wait + (parts - 1) * CHATTY_GAP_MS, behind);
  // A Tor / I2P node's connect delay through its front (gossip.overlay) comes first: the client waited through it too.
  sim.serveMs[node.index] = (sim.gossip?.connectDelayOf(node.index) ?? 0) + conn.waitedMs + answered;
  if (node.behaviour === 'toomany') {
    send(conn, tooManyFrame(conn, command, entries, nowSeconds()), wait);
    return;
  }
  // The first getaddr answer Core sends holds at most MAX_ADDR_TO_SEND entries.
  if (entries.length > MAX_ADDR_PER_MESSAGE) entries.length = MAX_ADDR_PER_MESSAGE;
  if (node.behaviour === 'chatty' && entries.length > 1) {
    const per = Math.ceil(entries.length / CHATTY_PARTS);
    for (let i = 0, part = 0; i < entries.length; i += per, part++) {
      send(conn, frame(conn, { command, entries: entries.slice(i, i + per) }), wait + part * CHATTY_GAP_MS);
    }
    return;
  }
  send(conn, frame(conn, { command, entries }), wait);
}

function getaddrEntries(conn: SimConnection): AddrEntry[] {
  const { node, sim } = conn;
  const now = nowSeconds();
  const nodes = sim.plan.nodes;
  const entries: AddrEntry[] = [];
  for (const p of node.peers) {
    const peer = nodes[p];
    if (peer === undefined) continue;
    const entry = entryFor(conn, peer, now - sim.rng.int(0, 3 * 86400));
    if (entry !== null) entries.push(entry);
  }
  // Tor v3, I2P and CJDNS cannot be written in v1 addr: Core sends them only in addrv2.
  if (conn.wantsAddrv2) {
    for (const k of node.nonIp) {
      const a = sim.plan.nonIp[k];
      if (a !== undefined) entries.push(nonIpEntry(a, now - sim.rng.int(0, 3 * 86400)));
    }
  }
  if (sim.gossip !== null) sim.gossip.pad(entries, sim.plan, sim.rng, conn.wantsAddrv2, now);
  return entries;
}

function ipv4Entry(node: SimNodePlan, time: number): AddrEntry {
  const v = node.ipInt;
  const bytes = new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
  return { time, services: node.services, address: { network: 'ipv4', bytes, port: node.port }, networkId: NETWORK_ID.ipv4 };
}

/** The entry announcing `node`, or null when this connection's format cannot carry its network (Tor/I2P/CJDNS in v1 addr). */
function entryFor(conn: SimConnection, node: SimNodePlan, time: number): AddrEntry | null {
  if (node.network === 'ipv4') return ipv4Entry(node, time);
  if (needsAddrv2(node.network) && !conn.wantsAddrv2) return null;
  return { time, services: node.services, address: node.address, networkId: NETWORK_ID[node.network] };
}

function nonIpEntry(a: NonIpAddress, time: number): AddrEntry {
  return { time, services: GOSSIPED_SERVICES, address: { network: a.network, bytes: a.bytes, port: a.port }, networkId: NETWORK_ID[a.network] };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
