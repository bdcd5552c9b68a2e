#!/usr/bin/env node
// Issue 16: bitspread on a network shaped like the real one, in its own
// network namespace (bench/netns.mjs: dead addresses black-holed by
// nftables, so their connects time out for real). Three parts:
//
// 1. Reference network (the latency scenario: 10,000 nodes, replies delayed
//    100 ms median / 1,000 ms p99, 10 % silent, 20 % refused), side by side:
//    - bitspread with its defaults (crawl.secondsToMapDefaults);
//    - bitspread with its defaults at cap 700, bitnodes' socket count
//      (crawl.secondsToMapAtCap700);
//    - before: the defaults main had (cap 125, a fixed 1 s quiet period);
//    - bitspread's defaults at cap 125 (the quiet/close rules alone);
//    - the baseline crawler (node:net + our codec) at 700 sockets with the
//      bench's limits, a bitnodes-like set-up.
//    Slot efficiency: per reachable visit, the least it could take (the sim's
//    time from accepting the connection to its getaddr answer leaving) over
//    the time the visit held its slot.
// 2. Mainnet shape: ~60,000 gossiped addresses: 30,000 nodes (18,000
//    reachable: ~11,000 IPv4, ~5,500 Tor v3, ~1,500 I2P; the rest refused),
//    24,000 black-holed IPv4, 5,000 dead .onion and 1,000 dead .b32.i2p
//    names; full 1,000-entry answers mixing IPv4, IPv6 (gossip only) and
//    Tor/I2P/CJDNS; round trips 20-300 ms per IP node. Tor and I2P nodes sit
//    behind the sim's SOCKS5 and SAM fronts (the crawler runs with
//    --via-tor/--tor-proxy and --via-i2p/--i2p-sam pointing at them) with
//    their own connect delays and round trips (MAINNET_OVERLAY); dead names
//    fail after the front's give-up delay. bitspread's defaults against the
//    same with a fixed 1 s quiet period; figures per network.
// 3. Full answers, CPU-bound: the cpu-bound scenario (no latency, cap 500)
//    with every answer padded to 1,000 entries, against the same with the
//    plan's 8-30-entry answers: CPU per reachable visit.
//
// Round trips (mainnet shape): with the kernel delayer (bench/netdelay.mjs,
// as root in the bench's namespace) every node's round trip is real: each
// packet to or from it waits RTT/2 in the kernel (plus jitter, some loss), so
// the TCP connect costs one round trip too, and the sim adds none itself.
// Without it (or with --rtt emulated) the sim adds the node's round trip to
// each reply and connects are instant. Both draw each node's RTT from the
// same hash (src/sim/kernel-rtt.ts), so the two modes give a node the same RTT.
// The reference network's delays are per reply (its definition, against
// which bitnodes was measured) and stay in the sim in both modes. The mainnet
// shape with Tor and I2P nodes behind the sim's fronts keeps its round trips
// in the sim (the fronts relay to the nodes' hidden loopback addresses, which
// the delayer would slow a second time); in kernel mode its IPv4-only
// variant runs as well, with the round trips in the kernel.
//
//   node bench/realistic.mjs [--quick] [--json out.json] [--part reference|mainnet|full-answer] [--rtt auto|kernel|emulated] [--ip-only] [--tor-fronts 4]
// (--ip-only --rtt kernel|emulated: the IPv4-only mainnet shape in either round-trip mode.)
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ensureBuilt, loadDist } from './dist.mjs';
import { startKernelDelay } from './netdelay.mjs';
import { runCrawlChild, simLaneArgs, startSimHost, tmpJson } from './children.mjs';
import { BLACK_HOLE_BASE, benchNetwork, reexecInOwnNetns } from './netns.mjs';
import { CPU_BOUND_MAX_PEERS, CPU_MIX, LATENCY_MIX, QUICK_TIMEOUTS, TIMEOUTS as FULL_TIMEOUTS } from './scenarios.mjs';

