/**
 * The five chains a crawler can speak to: message start bytes, default port
 * and DNS seeds (Bitcoin Core 31.x src/kernel/chainparams.cpp, FACTS §1/§11).
 */
import type { NetworkName, NetworkParams } from './types.js';
import { sha256d } from './checksum.js';
import { encodeCompactSize } from './compact-size.js';

/** Core's default signet challenge (chainparams.cpp:442), a 1-of-2 multisig script. */
export const DEFAULT_SIGNET_CHALLENGE = Buffer.from(
  '512103ad5e0edad18cb1f0fc0d28a3d4f1f3e445640337489abb10404f2d1e086be430210359ef5021964fe22d6f8e05b2463c9540ce96883fe3b278760f048f5189f2e6c452ae',
  'hex',
);

/**
 * A signet's magic is derived, not fixed: the first 4 bytes of SHA256d over the
 * serialized challenge (CompactSize length ‖ script). A custom
 * `-signetchallenge` therefore gives a different magic.
 */
export function signetMagic(challenge: Uint8Array): Uint8Array {
  const serialized = Buffer.concat([encodeCompactSize(challenge.length), challenge]);
  return Uint8Array.from(sha256d(serialized).subarray(0, 4));
}

function params(name: NetworkName, magic: Uint8Array, defaultPort: number, dnsSeeds: string[]): NetworkParams {
  const m = Uint8Array.from(magic);
  return Object.freeze({
    name,
    magic: m,
    magicLE: (m[0]! | (m[1]! << 8) | (m[2]! << 16)) + m[3]! * 0x1000000,
    defaultPort,
    dnsSeeds: Object.freeze(dnsSeeds),
  });
}

export const NETWORKS: Readonly<Record<NetworkName, NetworkParams>> = Object.freeze({
  mainnet: params('mainnet', Uint8Array.of(0xf9, 0xbe, 0xb4, 0xd9), 8333, [
    'seed.bitcoin.sipa.be.',
    'dnsseed.bluematt.me.',
    'seed.bitcoin.jonasschnelli.ch.',
    'seed.btc.petertodd.net.',
    'seed.bitcoin.sprovoost.nl.',
    'dnsseed.emzy.de.',
    'seed.bitcoin.wiz.biz.',
    'seed.mainnet.achownodes.xyz.',
  ]),
  testnet3: params('testnet3', Uint8Array.of(0x0b, 0x11, 0x09, 0x07), 18333, [
    'testnet-seed.bitcoin.jonasschnelli.ch.',
    'seed.tbtc.petertodd.net.',
    'seed.testnet.bitcoin.sprovoost.nl.',
    'testnet-seed.bluematt.me.',
    'seed.testnet.achownodes.xyz.',
  ]),
  testnet4: params('testnet4', Uint8Array.of(0x1c, 0x16, 0x3f, 0x28), 48333, [
    'seed.testnet4.bitcoin.sprovoost.nl.',
    'seed.testnet4.wiz.biz.',
  ]),
  signet: params('signet', signetMagic(DEFAULT_SIGNET_CHALLENGE), 38333, [
    'seed.signet.bitcoin.sprovoost.nl.',
    'seed.signet.achownodes.xyz.',
  ]),
  regtest: params('regtest', Uint8Array.of(0xfa, 0xbf, 0xb5, 0xda), 18444, ['dummySeed.invalid.']),
});

const BY_MAGIC = new Map<number, NetworkParams>(Object.values(NETWORKS).map((n) => [n.magicLE, n]));

/** The chain whose message start, read as a little-endian uint32, is `magicLE`. */
export function networkByMagic(magicLE: number): NetworkParams | undefined {
  return BY_MAGIC.get(magicLE >>> 0);
}

export function isNetworkName(name: string): name is NetworkName {
  return Object.hasOwn(NETWORKS, name);
}
