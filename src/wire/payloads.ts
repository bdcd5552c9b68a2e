/**
 * Payload codecs for every message a crawler handles, one dispatcher each
 * way. Unknown but well-formed commands pass through untouched.
 */
import { WireError } from '../errors.js';
import { decodeAddrV1, decodeAddrV2, encodeAddrV1, encodeAddrV2 } from './addr-codec.js';
import { AddrMessage } from './addr-message.js';
import { i64le, u64le } from './bytes.js';
import { decodeVersion, encodeVersion } from './version.js';
import { PayloadWriter } from './writer.js';
import type { Command, Message } from './types.js';

/** Every command with a decoded payload. */
export const KNOWN_COMMANDS: ReadonlySet<Command> = new Set<Command>([
  'version',
  'verack',
  'sendaddrv2',
  'wtxidrelay',
  'sendheaders',
  'getaddr',
  'sendcmpct',
  'feefilter',
  'ping',
  'pong',
  'addr',
  'addrv2',
]);

export function isKnownCommand(name: string): name is Command {
  return KNOWN_COMMANDS.has(name as Command);
}

function expectEmpty(command: string, p: Uint8Array): void {
  if (p.length !== 0) throw new WireError('ERR_TRAILING_BYTES', `${command}: expected an empty payload, got ${p.length} bytes`);
}

function expectLength(command: string, p: Uint8Array, n: number): void {
  if (p.length < n) throw new WireError('ERR_TRUNCATED', `${command}: payload of ${p.length} bytes, needs ${n}`);
  if (p.length > n) throw new WireError('ERR_TRAILING_BYTES', `${command}: ${p.length - n} unexpected bytes after the last field`);
}

// Frozen singletons: the empty messages carry no data, so one object each serves every decode.
const VERACK: Message = Object.freeze({ command: 'verack' });
const SENDADDRV2: Message = Object.freeze({ command: 'sendaddrv2' });
const WTXIDRELAY: Message = Object.freeze({ command: 'wtxidrelay' });
const SENDHEADERS: Message = Object.freeze({ command: 'sendheaders' });
const GETADDR: Message = Object.freeze({ command: 'getaddr' });
const EMPTY_PING: Message = Object.freeze({ command: 'ping', nonce: 0n, empty: true });

/**
 * Decodes one payload. Throws a WireError (never anything else) for a
 * malformed payload. A command we do not parse comes back as
 * `{command:'unknown', name, payload}` where `payload` is the given array
 * itself (no copy).
 */
export function decodePayload(command: string, payload: Uint8Array): Message {
  const p = payload;
  switch (command) {
    case 'addr':
      return new AddrMessage('addr', decodeAddrV1(p));
    case 'addrv2':
      return new AddrMessage('addrv2', decodeAddrV2(p));
    case 'version':
      return { command: 'version', payload: decodeVersion(p) };
    case 'verack':
      expectEmpty(command, p);
      return VERACK;
    case 'sendaddrv2':
      expectEmpty(command, p);
      return SENDADDRV2;
    case 'wtxidrelay':
      expectEmpty(command, p);
      return WTXIDRELAY;
    case 'sendheaders':
      expectEmpty(command, p);
      return SENDHEADERS;
    case 'getaddr':
      expectEmpty(command, p);
      return GETADDR;
    case 'ping':
      // Before BIP31 (version ≤ 60000) ping had no payload; accept it rather than
      // drop a message from an old peer. No pong is owed for it.
      if (p.length === 0) return EMPTY_PING;
      expectLength(command, p, 8);
      return { command: 'ping', nonce: u64le(p, 0) };
    case 'pong':
      expectLength(command, p, 8);
      return { command: 'pong', nonce: u64le(p, 0) };
    case 'feefilter':
      expectLength(command, p, 8);
      return { command: 'feefilter', feeRate: i64le(p, 0) };
    case 'sendcmpct':
      expectLength(command, p, 9);
      // Core 31.x reads a bool as "non-zero is true".
      return { command: 'sendcmpct', announce: p[0] !== 0, cmpctVersion: u64le(p, 1) };
    default:
      return { command: 'unknown', name: command, payload: p };
  }
}

/** Writes `msg`'s payload at the writer's position. */
export function writePayload(w: PayloadWriter, msg: Message): void {
  switch (msg.command) {
    case 'version':
      encodeVersion(w, msg.payload);
      return;
    case 'verack':
    case 'sendaddrv2':
    case 'wtxidrelay':
    case 'sendheaders':
    case 'getaddr':
      return;
    case 'ping':
      if (msg.empty === true) return;
      w.u64le(msg.nonce);
      return;
    case 'pong':
      w.u64le(msg.nonce);
      return;
    case 'feefilter':
      w.i64le(msg.feeRate);
      return;
    case 'sendcmpct':
      w.bool(msg.announce);
      w.u64le(msg.cmpctVersion);
      return;
    case 'addr':
      encodeAddrV1(w, msg.list ?? msg.entries);
      return;
    case 'addrv2':
      encodeAddrV2(w, msg.list ?? msg.entries);
      return;
    case 'unknown':
      w.bytes(msg.payload);
      return;
    default:
      throw new WireError('ERR_UNENCODABLE', `unknown message command '${String((msg as { command?: unknown }).command)}'`);
  }
}

/** Runs an encoder, turning a RangeError from a Buffer write (value out of range) into ERR_UNENCODABLE. */
export function guardEncode<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError('ERR_UNENCODABLE', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Encodes a message's payload. Throws WireError ERR_UNENCODABLE for values the wire cannot carry. */
export function encodePayload(msg: Message): Buffer {
  return guardEncode(String(msg?.command), () => {
    const w = new PayloadWriter(64);
    writePayload(w, msg);
    return w.result();
  });
}
