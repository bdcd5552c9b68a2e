#!/usr/bin/env node
// What the simulator costs: start-up time and memory per network size, and
// how many version/verack handshakes per second it serves on one core while
// a client in another process hammers it with several hundred concurrent
// connections.
//
//   node bench/sim-cost.mjs [--quick] [--json out.json]
//
// Imports the built package (run `npm run build` first). Each size starts in a
// fresh child process so one size's garbage does not inflate the next's RSS.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const LIB = new URL('../dist/src/index.js', import.meta.url).href;
const WIRE = new URL('../dist/src/wire/index.js', import.meta.url).href;
const SELF = fileURLToPath(import.meta.url);
/**
 * An unusual port, so a shared-mode (wildcard) run does not collide with tests
 * on 18444; with its +1000..+3000 siblings still below Linux's ephemeral range
 * (32768+), where any outgoing connection could hold the port.
 */
const PORT = 28_444;
const BASE = '127.150.0.0';

const role = process.argv[2];
if (role === '--child-size') await childSize(Number(process.argv[3]), process.argv[4] ?? 'auto');
else if (role === '--child-client') await childClient(JSON.parse(process.argv[3]));
else if (role === '--child-held') await childHeld(Number(process.argv[3]));
else if (role === '--child-holder') await childHolder(JSON.parse(process.argv[3]));
else await main();

async function main() {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, json: { type: 'string' } } });
  const quick = values.quick === true;
  // auto = what startSimNetwork picks: per-node listeners while they fit under the fd limit, else shared.
  const sizes = quick
    ? [[1_000, 'auto'], [5_000, 'auto']]
    : [[1_000, 'auto'], [10_000, 'auto'], [15_000, 'per-node'], [20_000, 'auto'], [50_000, 'shared']];
  const startup = [];
  for (const [nodes, listen] of sizes) {
    const r = await runChild(['--child-size', String(nodes), listen]);
    startup.push(r);
  }
  const held = await runChild(['--child-held', String(quick ? 1_000 : 5_000)]);
  const handshakes = await measureHandshakes({ nodes: 1_000, concurrency: quick ? 200 : 400, seconds: quick ? 2 : 5 });

  console.log('simulator start-up and memory (each size in a fresh process)');
  console.log('nodes    mode      listeners  start ms   RSS MB  heap MB  per node KB (RSS)');
  for (const r of startup) {
    console.log(
      `${String(r.nodes).padEnd(8)} ${r.listenMode.padEnd(9)} ${String(r.listeners).padStart(9)} ${r.startMs.toFixed(0).padStart(9)} ${r.rssMB.toFixed(1).padStart(8)} ${r.heapMB.toFixed(1).padStart(8)} ${((r.rssMB * 1024) / r.nodes).toFixed(2).padStart(10)}`,
    );
  }
  console.log('');
  console.log(
    `open connections held: ${held.connections} handshaken connections cost the simulator ` +
      `${held.rssKBPerConn.toFixed(1)} KB RSS and ${held.heapKBPerConn.toFixed(1)} KB heap each`,
  );
  console.log(
    `handshakes served (simulator on one core, ${handshakes.concurrency} concurrent client connections from another process, ${handshakes.seconds.toFixed(1)}s): ` +
      `${handshakes.perSecond.toFixed(0)}/s (${handshakes.completed} completed, ${handshakes.failed} failed, sim accepted ${handshakes.accepted}, peak inbound ${handshakes.peakInbound}, CPU: simulator ${(handshakes.simCpu * 100).toFixed(0)} %, client ${(handshakes.clientCpu * 100).toFixed(0)} % of one core)`,
  );
  const result = { bench: 'sim-cost', quick, startup, held, handshakes };
  if (values.json !== undefined) writeFileSync(values.json, JSON.stringify(result, null, 2) + '\n');
}

function runChild(args) {
  return new Promise((resolve, reject) => {
    const child = fork(SELF, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc'] });
    let result;
    child.on('message', (m) => (result = m));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 && result !== undefined ? resolve(result) : reject(new Error(`child ${args.join(' ')} exited ${code}`))));
  });
}

async function childSize(nodes, listen) {
  const { startSimNetwork } = await import(LIB);
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const sim = await startSimNetwork({ nodes, seed: 1, port: PORT, baseAddress: BASE, listen });
  const startMs = performance.now() - t0;
  const truthT0 = performance.now();
  const truth = sim.truth();
  const truthMs = performance.now() - truthT0;
  const mem = process.memoryUsage();
  process.send({
    nodes,
    listenMode: sim.listenMode,
    listeners: sim.listeners,
    startMs,
    truthMs,
    reachable: truth.reachable.length,
    rssMB: (mem.rss - rss0) / 2 ** 20,
    heapMB: (mem.heapUsed - heap0) / 2 ** 20,
  });
  await sim.close();
  process.disconnect();
}

