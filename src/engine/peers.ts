/**
 * Supervised peers: the child specs the crawler hands the dynamic supervisor,
 * and how the end of a visit (the pool's VisitEnd) becomes the child's true
 * exit reason, the address's record, or a requeue.
 *
 * - Crawl mode: one `temporary` child per address; its run is one visit
 *   (`start: () => pool.visit(addr)`), and it exits with what happened:
 *   normal (visit completed), shutdown (stopped or terminated) or
 *   error (the peer's failure, or our limit: ERR_MAX_PEERS / ERR_RESOURCE,
 *   after which the address is requeued, not recorded).
 * - Node mode: as OTP's start_child runs the child's init before it returns,
 *   the first visit is the init: only a peer that gets established (handshake
 *   and getaddr done, the connection kept) becomes a `transient` child, whose
 *   first run is that same connection and whose restarts dial again. A
 *   transient child that dies with an error is restarted (backoff, the
 *   per-child and the supervisor-wide limits apply); an address that never
 *   answered is recorded failed and never restarted.
 */
import { PeerError, SupervisorError, type PeerErrorCode, type PlainError } from '../errors.js';
import type { AddressNetwork } from '../wire/types.js';
import type { DynamicSupervisor, ExitReason } from '../supervisor/dynamic-supervisor.js';
import type { CrawlMode, PeerSuccessInfo } from '../shared/messages.js';
import { failedRecord, reachableRecord, type NodeRecord, type Reached } from './record.js';
import type { PeerWorkerPool, VisitEnd } from './worker-pool.js';
import type { NetworkGate } from './network-gate.js';
import type { Transport } from '../shared/transport.js';

/** Error codes that are our limits, not the peer's: the address goes back in the queue. */
export const REQUEUE_CODES: ReadonlySet<string> = new Set(['ERR_MAX_PEERS', 'ERR_RESOURCE']);

const NORMAL: ExitReason = Object.freeze({ kind: 'normal' });
const SHUTDOWN: ExitReason = Object.freeze({ kind: 'shutdown' });

/** The child's exit reason for how its visit ended: a completed visit is normal, a stop (terminate, drain) shutdown, anything else its error. */
export function exitReasonOf(error: PlainError | undefined): ExitReason {
  if (error === undefined) return NORMAL;
  if (error.code === 'ERR_STOPPED') return SHUTDOWN;
  return { kind: 'error', error };
}

/** What the peers need from the crawler. */
export interface PeerContext {
  readonly mode: CrawlMode;
  readonly retryCrashedPeers: boolean;
  readonly pool: PeerWorkerPool;
  readonly supervisor: DynamicSupervisor;
  /** Per-network budgets: a visit holds its network's place from its start to its end. */
  readonly gate: NetworkGate;
  isStopping(): boolean;
  /**
   * Cluster mode: a visit our own stop cut short is handed back to the crawl unrecorded, even
   * one whose handshake had completed (its getaddr answer may not have come: recording it
   * would leave what only that peer knows unlearned by the processes that carry on).
   */
  handsBackStopped(): boolean;
  /** Writes the address's record unless it already has one. */
  record(rec: NodeRecord): void;
  /** The transport of a dial of `addr` (the --transport policy and what gossip said). */
  transportOf(addr: string): Transport;
  /** Puts the address back at the front of the queue; `pause`: our limits were hit, dispatch a little later. */
  requeue(addr: string, pause: boolean): void;
}

/** Told when a peer started by connectToNode is supervised (resolve with its id) or could not be (reject). */
export interface StartWaiter {
  resolve(id: string): void;
  reject(error: Error): void;
}

export type PeerStart = { ok: true } | { ok: false; error: SupervisorError };

export class Peers {
  /** Addresses lost once in a worker crash and requeued: a second loss is recorded. */
  private readonly crashRetried = new Set<string>();

  constructor(private readonly ctx: PeerContext) {}

