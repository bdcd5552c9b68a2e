#!/usr/bin/env node
// Scale (issue 16): 10,000 connections open at once in node mode. The engine
// (bitspread's Crawler, mode 'node', cap 10,000) holds peers of an
// 11,000-node simulated network (its own process); the floor is a bare
// net.Socket + MessageDecoder per connection against a plain server, in the
// same run. Each side is one fresh process (bench/memory.mjs's children):
// RSS growth per open connection at the plateau, and the main thread's
// event-loop delay from the first dial to the plateau.
//
//   node bench/scale.mjs [--quick] [--json out.json]     (--quick: 2,000 connections)
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, repoRoot } from './dist.mjs';
import { reexecInOwnNetns } from './netns.mjs';

const status = reexecInOwnNetns();
if (status !== null) process.exit(status);

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' } } });
const COUNT = args.quick ? 2000 : 10_000;
const here = (f) => fileURLToPath(new URL(f, import.meta.url));
ensureBuilt();

function helper(argv) {
  const child = spawn(process.execPath, argv, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l)));
    child.once('exit', (code) => reject(new Error(`helper exited (${code})`)));
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', resolve);
      child.stdin.end('close\n');
      setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
    });
  return { ready, stop };
}

function measure(childArgs) {
  const out = join(os.tmpdir(), `bitspread-scale-${process.pid}-${Date.now()}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', here('./memory.mjs'), ...childArgs, '--out', out], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('exit', (code) => {
      clearTimeout(killer);
      if (code !== 0) return reject(new Error(`scale child exited with ${code}`));
      const r = JSON.parse(readFileSync(out, 'utf8'));
      rmSync(out, { force: true });
      resolve(r);
    });
  });
}

const perConnection = (r) => (r.open > 0 ? (r.after.rss - r.before.rss) / r.open : null);
const notes = [];

let plain = null;
const server = helper([here('./memory.mjs'), '--child', 'hold-server']);
try {
  const { port } = await server.ready;
  plain = await measure(['--child', 'connections', '--impl', 'plain', '--count', String(COUNT), '--port', String(port)]);
} catch (err) {
  notes.push(`plain: ${err.message}`);
} finally {
  await server.stop();
}

let engine = null;
// Modern nodes only, more than the cap, no latency: the engine fills its cap and holds.
const sim = helper([here('./sim-host.mjs'), '--nodes', String(COUNT + COUNT / 10), '--seed', '3', '--mix', '{"modern":1}', '--max-seconds', '600', '--port', '24444']);
try {
  const { seeds } = await sim.ready;
  engine = await measure(['--child', 'connections', '--impl', 'bitspread', '--count', String(COUNT), '--seeds', seeds.join(','), '--settle', '0']);
} catch (err) {
  notes.push(`bitspread: ${err.message}`);
} finally {
  await sim.stop();
}

const results = {
  connections10k: {
    count: COUNT,
    open: engine?.open ?? null,
    mainLoopP99Ms: engine?.mainLoop?.p99Ms ?? null,
    mainLoopP99MsBaseline: plain?.mainLoop?.p99Ms ?? null,
    mainLoopMaxMs: engine?.mainLoop?.maxMs ?? null,
    bytesPerConnection: engine ? perConnection(engine) : null,
    bytesPerConnectionBaseline: plain ? perConnection(plain) : null,
    engine,
    plain,
  },
  notes,
};
const c = results.connections10k;
const f = (x, d = 1) => (x == null ? 'n/a' : x.toFixed(d));
console.log(`scale: ${COUNT} connections, node mode: open ${c.open}; main loop p99 ${f(c.mainLoopP99Ms)} ms (floor ${f(c.mainLoopP99MsBaseline)} ms), max ${f(c.mainLoopMaxMs, 0)} ms; ${f(c.bytesPerConnection, 0)} B RSS per connection (floor ${f(c.bytesPerConnectionBaseline, 0)} B)`);
for (const n of notes) console.log(`note: ${n}`);
if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
