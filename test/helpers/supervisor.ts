/**
 * Test doubles for the dynamic supervisor: a clock whose time only moves
 * when the test says so, and children whose every run the test ends by hand.
 */
import { DynamicSupervisor, type ChildSpec, type ExitReason, type RestartType, type Shutdown, type SupervisorClock, type SupervisorOptions } from '../../src/supervisor/dynamic-supervisor.js';
import { PeerError } from '../../src/errors.js';

export class FakeClock implements SupervisorClock {
  time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Delay until the earliest pending timer, if any. */
  nextDelay(): number | undefined {
    let earliest: number | undefined;
    for (const { at } of this.timers.values()) if (earliest === undefined || at < earliest) earliest = at;
    return earliest === undefined ? undefined : earliest - this.time;
  }

  /** Moves time forward, firing due timers in order and letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= target && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
      await settle();
    }
    this.time = target;
  }
}

/** Lets every pending promise reaction run (one macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface Run {
  readonly id: string;
  readonly signal: AbortSignal;
  end(reason: ExitReason): void;
  fail(error: unknown): void;
}

export interface ScriptOptions {
  /** How the child reacts when asked to stop: end with `shutdown` (default), or carry on. */
  onStop?: 'shutdown' | 'ignore';
  /** Stop through terminate() instead of the signal. */
  viaTerminate?: boolean;
  shutdown?: Shutdown;
  /** Give the spec a kill() hook (counted in `kills`). */
  withKill?: boolean;
}

/** A child whose every run is a promise the test settles by hand. */
export class ScriptedChild {
  readonly runs: Run[] = [];
  terminates = 0;
  kills = 0;

  spec(id: string, restart: RestartType, options: ScriptOptions = {}): ChildSpec {
    const onStop = options.onStop ?? 'shutdown';
    let current: Run | null = null;
    const spec: ChildSpec = {
      id,
      restart,
      start: (signal) =>
        new Promise<ExitReason>((resolve, reject) => {
          current = { id, signal, end: resolve, fail: reject };
          this.runs.push(current);
          if (onStop === 'shutdown') signal.addEventListener('abort', () => resolve({ kind: 'shutdown' }), { once: true });
        }),
    };
    if (options.viaTerminate) {
      spec.terminate = () => {
        this.terminates++;
        if (onStop === 'shutdown') current?.end({ kind: 'shutdown' });
      };
    }
    if (options.shutdown !== undefined) spec.shutdown = options.shutdown;
    if (options.withKill) spec.kill = () => this.kills++;
    return spec;
  }

  get last(): Run {
    const run = this.runs.at(-1);
    if (!run) throw new Error('child never started');
    return run;
  }
}

export const CRASH = new PeerError('ERR_CONNECTION_RESET', 'reset by peer');

export function recordEvents(supervisor: DynamicSupervisor): string[] {
  const events: string[] = [];
  supervisor.on('exit', (id, reason, willRestart) => events.push(`exit ${id} ${reason.kind} ${willRestart}`));
  supervisor.on('restart', (id, attempt) => events.push(`restart ${id} ${attempt}`));
  supervisor.on('giveup', (id, reason) => events.push(`giveup ${id} ${reason.kind}`));
  supervisor.on('shutdown', (error) => events.push(`shutdown ${error.code}`));
  return events;
}

export function make(options: SupervisorOptions = {}): { supervisor: DynamicSupervisor; clock: FakeClock; events: string[] } {
  const clock = new FakeClock();
  const supervisor = new DynamicSupervisor({ clock, ...options });
  return { supervisor, clock, events: recordEvents(supervisor) };
}

/** OTP's count_children shape: every child here is a worker. */
export function counts(specs: number, active: number): { specs: number; active: number; supervisors: 0; workers: number } {
  return { specs, active, supervisors: 0, workers: specs };
}