  /**
   * Starts a supervised peer for `addr`. Not ok when the supervisor refuses
   * the child now (e.g. the previous child of this address is still being
   * removed): the caller retries later.
   */
  start(addr: string, network: AddressNetwork, waiter?: StartWaiter): PeerStart {
    // The network's place is held from now (the dispatcher checked its budget), and becomes the visit's when it starts.
    const { gate } = this.ctx;
    gate.reserve(network);
    let reserved = true;
    const claim = (): void => {
      if (reserved) gate.unreserve(network);
      reserved = false;
    };
    if (this.ctx.mode === 'node') {
      claim();
      this.init(addr, network, waiter);
      return { ok: true };
    }
    const started = this.ctx.supervisor.startChild({
      id: addr,
      restart: 'temporary',
      start: () => {
        claim();
        return this.visit(addr, network).then((end) => this.ended(addr, network, end, false));
      },
      // No AbortSignal per peer (one per dial was a measurable share of the main thread's CPU).
      terminate: () => this.ctx.pool.drop(addr),
      kill: () => this.ctx.pool.drop(addr, true),
    });
    if (started.ok) {
      waiter?.resolve(addr);
      return { ok: true };
    }
    claim();
    const error = new SupervisorError(started.error.code as SupervisorError['code'], started.error.message);
    waiter?.reject(error);
    return { ok: false, error };
  }

  /** Node mode: the visit that, once the peer is established, becomes a transient child. */
  private init(addr: string, network: AddressNetwork, waiter: StartWaiter | undefined): void {
    const { pool } = this.ctx;
    let established = false;
    const onReady = (info: PeerSuccessInfo, how?: Reached): void => {
      established = true;
      this.ctx.record(reachableRecord(addr, network, info, how));
      const refused = this.supervise(addr, network, firstRun);
      if (refused === null) waiter?.resolve(addr);
      else {
        pool.drop(addr);
        waiter?.reject(refused);
      }
    };
    const firstRun = this.visit(addr, network, onReady).then((end) => {
      const reason = this.ended(addr, network, end, established);
      if (!established) waiter?.reject(initError(addr, end));
      return reason;
    });
  }

  /** The established peer as a transient child: the first run is the open connection, restarts dial again. Null, or why the supervisor refused it. */
  private supervise(addr: string, network: AddressNetwork, firstRun: Promise<ExitReason>): SupervisorError | null {
    const { pool } = this.ctx;
    let pending: Promise<ExitReason> | null = firstRun;
    const started = this.ctx.supervisor.startChild({
      id: addr,
      restart: 'transient',
      start: () => {
        const run = pending ?? this.visit(addr, network).then((end) => this.ended(addr, network, end, true));
        pending = null;
        return run;
      },
      terminate: () => pool.drop(addr),
      kill: () => pool.drop(addr, true),
    });
    return started.ok ? null : new SupervisorError(started.error.code as SupervisorError['code'], started.error.message);
  }

  /**
   * A visit ended: record the address or requeue it, and say why it exited.
   * `established`: a node-mode child's run (its record was written when it
   * got established; a failure now is the child's, restarted by the supervisor).
   */
  private ended(addr: string, network: AddressNetwork, end: VisitEnd, established: boolean): ExitReason {
    const { info, error } = end;
    if (error !== undefined && !established && !this.ctx.isStopping()) {
      if (REQUEUE_CODES.has(error.code)) {
        this.ctx.requeue(addr, true);
        return exitReasonOf(error);
      }
      if (error.code === 'ERR_WORKER_CRASHED' && this.ctx.retryCrashedPeers && !this.crashRetried.has(addr)) {
        this.crashRetried.add(addr);
        this.ctx.requeue(addr, false);
        return exitReasonOf(error);
      }
    }
    if (error?.code === 'ERR_STOPPED' && this.ctx.isStopping() && this.ctx.handsBackStopped()) return exitReasonOf(error);
    if (info !== undefined) this.ctx.record(reachableRecord(addr, network, info, end.how));
    else this.ctx.record(failedRecord(addr, network, error?.code ?? 'ERR_PEER_CLOSED', error?.detail, end.how));
    return exitReasonOf(error);
  }

  /** One visit, counted against its network's budget while it lasts. */
  private visit(addr: string, network: AddressNetwork, onReady?: (info: PeerSuccessInfo, how?: Reached) => void): Promise<VisitEnd> {
    const { gate } = this.ctx;
    gate.take(network);
    return this.ctx.pool.visit(addr, onReady, this.ctx.transportOf(addr)).then((end) => {
      gate.give(network);
      return end;
    });
  }
}

/** Why a node-mode peer never got established, for connectToNode's caller. */
function initError(addr: string, end: VisitEnd): PeerError {
  if (end.error === undefined) return new PeerError('ERR_PEER_CLOSED', `${addr} closed the connection after the handshake`);
  return new PeerError(end.error.code as PeerErrorCode, end.error.message);
}