const status = reexecInOwnNetns();
if (status !== null) process.exit(status);

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    part: { type: 'string', multiple: true },
    rows: { type: 'string' },
    rtt: { type: 'string', default: 'auto' },
    // Mainnet shape without Tor / I2P nodes (every node IPv4, no dead names), as before they were added: for comparison.
    'ip-only': { type: 'boolean', default: false },
    // Tor instances (the sim's SOCKS5 fronts) the crawler spreads onion dials over, 64 streams each by default.
    'tor-fronts': { type: 'string', default: '4' },
  },
});
const quick = args.quick;
const parts = new Set(args.part ?? ['reference', 'mainnet', 'full-answer']);
const TIMEOUTS = quick ? QUICK_TIMEOUTS : FULL_TIMEOUTS;
const network = benchNetwork();
if (!['auto', 'kernel', 'emulated'].includes(args.rtt)) {
  console.error(`--rtt: expected auto, kernel or emulated, got '${args.rtt}'`);
  process.exit(64);
}
if (args.rtt === 'kernel' && network.kernelDelay !== 'nfqueue') {
  console.error(`--rtt kernel: no kernel delayer here (${network.note ?? 'not root?'})`);
  process.exit(69);
}
/** Where the mainnet shape's round trips happen: 'kernel' (the NFQUEUE delayer) or 'emulated' (the sim adds them to replies). */
const rttMode = args.rtt === 'emulated' || network.kernelDelay !== 'nfqueue' ? 'emulated' : 'kernel';
ensureBuilt();
const { nodeRttUs, parseAddress } = await loadDist('src/index.js');
/** Every lane's nodes (children.mjs simLaneArgs: 127.110.0.0/16 … 127.119.0.0/16): what the delayer delays. */
const LANES_RANGE = '127.110.0.0-127.119.255.255';
/** Round trips a visit must wait through besides the sim's own delays: connect (SYN/SYN-ACK), version → version/verack, getaddr → answer. */
const KERNEL_RTTS_PER_VISIT = 3;

/** bitnodes' crawler: 700 sockets per process. */
const BITNODES_SOCKETS = 700;
/** main's defaults before issue 16: Core's cap and a fixed 1 s quiet period. */
const BEFORE = { maxPeers: 125, addrQuietMs: 1000 };

const REFERENCE = {
  nodes: quick ? 2000 : 10_000,
  latency: quick ? { medianMs: 50, tailMs: 500 } : { medianMs: 100, tailMs: 1000 },
  mix: LATENCY_MIX,
};
const scale = quick ? 0.1 : 1;
const reachableNodes = 18_000 * scale;
const refusedNodes = 12_000 * scale;
/**
 * Where the reachable nodes are: 11,000 IPv4, 5,500 Tor v3, 1,500 I2P (about
 * 39 % behind Tor or I2P). Bitnodes counts more onion than IPv4 among
 * reachable nodes today; we keep IPv4 the majority so the IP figures stay
 * comparable with earlier runs, and still put more than a third of the
 * reachable nodes behind the slow fronts. The shares apply to every node,
 * refused ones too (a 'refused' Tor / I2P node fails at the front after its
 * give-up delay). IPv6 stays gossip-only padding: the sim can only put IPv6
 * nodes on ::1 (one address, a port each), which is no IPv6 network.
 */
const OVERLAY_SHARE = { onion: 5500 / 18_000, i2p: 1500 / 18_000 };
/**
 * Tor and I2P delays, per node (log-uniform), our assumptions of the order
 * of magnitude (docs/PERFORMANCE.md says where they come from): an onion
 * connect builds a rendezvous circuit (0.5-5 s), the six-hop circuit's
 * round trip is 300-1,500 ms, and a dead onion fails after the descriptor
 * lookups give up (3-20 s); an I2P connect looks up a lease set and builds
 * tunnels (2-10 s), round trips 500-2,500 ms, dead names fail after 5-20 s.
 * All under the crawler's default proxied connect timeouts (30 s Tor, 60 s I2P).
 */
