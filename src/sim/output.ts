/**
 * When a simulated node's output leaves: after a sampled latency, in order
 * (replies never overtake each other), and for `slow` nodes a few bytes at a
 * time. One timer per connection at a time, never one per frame.
 */
import type { SimConnection } from './connection.js';

/**
 * `slow` nodes are a slow link: 1..SLOW_MAX_BYTES bytes every SLOW_TICK_MS
 * of wall time. A tick that fires late (a busy event loop) writes the ticks
 * it missed too, up to SLOW_MAX_BURST bytes, so the link's speed does not
 * depend on how busy the machine is: counted in timer turns, a ~200-byte
 * handshake took ~45 turns and, under load, longer than any sane timeout.
 */
const SLOW_MAX_BYTES = 8;
const SLOW_TICK_MS = 2;
const SLOW_MAX_BURST = 64;
/** When each slow connection last wrote (wall ms). */
const slowLastWrite = new WeakMap<SimConnection, number>();

/** This reply's latency: a sample of the network's model (0 without one) plus the node's round trip (gossip.ts). */
export function delay(conn: SimConnection): number {
  const { latency, gossip } = conn.sim;
  return (latency === null ? 0 : latency.sample()) + (gossip === null ? 0 : gossip.rttOf(conn.node.index));
}

/**
 * Queues bytes to go out `delayMs` from now, after everything queued before.
 * Undelayed output from a node that is not slow goes straight to the socket.
 */
export function send(conn: SimConnection, bytes: Buffer, delayMs: number): void {
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

/** Closes our side (FIN) once everything queued has been written. */
export function endWhenDrained(conn: SimConnection): void {
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
      // Ticks missed since the last write, or since this frame was due (an idle link owes nothing).
      const since = Math.max(slowLastWrite.get(conn) ?? 0, conn.outDue[0] as number);
      const ticks = Math.max(1, Math.floor((now - since) / SLOW_TICK_MS));
      slowLastWrite.set(conn, now);
      const n = Math.min(head.length, SLOW_MAX_BURST, conn.sim.rng.int(1, SLOW_MAX_BYTES) * ticks);
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
