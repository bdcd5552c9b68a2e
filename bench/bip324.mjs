#!/usr/bin/env node
// BIP324 micro-benchmark: CPU per v2 handshake (both sides, and each step),
// per message v2 against v1 framing (encode + decode), and the measurements
// behind the choice of primitives (node:crypto/OpenSSL against @noble's pure
// JS for the ECDH and the ChaCha20-Poly1305 AEAD). In-memory, no sockets.
//
//   node bench/bip324.mjs [--quick] [--json out.json]
import { createECDH, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { loadNobleCiphers } from './comparators.mjs';
import { loadDist } from './dist.mjs';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' } } });
const quick = args.quick;
const ROUNDS = quick ? 3 : 7;
const ROUND_MS = quick ? 100 : 300;
/** A TCP segment's payload: how a large message really arrives. */
const SEGMENT = 1448;

const wire = await loadDist('src/wire/index.js');
const v2 = await loadDist('src/wire/v2/index.js');
const noble = await loadNobleCiphers();
// @noble/curves comes with @scure/btc-signer (its ElligatorSwift runs on it).
const { secp256k1, schnorr } = await import('@noble/curves/secp256k1.js');
const net = wire.NETWORKS.mainnet;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median over rounds of the CPU time per call of `fn` (µs); each round runs ROUND_MS. */
function perCallUs(fn) {
  const warm = performance.now();
  while (performance.now() - warm < ROUND_MS / 2) fn();
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let n = 0;
    while (performance.now() - t0 < ROUND_MS) {
      fn();
      n++;
    }
    const c = process.cpuUsage(c0);
    rounds.push((c.user + c.system) / n);
  }
  return median(rounds);
}

const round = (v, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

// --- A whole handshake, both sides, in memory --------------------------------
let delivered = 0;
function sink(out) {
  return { send: (d) => out.push(d), onMessage: () => delivered++, onMessageError(err) { throw err; } };
}
function handshake(garbage) {
  const oi = [];
  const or = [];
  const i = new v2.V2Transport(net, 'initiator', sink(oi), { garbage });
  const r = new v2.V2Transport(net, 'responder', sink(or), { garbage });
  i.start();
  r.push(Buffer.concat(oi.splice(0)));
  i.push(Buffer.concat(or.splice(0)));
  r.push(Buffer.concat(oi.splice(0)));
  if (i.phase !== 'ready' || r.phase !== 'ready') throw new Error('handshake did not complete');
  return { i, r, oi, or };
}
const handshakeUs = perCallUs(() => handshake(0));
// Core's default: a random garbage length up to 4,095 on each side.
const handshakeCoreGarbageUs = perCallUs(() => handshake(undefined));

// --- Its steps ---------------------------------------------------------------
const key = v2.ellswiftCreate();
const theirs = v2.ellswiftCreate();
const theirX = Buffer.from(v2.ellswiftDecode(theirs.ellswift));
const point = Buffer.concat([Buffer.of(2), theirX]);
const secret = v2.v2Ecdh(key, theirs.ellswift, true);
const steps = {
  keygenAndEncodeUs: perCallUs(() => v2.ellswiftCreate()),
  opensslKeygenUs: perCallUs(() => createECDH('secp256k1').generateKeys()),
  ellswiftDecodeUs: perCallUs(() => v2.ellswiftDecode(theirs.ellswift)),
  opensslEcdhUs: perCallUs(() => key.ecdh.computeSecret(point)),
  deriveKeysUs: perCallUs(() => v2.deriveV2Keys(secret, net.magic, true)),
};
// The alternative for the scalar multiplications: @noble/curves (pure JS).
const priv = secp256k1.utils.randomSecretKey();
const theirPoint = schnorr.utils.lift_x(BigInt('0x' + theirX.toString('hex')));
const d = BigInt('0x' + Buffer.from(priv).toString('hex'));
const alternatives = {
  nobleEcdhUs: perCallUs(() => theirPoint.multiply(d)),
  nobleKeygenUs: perCallUs(() => secp256k1.Point.BASE.multiply(d)),
};

// --- The AEAD per packet: node:crypto (OpenSSL) vs @noble/ciphers -------------
const aeadKey = randomBytes(32);
const nonce = randomBytes(12);
const aead = {};
for (const size of [10, 128, 1024, 30_004]) {
  const plain = randomBytes(size);
  const c = createCipheriv('chacha20-poly1305', aeadKey, nonce, { authTagLength: 16 });
  const ct = c.update(plain);
  c.final();
  const tag = c.getAuthTag();
  const sealed = Buffer.concat([ct, tag]);
  const work = Buffer.from(sealed);
  const out = new Uint8Array(size);
  aead[size] = {
    nodeDecryptUs: round(perCallUs(() => {
      const dc = createDecipheriv('chacha20-poly1305', aeadKey, nonce, { authTagLength: 16 });
      dc.update(ct);
      dc.setAuthTag(tag);
      dc.final();
    }), 2),
    nobleDecryptInPlaceUs: round(perCallUs(() => {
      work.set(sealed);
      noble.chacha20poly1305(aeadKey, nonce).decrypt(work, out);
    }), 2),
    nodeEncryptUs: round(perCallUs(() => {
      const ec = createCipheriv('chacha20-poly1305', aeadKey, nonce, { authTagLength: 16 });
      ec.update(plain);
      ec.final();
      ec.getAuthTag();
    }), 2),
    nobleEncryptUs: round(perCallUs(() => noble.chacha20poly1305(aeadKey, nonce).encrypt(plain)), 2),
  };
}

// --- Per message: v2 packets against v1 frames (encode + decode) -------------
function addrEntries() {
  const entries = [];
  for (let k = 0; k < 1000; k++) {
    entries.push({ time: 1_700_000_000 + k, services: 0x409n, address: { network: 'ipv4', bytes: Uint8Array.of(1 + (k % 200), k & 255, 7, 9), port: 8333 }, networkId: 1 });
  }
  return entries;
}
const MESSAGES = {
  ping: { command: 'ping', nonce: 123456789n },
  verack: { command: 'verack' },
  version: { command: 'version', payload: wire.makeVersion({ userAgent: '/Satoshi:27.0.0/', startHeight: 900_000, relay: true }) },
  addr1000: { command: 'addr', entries: addrEntries() },
};
function feed(push, bytes) {
  if (bytes.length <= SEGMENT) return push(bytes);
  for (let o = 0; o < bytes.length; o += SEGMENT) push(bytes.subarray(o, o + SEGMENT));
}
const perMessage = {};
for (const [name, msg] of Object.entries(MESSAGES)) {
  delivered = 0;
  const v1sink = { onMessage: () => delivered++, onMessageError(err) { throw err; } };
  const dec = new wire.MessageDecoder(net, v1sink);
  const v1Us = perCallUs(() => feed((b) => dec.push(b), wire.encodeMessage(net, msg)));
  const pair = handshake(0);
  const v2Us = perCallUs(() => feed((b) => pair.r.push(b), pair.i.sendMessage(msg)));
  const v1Bytes = wire.encodeMessage(net, msg).length;
  const v2Bytes = pair.i.sendMessage(msg).length;
  perMessage[name] = { v1Us: round(v1Us, 2), v2Us: round(v2Us, 2), v2OverV1: round(v2Us / v1Us, 2), v1Bytes, v2Bytes };
  if (delivered === 0) throw new Error(`${name}: nothing decoded`);
}

const figures = {
  handshakeBothSidesMs: round(handshakeUs / 1000, 2),
  handshakeBothSidesCoreGarbageMs: round(handshakeCoreGarbageUs / 1000, 2),
  handshakePerSideMs: round(handshakeUs / 2000, 2),
  steps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, round(v)])),
  alternatives: Object.fromEntries(Object.entries(alternatives).map(([k, v]) => [k, round(v)])),
  aeadPerPacket: aead,
  perMessage,
  libraries: { nobleCiphers: noble.version },
};