const MAINNET_OVERLAY = {
  onion: { connectMs: [500, 5000], rttMs: [300, 1500], failMs: [3000, 20_000], dead: 5000 * scale },
  i2p: { connectMs: [2000, 10_000], rttMs: [500, 2500], failMs: [5000, 20_000], dead: 1000 * scale },
};
/** The mainnet shape; `ipOnly`: every node IPv4 (no Tor / I2P nodes, no dead names), as before they were added. */
const mainnetScenario = (ipOnly) => ({
  nodes: reachableNodes + refusedNodes,
  // Reachable: mostly modern Core, some old (addr v1) ones; the rest refused.
  mix: { refused: refusedNodes / (reachableNodes + refusedNodes), old: 0.06 },
  latency: { medianMs: 5, tailMs: 50 },
  ...(ipOnly ? {} : { overlays: OVERLAY_SHARE, fronts: true, torFronts: Number(args['tor-fronts']) }),
  gossip: {
    answerSize: 1000,
    dead: { count: (ipOnly ? 30_000 : 24_000) * scale, base: BLACK_HOLE_BASE },
    ipv6Share: 0.1,
    nonIpShare: 0.05,
    rttMs: { minMs: 20, maxMs: 300, seed: 16 },
    ...(ipOnly ? {} : { overlay: MAINNET_OVERLAY }),
  },
});
const MAINNET = mainnetScenario(args['ip-only']);
const FULL = {
  nodes: quick ? 2000 : 10_000,
  mix: CPU_MIX,
  // No dead addresses: both rows dial the same nodes, only the answers' size differs.
  gossip: { answerSize: 1000, ipv6Share: 0.1, nonIpShare: 0.05 },
};

function simArgs(s, lane, kernel) {
  const a = ['--nodes', String(s.nodes), '--seed', '7', '--mix', JSON.stringify(s.mix), '--max-seconds', '1200', ...simLaneArgs(lane)];
  if (s.latency) a.push('--latency', String(s.latency.medianMs), '--tail', String(s.latency.tailMs));
  // In kernel mode the round trips are the delayer's: the sim adds none to its replies.
  if (s.gossip) a.push('--gossip', JSON.stringify(kernel ? { ...s.gossip, rttMs: undefined } : s.gossip));
  if (s.overlays) a.push('--overlays', JSON.stringify(s.overlays));
  if (s.fronts) a.push('--fronts', '--tor-fronts', String(s.torFronts ?? 1));
  return a;
}

/** A node's round trip by the delayer's hash, ms (null: not an IPv4 address). */
function rttOfAddr(addr, rttMs) {
  const a = parseAddress(addr);
  if (a.network !== 'ipv4') return null;
  const [b0, b1, b2, b3] = a.bytes;
  return nodeRttUs(((b0 << 24) | (b1 << 16) | (b2 << 8) | b3) >>> 0, a.port, rttMs) / 1000;
}

/** The least time of each visit in kernel mode: the sim's own delays plus the round trips the client waits through. */
function withKernelRtts(serve, rttMs) {
  const out = {};
  for (const [addr, ms] of Object.entries(serve)) {
    const rtt = rttOfAddr(addr, rttMs);
    if (rtt !== null) out[addr] = ms + KERNEL_RTTS_PER_VISIT * rtt;
  }
  return out;
}

/**
 * What the crawler measured against each node's round trip: its connect
 * time (dial to established: one RTT with the kernel delayer, about 0 when
 * emulated) minus the node's RTT, median and p90 over reachable visits.
 */
function connectFigures(visits, rttMs) {
  const excess = [];
  for (const v of visits) {
    const rtt = rttOfAddr(v[0], rttMs);
    if (rtt !== null && typeof v[4] === 'number') excess.push(v[4] - rtt);
  }
  excess.sort((a, b) => a - b);
  const at = (p) => (excess.length ? excess[Math.min(excess.length - 1, Math.floor(excess.length * p))] : null);
  return { connectMinusRttMsP10: at(0.1), connectMinusRttMsP50: at(0.5), connectMinusRttMsP90: at(0.9), connectsMeasured: excess.length };
}

