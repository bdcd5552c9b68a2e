/**
 * Issue 11 item 11: a worker that dies closes its sockets in its teardown
 * (Worker.terminate() and out-of-memory run no code in the thread), with a
 * FIN. Peers that have stopped reading for a while still count those
 * connections, so reclaiming the dead worker's cap slots at once let the
 * crawler open more connections than the cap as the peers saw it (the sim
 * saw 134 at cap 100). For every kind of death the slots are now held until
 * the kernel no longer has those sockets (the peers closed their side).
 *
 * The peers here hold each visit for HOLD_MS, then answer getaddr and close
 * first; a FIN from us (only a dead worker's teardown sends one first) they
 * act on PAUSE_MS after it arrives, as a busy node does. They count a
 * connection from accept until their own socket closes, exactly as the
 * simulator's peakInbound does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Crawler } from '../src/engine/crawler.js';
import type { WorkerDeath } from '../src/engine/worker-pool.js';
import { encodeMessage, MessageDecoder, NETWORKS, type Message } from '../src/wire/index.js';
import { until, versionMessage } from './helpers/hostile-peer.js';

const CAP = 12;
const PEERS = 36;
/** How long a peer takes to act on a FIN from us. */
const PAUSE_MS = 1500;
/** How long a peer holds a visit before it answers getaddr and closes (it closes first: no FIN of ours to act on). */
const HOLD_MS = 2000;

interface SlowReaders {
  readonly seeds: string[];
  open: number;
  peak: number;
  /** Connections whose handshake completed. */
  ready: number;
  close(): Promise<void>;
}

async function startSlowReaders(base: number): Promise<SlowReaders> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const state: SlowReaders = {
    seeds: [],
    open: 0,
    peak: 0,
    ready: 0,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
  for (let i = 1; i <= PEERS; i++) {
    const host = `127.0.${base}.${i}`;
    const server = createServer({ allowHalfOpen: true }, (sock) => {
      sockets.add(sock);
      state.open++;
      state.peak = Math.max(state.peak, state.open);
      sock.on('close', () => {
        sockets.delete(sock);
        state.open--;
      });
      sock.on('error', () => undefined);
      // A peer slow to act on our FIN: it closes its side PAUSE_MS after the FIN arrived,
      // and counts the connection until then (as a busy node does).
      sock.on('end', () => {
        const t = setTimeout(() => {
          timers.delete(t);
          sock.destroy();
        }, PAUSE_MS);
        timers.add(t);
      });
      const send = (m: Message): void => {
        if (!sock.destroyed) sock.write(encodeMessage(NETWORKS.regtest, m));
      };
      const decoder = new MessageDecoder(NETWORKS.regtest, {
        onMessage(msg: Message): void {
          if (msg.command === 'version') {
            send(versionMessage());
            send({ command: 'verack' });
          } else if (msg.command === 'verack') {
            state.ready++;
          } else if (msg.command === 'getaddr') {
            const t = setTimeout(() => {
              timers.delete(t);
              send({ command: 'addr', entries: [] });
              sock.destroy();
            }, HOLD_MS);
            timers.add(t);
          }
        },
        onMessageError(): void {},
      });
      sock.on('data', (c: Buffer) => decoder.push(c));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    servers.push(server);
    state.seeds.push(`${host}:${(server.address() as { port: number }).port}`);
  }
  return state;
}

describe('the cap as peers see it holds through every kind of worker death (issue 11, item 11)', () => {
  it.each<[WorkerDeath, number]>([
    ['exception', 31],
    ['terminate', 32],
    ['oom', 33],
  ])('%s', async (how, base) => {
    const peers = await startSlowReaders(base);
    const crawler = new Crawler({
      network: 'regtest',
      seeds: peers.seeds,
      only: ['127.0.0.0/8'],
      maxPeers: CAP,
      // Two: the survivor can take the dead one's peers at once, as soon as its slots are reclaimed.
      workers: 2,
      timeoutMs: 5000,
      getaddrTimeoutMs: 5000,
      ...(how === 'oom' ? { workerMaxHeapMb: 48 } : {}),
    });
    try {
      const done = crawler.start();
      await until(() => peers.ready === CAP && peers.open === CAP, `${CAP} peers holding a connection`);
      const held = await crawler.crashWorker(how);
      expect(held).toBeGreaterThan(0);
      const summary = await done;
      expect(summary.workerCrashes).toBe(1);
      // Every peer visited: the crashed ones re-queued once and visited again.
      expect(summary.byState.reachable).toBe(PEERS);
      expect(peers.peak).toBeLessThanOrEqual(CAP);
    } finally {
      await crawler.stop();
      await peers.close();
    }
  });
});
