// Hosts a simulated network in its own process, so the sim's CPU and memory
// never count against the crawler being measured. Protocol over stdio, one
// JSON object per line: prints {"ready":true,"seeds":[...]} once listening;
// reads "truth" (→ {"reachable":[addr…],"failed":n,"stats":{…},"cpuMs":n}),
// "serve" (→ {"serveMs":{addr: ms}}) and "close". cpuMs is this process's CPU (user + system) since it said ready:
// the crawl's demand on the simulator, which on a small machine competes with
// the crawler for the same cores.
//
// --overlays json (SimOptions.overlays) with --fronts also starts the sim's
// SOCKS5 (Tor; --tor-fronts N of them, as N Tor instances) and SAM (I2P)
// fronts on loopback; ready then carries their addresses (socks: [..], sam)
// and truth the fronts' connections and peak tunnels.
//
//   node bench/sim-host.mjs --nodes 1000 [--seed 1] [--latency 100] [--tail 1000] [--mix json] [--port N] [--gossip json] [--overlays json] [--fronts]
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadDist } from './dist.mjs';

const { values: a } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    latency: { type: 'string', default: '0' },
    tail: { type: 'string' },
    mix: { type: 'string' },
    seeds: { type: 'string', default: '8' },
    'base-address': { type: 'string' },
    port: { type: 'string' },
    'max-seconds': { type: 'string', default: '1800' },
    gossip: { type: 'string' },
    'p2p-v2-share': { type: 'string' },
    overlays: { type: 'string' },
    fronts: { type: 'boolean', default: false },
    'tor-fronts': { type: 'string', default: '1' },
  },
});

const { startSimNetwork } = await loadDist('src/index.js');
const { startSocksFront, startSamFront } = await loadDist('src/sim/index.js');
const medianMs = Number(a.latency);
const sim = await startSimNetwork({
  nodes: Number(a.nodes),
  seed: Number(a.seed),
  seedCount: Number(a.seeds),
  latency: medianMs > 0 ? { medianMs, ...(a.tail ? { tailMs: Number(a.tail) } : {}) } : false,
  ...(a.mix ? { mix: JSON.parse(a.mix) } : {}),
  ...(a['base-address'] ? { baseAddress: a['base-address'] } : {}),
  ...(a.port ? { port: Number(a.port) } : {}),
  ...(a.gossip ? { gossip: JSON.parse(a.gossip) } : {}),
  ...(a['p2p-v2-share'] ? { p2pV2Share: Number(a['p2p-v2-share']) } : {}),
  ...(a.overlays ? { overlays: JSON.parse(a.overlays) } : {}),
});
// Each node's own delays come from the sim (gossip.overlay); the fronts add none of their own.
const socksFronts = a.fronts ? await Promise.all(Array.from({ length: Number(a['tor-fronts']) }, () => startSocksFront(sim))) : [];
const sam = a.fronts ? await startSamFront(sim) : null;

const send = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
let closing = false;
async function close() {
  if (closing) return;
  closing = true;
  clearTimeout(selfStop);
  await Promise.all([...socksFronts.map((f) => f.close()), sam?.close()]);
  await sim.close();
  process.exit(0);
}
// Stops by itself even if the parent dies without saying "close".
const selfStop = setTimeout(close, Number(a['max-seconds']) * 1000);
process.stdin.on('end', close);

const cpuAtReady = process.cpuUsage();
// The sim's own event-loop delay: when it lags, every reply (and the FIN answering a client's) comes late.
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'truth') {
    const t = sim.truth();
    const s = sim.stats();
    const cpu = process.cpuUsage(cpuAtReady);
    const fronts = sam === null ? null : { socks: socksFronts.map((f) => ({ accepted: f.stats().accepted, peakOnion: f.stats().peak.onion })), sam: { accepted: sam.stats().accepted, peak: sam.stats().peak } };
    send({ reachable: t.reachable.map((r) => r.addr), failed: t.failed.length, nonIp: t.nonIp.length, fronts, stats: { peakInboundByNetwork: s.peakInboundByNetwork, peakInbound: s.peakInbound, connectionsAccepted: s.connectionsAccepted, violations: s.violations.length, v2Sessions: s.v2Sessions, v1OnV2Nodes: s.v1OnV2Nodes, v2Refused: s.v2Refused }, cpuMs: (cpu.user + cpu.system) / 1000, loopP50Ms: loop.percentile(50) / 1e6 - 1, loopP99Ms: loop.percentile(99) / 1e6 - 1, loopMaxMs: loop.max / 1e6 - 1 });
  } else if (cmd === 'serve') {
    // Per node: the delays it put before the replies a client waits for (the least a visit can take).
    send({ serveMs: sim.serveTimes() });
  } else if (cmd === 'close') {
    void close();
  }
});
send({ ready: true, seeds: sim.seeds, listenMode: sim.listenMode, listeners: sim.listeners, socks: socksFronts.map((f) => f.address), sam: sam?.address ?? null });
