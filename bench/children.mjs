// The two child processes every crawl benchmark runs, so the crawler under
// test and the simulated network never share a CPU profile or a heap:
// - bench/sim-host.mjs: a simulated network, driven by lines on stdin
//   ('truth', 'close') and answering JSON lines on stdout;
// - bench/crawl-child.mjs: one crawl, whose figures come back as a JSON file.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './dist.mjs';

const here = (f) => fileURLToPath(new URL(f, import.meta.url));

/** A scratch file for one child's JSON result, unique to this process (give concurrent children distinct names). */
export const tmpJson = (name) => join(os.tmpdir(), `bitspread-${name}-${process.pid}.json`);

/**
 * sim-host arguments giving crawl lane `lane` (0-9) its own loopback /16 and
 * its own ports, so crawls that run side by side never share a listener:
 * 127.110+lane.0.0, main port 25000 + 10 × lane (the sim also uses +1000,
 * +2000 and +3000). All of 25000-28090 sits below Linux's ephemeral range
 * (32768+), away from regtest's 18444, scaling.mjs's 21000-24000 and
 * sim-cost.mjs's 28444-31444; the ports differ too in case a sim falls back to
 * shared mode (wildcard listeners on every address).
 */
export function simLaneArgs(lane) {
  if (!Number.isInteger(lane) || lane < 0 || lane > 9) throw new Error(`sim lane must be 0-9, got ${lane}`);
  return ['--base-address', `127.${110 + lane}.0.0`, '--port', String(25_000 + 10 * lane)];
}

/**
 * Starts bench/sim-host.mjs with `simArgs`. `ready` resolves with its first
 * line (seeds, listen mode); `truth()` asks for the ground truth and stats;
 * `close()` ends it (SIGKILL after 30 s), at once if it already exited.
 */
export function startSimHost(simArgs) {
  const child = spawn(process.execPath, [here('./sim-host.mjs'), ...simArgs], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  const next = () =>
    new Promise((resolve, reject) => {
      waiting.push(resolve);
      child.once('exit', (code) => reject(new Error(`sim-host exited (${code})`)));
    });
  return {
    ready: next(),
    async truth() {
      const p = next();
      child.stdin.write('truth\n');
      return p;
    },
    /** Per node address: the delays the node put before the replies a client waits for, ms (the least a visit can take). */
    async serveTimes() {
      const p = next();
      child.stdin.write('serve\n');
      return (await p).serveMs;
    },
    close() {
      return new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', resolve);
        child.stdin.end('close\n');
        setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
      });
    },
  };
}

/**
 * Runs bench/crawl-child.mjs (`nodeArgs` go to node itself, e.g. --cpu-prof)
 * writing its figures to `out`; resolves with them. Killed after `killAfterMs`.
 */
export function runCrawlChild({ nodeArgs = [], childArgs, out, killAfterMs, label }) {
  // BITSPREAD_BENCH_PROFILE=dir: V8 CPU profiles of every crawler process (main thread and
  // each worker thread, one .cpuprofile each) go to dir, for finding where a figure's CPU goes
  // (wall-clock samples: on a loaded machine prefer `perf record -e cpu-clock` with
  // BITSPREAD_BENCH_NODE_ARGS=--perf-basic-prof, which adds node options to each crawler).
  const profileDir = process.env.BITSPREAD_BENCH_PROFILE;
  const profArgs = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...(process.env.BITSPREAD_BENCH_NODE_ARGS ? process.env.BITSPREAD_BENCH_NODE_ARGS.split(' ') : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...profArgs, ...nodeArgs, here('./crawl-child.mjs'), ...childArgs, '--json', out], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`crawl-child ${label} exited with ${code ?? signal}`));
      const r = JSON.parse(readFileSync(out, 'utf8'));
      rmSync(out, { force: true });
      resolve(r);
    });
  });
}
