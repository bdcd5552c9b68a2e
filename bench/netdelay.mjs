// Kernel-level delay, jitter and loss on the benchmark's loopback for kernels
// without tc netem (issue 16): bench/netdelay/netdelay.c, an NFQUEUE program
// that holds each crawler<->node TCP packet for half the node's round trip
// (plus jitter, never reordering a flow) and drops a share of them.
//
// - prepareNetdelay(): outside the namespace, as root: installs what is
//   missing (libnetfilter-queue-dev for the build, iptables for the NFQUEUE
//   rule: this kernel has the xt NFQUEUE target but no nft `queue`
//   expression, CONFIG_NFT_QUEUE unset), then compiles it with gcc.
// - startKernelDelay(): inside the bench's own `unshare -n` namespace only:
//   starts the program, then queues TCP to and from the simulated nodes'
//   range on lo (never the black-holed range, which stays dropped, nor
//   anything else). If the program dies mid-run the benchmark stops with
//   exit status 70: the queue has no bypass, so its packets would be dropped.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procCpuMs } from './proc-cpu.mjs';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));
export const NETDELAY_SOURCE = here('./netdelay/netdelay.c');
export const NETDELAY_BINARY = here('./netdelay/build/netdelay');
const HEADER = '/usr/include/libnetfilter_queue/libnetfilter_queue.h';
/** The NFQUEUE number the bench uses (any free one inside its own namespace). */
const QUEUE = 16;
/** What the benchmark adds to each packet besides the node's RTT/2, and its loss. */
export const KERNEL_DELAY_DEFAULTS = Object.freeze({ jitterMs: 5, loss: 0.001, rtPriority: 10 });

/** gcc's command line, one definition (the test builds with it too). */
export function gccArgs(source, out) {
  return ['-O2', '-Wall', '-Wextra', '-o', out, source, '-lnetfilter_queue', '-lnfnetlink', '-lm'];
}

/** Compiles netdelay.c to `out` unless it is newer than the source; returns null or why it could not. */
export function buildNetdelay(out = NETDELAY_BINARY) {
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(NETDELAY_SOURCE).mtimeMs) return null;
  if (!existsSync(HEADER)) return `${HEADER} missing (Debian package libnetfilter-queue-dev)`;
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync('gcc', gccArgs(NETDELAY_SOURCE, out), { encoding: 'utf8' });
  if (r.error) return `gcc: ${r.error.message}`;
  return r.status === 0 ? null : `gcc failed: ${r.stderr.trim().split('\n').slice(0, 3).join(' ')}`;
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** As root, outside the namespace (apt needs the network): packages, then the build. Returns null or why not. */
export function prepareNetdelay({ install = true } = {}) {
  const missing = [];
  if (!existsSync(HEADER)) missing.push('libnetfilter-queue-dev');
  if (!has('iptables')) missing.push('iptables');
  if (!has('gcc')) missing.push('gcc');
  if (missing.length > 0 && !install) return `missing ${missing.join(' ')} (BITSPREAD_BENCH_NO_INSTALL=1)`;
  if (missing.length > 0) {
    console.log(`bench: installing ${missing.join(' ')} for the kernel delayer (bench/netdelay/)`);
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) return `apt-get install ${missing.join(' ')} failed`;
  }
  return buildNetdelay();
}

function iptables(op, range, which) {
  return spawnSync('iptables', ['-w', '-t', 'mangle', op, 'OUTPUT', '-p', 'tcp', '-m', 'iprange', `--${which}-range`, range, '-j', 'NFQUEUE', '--queue-num', String(QUEUE)], { encoding: 'utf8' });
}


/**
 * Starts the delayer for nodes in `range` ('A.B.C.D-E.F.G.H') with per-node
 * RTTs log-uniform in [minMs, maxMs] by `seed` (src/sim/kernel-rtt.ts), then
 * queues their traffic. Resolves with { params, stop() → counters }.
 */
export async function startKernelDelay({ range, minMs, maxMs, seed, jitterMs = KERNEL_DELAY_DEFAULTS.jitterMs, loss = KERNEL_DELAY_DEFAULTS.loss }) {
  const params = { range, minMs, maxMs, seed, jitterMs, loss, queue: QUEUE, rtPriority: KERNEL_DELAY_DEFAULTS.rtPriority };
  const args = ['--queue', String(QUEUE), '--range', range, '--min-rtt', String(minMs), '--max-rtt', String(maxMs), '--seed', String(seed), '--jitter', String(jitterMs), '--loss', String(loss), '--rt-priority', String(params.rtPriority)];
  const child = spawn(NETDELAY_BINARY, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (l) => waiting.shift()?.(JSON.parse(l)));
  const nextLine = () => new Promise((resolve) => waiting.push(resolve));
  let stopping = false;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  exited.then((how) => {
    if (stopping) return;
    // No bypass: with nobody bound to the queue, the kernel drops its packets. Figures from here on would be void.
    console.error(`bench: FATAL: the kernel delayer (bench/netdelay) exited mid-run (${how}); the crawl's packets are being dropped, so this benchmark stops`);
    process.exit(70);
  });
  const ready = await Promise.race([nextLine(), exited.then((how) => ({ exited: how }))]);
  if (!ready.ready) throw new Error(`kernel delayer did not start (${JSON.stringify(ready)})`);
  for (const which of ['dst', 'src']) {
    const r = iptables('-A', range, which);
    if (r.status !== 0) {
      stopping = true;
      child.kill('SIGTERM');
      throw new Error(`iptables NFQUEUE rule failed: ${r.stderr.trim()}`);
    }
  }
  const startedAt = Date.now();
  return {
    params,
    pid: child.pid,
    /** Removes the rules, then ends the delayer (it releases what it holds); resolves with its counters. */
    async stop() {
      for (const which of ['dst', 'src']) iptables('-D', range, which);
      // Its system time includes the kernel's work on each packet it lets through (a verdict
      // re-injects the packet, and lo delivers it in that syscall's softirq).
      const cpuMs = procCpuMs(`/proc/${child.pid}/stat`);
      stopping = true;
      const counters = nextLine();
      child.kill('SIGTERM');
      const how = await exited;
      if (how !== 0) throw new Error(`kernel delayer exited with ${how}`);
      const c = await counters;
      const seconds = (Date.now() - startedAt) / 1000;
      const total = cpuMs === null ? null : cpuMs.user + cpuMs.system;
      return {
        ...c,
        seconds,
        cpuMs: total,
        cpuUserMs: cpuMs?.user ?? null,
        cpuSystemMs: cpuMs?.system ?? null,
        cpuCoreShare: total === null ? null : total / 1000 / seconds,
        cpuUsPerPacket: total !== null && c.packets ? (total * 1000) / c.packets : null,
      };
    },
  };
}
