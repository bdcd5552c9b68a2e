#!/usr/bin/env node
// Codec benchmark: decode throughput of a FRAMED 1,000-entry addr / addrv2
// message (header + checksum + payload decode into an AddrList; also with the
// entry objects materialised, and with every entry's text formatted), bitspread vs bcoin, with plain
// double SHA-256 over the same bytes as the ceiling (every byte must be hashed
// to check the checksum, so no decoder can beat it).
//
//   node bench/codec.mjs [--quick] [--json out.json]
import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BITCORE_P2P_NOTE, loadBcoin } from './comparators.mjs';
import { loadDist } from './dist.mjs';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' } } });
const quick = args.quick;
// 12 decoders × 9 rounds × 250 ms ≈ 27 s (11 × 500 ms took 66 s): a 250 ms round
// still decodes hundreds (bcoin) to thousands of messages, and the median of 9
// interleaved rounds rides out a busy neighbour as well as 11 did.
const ROUNDS = quick ? 3 : 9;
const ROUND_MS = quick ? 100 : 250;
const WARMUP_MS = quick ? 300 : 1500;
/** A TCP segment's payload on a typical link: how bytes really arrive from a socket. */
const SEGMENT = 1448;

const wire = await loadDist('src/wire/index.js');
const bcoin = loadBcoin();
const net = wire.NETWORKS.regtest;

// Deterministic pseudo-random bytes so every run decodes identical messages.
let seed = 0x2545f491;
function rnd() {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed;
}
function randomBytes(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rnd() & 255;
  return b;
}

// addr: the v1 mix a crawler sees (mostly IPv4, some IPv6).
function addrEntries() {
  const entries = [];
  for (let i = 0; i < 1000; i++) {
    const ipv6 = i % 5 === 4;
    const bytes = ipv6 ? Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...randomBytes(12)]) : Uint8Array.from([1 + (rnd() % 223), rnd() & 255, rnd() & 255, 1 + (rnd() % 254)]);
    entries.push({ time: 1_700_000_000 + i, services: 0x409n, address: { network: ipv6 ? 'ipv6' : 'ipv4', bytes, port: 8333 }, networkId: ipv6 ? 2 : 1 });
  }
  return entries;
}
// addrv2: BIP155 mix (IPv4, IPv6, Tor v3, I2P, CJDNS), so variable-length addresses are exercised.
function addrv2Entries() {
  const kinds = [
    ['ipv4', 1, () => Uint8Array.from([1 + (rnd() % 223), rnd() & 255, rnd() & 255, 1 + (rnd() % 254)])],
    ['ipv6', 2, () => Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...randomBytes(12)])],
    ['onion', 4, () => randomBytes(32)],
    ['i2p', 5, () => randomBytes(32)],
    ['cjdns', 6, () => Uint8Array.from([0xfc, ...randomBytes(15)])],
  ];
  const entries = [];
  for (let i = 0; i < 1000; i++) {
    const [network, networkId, make] = kinds[i % 4 === 3 ? 2 + (i % 3) : i % 2];
    entries.push({ time: 1_700_000_000 + i, services: 0x409n, address: { network, bytes: make(), port: network === 'i2p' ? 0 : 8333 }, networkId });
  }
  return entries;
}

const addrFrame = wire.encodeMessage(net, { command: 'addr', entries: addrEntries() });
const addrv2Frame = wire.encodeMessage(net, { command: 'addrv2', entries: addrv2Entries() });

function segments(frame) {
  const out = [];
  for (let off = 0; off < frame.length; off += SEGMENT) out.push(frame.subarray(off, off + SEGMENT));
  return out;
}

// Each decoder is a function `decodeOne()` that decodes one framed message and
// returns the number of entries it produced (checked, so nothing is optimised away).
//
// bitspread's consumers (`use`):
// - 'list': framing + checksum + the full decode into an AddrList (every field
//   of every entry extracted and validated; no object per entry);
// - 'entries': the same, then `.entries` touched: one AddrEntry object and one
//   Uint8Array per entry, as every decoder did before AddrList;
// - 'text': the same as 'list', then Core's text + network of every entry via
//   textAt/networkAt: what the crawler's worker does with each addr message.
function bitspreadDecoder(frame, chunks, use = 'list') {
  let entries = 0;
  let errors = 0;
  let sink = 0;
  const onMessage =
    use === 'entries'
      ? (msg) => { entries += msg.entries.length; }
      : use === 'text'
        ? (msg) => {
            const list = msg.list;
            for (let i = 0; i < list.length; i++) if (list.networkAt(i) !== null) sink += list.textAt(i).length;
            entries += list.length;
          }
        : (msg) => { entries += msg.list.length; };
  const decoder = new wire.MessageDecoder(net, {
    onMessage,
    onMessageError() { errors++; },
  });
  const pieces = chunks ? segments(frame) : [frame];
  return () => {
    const before = entries;
    for (const p of pieces) decoder.push(p);
    if (errors !== 0 || decoder.failed || sink < 0) throw new Error('bitspread decoder reported an error');
    return entries - before;
  };
}

