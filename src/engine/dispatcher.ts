/**
 * Dispatch: takes queued addresses from the frontier and starts a supervised
 * peer for each while the cap has room. The main thread only avoids pointless
 * work here; the cap itself is enforced in the worker, at the dial.
 */
import type { AllowList } from '../shared/allow-list.js';
import type { PeerCap } from '../shared/peer-cap.js';
import { parseAddress } from '../wire/index.js';
import type { AddressNetwork } from '../wire/types.js';
import type { Frontier } from './frontier.js';
import type { Peers } from './peers.js';
import { skippedRecord, type NodeRecord } from './record.js';
import type { PeerWorkerPool } from './worker-pool.js';

/** Dispatch pause after a worker refused a dial for our own limits (EMFILE, full shared cap). */
const REQUEUE_PAUSE_MS = 50;

export const DIALABLE: ReadonlySet<AddressNetwork> = new Set(['ipv4', 'ipv6']);

export interface DispatchContext {
  readonly frontier: Frontier;
  readonly cap: PeerCap;
  readonly allow: AllowList | null;
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
    const { frontier, cap, allow, pool, peers } = this.ctx;
    if (this.ctx.isStopping()) return;
    if (this.pauseUntil !== 0 && performance.now() < this.pauseUntil) return;
    // Without the reservation a peer that dropped would find its slot taken by a new address
    // when its restart dials, fail ERR_MAX_PEERS and use up its restarts for nothing.
    const max = cap.max - this.ctx.reserved();
    while (pool.inFlight < max && cap.open() < max) {
      const addr = frontier.next();
      if (addr === undefined) break;
      // Queued keys are IPv4/IPv6 texts; text in fc00::/8 parses as CJDNS but was learned as IPv6.
      const parsed = parseAddress(addr);
      const network = parsed.network === 'cjdns' ? 'ipv6' : parsed.network;
      if (!DIALABLE.has(network)) continue; // recorded skipped when learned
      if (allow !== null && !allow.allows(network === parsed.network ? parsed : { ...parsed, network })) {
        this.ctx.record(skippedRecord(addr, network, 'not-allowed'));
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
