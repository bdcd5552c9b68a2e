// Frontier memory per known address at 1,000,000 entries (goal: < 200 bytes).
// Run: npm run build && node --expose-gc bench/frontier-memory.mjs [count]
// Prints heap bytes per address after a full add, after draining half the
// queue, and the time the adds took. Addresses are fresh flat strings, as
// they arrive from a worker through structured clone.
import { Frontier } from '../dist/src/engine/frontier.js';

const count = Number(process.argv[2] ?? 1_000_000);
const gc = globalThis.gc;
if (typeof gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}

function heap() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function text(i) {
  return `${(i >>> 24) & 255}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}:8333`;
}

// Build the strings first so their own cost is measured separately.
const before = heap();
const texts = new Array(0);
for (let i = 0; i < count; i++) texts.push(text(i + 0x7f000000));
const afterStrings = heap();

const frontier = new Frontier();
const started = performance.now();
for (let i = 0; i < count; i++) frontier.add(texts[i], 'ipv4');
const addMs = performance.now() - started;
const afterAdd = heap();
texts.length = 0;
const structureOnly = afterAdd - afterStrings;
const total = heap() - before;

for (let i = 0; i < count / 2; i++) frontier.next();
const afterHalf = heap() - before;

const perAddress = (bytes) => (bytes / count).toFixed(1);
console.log(`frontier: ${count.toLocaleString('en-US')} addresses`);
console.log(`  strings alone            ${perAddress(afterStrings - before)} B/address`);
console.log(`  Map + queue (structure)  ${perAddress(structureOnly)} B/address`);
console.log(`  total, all queued        ${perAddress(total)} B/address`);
console.log(`  total, half dialled      ${perAddress(afterHalf)} B/address`);
console.log(`  add() throughput         ${Math.round(count / (addMs / 1000)).toLocaleString('en-US')} adds/s (${addMs.toFixed(0)} ms)`);
console.log(`  counts known=${frontier.known} queued=${frontier.queued} taken=${frontier.taken}`);
