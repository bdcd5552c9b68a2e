/**
 * Dispatch: takes queued addresses from the frontier and starts a supervised
 * peer for each while the cap has room. The main thread only avoids pointless
 * work here; the cap itself is enforced in the worker, at the dial.
 */
import type { PeerCap } from '../shared/peer-cap.js';
import type { NetworkGate } from './network-gate.js';
import { parseAddress } from '../wire/index.js';
import type { AddressNetwork } from '../wire/types.js';
import type { Frontier } from './frontier.js';
import type { Peers } from './peers.js';
import { skippedRecord, type NodeRecord } from './record.js';
import type { PeerWorkerPool } from './worker-pool.js';

/** Dispatch pause after a worker refused a dial for our own limits (EMFILE, full shared cap). */
const REQUEUE_PAUSE_MS = 50;

/**
 * Most peers one pump() starts before yielding to the event loop (the rest
 * follow on the next turn): a large cap filled in one synchronous loop
 * delays every event the main thread is waiting on (bench/scale.mjs).
 */
const MAX_DIALS_PER_TURN = 256;

export const DIALABLE: ReadonlySet<AddressNetwork> = new Set(['ipv4', 'ipv6']);

export interface DispatchContext {
  /** The local frontier, or the Redis-backed one of a cluster crawl (src/cluster/). */
  readonly frontier: Pick<Frontier, 'next' | 'requeue'>;
  readonly cap: PeerCap;
  /** Routes, the allow-list, --allow-any hygiene, per-network budgets. */
  readonly gate: NetworkGate;
  readonly pool: PeerWorkerPool;
  readonly peers: Peers;
  record(rec: NodeRecord): void;
  /** Slots to keep free: supervised peers waiting out their restart backoff (node mode), which will dial again. */
  reserved(): number;
  isStopping(): boolean;
  /** Runs after each scheduled pump (the crawl-mode end check). */
  afterPump(): void;
}

export class Dispatcher {
  /** No dispatch before this (performance.now() ms): set after a resource/cap refusal. */
  private pauseUntil = 0;
  private scheduled = false;

  constructor(private readonly ctx: DispatchContext) {}

  /** Our limits were hit: dial nothing for a moment (redialling at once would spin). */
  pause(): void {
    this.pauseUntil = performance.now() + REQUEUE_PAUSE_MS;
  }

  /** Pumps on the next turn of the event loop (once, however often it is asked). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
      this.ctx.afterPump();
    });
  }

  /** Starts peers for queued addresses while the cap has room. */
  pump(): void {
    const { frontier, cap, gate, pool, peers } = this.ctx;
    if (this.ctx.isStopping()) return;
    if (this.pauseUntil !== 0 && performance.now() < this.pauseUntil) return;
    // Without the reservation a peer that dropped would find its slot taken by a new address
    // when its restart dials, fail ERR_MAX_PEERS and use up its restarts for nothing.
    const max = cap.max - this.ctx.reserved();
    let started = 0;
    while (pool.inFlight < max && cap.open() < max) {
      // A bounded batch per turn: filling 10,000 slots in one go held the main thread for 100+ ms.
      if (started++ >= MAX_DIALS_PER_TURN) {
        this.schedule();
        break;
      }
      // A parked address whose network has room again goes first.
      const addr = gate.nextWaiting() ?? frontier.next();
      if (addr === undefined) break;
      const parsed = parseAddress(addr);
      const network = parsed.network;
      // Its network's budget first: the rules below count what they admit (the per-netgroup cap).
      if (!gate.hasRoom(network)) {
        gate.wait(addr, network);
        continue;
      }
      const skip = gate.skipWhenDispatched(parsed);
      if (skip !== null) {
        this.ctx.record(skippedRecord(addr, network, skip));
        continue;
      }
      if (!peers.start(addr, network).ok) {
        // The previous child of this address has not been removed yet: try again on the next pump.
        frontier.requeue(addr);
        break;
      }
    }
  }
}