/** One crawl row: [label, crawler, { defaults, engineOptions, maxPeers, timeouts }]. */
async function crawlRow(sim, ready, lane, row, kernelRtt, rttMs) {
  const seeds = ready.seeds;
  // The sim's fronts: Tor and I2P are dialled through them (on 127.0.0.1, inside the allow-list).
  const fronts = ready.sam !== null && ready.sam !== undefined;
  const reach = fronts ? { reach: { torProxies: ready.socks, viaTor: true, i2pSam: ready.sam, viaI2p: true } } : {};
  const engineOptions = row.engineOptions || fronts ? { ...row.engineOptions, ...reach } : undefined;
  const childArgs = ['--crawler', row.crawler, '--seeds', seeds.join(','), '--timeouts', JSON.stringify(row.timeouts ?? TIMEOUTS), '--max-peers', String(row.maxPeers ?? 125), '--deadline-seconds', quick ? '240' : '900'];
  if (row.defaults) childArgs.push('--defaults');
  if (engineOptions) childArgs.push('--engine-options', JSON.stringify(engineOptions));
  const r = await runCrawlChild({ childArgs, out: tmpJson(`realistic-${row.name}-lane${lane}`), killAfterMs: (quick ? 300 : 1000) * 1000, label: row.name });
  const truth = await sim.truth();
  const simServe = row.crawler === 'bitspread' ? await sim.serveTimes() : {};
  const serve = kernelRtt ? withKernelRtts(simServe, kernelRtt) : simServe;
  const truthSet = new Set(truth.reachable);
  const cpuMs = r.cpuUserMs + r.cpuSystemMs;
  return {
    name: row.name,
    crawler: row.crawler,
    engineOptions: row.engineOptions ?? null,
    defaults: row.defaults === true,
    maxPeers: r.maxPeers ?? row.maxPeers ?? null,
    seconds: r.ms / 1000,
    secondsToLastReachable: r.lastReachableMs === null ? null : r.lastReachableMs / 1000,
    reachableFound: r.reachable.length,
    truthReachable: truthSet.size,
    completeness: truthSet.size ? r.reachable.filter((x) => truthSet.has(x)).length / truthSet.size : null,
    failed: r.failed,
    failureCodes: r.failureCodes,
    cpuMs,
    cpuMsPerReachable: r.reachable.length ? cpuMs / r.reachable.length : null,
    // The split: user (our code, V8) and system (the kernel; on loopback a send also runs the
    // receiving side's TCP stack), and per thread kind (main, workers, libuv pool, V8 helpers).
    cpuUserMsPerReachable: r.reachable.length ? r.cpuUserMs / r.reachable.length : null,
    cpuSystemMsPerReachable: r.reachable.length ? r.cpuSystemMs / r.reachable.length : null,
    cpuMsPerReachableSteady: steadyCpu(r.cpuTimeline, r.reachable.length),
    cpuMsPerReachableByThread: r.reachable.length && r.cpuMsByThread ? Object.fromEntries(Object.entries(r.cpuMsByThread).map(([k, v]) => [k, v / r.reachable.length])) : null,
    loopP99Ms: r.loopP99Ms,
    maxRssBytes: r.maxRssBytes,
    simPeakInbound: truth.stats.peakInbound,
    simCoreShare: truth.cpuMs / r.ms,
    ...(r.visits ? slotFigures(r.visits, serve) : {}),
    ...(r.visits && rttMs ? connectFigures(r.visits, rttMs) : {}),
    ...(truth.fronts ? { byNetwork: byNetwork(r, truth, serve), fronts: truth.fronts, simPeakInboundByNetwork: truth.stats.peakInboundByNetwork, networkTimeline: r.networkTimeline, handshakeTimeouts: r.handshakeTimeouts } : {}),
  };
}

