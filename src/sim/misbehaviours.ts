/**
 * The bytes of misbehaving simulated nodes: what no correct node sends. Which
 * node misbehaves when is decided by the responder (responder.ts).
 */
import type { AddrEntry } from '../wire/index.js';
import { CHECKSUM_OFFSET, encodePayload, HEADER_SIZE, LENGTH_OFFSET, MAX_ADDR_PER_MESSAGE, MAX_MESSAGE_LENGTH, NETWORK_ID } from '../wire/index.js';
import type { SimConnection } from './connection.js';
import { delay, send } from './output.js';
import { rawFrame } from './v2-responder.js';

/** `garbage`: random bytes in answer to the client's first bytes. */
export function sendGarbage(conn: SimConnection): void {
  const bytes = Buffer.alloc(conn.sim.rng.int(64, 512));
  conn.sim.rng.fill(bytes);
  // Never start with the network's first magic byte, so no client can mistake it for a frame.
  if (bytes[0] === conn.sim.net.magic[0]) bytes[0] = (bytes[0] as number) ^ 0xff;
  send(conn, bytes, delay(conn));
}

/** `badchecksum`: flips the first checksum byte of a frame, in place. */
export function corruptChecksum(frame: Buffer): void {
  frame[CHECKSUM_OFFSET] = (frame[CHECKSUM_OFFSET] as number) ^ 0xff;
}

/** `oversized`: a header whose declared payload length is over MAX_MESSAGE_LENGTH, then a few bytes. */
export function oversizedFrame(conn: SimConnection): Buffer {
  const { net, rng } = conn.sim;
  const frame = Buffer.alloc(HEADER_SIZE + 64);
  frame.set(net.magic, 0);
  frame.write('version', 4, 'ascii');
  frame.writeUInt32LE(MAX_MESSAGE_LENGTH + 1 + rng.int(0, 1_000_000), LENGTH_OFFSET);
  rng.fill(frame.subarray(CHECKSUM_OFFSET));
  return frame;
}

/**
 * `toomany`: one addr/addrv2 message with 1,001+ entries, more than the codec
 * will encode in one go (and more than Core accepts). Encode two legal
 * payloads and join their entry lists under one count.
 */
export function tooManyFrame(conn: SimConnection, command: 'addr' | 'addrv2', known: AddrEntry[], now: number): Buffer {
  const { sim } = conn;
  const total = MAX_ADDR_PER_MESSAGE + 1 + sim.rng.int(0, 99);
  const entries = known.slice(0, total);
  // Fillers: loopback addresses in 127.99.0.0/16 on the refused port, where nothing listens.
  for (let i = 0; entries.length < total; i++) {
    const bytes = new Uint8Array([127, 99, (i >>> 8) & 0xff, 1 + (i & 0x7f)]);
    entries.push({ time: now, services: 0x409n, address: { network: 'ipv4', bytes, port: sim.plan.ports.refused }, networkId: NETWORK_ID.ipv4 });
  }
  const head = encodePayload({ command, entries: entries.slice(0, MAX_ADDR_PER_MESSAGE) });
  const tail = encodePayload({ command, entries: entries.slice(MAX_ADDR_PER_MESSAGE) });
  // head starts with CompactSize(1000) = fd e8 03; tail's count (< 253) is one byte.
  const count = Buffer.from([0xfd, total & 0xff, total >>> 8]);
  const payload = Buffer.concat([count, head.subarray(3), tail.subarray(1)]);
  return rawFrame(conn, command, payload);
}
