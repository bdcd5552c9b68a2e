/**
 * The v1 frame: magic(4) ‖ command(12, NUL padded) ‖ length(4 LE) ‖
 * checksum(4) ‖ payload. Outgoing frames are built in one allocation.
 */
import { WireError } from '../errors.js';
import { ADDR_V1_ENTRY_SIZE, CHECKSUM_OFFSET, COMMAND_SIZE, HEADER_SIZE, LENGTH_OFFSET, MAX_ADDR_PER_MESSAGE, MAX_ADDRV2_SIZE, MAX_MESSAGE_LENGTH } from './constants.js';
import { sha256d } from './checksum.js';
import { guardEncode, writePayload } from './payloads.js';
import { PayloadWriter } from './writer.js';
import type { Message, NetworkParams } from './types.js';

/**
 * Core's IsMessageTypeValid on the 12 command bytes at `o`: printable ASCII
 * (0x20-0x7e) up to the first NUL, only NULs after it. Returns the name's
 * length, or -1 when invalid.
 */
export function commandLength(b: Uint8Array, o: number): number {
  let i = 0;
  for (; i < COMMAND_SIZE; i++) {
    const c = b[o + i]!;
    if (c === 0) break;
    if (c < 0x20 || c > 0x7e) return -1;
  }
  for (let k = i + 1; k < COMMAND_SIZE; k++) if (b[o + k] !== 0) return -1;
  return i;
}

/** The name a header carries: its bytes up to the first NUL (at most 12), as latin1 text. */
export function commandName(b: Uint8Array, o: number): string {
  let n = 0;
  while (n < COMMAND_SIZE && b[o + n] !== 0) n++;
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[o + i]!);
  return s;
}

function checkCommand(command: string): void {
  if (typeof command !== 'string' || command.length > COMMAND_SIZE) {
    throw new WireError('ERR_BAD_COMMAND', `command '${String(command)}' is longer than ${COMMAND_SIZE} characters`);
  }
  for (let i = 0; i < command.length; i++) {
    const c = command.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new WireError('ERR_BAD_COMMAND', `command '${command}' has a non-printable character`);
  }
}

function writeHeader(out: Buffer, net: NetworkParams, command: string, length: number, hashOf: Uint8Array): void {
  out.set(net.magic, 0);
  out.fill(0, 4, LENGTH_OFFSET);
  out.write(command, 4, 'latin1');
  out.writeUInt32LE(length, LENGTH_OFFSET);
  out.set(sha256d(hashOf).subarray(0, 4), CHECKSUM_OFFSET);
}

/**
 * Frames an already-encoded payload. The size is not limited here: a test or
 * simulator may want to send an oversized frame on purpose.
 */
export function frameMessage(net: NetworkParams, command: string, payload: Uint8Array): Buffer {
  checkCommand(command);
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  out.set(payload, HEADER_SIZE);
  writeHeader(out, net, command, payload.length, payload);
  return out;
}

/** Encodes and frames a message in one buffer (the payload is written in place after the header). */
export function encodeMessage(net: NetworkParams, msg: Message): Buffer {
  const command = msg.command === 'unknown' ? msg.name : msg.command;
  checkCommand(command);
  return guardEncode(command, () => {
    const w = new PayloadWriter(HEADER_SIZE + 64, HEADER_SIZE);
    writePayload(w, msg);
    const out = w.result();
    writeHeader(out, net, command, out.length - HEADER_SIZE, out.subarray(HEADER_SIZE));
    return out;
  });
}

/** Largest addrv2 entry: time 4 + services 9 + id 1 + length 3 + 512 + port 2. */
const MAX_ADDRV2_ENTRY_SIZE = 4 + 9 + 1 + 3 + MAX_ADDRV2_SIZE + 2;

/**
 * The largest payload each command can legitimately have. A frame declaring
 * more is reported and its body skipped without being buffered. `version` gets
 * slack over its 344-byte maximum because Core ignores appended fields.
 */
export const MAX_PAYLOAD_LENGTH: Readonly<Record<string, number>> = Object.freeze({
  version: 1000,
  verack: 0,
  sendaddrv2: 0,
  wtxidrelay: 0,
  sendheaders: 0,
  getaddr: 0,
  ping: 8,
  pong: 8,
  feefilter: 8,
  sendcmpct: 9,
  addr: 3 + MAX_ADDR_PER_MESSAGE * ADDR_V1_ENTRY_SIZE,
  addrv2: 3 + MAX_ADDR_PER_MESSAGE * MAX_ADDRV2_ENTRY_SIZE,
});

export function maxPayloadLength(command: string): number {
  return Object.hasOwn(MAX_PAYLOAD_LENGTH, command) ? MAX_PAYLOAD_LENGTH[command]! : MAX_MESSAGE_LENGTH;
}
