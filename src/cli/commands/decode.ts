/**
 * `bitspread decode <file|->`: a binary or hex capture of a v1 message stream
 * in, one JSON line per message out. Binary input is decoded chunk by chunk as
 * it arrives (a live capture piped in prints each message when it is
 * complete); hex text is read whole first. It reacts to errors as a peer would:
 * after a dropped message it carries on; after a fatal framing error it
 * prints a final error line and stops.
 */
import { existsSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { RunError, UsageError, type WireError } from '../../errors.js';
import { parseOptionsAndPositionals } from '../args.js';
import { exitCodeFor } from '../exit-codes.js';
import { usageFailure } from '../usage.js';
import { HEADER_SIZE, MessageDecoder, NETWORKS, isNetworkName, messageToJson, networkByMagic, type Message, type NetworkParams } from '../../wire/index.js';

const HELP = `usage: bitspread decode <file|-|hex> [--network <name>]

Decodes a capture of Bitcoin P2P v1 messages (raw binary, or hex text with
any whitespace) into one JSON line per message on stdout:
  {"command":"version","version":70016,...}
  {"error":"ERR_BAD_CHECKSUM","command":"ping","message":"..."}
Addresses are printed in Bitcoin Core's text form; 64-bit values as numbers
when exact, else as decimal strings. Binary input is decoded as it arrives
(pipe a live capture in and each message prints when complete); hex input
is read to the end first.

  <file|-|hex>        the capture; '-' reads standard input; an argument of
                      hex digits that names no file is decoded itself
  --network <name>    mainnet, testnet3, testnet4, signet or regtest
                      (default: recognised from the first message's magic)
  -h, --help          this text

Exit status: 0 every message decoded; 1 some message failed (its error
line says which); 2 bad arguments or unreadable input; 6 empty input;
7 stdout could not be written (e.g. a closed pipe).`;

const READ_SIZE = 64 * 1024;

function unreadable(path: string, err: unknown): UsageError {
  return new UsageError('ERR_BAD_ARGUMENT', `cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
}

/**
 * The input as it arrives: stdin chunk by chunk, or a file read in 64 KiB
 * pieces, so a live capture piped in prints each message as soon as its last
 * byte is here. Read failures become UsageError (exit 2).
 */
async function* inputChunks(path: string): AsyncGenerator<Buffer> {
  if (path === '-') {
    for await (const chunk of process.stdin) yield chunk as Buffer;
    return;
  }
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw unreadable(path, err);
  }
  try {
    for (;;) {
      // A fresh buffer per read: an `unknown` message's payload is a view of its chunk.
      const buf = Buffer.allocUnsafe(READ_SIZE);
      let n: number;
      try {
        ({ bytesRead: n } = await handle.read(buf, 0, READ_SIZE, null));
      } catch (err) {
        throw unreadable(path, err);
      }
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  } finally {
    await handle.close();
  }
}

/** ASCII whitespace as the hex reader skips it (\s on latin1 bytes, minus the exotic ones a capture never has). */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/**
 * What the first non-whitespace byte says: a hex digit means hex text (read
 * whole, then decoded as before: not valid hex after all → binary); anything
 * else is binary, streamed. No network's message start is a hex digit, so a
 * binary capture never waits for EOF. undefined: only whitespace so far.
 */
function sniff(head: Buffer): 'hex' | 'binary' | undefined {
  for (let i = 0; i < head.length; i++) {
    const c = head[i]!;
    if (!isSpace(c)) return isHexDigit(c) ? 'hex' : 'binary';
  }
  return undefined;
}

/** Hex text (whitespace allowed, optional 0x) is decoded; anything else is taken as binary. */
export function captureBytes(input: Buffer): Buffer {
  const text = input.toString('latin1').replace(/\s+/g, '').replace(/^0x/i, '');
  if (text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)) return Buffer.from(text, 'hex');
  return input;
}

function line(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/**
 * The capture named on the command line: '-' (stdin), a file, or, when no
 * such file exists and the argument is all hex digits, the hex itself
 * (`bitspread decode fabfb5da…`).
 */
function inputFor(arg: string): AsyncGenerator<Buffer> {
  if (arg !== '-' && !existsSync(arg)) {
    const text = arg.replace(/^0x/i, '');
    if (text.length > 0 && /^[0-9a-fA-F]+$/.test(text)) {
      if (text.length % 2 !== 0) throw new UsageError('ERR_BAD_ARGUMENT', `'${arg}' is no file, and as hex it has an odd number of digits (${text.length})`);
      return (async function* () {
        yield Buffer.from(text, 'hex');
      })();
    }
  }
  return inputChunks(arg);
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseOptionsAndPositionals(argv, { network: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  } catch (err) {
    return usageFailure('decode', (err as Error).message, HELP + '\n');
  }
  if (parsed.values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    return usageFailure('decode', `expected exactly one input (a file, '-' or hex digits), got ${parsed.positionals.length}`, HELP + '\n');
  }
  const networkName = parsed.values.network;
  if (networkName !== undefined && !isNetworkName(networkName)) {
    process.stderr.write(`bitspread decode: unknown network '${networkName}' (mainnet, testnet3, testnet4, signet, regtest)\n`);
    return 2;
  }
  try {
    return await decodeInput(inputFor(parsed.positionals[0]!), networkName !== undefined ? NETWORKS[networkName] : undefined);
  } catch (err) {
    if (err instanceof UsageError || err instanceof RunError) {
      process.stderr.write(`bitspread decode: ${err.code}: ${err.message}\n`);
      return exitCodeFor(err);
    }
    throw err;
  }
}

/** Decodes the chunks as they come (binary) or once whole (hex); returns the exit code. */
async function decodeInput(chunks: AsyncGenerator<Buffer>, given: NetworkParams | undefined): Promise<number> {
  const head: Buffer[] = [];
  let headLength = 0;
  let mode: 'hex' | 'binary' | undefined;
  let ended = false;
  // Enough to tell hex from binary, and (binary, no --network) the 4 magic bytes.
  while (!ended && (mode === undefined || (mode === 'binary' && given === undefined && headLength < 4))) {
    const next = await chunks.next();
    if (next.done === true) {
      ended = true;
    } else {
      head.push(next.value);
      headLength += next.value.length;
      mode ??= sniff(next.value);
    }
  }
  if (mode === 'hex') {
    for (let next = await chunks.next(); next.done !== true; next = await chunks.next()) head.push(next.value);
    ended = true;
  }
  // Hex, or input that ended early, is handled whole exactly as before streaming existed.
  const first = ended ? captureBytes(Buffer.concat(head)) : Buffer.concat(head);
  // Nothing, or only whitespace (sniff never decided): no capture at all.
  if (first.length === 0 || mode === undefined) throw new RunError('ERR_EMPTY_INPUT', 'the input is empty: no bytes to decode');

  let net = given;
  if (net === undefined) {
    net = first.length >= 4 ? networkByMagic(first.readUInt32LE(0)) : undefined;
    if (net === undefined) {
      const start = first.subarray(0, 4).toString('hex');
      line({ error: 'ERR_BAD_MAGIC', command: null, message: `message start ${start} is no known network; pass --network`, fatal: true });
      return 1;
    }
  }

  let failures = 0;
  const decoder = new MessageDecoder(net, {
    onMessage(msg: Message) {
      line(messageToJson(msg));
    },
    onMessageError(err: WireError, command: string | null, fatal: boolean) {
      failures++;
      line({ error: err.code, command, message: err.message, ...(fatal ? { fatal: true } : {}) });
    },
  });
  decoder.push(first);
  if (!ended) {
    for (let next = await chunks.next(); next.done !== true && !decoder.failed; next = await chunks.next()) decoder.push(next.value);
    // After a fatal error nothing more is decoded: stop reading (closes the file).
    await chunks.return(undefined);
  }
  if (!decoder.failed && decoder.bufferedBytes > 0) {
    failures++;
    const what = decoder.bufferedBytes < HEADER_SIZE ? 'a header' : 'a message body';
    line({ error: 'ERR_TRUNCATED', command: null, message: `input ends inside ${what} (${decoder.bufferedBytes} bytes held)` });
  }
  return failures === 0 ? 0 : 1;
}
