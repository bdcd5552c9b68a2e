// The benchmark's own network: as root, a benchmark re-runs itself inside a
// fresh network namespace (`unshare -n`: only `lo`, nothing else reachable,
// and no other engineer's ports or test runs on it), with the black-holed
// range below dropped by nftables (SYNs to it are never answered, so a dial
// there costs a real connect timeout, as most gossiped mainnet addresses do).
// It also probes tc netem (kernel delay on lo) and reports whether the kernel
// has it; where it has not, it prepares the NFQUEUE delayer (bench/netdelay.mjs:
// packages and build happen here, before the namespace, since apt needs the
// network), which the scenarios with per-node round trips start themselves.
// What was set up reaches every child through BITSPREAD_BENCH_NETNS.
//
// Not root, no `unshare`, or BITSPREAD_BENCH_NO_NETNS=1: the benchmark runs
// where it is and the black-holed range is merely refused (reported).
import { spawnSync } from 'node:child_process';
import { prepareNetdelay } from './netdelay.mjs';

const ENV = 'BITSPREAD_BENCH_NETNS';
/** Addresses whose SYNs are dropped inside the benchmark's namespace. */
export const BLACK_HOLE_BASE = '127.250.0.0';
export const BLACK_HOLE_CIDR = '127.250.0.0/16';

const SETUP = `
set -e
ip link set lo up
black=false
if command -v nft >/dev/null 2>&1 && printf '%s\\n' 'table ip bitspread_bench { chain out { type filter hook output priority 0; policy accept; ip daddr ${BLACK_HOLE_CIDR} drop; }; }' | nft -f - 2>/dev/null; then black=true; fi
netem=false
if command -v tc >/dev/null 2>&1 && tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then tc qdisc del dev lo root; netem=true; fi
export ${ENV}="{\\"netns\\":true,\\"blackHoles\\":$black,\\"netem\\":$netem,\\"kernelDelay\\":$BITSPREAD_BENCH_KERNEL_DELAY}"
exec "$@"
`;

/**
 * What the benchmark runs on: { netns, blackHoles, netem, kernelDelay, note }.
 * kernelDelay: 'nfqueue' when the NFQUEUE delayer is built and usable (no
 * netem), else null.
 */
export function benchNetwork() {
  const v = process.env[ENV];
  if (v) {
    const s = JSON.parse(v);
    const notes = [];
    if (!s.blackHoles) notes.push(`no nftables: ${BLACK_HOLE_CIDR} is refused, not black-holed (install nftables)`);
    const why = process.env.BITSPREAD_BENCH_KERNEL_DELAY_WHY;
    if (!s.netem && s.kernelDelay === 'nfqueue') notes.push('no tc netem in this kernel (CONFIG_NET_SCH_NETEM): per-node round trips, jitter and loss come from the NFQUEUE delayer (bench/netdelay)');
    else if (!s.netem) notes.push(`no tc netem in this kernel (CONFIG_NET_SCH_NETEM) and no NFQUEUE delayer (${why || 'unavailable'}): round trips are emulated in the simulator, TCP connects are instant`);
    return { ...s, kernelDelay: s.kernelDelay || null, note: notes.join('; ') || null };
  }
  return { netns: false, blackHoles: false, netem: false, kernelDelay: null, note: `not in a network namespace of its own (needs root and unshare): ${BLACK_HOLE_CIDR} is refused, not black-holed` };
}

/**
 * Re-runs this process's script inside its own network namespace when it can
 * (root, unshare, not already inside); returns the exit status to exit with,
 * or null to carry on here.
 */
export function reexecInOwnNetns() {
  if (process.env[ENV] || process.env.BITSPREAD_BENCH_NO_NETNS === '1') return null;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const probe = spawnSync('unshare', ['-n', 'true']);
  if (probe.status !== 0) return null;
  // The per-node round trips come from our delayer whether or not the kernel has netem (one
  // netem qdisc on lo cannot give each node its own RTT). Preparing it installs what it lacks
  // (apt-get: libnetfilter-queue-dev, iptables, gcc), as npm run bench installs its other
  // comparators, unless BITSPREAD_BENCH_NO_INSTALL=1, which only reports what is missing.
  const why = prepareNetdelay({ install: process.env.BITSPREAD_BENCH_NO_INSTALL !== '1' });
  const env = { ...process.env, BITSPREAD_BENCH_KERNEL_DELAY: why === null ? '"nfqueue"' : 'null', BITSPREAD_BENCH_KERNEL_DELAY_WHY: why ?? '' };
  const r = spawnSync('unshare', ['-n', 'sh', '-c', SETUP, 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  return r.status ?? 1;
}