/** Found / reachable and slot efficiency per network (IPv4, Tor, I2P). */
function byNetwork(r, truth, serve) {
  // Each address parsed once (a Tor name's text carries a SHA3 checksum), not once per network.
  const networks = new Map();
  const networkOf = (addr) => {
    let n = networks.get(addr);
    if (n === undefined) networks.set(addr, (n = parseAddress(addr).network));
    return n;
  };
  const out = {};
  for (const net of ['ipv4', 'onion', 'i2p']) {
    const truthSet = new Set(truth.reachable.filter((a) => networkOf(a) === net));
    const found = r.reachable.filter((a) => networkOf(a) === net && truthSet.has(a)).length;
    const slot = r.visits ? slotFigures(r.visits.filter(([addr]) => networkOf(addr) === net), serve) : {};
    out[net] = { found, reachable: truthSet.size, slotEfficiency: slot.slotEfficiency ?? null, slotEfficiencyMedian: slot.slotEfficiencyMedian ?? null, meanSlotMs: slot.meanSlotMs ?? null, meanLeastMs: slot.meanLeastMs ?? null, visitsMeasured: slot.visitsMeasured ?? 0 };
  }
  return out;
}

/**
 * CPU per reachable node past warm-up: between the samples where a quarter
 * and nine tenths of the reachable nodes had been found, CPU spent ÷ nodes
 * found. Leaves out what a crawl pays once (starting workers, compiling the
 * hot code, which V8 does on helper threads) and its tail; null when the
 * timeline is too short to tell.
 */
function steadyCpu(timeline, found) {
  if (!Array.isArray(timeline) || found < 100) return null;
  const from = timeline.find(([, , n]) => n >= found * 0.25);
  const to = timeline.find(([, , n]) => n >= found * 0.9);
  if (!from || !to || to[2] - from[2] < found * 0.3) return null;
  return (to[1] - from[1]) / (to[2] - from[2]);
}

/**
 * Slot efficiency of the reachable visits the sim answered: Σ least time ÷ Σ
 * slot time (what throughput sees), the median of the per-visit ratios, the
 * mean slot and close times, and addresses learned per visit.
 */
function slotFigures(visits, serve) {
  let least = 0;
  let held = 0;
  let closeSum = 0;
  let addrs = 0;
  const ratios = [];
  const slots = [];
  const closes = [];
  for (const [addr, slotMs, closeMs, addrsReturned] of visits) {
    addrs += addrsReturned;
    if (slotMs === null) continue;
    slots.push(slotMs);
    closeSum += closeMs ?? 0;
    closes.push(closeMs ?? 0);
    const min = serve[addr];
    if (min === undefined || slotMs <= 0) continue;
    least += min;
    held += slotMs;
    ratios.push(Math.min(1, min / slotMs));
  }
  ratios.sort((a, b) => a - b);
  slots.sort((a, b) => a - b);
  closes.sort((a, b) => a - b);
  const pct = (xs, p) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(xs.length * p))] : null);
  return {
    slotEfficiency: held > 0 ? least / held : null,
    slotEfficiencyMedian: ratios.length ? ratios[Math.floor(ratios.length / 2)] : null,
    visitsMeasured: ratios.length,
    meanSlotMs: slots.length ? slots.reduce((a, b) => a + b, 0) / slots.length : null,
    medianSlotMs: slots.length ? slots[Math.floor(slots.length / 2)] : null,
    meanLeastMs: ratios.length ? least / ratios.length : null,
    meanCloseMs: slots.length ? closeSum / slots.length : null,
    closeMsP50: pct(closes, 0.5),
    closeMsP90: pct(closes, 0.9),
    closeMsMax: pct(closes, 1),
    addrsPerVisit: visits.length ? addrs / visits.length : null,
  };
}

/**
 * Rows side by side, each against its own fresh sim (lane = index). A
 * scenario with per-node round trips in kernel mode runs with the delayer
 * on; its counters land in `delayer.counters`.
 */
