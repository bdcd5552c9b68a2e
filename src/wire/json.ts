/**
 * Messages as plain JSON-safe objects, for logs and `bitspread decode`:
 * addresses in Core's text form, byte strings as hex, and bigints as numbers
 * when exactly representable, else as decimal strings.
 */
import { formatAddress } from './address-text.js';
import { toHex } from './bytes.js';
import type { AddrList } from './addr-list.js';
import type { AddrEntry, Message, NetAddress, VersionAddress } from './types.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A bigint as a number when it is a safe integer, else as a decimal string. */
export function bigintToJson(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function addressText(a: NetAddress | null): string | null {
  return a === null ? null : formatAddress(a);
}

function versionAddressJson(a: VersionAddress): { [key: string]: JsonValue } {
  return {
    services: bigintToJson(a.services),
    address: a.address === null ? null : formatAddress(a.address),
    ...(a.address === null ? { raw: toHex(a.raw), port: a.port } : {}),
  };
}

function entryJson(e: AddrEntry): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {
    time: e.time,
    services: bigintToJson(e.services),
    networkId: e.networkId,
    address: addressText(e.address),
  };
  if (e.address === null && e.unparsed !== undefined) {
    out.unparsed = toHex(e.unparsed.bytes);
    out.port = e.unparsed.port;
  }
  return out;
}

/** entryJson of every entry, read straight from a decoded list (no entry objects built). */
function listJson(list: AddrList): JsonValue[] {
  const out: JsonValue[] = new Array<JsonValue>(list.length);
  for (let i = 0; i < list.length; i++) {
    const address = list.textAt(i);
    const e: { [key: string]: JsonValue } = { time: list.timeAt(i), services: bigintToJson(list.servicesAt(i)), networkId: list.networkIdAt(i), address };
    if (address === null) {
      e.unparsed = toHex(list.bytesAt(i));
      e.port = list.portAt(i);
    }
    out[i] = e;
  }
  return out;
}

export function messageToJson(msg: Message): { [key: string]: JsonValue } {
  switch (msg.command) {
    case 'version': {
      const p = msg.payload;
      const out: { [key: string]: JsonValue } = {
        command: 'version',
        version: p.version,
        services: bigintToJson(p.services),
        timestamp: bigintToJson(p.timestamp),
        addrRecv: versionAddressJson(p.addrRecv),
      };
      if (p.addrFrom !== undefined) out.addrFrom = versionAddressJson(p.addrFrom);
      if (p.nonce !== undefined) out.nonce = bigintToJson(p.nonce);
      if (p.userAgent !== undefined) out.userAgent = p.userAgent;
      if (p.startHeight !== undefined) out.startHeight = p.startHeight;
      if (p.relay !== undefined) out.relay = p.relay;
      return out;
    }
    case 'ping':
      return msg.empty === true ? { command: 'ping', nonce: null, empty: true } : { command: 'ping', nonce: bigintToJson(msg.nonce) };
    case 'pong':
      return { command: 'pong', nonce: bigintToJson(msg.nonce) };
    case 'feefilter':
      return { command: 'feefilter', feeRate: bigintToJson(msg.feeRate) };
    case 'sendcmpct':
      return { command: 'sendcmpct', announce: msg.announce, cmpctVersion: bigintToJson(msg.cmpctVersion) };
    case 'addr':
    case 'addrv2':
      if (msg.list !== undefined) return { command: msg.command, count: msg.list.length, entries: listJson(msg.list) };
      return { command: msg.command, count: msg.entries.length, entries: msg.entries.map(entryJson) };
    case 'unknown':
      return { command: 'unknown', name: msg.name, length: msg.payload.length, payload: toHex(msg.payload) };
    default:
      return { command: msg.command };
  }
}
