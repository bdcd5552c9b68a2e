/**
 * The behaviours a simulated node can have, what each implies for a correct
 * crawler, and how a caller's `mix` becomes exact per-behaviour counts.
 */
import { UsageError } from '../errors.js';

export const SIM_BEHAVIOURS = [
  'modern', // 70016, wtxidrelay + sendaddrv2, answers getaddr with addrv2 when asked to
  'old', // 70015, addr only, ignores sendaddrv2
  'chatty', // modern, plus an unsolicited self-announcement and a ping, then a split answer
  'slow', // modern, but writes a few bytes at a time
  'silent', // accepts, never speaks
  'refused', // advertised by others, nobody listens there: ECONNREFUSED
  'garbage', // answers the client's first bytes with random bytes
  'badchecksum', // its version carries a wrong checksum (then verack as usual)
  'oversized', // answers with a header declaring a length over 4,000,000
  'dropafterversion', // sends its version, then closes
  'toomany', // completes the handshake; its getaddr answer is one message of 1,001+ entries
  // BIP324 (v2 transport). Nodes whose services carry NODE_P2P_V2 answer a v2
  // handshake as Core does (and still accept v1, told from the first 16 bytes);
  // these advertise NODE_P2P_V2 and:
  'fakev2', // speak v1 only (a false advertisement): close on a v2 key, as a v1 Core node does
  'v2noterminator', // send a key and garbage but no garbage terminator, then close
  'v2longgarbage', // send more than 4,095 bytes of garbage before the terminator
  'v2badtag', // send a version packet whose tag does not verify
  'v2noversion', // send their version message in place of the version packet
  'v2oversize', // after the version packet, announce a packet over the largest message
] as const;

export type SimBehaviour = (typeof SIM_BEHAVIOURS)[number];

/** Default shares: mostly modern nodes, a little of every kind of trouble. */
export const DEFAULT_MIX: Readonly<Record<SimBehaviour, number>> = {
  modern: 0.7,
  old: 0.1,
  chatty: 0.05,
  slow: 0.03,
  silent: 0.03,
  refused: 0.03,
  garbage: 0.01,
  badchecksum: 0.01,
  oversized: 0.01,
  dropafterversion: 0.01,
  toomany: 0.02,
  fakev2: 0,
  v2noterminator: 0,
  v2longgarbage: 0,
  v2badtag: 0,
  v2noversion: 0,
  v2oversize: 0,
};

/**
 * A correct crawler completes the version/verack handshake with these, so it
 * must report them `reachable`. `toomany` is one of them: its handshake is
 * fine, only its getaddr answer is over Core's limit (and so yields nothing).
 */
export function completesHandshake(b: SimBehaviour): boolean {
  return b === 'modern' || b === 'old' || b === 'chatty' || b === 'slow' || b === 'toomany' || b === 'fakev2';
}

/**
 * These answer getaddr within Core's limits, so what they know is what a
 * correct crawler learns. The discoverability guarantee is built over them.
 */
export function gossips(b: SimBehaviour): boolean {
  return b === 'modern' || b === 'old' || b === 'chatty' || b === 'slow' || b === 'fakev2';
}

/** Behaviours that break BIP324 on purpose (each costs a crawler one connection, with a typed code). */
export function breaksV2(b: SimBehaviour): boolean {
  return b === 'v2noterminator' || b === 'v2longgarbage' || b === 'v2badtag' || b === 'v2noversion' || b === 'v2oversize';
}

/**
 * Whether a node's services carry NODE_P2P_V2, given the random draw of a
 * modern node's services: always for fakev2 and the v2 breakers; never for
 * the v1 framing breakers (garbage, badchecksum, oversized: their trick is
 * in v1 frames) nor `old` (pre-BIP324).
 */
export function advertisesP2pV2(b: SimBehaviour, drawn: boolean): boolean {
  if (b === 'fakev2' || breaksV2(b)) return true;
  if (b === 'garbage' || b === 'badchecksum' || b === 'oversized' || b === 'old') return false;
  return drawn;
}

