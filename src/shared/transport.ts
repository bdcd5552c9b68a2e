/**
 * Which transport to dial an address with: the user's option and Core's
 * policy, in one place for both threads.
 *
 * - `v1`: every dial speaks v1.
 * - `v2`: every dial speaks BIP324 v2, no fallback (measures v2 support).
 * - `auto` (default), Core's rule for its automatic outbound connections:
 *   v2 when gossip said the address advertises NODE_P2P_V2, v1 otherwise
 *   (services without the bit, or unknown: seeds, DNS seeds, a crawler's
 *   connectToNode, probeNode without `services`).
 *   A v2 dial that the peer closes or resets before sending a single byte is
 *   retried once with v1 (Core's ShouldReconnectV1: the bit is gossiped
 *   through untrusted peers and may be false), in the same cap slot; the
 *   record then says v2Fallback.
 *
 * Unlike Core, seeds are not tried with v2 first (Core does that for its
 * manual and seed connections): their services are unknown, and a v1 dial of
 * a v2 node still succeeds (v2 nodes accept v1). `--transport v2` measures
 * every node's v2 support.
 */
import { NODE_P2P_V2 } from '../wire/constants.js';
import { UsageError } from '../errors.js';

export type TransportOption = 'auto' | 'v1' | 'v2';
export type Transport = 'v1' | 'v2';

export const TRANSPORT_OPTIONS: readonly TransportOption[] = ['auto', 'v1', 'v2'];

export function parseTransportOption(value: unknown, what = 'transport'): TransportOption {
  if (value === undefined) return 'auto';
  if (typeof value === 'string' && (TRANSPORT_OPTIONS as readonly string[]).includes(value)) return value as TransportOption;
  throw new UsageError('ERR_BAD_OPTION', `${what} must be one of ${TRANSPORT_OPTIONS.join(', ')}, got ${String(value)}`);
}

/** True when a service field carries NODE_P2P_V2 (1 << 11). */
export function advertisesV2(services: bigint | number): boolean {
  return (BigInt(services) & NODE_P2P_V2) !== 0n;
}

/**
 * The transport of a first dial. `advertised`: true/false when gossip gave
 * the address's services (with/without NODE_P2P_V2), undefined when unknown.
 */
export function dialTransport(option: TransportOption, advertised: boolean | undefined): Transport {
  if (option !== 'auto') return option;
  return advertised === true ? 'v2' : 'v1';
}

/** Whether a failed v2 dial may be retried once with v1 (only under `auto`). */
export function mayFallBackToV1(option: TransportOption): boolean {
  return option === 'auto';
}
