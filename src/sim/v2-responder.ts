/**
 * BIP324 on the simulated nodes: a node whose services carry NODE_P2P_V2
 * answers a v2 handshake as a responder, as Core does, and still accepts v1
 * (told from the client's first 16 bytes: magic ‖ "version"). Its messages
 * then go out as encrypted packets. The v2 breakers (behaviours.ts) do their
 * one wrong thing here. `fakev2` advertises the bit but speaks v1 only.
 */
import { randomBytes } from 'node:crypto';
import type { Message } from '../wire/index.js';
import { encodeMessage, frameMessage, makeVersion } from '../wire/index.js';
import { ellswiftCreate, ELLSWIFT_LENGTH, MAX_CONTENTS_LENGTH, MAX_GARBAGE_LENGTH, V2Transport, type EllSwiftKey, type V2TransportOptions } from '../wire/v2/index.js';
import { NODE_P2P_V2 } from '../wire/constants.js';
import type { SimConnection } from './connection.js';
import type { SimNodePlan } from './topology.js';
import { delay, endWhenDrained, send } from './output.js';

/** Most garbage a simulated v2 node sends after its key. */
const SIM_MAX_GARBAGE = 32;

/** Nodes that run a v2 responder (every NODE_P2P_V2 node but the false advertiser and the one that sends raw bytes). */
export function runsV2Responder(node: SimNodePlan): boolean {
  return (node.services & NODE_P2P_V2) !== 0n && node.behaviour !== 'fakev2' && node.behaviour !== 'v2noterminator';
}

/**
 * One key per simulated node, made at its first v2 connection and reused for
 * the next ones. Core makes a fresh key per connection; the simulator saves
 * that ~1.3 ms of CPU per handshake (keygen and ElligatorSwift encoding) on
 * the thread that serves the whole network. Every session still has its own
 * keys: the client's key is fresh each time, and so is the shared secret.
 */
const nodeKeys = new WeakMap<SimNodePlan, EllSwiftKey>();

function nodeKey(node: SimNodePlan): EllSwiftKey {
  let key = nodeKeys.get(node);
  if (key === undefined) nodeKeys.set(node, (key = ellswiftCreate()));
  return key;
}

/** The responder for a new connection, set up as its behaviour wants. */
export function startV2Responder(conn: SimConnection): V2Transport {
  const { rng } = conn.sim;
  // Short garbage (Core draws up to 4,095 bytes): a `slow` node dribbles its
  // output a few bytes at a time, and 4 KB of it would outlast a handshake
  // deadline. Long garbage is the v2longgarbage node's trick (and the
  // transport's tests'); the crawler's own garbage is Core's full range.
  const options: V2TransportOptions = { garbage: rng.int(0, SIM_MAX_GARBAGE), key: nodeKey(conn.node) };
  switch (conn.node.behaviour) {
    case 'v2longgarbage':
      options.garbage = MAX_GARBAGE_LENGTH + 1 + rng.int(0, 2000);
      break;
    case 'v2badtag':
    case 'v2noversion':
      options.versionPacket = false;
      break;
    default:
      break;
  }
  return new V2Transport(conn.sim.net, 'responder', conn, options);
}

/**
 * Our version packet (or what stands in for it) is out. Core would now wait
 * for the client's version; the v2 breakers misbehave here instead.
 */
export function onV2Ready(conn: SimConnection): void {
  const v2 = conn.v2;
  if (v2 === null) return;
  switch (conn.node.behaviour) {
    case 'v2badtag': {
      // The version packet, with one bit of its tag flipped.
      const packet = v2.sendPacket(new Uint8Array(0));
      packet[packet.length - 1] = (packet[packet.length - 1] as number) ^ 0x01;
      conn.mute = true;
      send(conn, packet, delay(conn));
      return;
    }
    case 'v2noversion':
      // The version message where the version packet belongs.
      conn.mute = true;
      send(conn, v2.sendMessage({ command: 'version', payload: makeVersion({ services: conn.node.services, userAgent: conn.node.userAgent }) }), delay(conn));
      return;
    case 'v2oversize':
      conn.mute = true;
      send(conn, v2.sendBogusLength(MAX_CONTENTS_LENGTH + 1 + conn.sim.rng.int(0, 1_000_000)), delay(conn));
      return;
    default:
      return;
  }
}

/** `v2noterminator`: a key and some garbage in answer to the client's first bytes, no terminator, then FIN. */
export function sendKeyWithoutTerminator(conn: SimConnection): void {
  send(conn, randomBytes(ELLSWIFT_LENGTH + conn.sim.rng.int(1, MAX_GARBAGE_LENGTH)), delay(conn));
  endWhenDrained(conn);
}

/** A message as this connection speaks it: a v2 packet, or a v1 frame. */
export function frame(conn: SimConnection, msg: Message): Buffer {
  return conn.v2 !== null ? conn.v2.sendMessage(msg) : encodeMessage(conn.sim.net, msg);
}

/** An already-encoded payload as this connection speaks it. */
export function rawFrame(conn: SimConnection, command: string, payload: Uint8Array): Buffer {
  return conn.v2 !== null ? conn.v2.sendFrame(command, payload) : frameMessage(conn.sim.net, command, payload);
}