async function group(scenario, rows, delayer = {}) {
  // Not with Tor / I2P nodes: the fronts relay to their hidden loopback addresses inside the
  // delayer's range, so their traffic would be slowed twice (their own delays stay in the sim).
  const kernelRtt = rttMode === 'kernel' && scenario.gossip?.rttMs && !scenario.overlays ? scenario.gossip.rttMs : null;
  const sims = rows.map((_, lane) => startSimHost(simArgs(scenario, lane, kernelRtt !== null)));
  let delay = null;
  try {
    const ready = await Promise.all(sims.map((s) => s.ready));
    if (kernelRtt !== null) delay = await startKernelDelay({ range: LANES_RANGE, ...kernelRtt });
    const settled = await Promise.allSettled(rows.map((row, lane) => crawlRow(sims[lane], ready[lane], lane, row, kernelRtt, scenario.gossip?.rttMs?.seed === undefined ? null : scenario.gossip.rttMs)));
    return settled.map((s, i) => {
      if (s.status === 'fulfilled') return s.value;
      console.log(`  ${rows[i].name}: FAILED ${s.reason.message}`);
      return null;
    });
  } finally {
    if (delay !== null) {
      delayer.params = delay.params;
      delayer.counters = await delay.stop();
      console.log(`  kernel delayer: ${JSON.stringify(delayer.counters)}`);
    }
    await Promise.all(sims.map((s) => s.close()));
  }
}

function print(r) {
  if (r === null) return;
  const conn = r.connectMinusRttMsP50 == null ? '' : `  connect - RTT p10/p50/p90 ${r.connectMinusRttMsP10.toFixed(1)}/${r.connectMinusRttMsP50.toFixed(1)}/${r.connectMinusRttMsP90.toFixed(1)} ms`;
  if (r.byNetwork) {
    const parts = Object.entries(r.byNetwork).map(([n, x]) => `${n} ${x.found}/${x.reachable} eff ${x.slotEfficiency?.toFixed(2) ?? '-'} (slot ${x.meanSlotMs?.toFixed(0) ?? '-'} ms, least ${x.meanLeastMs?.toFixed(0) ?? '-'} ms)`);
    console.log(`    ${r.name}: ${parts.join('; ')}; front peaks tor ${r.fronts.socks.map((f) => f.peakOnion).join('/')} i2p ${r.fronts.sam.peak}`);
  }
  const eff = r.slotEfficiency == null ? '' : `  slot eff ${r.slotEfficiency.toFixed(2)} (median ${r.slotEfficiencyMedian.toFixed(2)}; slot ${r.meanSlotMs.toFixed(0)} ms, least ${r.meanLeastMs.toFixed(0)} ms, close ${r.meanCloseMs.toFixed(0)} ms, p50/p90/max ${r.closeMsP50}/${r.closeMsP90}/${r.closeMsMax})  addrs/visit ${r.addrsPerVisit.toFixed(1)}${conn}`;
  const split = r.cpuUserMsPerReachable == null ? '' : ` (steady ${r.cpuMsPerReachableSteady?.toFixed(3) ?? '?'}; user ${r.cpuUserMsPerReachable.toFixed(3)}, sys ${r.cpuSystemMsPerReachable.toFixed(3)}${r.cpuMsPerReachableByThread ? `; ${Object.entries(r.cpuMsPerReachableByThread).filter(([, v]) => v >= 0.005).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}` : ''})`;
  console.log(`  ${r.name.padEnd(26)} cap ${String(r.maxPeers).padStart(4)}  ${r.seconds.toFixed(1).padStart(6)} s (last reachable ${r.secondsToLastReachable?.toFixed(1) ?? '?'} s)  ${r.reachableFound}/${r.truthReachable}  cpu ${r.cpuMsPerReachable?.toFixed(3)} ms/reachable${split}  peak conns ${r.simPeakInbound}  sim ${(100 * r.simCoreShare).toFixed(0)} %${eff}`);
}

// kernelRtt: whether the delayer could run; each group says which mode it used (rttMode).
const out = { quick, network: { ...network, kernelRtt: rttMode === 'kernel' }, timeouts: TIMEOUTS };
console.log(`network: ${JSON.stringify(network)}`);

