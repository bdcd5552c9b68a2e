/**
 * Service bits as names, for records and reports. Core's names (FACTS §9,
 * protocol.cpp) with the `NODE_` prefix, plus BIP64's NODE_GETUTXO (bit 1,
 * retired from Core but still set by some implementations). Any other bit
 * prints as Core does: `UNKNOWN[2^n]`.
 */
import { NODE_BLOOM, NODE_COMPACT_FILTERS, NODE_NETWORK, NODE_NETWORK_LIMITED, NODE_P2P_V2, NODE_WITNESS } from './constants.js';

/** BIP64 (getutxo); Core no longer serves it. */
export const NODE_GETUTXO = 2n;

/** Known bits, lowest first (the order names are listed in). */
export const SERVICE_BITS: ReadonlyArray<readonly [bigint, string]> = [
  [NODE_NETWORK, 'NODE_NETWORK'],
  [NODE_GETUTXO, 'NODE_GETUTXO'],
  [NODE_BLOOM, 'NODE_BLOOM'],
  [NODE_WITNESS, 'NODE_WITNESS'],
  [NODE_COMPACT_FILTERS, 'NODE_COMPACT_FILTERS'],
  [NODE_NETWORK_LIMITED, 'NODE_NETWORK_LIMITED'],
  [NODE_P2P_V2, 'NODE_P2P_V2'],
];

const NAME_OF = new Map<bigint, string>(SERVICE_BITS);

/** The names of the bits set in `services` (a uint64; a number must be a safe integer), lowest bit first. */
export function serviceNames(services: bigint | number): string[] {
  let s = typeof services === 'bigint' ? services : BigInt(services);
  const out: string[] = [];
  for (let bit = 0n; s > 0n && bit < 64n; bit++, s >>= 1n) {
    if ((s & 1n) === 0n) continue;
    const value = 1n << bit;
    out.push(NAME_OF.get(value) ?? `UNKNOWN[2^${bit}]`);
  }
  return out;
}
