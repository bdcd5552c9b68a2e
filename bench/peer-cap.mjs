// PeerCap acquire+release throughput: one thread alone, then four threads
// contending for a cap of 125 (each grabbing up to 50 at a time).
// Run: npm run build && node bench/peer-cap.mjs
import { Worker } from 'node:worker_threads';
import { PeerCap } from '../dist/src/shared/peer-cap.js';

const fixture = new URL('../test/fixtures/peer-cap-worker.mjs', import.meta.url);
const rounds = 200_000;

{
  const cap = PeerCap.create(125, 1);
  const started = performance.now();
  for (let i = 0; i < rounds * 10; i++) {
    cap.tryAcquire(0);
    cap.release(0);
  }
  const ms = performance.now() - started;
  console.log(`peer-cap single thread: ${Math.round((rounds * 10) / (ms / 1000)).toLocaleString('en-US')} acquire+release pairs/s`);
}

{
  const cap = PeerCap.create(125, 4);
  const gate = new SharedArrayBuffer(8);
  const burst = 50;
  const started = performance.now();
  const workers = [0, 1, 2, 3].map(
    (slot) => new Worker(fixture, { workerData: { buffer: cap.buffer, slot, mode: 'hammer', rounds: rounds / 10, burst, gate, parties: 4 } }),
  );
  const results = await Promise.all(workers.map((worker) => new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject))));
  const ms = performance.now() - started;
  await Promise.all(workers.map((worker) => worker.terminate()));
  const acquired = results.reduce((sum, r) => sum + r.acquired, 0);
  const refused = results.reduce((sum, r) => sum + r.refused, 0);
  const witnessMax = Math.max(...results.map((r) => r.witnessMax));
  console.log(
    `peer-cap 4 threads, cap 125: ${Math.round(acquired / (ms / 1000)).toLocaleString('en-US')} granted/s (incl. thread start), ` +
      `${refused.toLocaleString('en-US')} refused, max held ${witnessMax}, open at end ${cap.open()}`,
  );
}
