/**
 * v2 message types: a packet's contents start with a one-byte short id
 * (1..255) or 0x00 followed by the 12-byte v1 command. Ids 1-28 are BIP324's
 * table; 29-37 come from the BIP's message_type_ids.md (utreexo, BIP 183;
 * `feature`, BIP 434), which lists proposals, so we decode them but send
 * those commands in the long form (as Core, which knows only 1-28).
 */
import { COMMAND_SIZE } from '../constants.js';
import { commandLength, commandName } from '../framing.js';

/** Index = short id; '' = undefined. */
const BIP324_IDS = [
  '', 'addr', 'block', 'blocktxn', 'cmpctblock', 'feefilter', 'filteradd', 'filterclear',
  'filterload', 'getblocks', 'getblocktxn', 'getdata', 'getheaders', 'headers', 'inv', 'mempool',
  'merkleblock', 'notfound', 'ping', 'pong', 'sendcmpct', 'tx', 'getcfilters', 'cfilter',
  'getcfheaders', 'cfheaders', 'getcfcheckpt', 'cfcheckpt', 'addrv2',
];
/** Proposed ids from message_type_ids.md (29..37). */
const PROPOSED_IDS = ['uproof', 'getuproof', 'uttls', 'getuttls', 'usummary', 'utreexotx', 'uroot', 'geturoot', 'feature'];

/** Highest id of BIP324 itself; the ones above it are only decoded. */
export const LAST_BIP324_ID = BIP324_IDS.length - 1;

const NAMES: readonly string[] = Object.freeze([...BIP324_IDS, ...PROPOSED_IDS]);
const IDS: ReadonlyMap<string, number> = new Map(BIP324_IDS.map((name, id) => [name, id] as const).filter(([name]) => name !== ''));

/** The command a short id stands for, or null when the id is undefined. */
export function commandOfShortId(id: number): string | null {
  const name = NAMES[id];
  return name === undefined || name === '' ? null : name;
}

/** The short id we send for `command` (BIP324's table only), or 0 = long form. */
export function shortIdOf(command: string): number {
  return IDS.get(command) ?? 0;
}

/** Bytes the message type takes in the contents: 1 (short id) or 13. */
export function messageTypeLength(command: string): number {
  return shortIdOf(command) === 0 ? 1 + COMMAND_SIZE : 1;
}

/** Writes the message type of `command` at `out[o]`; returns the bytes written. */
export function writeMessageType(out: Uint8Array, o: number, command: string): number {
  const id = shortIdOf(command);
  if (id !== 0) {
    out[o] = id;
    return 1;
  }
  out[o] = 0;
  out.fill(0, o + 1, o + 1 + COMMAND_SIZE);
  for (let i = 0; i < command.length; i++) out[o + 1 + i] = command.charCodeAt(i);
  return 1 + COMMAND_SIZE;
}

/**
 * Reads the message type at the start of `contents[o, end)`. Returns the
 * command and the payload offset, or a reason when the type is invalid
 * (empty contents, undefined short id, malformed 12-byte command), which Core
 * treats as a dropped message, not a broken stream.
 */
export function readMessageType(contents: Uint8Array, o: number, end: number): { command: string; payloadStart: number } | { invalid: string } {
  if (end - o < 1) return { invalid: 'empty contents: no message type' };
  const first = contents[o]!;
  if (first !== 0) {
    const command = commandOfShortId(first);
    return command === null ? { invalid: `undefined short message id ${first}` } : { command, payloadStart: o + 1 };
  }
  if (end - o < 1 + COMMAND_SIZE) return { invalid: `long message type truncated (${end - o - 1} of ${COMMAND_SIZE} bytes)` };
  if (commandLength(contents, o + 1) < 0) return { invalid: 'long message type is not NUL-padded printable ASCII' };
  return { command: commandName(contents, o + 1), payloadStart: o + 1 + COMMAND_SIZE };
}