async function measureHandshakes({ nodes, concurrency, seconds }) {
  const { startSimNetwork } = await import(LIB);
  const sim = await startSimNetwork({ nodes, seed: 2, mix: { modern: 1 }, port: PORT, baseAddress: BASE });
  const targets = sim.truth().reachable.map((r) => r.addr);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const r = await runChild(['--child-client', JSON.stringify({ targets, concurrency, seconds })]);
  const cpu = process.cpuUsage(cpu0);
  // Share of one core the simulator used: near 1 means it, not the client, was the limit.
  const simCpu = (cpu.user + cpu.system) / 1000 / (performance.now() - wall0);
  const stats = sim.stats();
  await sim.close();
  return { nodes, concurrency, seconds: r.seconds, completed: r.completed, failed: r.failed, perSecond: r.completed / r.seconds, simCpu, clientCpu: r.clientCpu, accepted: stats.connectionsAccepted, peakInbound: stats.peakInbound };
}

/** The hammering client: connect, version, wait for verack, verack, reset; repeat on every slot. */
async function childClient({ targets, concurrency, seconds }) {
  const { encodeMessage, makeVersion, NETWORKS } = await import(WIRE);
  const net = NETWORKS.regtest;
  const version = encodeMessage(net, { command: 'version', payload: makeVersion({ version: 70016, userAgent: '/bitspread-bench:0.1/', startHeight: 0 }) });
  const verack = encodeMessage(net, { command: 'verack' });
  const VERACK_HEADER = verack.subarray(0, 16); // magic + "verack" + NUL padding
  let completed = 0;
  let failed = 0;
  let i = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const end = t0 + seconds * 1000;
  function one() {
    return new Promise((resolve) => {
      const addr = targets[i++ % targets.length];
      const colon = addr.lastIndexOf(':');
      const socket = connect({ host: addr.slice(0, colon), port: Number(addr.slice(colon + 1)) });
      socket.setNoDelay(true);
      let done = false;
      const finish = (ok) => {
        if (done) return;
        done = true;
        if (ok) completed++;
        else failed++;
        socket.resetAndDestroy();
        resolve();
      };
      // The client must not be the bottleneck: no full decode, just spot the verack
      // frame (the node sends it last in its handshake burst).
      let tail = Buffer.alloc(0);
      socket.on('connect', () => socket.write(version));
      socket.on('data', (chunk) => {
        tail = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
        if (tail.includes(VERACK_HEADER)) {
          socket.write(verack);
          finish(true);
        } else if (tail.length > 64) tail = tail.subarray(tail.length - 64);
      });
      socket.on('error', () => finish(false));
      socket.on('close', () => finish(false));
    });
  }
  async function slot() {
    while (performance.now() < end) await one();
  }
  await Promise.all(Array.from({ length: concurrency }, slot));
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  process.send({ completed, failed, seconds: wallMs / 1000, clientCpu: (cpu.user + cpu.system) / 1000 / wallMs });
  process.disconnect();
}

/** Memory per open, handshaken inbound connection: the simulator holds N at once. */
async function childHeld(connections) {
  const { startSimNetwork } = await import(LIB);
  const sim = await startSimNetwork({ nodes: 1_000, seed: 3, mix: { modern: 1 }, port: PORT, baseAddress: BASE });
  const targets = sim.truth().reachable.map((r) => r.addr);
  globalThis.gc?.();
  const m0 = process.memoryUsage();
  const holder = fork(SELF, ['--child-holder', JSON.stringify({ targets, connections })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve, reject) => {
    holder.once('message', resolve);
    holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
  });
  while (sim.stats().handshakes < connections) await new Promise((resolve) => setTimeout(resolve, 20));
  globalThis.gc?.();
  const m1 = process.memoryUsage();
  const open = sim.stats().openInbound;
  holder.send('done');
  await new Promise((resolve) => holder.once('exit', resolve));
  await sim.close();
  process.send({
    connections: open,
    rssKBPerConn: (m1.rss - m0.rss) / 1024 / open,
    heapKBPerConn: (m1.heapUsed - m0.heapUsed) / 1024 / open,
  });
  process.disconnect();
}

async function childHolder({ targets, connections }) {
  const { encodeMessage, makeVersion, NETWORKS } = await import(WIRE);
  const net = NETWORKS.regtest;
  const version = encodeMessage(net, { command: 'version', payload: makeVersion({ version: 70016, userAgent: '/bitspread-bench:0.1/', startHeight: 0 }) });
  const verack = encodeMessage(net, { command: 'verack' });
  const VERACK_HEADER = verack.subarray(0, 16);
  const sockets = [];
  const open = (addr) =>
    new Promise((resolve, reject) => {
      const colon = addr.lastIndexOf(':');
      const socket = connect({ host: addr.slice(0, colon), port: Number(addr.slice(colon + 1)) });
      sockets.push(socket);
      let seen = Buffer.alloc(0);
      socket.on('connect', () => socket.write(version));
      socket.on('error', reject);
      socket.on('data', (chunk) => {
        if (seen === null) return;
        seen = Buffer.concat([seen, chunk]);
        if (seen.includes(VERACK_HEADER)) {
          seen = null;
          socket.write(verack);
          resolve();
        }
      });
    });
  for (let i = 0; i < connections; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, connections - i) }, (_, k) => open(targets[(i + k) % targets.length])));
  }
  process.send('ready');
  await new Promise((resolve) => process.once('message', resolve));
  for (const s of sockets) s.resetAndDestroy();
  process.disconnect();
}