if (parts.has('reference')) {
  console.log(`reference: ${REFERENCE.nodes} nodes, replies ${REFERENCE.latency.medianMs} ms median / ${REFERENCE.latency.tailMs} ms p99`);
  // The rows at 125 slots and the baseline wait on the network most of the
  // time, so they run side by side; the rows with bitspread's own cap (1,000
  // here) are CPU-bound on 2 busy cores and run alone.
  const rows = [
    [
      { name: 'before (cap 125, quiet 1 s)', crawler: 'bitspread', defaults: true, engineOptions: BEFORE },
      { name: 'defaults at cap 125', crawler: 'bitspread', defaults: true, engineOptions: { maxPeers: 125 } },
      { name: 'baseline at 700', crawler: 'baseline', maxPeers: BITNODES_SOCKETS },
    ],
    [{ name: 'defaults', crawler: 'bitspread', defaults: true }],
    [{ name: 'defaults at cap 700', crawler: 'bitspread', defaults: true, engineOptions: { maxPeers: BITNODES_SOCKETS } }],
  ];
  // --rows a,b: only those groups (by index).
  const keep = args.rows ? new Set(args.rows.split(',').map(Number)) : null;
  const results = [];
  for (const [i, g] of rows.entries()) {
    if (keep !== null && !keep.has(i)) continue;
    const res = await group(REFERENCE, g);
    res.forEach(print);
    results.push(...res);
  }
  const row = (name) => results.find((x) => x?.name === name) ?? null;
  const [before, at125, base700, def, cap700] = ['before (cap 125, quiet 1 s)', 'defaults at cap 125', 'baseline at 700', 'defaults', 'defaults at cap 700'].map(row);
  Object.assign(out, {
    reference: { scenario: REFERENCE, rows: results },
    secondsToMapDefaults: def?.seconds ?? null,
    secondsToMapDefaultsBaseline: before?.seconds ?? null,
    secondsToMapAtCap700: cap700?.seconds ?? null,
    secondsToMapAtCap700Baseline: base700?.seconds ?? null,
    defaultMaxPeers: def?.maxPeers ?? null,
    slotEfficiency: def?.slotEfficiency ?? null,
    slotEfficiencyBaseline: before?.slotEfficiency ?? null,
    slotEfficiencyAtCap125: at125?.slotEfficiency ?? null,
    slotEfficiencyAtCap700: cap700?.slotEfficiency ?? null,
    addrsPerVisit: def?.addrsPerVisit ?? null,
    addrsPerVisitBaseline: before?.addrsPerVisit ?? null,
    meanSlotMs: def?.meanSlotMs ?? null,
    meanSlotMsAtCap125: at125?.meanSlotMs ?? null,
    meanSlotMsBaseline: before?.meanSlotMs ?? null,
    meanCloseMs: def?.meanCloseMs ?? null,
    meanCloseMsAtCap125: at125?.meanCloseMs ?? null,
    cpuMsPerReachableDefaults: def?.cpuMsPerReachable ?? null,
    cpuMsPerReachableAtCap125: at125?.cpuMsPerReachable ?? null,
    cpuMsPerReachableDefaultsBaseline: before?.cpuMsPerReachable ?? null,
  });
}

