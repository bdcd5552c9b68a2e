/**
 * One timer that serves every connection's deadlines, instead of a
 * setTimeout per socket (thousands of timers cost more than a scan of a few
 * hundred deadlines; same idea as undici's lib/util/timers.js).
 *
 * The timer is armed for the earliest deadline any member has, not at a fixed
 * rate: while nothing is due (node mode between pings, a crawl waiting on
 * slow peers) the thread is not woken at all, so CPU per peer does not grow
 * with how long a crawl runs. Members say when a deadline moves earlier
 * (schedule()); after each run the timer is re-armed from every member's
 * dueAt(). Runs are at least `resolutionMs` apart (one scan serves every
 * deadline that falls within it), so a deadline fires at most one resolution
 * late, as with the old fixed-rate tick, but only when something is due.
 */

export interface Tickable {
  /** Called when a deadline may be due, with performance.now(); checks its own deadlines. */
  tick(now: number): void;
  /** The member's earliest deadline (performance.now() ms), Infinity if none. */
  dueAt(): number;
}

export class DeadlineTicker {
  private readonly members = new Set<Tickable>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the armed timer fires (performance.now() ms). */
  private timerAt = Infinity;
  private lastRunAt = -Infinity;
  /** Runs so far (tests and benchmarks read it: no run while nothing is due). */
  runs = 0;

  constructor(private readonly resolutionMs: number) {}

  add(member: Tickable): void {
    this.members.add(member);
    this.schedule(member.dueAt());
  }

  delete(member: Tickable): void {
    this.members.delete(member);
    if (this.members.size === 0) this.stop();
  }

  get size(): number {
    return this.members.size;
  }

  /** A member's deadline is now `at`: make sure a run happens by then (within the resolution). */
  schedule(at: number): void {
    if (!(at < Infinity)) return;
    // The armed run comes soon enough (it re-arms from every member's dueAt()).
    if (at >= this.timerAt) return;
    this.arm(Math.max(at, this.lastRunAt + this.resolutionMs));
  }

  stop(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.timerAt = Infinity;
  }

  private arm(at: number): void {
    if (at >= this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(runTicker, Math.max(0, Math.ceil(at - performance.now())), this);
  }

  /** @internal the timer's callback. */
  run(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = performance.now();
    this.lastRunAt = now;
    this.runs++;
    let next = Infinity;
    // A member may delete itself (finish) while we iterate: Set iteration
    // tolerates deletion of the current element.
    for (const m of this.members) {
      m.tick(now);
      const due = m.dueAt();
      if (due < next) next = due;
    }
    if (next < Infinity && this.members.size > 0) this.arm(Math.max(next, now + this.resolutionMs));
  }
}

function runTicker(t: DeadlineTicker): void {
  t.run();
}
