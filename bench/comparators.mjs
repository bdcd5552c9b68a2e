// The independent implementations we compare against live in bench/node_modules,
// installed from bench/package-lock.json on first use, so they never become part
// of bitspread's own install (bcoin compiles a native module, mrmr, with node-gyp).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const requireFromBench = createRequire(new URL('./package.json', import.meta.url));

/** Installs bench/node_modules from the lockfile if bcoin is not there yet. */
export function ensureComparators({ quiet = false } = {}) {
  if (existsSync(new URL('./node_modules/bcoin/package.json', import.meta.url))) return;
  if (!quiet) process.stderr.write('bench: installing comparators (bcoin) into bench/node_modules …\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const res = spawnSync(npm, ['ci', '--prefix', benchDir, '--no-audit', '--no-fund', '--loglevel=error'], {
    stdio: quiet ? 'pipe' : ['ignore', 'inherit', 'inherit'],
    encoding: 'utf8',
  });
  if (res.status !== 0) {
    throw new Error(`npm ci --prefix bench failed (exit ${res.status}): ${res.stderr ?? ''}`);
  }
}

/** bcoin 1.0.2's wire pieces: parser (framing + checksum), packets (payloads), framer, Peer. */
export function loadBcoin() {
  ensureComparators();
  return {
    version: requireFromBench('bcoin/package.json').version,
    Parser: requireFromBench('bcoin/lib/net/parser'),
    Framer: requireFromBench('bcoin/lib/net/framer'),
    packets: requireFromBench('bcoin/lib/net/packets'),
    NetAddress: requireFromBench('bcoin/lib/net/netaddress'),
    Network: requireFromBench('bcoin/lib/protocol/network'),
    loadPeer: () => requireFromBench('bcoin/lib/net/peer'),
  };
}

/** Why bitcore-p2p is not among the comparators (printed in the tables). */
export const BITCORE_P2P_NOTE =
  'bitcore-p2p 10.10.7 left out: its `buffers` dependency is a git fork (bitpay/node-buffers) that cannot be ' +
  'fetched here; with `overrides` pointing it at the registry\'s buffers@0.1.1 it installs, but parseBuffer() ' +
  'throws "this.buffers[pos.buf].get is not a function" on Node 20 (Buffer#get was removed from Node long ago; ' +
  'the fork exists to fix exactly that).';
