/**
 * The global peer cap: the ONE place the limit on open peer connections is
 * enforced, shared by the main thread and every worker through a
 * SharedArrayBuffer.
 *
 * Why a per-worker count as well as the total: `Worker.terminate()` runs no
 * `finally` in the worker, so a thread that dies while holding sockets can
 * never release its slots itself. The supervisor calls
 * {@link PeerCap.reclaimWorker} for the dead thread's slot instead.
 *
 * Layout (Int32 cells): [open, max, peak, held by worker slot 0, 1, …].
 *
 * Never uses `Atomics.wait`: it would block the event loop of a thread that
 * holds sockets. Callers that find the cap full reschedule (try-acquire).
 */
import { UsageError } from '../errors.js';

/** Int32 index of the number of currently open connections (all workers). */
export const OPEN_INDEX = 0;
/** Int32 index of the cap itself, so `setMax` reaches every thread live. */
export const MAX_INDEX = 1;
/** Int32 index of the highest `open` ever reached (exact, unlike sampling open()). */
export const PEAK_INDEX = 2;
/** Int32 index of worker slot 0's own count; slot n lives at WORKER_BASE_INDEX + n. */
export const WORKER_BASE_INDEX = 3;
/** Enough for any pool this machine can run; costs 4 bytes each. */
export const DEFAULT_WORKER_SLOTS = 256;
/** Keeps slot counts and the buffer size far from Int32 overflow and silly allocations. */
export const MAX_WORKER_SLOTS = 65_536;
/** The cap is stored in an Int32 cell. */
export const MAX_PEER_CAP = 0x7fff_ffff;

export class PeerCap {
  readonly buffer: SharedArrayBuffer;
  readonly workerSlots: number;
  private readonly cells: Int32Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.cells = new Int32Array(buffer);
    this.workerSlots = this.cells.length - WORKER_BASE_INDEX;
  }

  /** Allocates a fresh counter (all counts zero) with the given cap. */
  static create(max: number, workerSlots: number = DEFAULT_WORKER_SLOTS): PeerCap {
    checkMax(max);
    if (!Number.isInteger(workerSlots) || workerSlots < 1 || workerSlots > MAX_WORKER_SLOTS) {
      throw new UsageError('ERR_BAD_ARGUMENT', `PeerCap workerSlots must be an integer 1..${MAX_WORKER_SLOTS}, got ${String(workerSlots)}`);
    }
    const cap = new PeerCap(new SharedArrayBuffer((WORKER_BASE_INDEX + workerSlots) * Int32Array.BYTES_PER_ELEMENT));
    Atomics.store(cap.cells, MAX_INDEX, max);
    return cap;
  }

  /** Views a counter created elsewhere (e.g. received through workerData); shares its state. */
  static attach(buffer: SharedArrayBuffer): PeerCap {
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new UsageError('ERR_BAD_ARGUMENT', 'PeerCap.attach needs the SharedArrayBuffer of PeerCap.create');
    }
    const cells = buffer.byteLength / Int32Array.BYTES_PER_ELEMENT;
    if (!Number.isInteger(cells) || cells < WORKER_BASE_INDEX + 1 || cells > WORKER_BASE_INDEX + MAX_WORKER_SLOTS) {
      throw new UsageError('ERR_BAD_ARGUMENT', `PeerCap.attach: a buffer of ${buffer.byteLength} bytes is not a PeerCap layout`);
    }
    return new PeerCap(buffer);
  }

  /** The current cap (it may change at any time through {@link setMax}). */
  get max(): number {
    return Atomics.load(this.cells, MAX_INDEX);
  }

  /** Connections open right now, across all workers. */
  open(): number {
    return Atomics.load(this.cells, OPEN_INDEX);
  }

  /** The highest number of connections open at once since creation (or resetPeak). */
  peak(): number {
    return Atomics.load(this.cells, PEAK_INDEX);
  }

  /** Starts a new high-water mark from the current count. */
  resetPeak(): void {
    Atomics.store(this.cells, PEAK_INDEX, Atomics.load(this.cells, OPEN_INDEX));
  }

  /** Connections the given worker slot holds right now. */
  heldBy(workerSlot: number): number {
    return Atomics.load(this.cells, this.slotIndex(workerSlot));
  }

  /**
   * Takes one connection slot if the cap allows it. Returns false at the cap
   * (the caller reschedules; nothing waits).
   *
   * The total is bumped before the worker's own count: if the thread is
   * terminated between the two, the total over-counts by one (a lost slot)
   * rather than the cap being exceeded. That window is a few instructions.
   */
  tryAcquire(workerSlot: number): boolean {
    const own = this.slotIndex(workerSlot);
    const cells = this.cells;
    let opened: number;
    for (;;) {
      const open = Atomics.load(cells, OPEN_INDEX);
      if (open >= Atomics.load(cells, MAX_INDEX)) return false;
      if (Atomics.compareExchange(cells, OPEN_INDEX, open, open + 1) === open) {
        opened = open + 1;
        break;
      }
    }
    Atomics.add(cells, own, 1);
    // Raise the high-water mark; another thread may raise it concurrently.
    for (let peak = Atomics.load(cells, PEAK_INDEX); opened > peak; ) {
      const seen = Atomics.compareExchange(cells, PEAK_INDEX, peak, opened);
      if (seen === peak) break;
      peak = seen;
    }
    return true;
  }

  /**
   * Gives back one slot acquired by the same worker slot. Exactly once per
   * acquired socket: a release the worker does not hold is a bug and throws
   * ERR_BAD_ARGUMENT instead of silently corrupting the shared count.
   */
  release(workerSlot: number): void {
    const own = this.slotIndex(workerSlot);
    const cells = this.cells;
    for (;;) {
      const held = Atomics.load(cells, own);
      if (held <= 0) {
        throw new UsageError('ERR_BAD_ARGUMENT', `PeerCap.release: worker slot ${workerSlot} holds no connection (double release?)`);
      }
      if (Atomics.compareExchange(cells, own, held, held - 1) === held) break;
    }
    // Same ordering argument as tryAcquire: own count first, so a thread killed
    // between the two steps leaves the total too high, never too low.
    Atomics.sub(cells, OPEN_INDEX, 1);
  }

  /**
   * Returns the slots of a worker that died (or was terminated) to the pool
   * and zeroes its count. Returns how many slots were reclaimed. Call it only
   * once the thread is gone, or its later releases will throw.
   */
  reclaimWorker(workerSlot: number): number {
    const held = Atomics.exchange(this.cells, this.slotIndex(workerSlot), 0);
    if (held > 0) Atomics.sub(this.cells, OPEN_INDEX, held);
    return held;
  }

  /**
   * Changes the cap for every thread at once. Lowering it never closes a
   * connection: acquires simply fail until enough are released.
   */
  setMax(max: number): void {
    checkMax(max);
    Atomics.store(this.cells, MAX_INDEX, max);
  }

  private slotIndex(workerSlot: number): number {
    if (!Number.isInteger(workerSlot) || workerSlot < 0 || workerSlot >= this.workerSlots) {
      throw new UsageError('ERR_BAD_ARGUMENT', `PeerCap worker slot must be an integer 0..${this.workerSlots - 1}, got ${String(workerSlot)}`);
    }
    return WORKER_BASE_INDEX + workerSlot;
  }
}

function checkMax(max: number): void {
  if (!Number.isInteger(max) || max < 0 || max > MAX_PEER_CAP) {
    throw new UsageError('ERR_BAD_ARGUMENT', `peer cap must be an integer 0..${MAX_PEER_CAP}, got ${String(max)}`);
  }
}
