/**
 * One coarse interval that serves every connection's deadlines, instead of a
 * setTimeout per socket (thousands of timers cost more than a scan of a few
 * hundred deadlines every few milliseconds; same idea as undici's lib/util/timers.js).
 * The interval runs only while something is registered, so an idle thread or
 * the main thread after connectToNode() holds no timer.
 */

export interface Tickable {
  /** Called on every tick with performance.now(); checks its own deadlines. */
  tick(now: number): void;
}

export class DeadlineTicker {
  private readonly members = new Set<Tickable>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly intervalMs: number) {}

  add(member: Tickable): void {
    this.members.add(member);
    if (this.timer === null) {
      this.timer = setInterval(() => this.run(), this.intervalMs);
    }
  }

  delete(member: Tickable): void {
    this.members.delete(member);
    if (this.members.size === 0) this.stop();
  }

  get size(): number {
    return this.members.size;
  }

  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private run(): void {
    const now = performance.now();
    // A member may delete itself (finish) while we iterate: Set iteration
    // tolerates deletion of the current element.
    for (const m of this.members) m.tick(now);
  }
}