/** One mainnet-shaped group (defaults, and a fixed 1 s quiet period, side by side): its figures. */
async function mainnetGroup(scenario) {
  const kernel = rttMode === 'kernel' && !scenario.overlays;
  const deadOverlay = scenario.gossip.overlay ? MAINNET_OVERLAY.onion.dead + MAINNET_OVERLAY.i2p.dead : 0;
  console.log(`mainnet shape: ${scenario.nodes + scenario.gossip.dead.count + deadOverlay} gossiped addresses (${reachableNodes} reachable, ${refusedNodes} refused, ${scenario.gossip.dead.count} black-holed IPv4, ${deadOverlay} dead Tor/I2P names; ${scenario.overlays ? (100 * (OVERLAY_SHARE.onion + OVERLAY_SHARE.i2p)).toFixed(0) : 0} % of nodes behind Tor/I2P), 1,000-entry answers, round trips 20-300 ms (IP, ${kernel ? 'in the kernel: NFQUEUE delayer' : 'emulated by the sim'})`);
  // Every simulated node sits in one loopback /16 (its lane), so to the engine's gossip
  // policy all 18,000 are ONE source netgroup, whose default budget (65,536 new addresses,
  // src/engine/gossip-policy.ts) is smaller than this pool (60,000 IPv4 + IPv6 + non-IP):
  // about 9 % of the map was dropped. On mainnet they would be thousands of groups, each far
  // under its budget, so the rows lift the group budget; every other default stays.
  const spread = { maxAddrsPerSourceGroup: 1_000_000 };
  const rows = [
    { name: 'mainnet defaults', crawler: 'bitspread', defaults: true, engineOptions: spread },
    { name: 'mainnet quiet 1 s', crawler: 'bitspread', defaults: true, engineOptions: { ...spread, addrQuietMs: 1000 } },
  ];
  const delayer = {};
  const [def, fixed] = await group(scenario, rows, delayer);
  [def, fixed].forEach(print);
  if (delayer.counters) out.network = { ...out.network, netem: false, kernelDelay: 'nfqueue', ...delayer.params, counters: delayer.counters };
  return {
    scenario,
    rttMode: kernel ? 'kernel' : 'emulated',
    leastTime: kernel ? `sim delays + ${KERNEL_RTTS_PER_VISIT} kernel round trips (connect, version, getaddr)` : 'sim delays incl. 2 emulated round trips (version, getaddr) and, for Tor/I2P, the front\'s connect delay; IP connects instant',
    secondsToMap: def?.seconds ?? null,
    secondsToMapBaseline: fixed?.seconds ?? null,
    secondsToLastReachable: def?.secondsToLastReachable ?? null,
    secondsToLastReachableBaseline: fixed?.secondsToLastReachable ?? null,
    cpuMsPerReachable: def?.cpuMsPerReachable ?? null,
    cpuMsPerReachableBaseline: fixed?.cpuMsPerReachable ?? null,
    slotEfficiency: def?.slotEfficiency ?? null,
    slotEfficiencyBaseline: fixed?.slotEfficiency ?? null,
    addrsPerVisit: def?.addrsPerVisit ?? null,
    addrsPerVisitBaseline: fixed?.addrsPerVisit ?? null,
    // Per network (ipv4, onion, i2p): found / reachable, slot efficiency, mean slot and least time.
    byNetwork: def?.byNetwork ?? null,
    byNetworkBaseline: fixed?.byNetwork ?? null,
    fronts: def?.fronts ?? null,
    rows: [def, fixed],
  };
}

if (parts.has('mainnet')) {
  out.mainnetShape = await mainnetGroup(MAINNET);
  // With the kernel delayer the Tor / I2P scenario keeps its round trips in the sim; the
  // IPv4-only variant then runs too, with real round trips (connects included) in the kernel.
  if (MAINNET.overlays && rttMode === 'kernel') out.mainnetShape.ipv4Kernel = await mainnetGroup(mainnetScenario(true));
}

if (parts.has('full-answer')) {
  console.log(`full answers, cpu-bound: ${FULL.nodes} nodes, no latency, cap ${CPU_BOUND_MAX_PEERS}, one crawl at a time`);
  // The engine's defaults (5 s steps, adaptive quiet period) at the cpu-bound cap: the sim
  // works hard to encode 1,000-entry answers, and on a busy machine 3 s steps lost nodes.
  const engineOptions = { maxPeers: CPU_BOUND_MAX_PEERS };
  const results = [];
  for (const [name, gossip] of [['1,000-entry answers', FULL.gossip], ['8-30-entry answers', undefined]]) {
    const [res] = await group({ ...FULL, gossip }, [{ name, crawler: 'bitspread', defaults: true, engineOptions }]);
    print(res);
    results.push(res);
  }
  const [full, small] = results;
  out.fullAnswerCpuMsPerVisit = full?.cpuMsPerReachable ?? null;
  out.fullAnswerCpuMsPerVisitBaseline = small?.cpuMsPerReachable ?? null;
  out.fullAnswer = { scenario: FULL, rows: results };
}

if (args.json) writeFileSync(args.json, JSON.stringify(out, null, 2) + '\n');