console.log(`\nBIP324 (in memory), median of ${ROUNDS} rounds × ${ROUND_MS} ms, Node ${process.version}`);
console.log(`handshake, both sides: ${figures.handshakeBothSidesMs} ms CPU (no garbage), ${figures.handshakeBothSidesCoreGarbageMs} ms with Core's random garbage`);
console.log('steps (µs CPU): ' + Object.entries(figures.steps).map(([k, v]) => `${k} ${v}`).join(', '));
console.log(`ECDH scalar multiplication: OpenSSL ${figures.steps.opensslEcdhUs} µs vs @noble/curves ${figures.alternatives.nobleEcdhUs} µs; keygen OpenSSL ${figures.steps.opensslKeygenUs} µs vs noble ${figures.alternatives.nobleKeygenUs} µs`);
console.log('ChaCha20-Poly1305 per packet (µs): size  node-dec  noble-dec(in place)  node-enc  noble-enc');
for (const [size, a] of Object.entries(aead)) console.log(`  ${String(size).padStart(6)}  ${String(a.nodeDecryptUs).padStart(8)}  ${String(a.nobleDecryptInPlaceUs).padStart(19)}  ${String(a.nodeEncryptUs).padStart(8)}  ${String(a.nobleEncryptUs).padStart(9)}`);
console.log('per message, encode + decode (µs): message  v1  v2  v2/v1  bytes v1→v2');
for (const [name, m] of Object.entries(perMessage)) console.log(`  ${name.padEnd(8)} ${String(m.v1Us).padStart(7)} ${String(m.v2Us).padStart(7)} ${String(m.v2OverV1).padStart(6)}  ${m.v1Bytes}→${m.v2Bytes}`);
if (args.json) writeFileSync(args.json, JSON.stringify(figures, null, 2) + '\n');