/** Nodes that honour sendaddrv2 and so can hand out Tor/I2P/CJDNS addresses. */
export function speaksAddrv2(b: SimBehaviour): boolean {
  return b !== 'old';
}

export function isSimBehaviour(name: string): name is SimBehaviour {
  return (SIM_BEHAVIOURS as readonly string[]).includes(name);
}

/**
 * Turns a caller's partial mix into shares summing to 1. Behaviours not named
 * get 0, except `modern`, which takes whatever the named shares leave over
 * (so `{ silent: 0.2 }` means 20 % silent, 80 % modern).
 */
export function normalizeMix(mix: Partial<Record<SimBehaviour, number>> | undefined): Record<SimBehaviour, number> {
  if (mix === undefined) return { ...DEFAULT_MIX };
  const out = Object.fromEntries(SIM_BEHAVIOURS.map((b) => [b, 0])) as Record<SimBehaviour, number>;
  let sum = 0;
  for (const [name, share] of Object.entries(mix)) {
    if (!isSimBehaviour(name)) throw new UsageError('ERR_BAD_OPTION', `mix: unknown behaviour '${name}' (known: ${SIM_BEHAVIOURS.join(', ')})`);
    if (share === undefined) continue;
    if (typeof share !== 'number' || !Number.isFinite(share) || share < 0) throw new UsageError('ERR_BAD_OPTION', `mix: share of '${name}' must be a number >= 0`);
    out[name] = share;
    sum += share;
  }
  if (mix.modern === undefined) {
    if (sum > 1 + 1e-9) throw new UsageError('ERR_BAD_OPTION', `mix: shares sum to ${sum}, more than 1`);
    out.modern = Math.max(0, 1 - sum);
    sum = 1;
  }
  if (sum <= 0) throw new UsageError('ERR_BAD_OPTION', 'mix: shares sum to 0');
  for (const b of SIM_BEHAVIOURS) out[b] /= sum;
  return out;
}

/** Exact counts per behaviour for `n` nodes (largest remainder, ties in list order). */
export function behaviourCounts(n: number, shares: Record<SimBehaviour, number>): Record<SimBehaviour, number> {
  const counts = {} as Record<SimBehaviour, number>;
  const rest: Array<{ b: SimBehaviour; frac: number }> = [];
  let given = 0;
  for (const b of SIM_BEHAVIOURS) {
    const exact = shares[b] * n;
    counts[b] = Math.floor(exact);
    given += counts[b];
    rest.push({ b, frac: exact - counts[b] });
  }
  rest.sort((x, y) => y.frac - x.frac);
  for (let i = 0; given < n; i++, given++) {
    const r = rest[i % rest.length];
    if (r !== undefined) counts[r.b]++;
  }
  return counts;
}

/** Parses the CLI form `modern=0.7,old=0.1,silent=0.05`. */
export function parseMix(text: string): Partial<Record<SimBehaviour, number>> {
  const kinds = `kinds: ${SIM_BEHAVIOURS.join(', ')}`;
  const mix: Partial<Record<SimBehaviour, number>> = {};
  let sum = 0;
  for (const part of text.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (m === null) throw new UsageError('ERR_BAD_OPTION', `--mix: expected kind=share pairs like modern=0.7,old=0.1, got '${part}' (${kinds})`);
    const name = m[1] as string;
    if (!isSimBehaviour(name)) throw new UsageError('ERR_BAD_OPTION', `--mix: unknown kind '${name}' (${kinds})`);
    if (mix[name] !== undefined) throw new UsageError('ERR_BAD_OPTION', `--mix: '${name}' is given twice`);
    const share = Number(m[2]);
    if (share > 1) throw new UsageError('ERR_BAD_OPTION', `--mix: a share is a fraction from 0 to 1, got ${name}=${m[2]}`);
    mix[name] = share;
    sum += share;
  }
  if (sum > 1 + 1e-9) throw new UsageError('ERR_BAD_OPTION', `--mix: the shares add up to ${+sum.toFixed(6)}, more than 1`);
  return mix;
}