function bcoinDecoder(frame, chunks) {
  let entries = 0;
  const parser = new bcoin.Parser('regtest');
  parser.on('packet', (p) => { entries += p.items.length; });
  parser.on('error', (e) => { throw e; });
  const pieces = (chunks ? segments(frame) : [frame]).map((p) => Buffer.from(p));
  return () => {
    const before = entries;
    for (const p of pieces) parser.feed(p);
    return entries - before;
  };
}

/**
 * The ceiling: double SHA-256 of the payload and the checksum compare, nothing
 * else. It uses the one-shot crypto.hash (Node >= 20.12) when present, as the
 * decoder does: about a microsecond faster per call than two createHash
 * objects, so the ceiling is the fastest way to hash, not a handicapped one.
 */
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : null;
function sha256dCeiling(frame) {
  const payload = frame.subarray(24);
  const checksum = Buffer.from(frame.buffer, frame.byteOffset, frame.length).readUInt32LE(20);
  const sha256d = oneShot
    ? (data) => oneShot('sha256', oneShot('sha256', data, 'buffer'), 'buffer')
    : (data) => createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
  return () => {
    // Compare like a decoder must, so the work is real and cannot be skipped.
    if (sha256d(payload).readUInt32LE(0) !== checksum) throw new Error('checksum mismatch');
    return 1000; // same unit as the decoders: one message of 1,000 entries
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Times `decodeOne` for ROUND_MS; returns messages per second. */
function timeRound(decodeOne) {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ROUND_MS) {
    for (let k = 0; k < 16; k++) if (decodeOne() !== 1000) throw new Error('decoder lost entries');
    n += 16;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

const rows = [];
function row(name, message, fn, frame, note) {
  rows.push({ name, message, fn, frameBytes: frame.length, note, perSec: [] });
}

/**
 * Warm-up, then ROUNDS rounds in which every decoder takes its turn: the
 * machine's background load then hits all of them alike, so the ratios hold
 * even when the absolute figures wobble. Median per decoder.
 */
function measureAll() {
  const live = rows.filter((r) => r.fn);
  for (const r of live) {
    const warmEnd = performance.now() + WARMUP_MS / live.length;
    while (performance.now() < warmEnd) if (r.fn() !== 1000) throw new Error('decoder lost entries');
  }
  for (let round = 0; round < ROUNDS; round++) for (const r of live) r.perSec.push(timeRound(r.fn));
  for (const r of rows) {
    r.msgsPerSec = r.fn ? median(r.perSec) : null;
    r.MBps = r.fn ? (r.msgsPerSec * r.frameBytes) / 1e6 : null;
  }
}

const results = {
  addrFrameBytes: addrFrame.length,
  addrv2FrameBytes: addrv2Frame.length,
  rounds: ROUNDS,
  roundMs: ROUND_MS,
};

row('bitspread MessageDecoder', 'addr', bitspreadDecoder(addrFrame, false), addrFrame, 'whole frame per push → AddrList');
row('bitspread MessageDecoder', 'addr', bitspreadDecoder(addrFrame, true), addrFrame, `${SEGMENT}-byte segments → AddrList`);
row(`bcoin ${bcoin.version} parser+packets`, 'addr', bcoinDecoder(addrFrame, false), addrFrame, 'whole frame per feed');
row(`bcoin ${bcoin.version} parser+packets`, 'addr', bcoinDecoder(addrFrame, true), addrFrame, `${SEGMENT}-byte segments`);
row('bitcore-p2p', 'addr', null, addrFrame, 'not installed: see note');
row('node:crypto sha256d (ceiling)', 'addr', sha256dCeiling(addrFrame), addrFrame, `hash only, no parsing (${oneShot ? 'crypto.hash' : 'createHash'})`);

row('bitspread MessageDecoder', 'addrv2', bitspreadDecoder(addrv2Frame, false), addrv2Frame, 'whole frame per push → AddrList');
row('bitspread MessageDecoder', 'addrv2', bitspreadDecoder(addrv2Frame, true), addrv2Frame, `${SEGMENT}-byte segments → AddrList`);
row(`bcoin ${bcoin.version} parser+packets`, 'addrv2', null, addrv2Frame, 'n/a: bcoin does not speak addrv2 (BIP155)');
row('bitcore-p2p', 'addrv2', null, addrv2Frame, 'n/a: no addrv2 support (and not installed)');
row('node:crypto sha256d (ceiling)', 'addrv2', sha256dCeiling(addrv2Frame), addrv2Frame, `hash only, no parsing (${oneShot ? 'crypto.hash' : 'createHash'})`);

// Extra rows after the fixed ones above (their positions are read below).
row('bitspread, materialised entries', 'addr', bitspreadDecoder(addrFrame, false, 'entries'), addrFrame, 'whole frame; .entries touched');
row('bitspread, list + every textAt', 'addr', bitspreadDecoder(addrFrame, false, 'text'), addrFrame, "whole frame; text+network of each (crawler's use)");
row('bitspread, materialised entries', 'addrv2', bitspreadDecoder(addrv2Frame, false, 'entries'), addrv2Frame, 'whole frame; .entries touched');
row('bitspread, list + every textAt', 'addrv2', bitspreadDecoder(addrv2Frame, false, 'text'), addrv2Frame, "whole frame; text+network of each (crawler's use)");

measureAll();
const [ours, oursSeg, bc, bcSeg, , sha, ours2, ours2Seg, , , sha2, oursEntries, oursText, ours2Entries, ours2Text] = rows;

Object.assign(results, {
  addrMBps: ours.MBps,
  addrMsgsPerSec: ours.msgsPerSec,
  addrSegmentedMBps: oursSeg.MBps,
  addrv2MBps: ours2.MBps,
  addrv2MsgsPerSec: ours2.msgsPerSec,
  addrv2SegmentedMBps: ours2Seg.MBps,
  bcoinAddrMBps: bc.MBps,
  bcoinAddrMsgsPerSec: bc.msgsPerSec,
  bcoinAddrSegmentedMBps: bcSeg.MBps,
  bestOtherMBps: Math.max(bc.MBps, bcSeg.MBps),
  bestOtherName: `bcoin ${bcoin.version}`,
  sha256MBps: sha.MBps,
  sha256Addrv2MBps: sha2.MBps,
  addrEntriesMBps: oursEntries.MBps,
  addrTextMBps: oursText.MBps,
  addrv2EntriesMBps: ours2Entries.MBps,
  addrv2TextMBps: ours2Text.MBps,
  bitcoreP2p: BITCORE_P2P_NOTE,
});
results.ratioVsBestOther = results.addrMBps / results.bestOtherMBps;
results.ratioVsSha256 = results.addrMBps / results.sha256MBps;
results.addrv2RatioVsSha256 = results.addrv2MBps / results.sha256Addrv2MBps;
results.addrEntriesRatioVsSha256 = results.addrEntriesMBps / results.sha256MBps;
results.addrv2EntriesRatioVsSha256 = results.addrv2EntriesMBps / results.sha256Addrv2MBps;
results.addrTextRatioVsSha256 = results.addrTextMBps / results.sha256MBps;
results.addrv2TextRatioVsSha256 = results.addrv2TextMBps / results.sha256Addrv2MBps;
results.entriesRatioVsBestOther = results.addrEntriesMBps / results.bestOtherMBps;
results.goalVsBestOtherMet = results.ratioVsBestOther >= 5;
results.goalVsSha256Met = results.ratioVsSha256 >= 0.5;

const fmt = (x, d = 1) => (x == null ? 'n/a' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
console.log(`\nCodec: decode a framed 1,000-entry message (addr ${addrFrame.length} B, addrv2 ${addrv2Frame.length} B), median of ${ROUNDS} rounds × ${ROUND_MS} ms, Node ${process.version}`);
console.log(`${'decoder'.padEnd(34)} ${'msg'.padEnd(7)} ${'MB/s'.padStart(9)} ${'msgs/s'.padStart(10)}  note`);
for (const r of [...rows.filter((x) => x.message === 'addr'), ...rows.filter((x) => x.message !== 'addr')]) {
  console.log(`${r.name.padEnd(34)} ${r.message.padEnd(7)} ${fmt(r.MBps).padStart(9)} ${fmt(r.msgsPerSec, 0).padStart(10)}  ${r.note}`);
}
console.log(`\nratio bitspread / fastest other JS decoder (addr): ${fmt(results.ratioVsBestOther, 2)}×  (goal ≥ 5×: ${results.goalVsBestOtherMet ? 'met' : 'MISSED'})`);
console.log(`ratio bitspread / sha256d ceiling (addr):         ${fmt(results.ratioVsSha256, 2)}   (goal ≥ 0.5: ${results.goalVsSha256Met ? 'met' : 'MISSED'})`);
console.log(`ratio bitspread / sha256d ceiling (addrv2):       ${fmt(results.addrv2RatioVsSha256, 2)}`);
console.log(`with .entries materialised:  addr ${fmt(results.addrEntriesRatioVsSha256, 2)} of the ceiling (${fmt(results.entriesRatioVsBestOther, 2)}× bcoin), addrv2 ${fmt(results.addrv2EntriesRatioVsSha256, 2)}`);
console.log(`with text+network of every entry (what the crawler does): addr ${fmt(results.addrTextRatioVsSha256, 2)}, addrv2 ${fmt(results.addrv2TextRatioVsSha256, 2)} of the ceiling`);
console.log(`note: ${BITCORE_P2P_NOTE}`);

if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n');
