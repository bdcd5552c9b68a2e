// The independent implementation we compare against, bcoin 1.0.2, is a pinned
// devDependency: `npm ci` installs it from the lockfile (bitspread's published
// package does not depend on it). Nothing is installed while tests or benchmarks
// run. Its install compiles one native module (mrmr) with node-gyp; bcoin's
// other native builds may fail on Node 20 and it falls back to JavaScript.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** bcoin 1.0.2's wire pieces: parser (framing + checksum), packets (payloads), framer, Peer. */
export function loadBcoin() {
  return {
    version: require('bcoin/package.json').version,
    Parser: require('bcoin/lib/net/parser'),
    Framer: require('bcoin/lib/net/framer'),
    packets: require('bcoin/lib/net/packets'),
    NetAddress: require('bcoin/lib/net/netaddress'),
    Network: require('bcoin/lib/protocol/network'),
    loadPeer: () => require('bcoin/lib/net/peer'),
  };
}

/** Why bitcore-p2p is not among the comparators (printed in the tables). */
export const BITCORE_P2P_NOTE =
  'bitcore-p2p 10.10.7 left out: its `buffers` dependency is a git fork (bitpay/node-buffers) that cannot be ' +
  'fetched here; with `overrides` pointing it at the registry\'s buffers@0.1.1 it installs, but parseBuffer() ' +
  'throws "this.buffers[pos.buf].get is not a function" on Node 20 (Buffer#get was removed from Node long ago; ' +
  'the fork exists to fix exactly that).';

/**
 * @noble/ciphers' ChaCha20-Poly1305 (pure JS, audited), the alternative to
 * node:crypto's OpenSSL AEAD that bench/bip324.mjs measures: a pinned
 * devDependency like bcoin (ESM-only).
 */
export async function loadNobleCiphers() {
  const mod = await import('@noble/ciphers/chacha.js');
  // Its exports map has no ./package.json: read the file next to the module.
  const pkg = new URL('./package.json', import.meta.resolve('@noble/ciphers/chacha.js'));
  return { version: JSON.parse(readFileSync(pkg, 'utf8')).version, chacha20poly1305: mod.chacha20poly1305 };
}
