/**
 * `bitspread decode <file|->`: a binary or hex capture of a v1 message stream
 * in, one JSON line per message out. It reacts to errors as a peer would:
 * after a dropped message it carries on; after a fatal framing error it
 * prints a final error line and stops.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError, type WireError } from '../../errors.js';
import { HEADER_SIZE, MessageDecoder, NETWORKS, isNetworkName, messageToJson, networkByMagic, type Message, type NetworkParams } from '../../wire/index.js';

const HELP = `usage: bitspread decode <file|-> [--network <name>]

Decodes a capture of Bitcoin P2P v1 messages (raw binary, or hex text with
any whitespace) into one JSON line per message on stdout:
  {"command":"version","version":70016,...}
  {"error":"ERR_BAD_CHECKSUM","command":"ping","message":"..."}
Addresses are printed in Bitcoin Core's text form; 64-bit values as numbers
when exact, else as decimal strings.

  <file|->            the capture; '-' reads standard input
  --network <name>    mainnet, testnet3, testnet4, signet or regtest
                      (default: recognised from the first message's magic)
  -h, --help          this text

Exit status: 0 every message decoded; 1 some message failed (its error
line says which); 2 bad arguments or unreadable input.`;

async function readInput(path: string): Promise<Buffer> {
  if (path !== '-') {
    try {
      return await readFile(path);
    } catch (err) {
      throw new UsageError('ERR_BAD_ARGUMENT', `cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
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

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { network: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    process.stderr.write(`bitspread decode: ${(err as Error).message}\n\n${HELP}\n`);
    return 2;
  }
  if (parsed.values.help === true) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    process.stderr.write(`bitspread decode: expected exactly one input (a file or '-'), got ${parsed.positionals.length}\n\n${HELP}\n`);
    return 2;
  }
  const networkName = parsed.values.network;
  if (networkName !== undefined && !isNetworkName(networkName)) {
    process.stderr.write(`bitspread decode: unknown network '${networkName}' (mainnet, testnet3, testnet4, signet, regtest)\n`);
    return 2;
  }
  let bytes: Buffer;
  try {
    bytes = captureBytes(await readInput(parsed.positionals[0]!));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bitspread decode: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (bytes.length === 0) return 0;

  let net: NetworkParams | undefined = networkName !== undefined ? NETWORKS[networkName] : undefined;
  if (net === undefined) {
    net = bytes.length >= 4 ? networkByMagic(bytes.readUInt32LE(0)) : undefined;
    if (net === undefined) {
      const start = bytes.subarray(0, 4).toString('hex');
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
  decoder.push(bytes);
  if (!decoder.failed && decoder.bufferedBytes > 0) {
    failures++;
    const what = decoder.bufferedBytes < HEADER_SIZE ? 'a header' : 'a message body';
    line({ error: 'ERR_TRUNCATED', command: null, message: `input ends inside ${what} (${decoder.bufferedBytes} bytes held)` });
  }
  return failures === 0 ? 0 : 1;
}
