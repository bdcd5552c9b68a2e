/**
 * Bitcoin Core's fixed seeds (data/nodes_*.txt, see data/README.md): the
 * node lists Core falls back on when its DNS seeds give nothing. Every line
 * form Core's generate-seeds.py accepts parses here: `1.2.3.4:8333`,
 * `[2001:db8::1]:8333`, `<56>.onion:8333`, `<52>.b32.i2p:0`, `[fc00::1]:8333`
 * (CJDNS), with an optional `# comment`; a line without a port takes the
 * network's default port.
 */
import { readFileSync } from 'node:fs';
import { ReachError, type WireError } from '../errors.js';
import { formatAddress, parseAddress } from '../wire/index.js';
import type { AddressNetwork, NetAddress, NetworkName } from '../wire/types.js';
import { NETWORKS } from '../wire/networks.js';

/** The file of each chain (regtest has none, as in Core). */
export const FIXED_SEED_FILES: Readonly<Record<NetworkName, string | null>> = {
  mainnet: 'nodes_main.txt',
  testnet3: 'nodes_test.txt',
  testnet4: 'nodes_testnet4.txt',
  signet: 'nodes_signet.txt',
  regtest: null,
};

export interface FixedSeed {
  /** Core text form (`formatAddress`), port included. */
  readonly addr: string;
  readonly network: AddressNetwork;
  readonly address: NetAddress;
}

/**
 * Parses a seed list. Blank lines and `#` comments are skipped; any other
 * line that does not parse throws ReachError ERR_BAD_SEED_LINE naming the
 * line number. I2P entries must have port 0, as Core's SAM 3.1 requires.
 */
export function parseFixedSeeds(text: string, defaultPort: number, source = 'seed list'): FixedSeed[] {
  const out: FixedSeed[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const hash = (lines[i] as string).indexOf('#');
    const line = (hash >= 0 ? (lines[i] as string).slice(0, hash) : (lines[i] as string)).trim();
    if (line === '') continue;
    let address: NetAddress;
    try {
      address = parseAddress(line, defaultPort);
    } catch (err) {
      throw new ReachError('ERR_BAD_SEED_LINE', `${source} line ${i + 1}: ${(err as WireError).message}`);
    }
    if (address.network === 'i2p' && address.port !== 0) {
      throw new ReachError('ERR_BAD_SEED_LINE', `${source} line ${i + 1}: an I2P seed must have port 0 (SAM 3.1 has no ports), got ${address.port}`);
    }
    out.push({ addr: formatAddress(address), network: address.network, address });
  }
  return out;
}

const cache = new Map<NetworkName, readonly FixedSeed[]>();

/** Core's fixed seeds of `network` (empty for regtest), read once from the package's data folder. */
export function fixedSeeds(network: NetworkName): readonly FixedSeed[] {
  const hit = cache.get(network);
  if (hit !== undefined) return hit;
  const file = FIXED_SEED_FILES[network];
  const seeds = file === null ? [] : parseFixedSeeds(readFileSync(new URL(`./data/${file}`, import.meta.url), 'utf8'), NETWORKS[network].defaultPort, file);
  cache.set(network, Object.freeze(seeds));
  return seeds;
}
