/**
 * Asks the kernel whether our TCP connections to some peers still exist, so
 * that a dead worker's cap slots are reclaimed only once the peers have
 * stopped counting those connections (issue 11: a worker ended by
 * terminate() or out of memory closes its sockets in its teardown with a
 * FIN; a peer that has not acted on it yet still counts the connection).
 *
 * Linux: /proc/net/tcp and /proc/net/tcp6 list every socket of our network
 * namespace with its remote address and state. A connection to a peer is
 * still counted by that peer while our socket is in any state before
 * TIME_WAIT: in FIN_WAIT2 the peer has acknowledged our FIN but not closed
 * its side (its application has not noticed). Once the peer closes, our
 * socket moves to TIME_WAIT (or disappears).
 *
 * Elsewhere (no /proc) the answer is null: the caller holds the slots for a
 * fixed time instead.
 */
import { readFile } from 'node:fs/promises';
import { parseAddress } from '../wire/index.js';

/** /proc/net/tcp `st` codes of sockets a peer may still count: everything but TIME_WAIT (06) and CLOSE (07). */
const COUNTED_STATES = new Set(['01', '02', '03', '04', '05', '08', '09', '0A', '0B']);

const hex = (b: number): string => b.toString(16).toUpperCase().padStart(2, '0');

/**
 * The `rem_address` column for "ip:port" as /proc prints it: each 32-bit word
 * of the address in host (little-endian) byte order, then the port, in hex.
 * null for text that is not an IPv4/IPv6 address.
 */
export function procAddress(text: string): { v6: boolean; key: string } | null {
  let addr;
  try {
    addr = parseAddress(text);
  } catch {
    return null;
  }
  if (addr.network !== 'ipv4' && addr.network !== 'ipv6') return null;
  const b = addr.bytes;
  let host = '';
  for (let w = 0; w < b.length; w += 4) host += hex(b[w + 3]!) + hex(b[w + 2]!) + hex(b[w + 1]!) + hex(b[w]!);
  return { v6: addr.network === 'ipv6', key: `${host}:${addr.port.toString(16).toUpperCase().padStart(4, '0')}` };
}

async function readTable(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'latin1');
  } catch {
    return null;
  }
}

/**
 * How many of our sockets to `peers` ("ip:port" texts) the kernel still has
 * in a state the peer counts; null when the kernel cannot be asked.
 */
export async function countedConnections(peers: Iterable<string>): Promise<number | null> {
  const v4 = new Set<string>();
  const v6 = new Set<string>();
  for (const p of peers) {
    const a = procAddress(p);
    if (a !== null) (a.v6 ? v6 : v4).add(a.key);
  }
  if (v4.size + v6.size === 0) return 0;
  const [t4, t6] = await Promise.all([v4.size > 0 ? readTable('/proc/net/tcp') : '', v6.size > 0 ? readTable('/proc/net/tcp6') : '']);
  if (t4 === null || t6 === null) return null;
  let n = 0;
  for (const [table, keys] of [
    [t4, v4],
    [t6, v6],
  ] as const) {
    if (keys.size === 0) continue;
    // "  sl  local_address rem_address   st ...": columns 2 and 3 (0-based 1, 2, 3).
    for (const line of table.split('\n')) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && keys.has(cols[2]!) && COUNTED_STATES.has(cols[3]!)) n++;
    }
  }
  return n;
}
