/**
 * A dynamic supervisor as Elixir/OTP defines DynamicSupervisor: it starts
 * with no children, children are added one at a time with `startChild`, and
 * each child's restart type says whether it comes back after it ends.
 *
 * A child is a function `start(signal)` returning a promise that settles
 * when the child ENDS, with its true exit reason (restart-policy.ts).
 * Terminating a child asks it to stop (its `terminate()`, or an aborted
 * signal) and waits up to its `shutdown` time; past that the child is
 * killed (`kill()` if it has one) and its exit recorded as `killed`, so
 * `terminateChild` and `stop` never wait forever unless a child chose
 * `shutdown: 'infinity'`.
 *
 * Two restart limits, both OTP's sliding-window counting:
 * - `maxRestarts`/`maxSeconds`, the supervisor as a whole (OTP's
 *   max_restarts/max_seconds): one restart too many and the supervisor
 *   terminates every child, emits `shutdown` (ERR_RESTART_INTENSITY) and
 *   refuses new children (ERR_SUPERVISOR_STOPPED).
 * - `childMaxRestarts`/`childMaxSeconds`, each child on its own (not in OTP):
 *   one restart too many and that child alone is removed (`giveup`).
 * Restarts wait an exponential backoff (not in OTP, which restarts at once:
 * a peer that just dropped is redialled a little later, not in a tight
 * loop). The timers exist per pending restart or per child being
 * terminated, never per running child, and `stop` clears them all.
 */
import { EventEmitter } from 'node:events';
import { BitspreadError, SupervisorError } from '../errors.js';
import { crashReasonOf, DEFAULT_SHUTDOWN_MS, exitReasonOf, KILLED, specProblem, type ChildSpec, type Shutdown } from './child-spec.js';
import { checkOptions, SYSTEM_CLOCK, type SupervisorClock, type SupervisorOptions } from './options.js';
import { intensityExceeded, pruneHistory, restartDecision, type ExitReason, type IntensityLimits, type RestartLimits, type RestartType } from './restart-policy.js';

export type { ChildSpec, Shutdown } from './child-spec.js';
export type { SupervisorClock, SupervisorOptions } from './options.js';
export { DEFAULT_SHUTDOWN_MS, MAX_SHUTDOWN_MS } from './child-spec.js';
export type { BackoffOptions, ExitReason, IntensityLimits, RestartDecision, RestartLimits, RestartType } from './restart-policy.js';
export {
  backoffDelay,
  DEFAULT_BACKOFF,
  DEFAULT_CHILD_RESTART_LIMITS,
  DEFAULT_INTENSITY,
  intensityExceeded,
  isAbnormal,
  restartDecision,
  restartsInWindow,
  wantsRestart,
} from './restart-policy.js';

/** What `start` gets when the spec ends its child through `terminate()`. */
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

export interface SupervisorEvents {
  /** A child ended; `willRestart` says whether a restart is scheduled. */
  exit: [id: string, reason: ExitReason, willRestart: boolean];
  /** A child was started again; `attempt` counts its restarts from 1. */
  restart: [id: string, attempt: number];
  /** The child passed its own restart limit and was removed. */
  giveup: [id: string, reason: ExitReason];
  /**
   * The supervisor shut itself down (restart intensity, ERR_RESTART_INTENSITY):
   * emitted once, as it starts terminating its children; `await stop()` to
   * wait for them. Not emitted by a requested stop().
   */
  shutdown: [error: SupervisorError];
}

export type StartChildError = { code: 'ERR_MAX_CHILDREN' | 'ERR_ALREADY_STARTED' | 'ERR_SUPERVISOR_STOPPED' | 'ERR_BAD_ARGUMENT'; message: string };
export type StartChildResult = { ok: true; id: string } | { ok: false; error: StartChildError };
export type TerminateChildResult = { ok: true } | { ok: false; error: { code: 'ERR_NOT_FOUND'; message: string } };

/** OTP's count_children. */
export interface ChildCounts {
  /** Every child the supervisor holds (running, terminating or waiting to restart). */
  specs: number;
  /** Children whose current run has not ended (running or terminating). */
  active: number;
  /** Always 0: children are not supervisors here. */
  supervisors: 0;
  /** Every child, running or not (all are workers): equals `specs`. */
  workers: number;
}

export type ChildState = 'running' | 'restarting' | 'terminating';

export interface ChildInfo {
  id: string;
  restart: RestartType;
  state: ChildState;
  /** Restarts since startChild. */
  restarts: number;
}

const TERMINATED: TerminateChildResult = Object.freeze({ ok: true });
const NO_HISTORY: readonly number[] = Object.freeze([]);

/** One supervised child and the state of its current run. */
interface Child {
  readonly id: string;
  readonly restart: RestartType;
  readonly start: ChildSpec['start'];
  readonly terminate: (() => void) | undefined;
  readonly kill: (() => void) | undefined;
  readonly shutdown: Shutdown;
  state: ChildState;
  /** The current run's, for a spec without terminate() (one per run). */
  controller: AbortController | null;
  /** The pending restart ('restarting') or the kill deadline ('terminating'). */
  timer: unknown;
  /** Timestamps of this child's restarts inside its window; made at its first restart. */
  history: number[] | null;
  restarts: number;
  /** Made when termination starts; resolved once the child has ended or was killed. */
  ended: { promise: Promise<void>; resolve: () => void } | null;
  /** Removed from the supervisor: anything its last run still does is ignored. */
  gone: boolean;
}

export class DynamicSupervisor extends EventEmitter<SupervisorEvents> {
  private readonly children = new Map<string, Child>();
  /** Kept up to date so countChildren is O(1): the engine asks often. */
  private restartingCount = 0;
  private readonly maxChildren: number;
  private readonly intensity: IntensityLimits;
  private readonly childLimits: RestartLimits;
  private readonly clock: SupervisorClock;
  /** Timestamps of every child's restarts inside the intensity window. */
  private readonly history: number[] = [];
  /** No new children, no restarts: stop() was called or the intensity tripped. */
  private closed = false;
  private stopping: Promise<void> | null = null;

  constructor(options: SupervisorOptions = {}) {
    super();
    const checked = checkOptions(options);
    this.maxChildren = checked.maxChildren;
    this.intensity = checked.intensity;
    this.childLimits = checked.childLimits;
    this.clock = options.clock ?? SYSTEM_CLOCK;
  }

  /**
   * Starts a child now (its `start` is called before this returns). Refuses
   * with ERR_SUPERVISOR_STOPPED once stopped, ERR_MAX_CHILDREN at
   * maxChildren (checked first, as Elixir does), ERR_ALREADY_STARTED while a
   * child with that id is held, ERR_BAD_ARGUMENT for a malformed spec.
   */
  startChild(spec: ChildSpec): StartChildResult {
    if (this.closed) return failure('ERR_SUPERVISOR_STOPPED', 'the supervisor is stopped');
    const invalid = specProblem(spec);
    if (invalid) return failure('ERR_BAD_ARGUMENT', invalid);
    if (this.children.size >= this.maxChildren) return failure('ERR_MAX_CHILDREN', `the supervisor holds maxChildren (${this.maxChildren}) children`);
    if (this.children.has(spec.id)) return failure('ERR_ALREADY_STARTED', `a child with id ${JSON.stringify(spec.id)} is already supervised`);
    const child: Child = {
      id: spec.id,
      restart: spec.restart,
      start: spec.start,
      terminate: spec.terminate,
      kill: spec.kill,
      shutdown: spec.shutdown ?? DEFAULT_SHUTDOWN_MS,
      state: 'running',
      controller: null,
      timer: null,
      history: null,
      restarts: 0,
      ended: null,
      gone: false,
    };
    this.children.set(spec.id, child);
    this.launch(child);
    return { ok: true, id: spec.id };
  }

  /**
   * Stops a child for good (no restart): asks it to stop, and resolves once
   * it has ended or, past its `shutdown` time, was killed. A child waiting
   * to restart is removed at once. ERR_NOT_FOUND if no child has that id.
   */
  async terminateChild(id: string): Promise<TerminateChildResult> {
    const child = this.children.get(id);
    if (!child) return { ok: false, error: { code: 'ERR_NOT_FOUND', message: `no child with id ${JSON.stringify(id)}` } };
    await this.terminate(child);
    return TERMINATED;
  }

  countChildren(): ChildCounts {
    const specs = this.children.size;
    return { specs, active: specs - this.restartingCount, supervisors: 0, workers: specs };
  }

  whichChildren(): ChildInfo[] {
    return Array.from(this.children.values(), (child) => ({ id: child.id, restart: child.restart, state: child.state, restarts: child.restarts }));
  }

  has(id: string): boolean {
    return this.children.has(id);
  }

  /** True once stop() was called or the supervisor shut itself down. */
  get stopped(): boolean {
    return this.closed;
  }

  /**
   * Terminates every child at once (each honouring its `shutdown`), clears
   * every pending restart and resolves when all have ended or were killed.
   * Later startChild calls fail with ERR_SUPERVISOR_STOPPED. Calling it
   * again (or after the supervisor shut itself down) returns the same promise.
   */
  stop(): Promise<void> {
    this.closed = true;
    this.stopping ??= Promise.all(Array.from(this.children.values()).map((child) => this.terminate(child))).then(() => undefined);
    return this.stopping;
  }

  private terminate(child: Child): Promise<void> {
    if (child.gone) return Promise.resolve();
    if (child.state === 'restarting') {
      this.clock.clearTimeout(child.timer);
      child.timer = null;
      this.remove(child);
      return Promise.resolve();
    }
    if (child.ended !== null) return child.ended.promise;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    child.ended = { promise, resolve };
    this.setState(child, 'terminating');
    if (child.shutdown === 'brutal_kill') {
      this.kill(child);
    } else {
      this.askToStop(child);
      if (!child.gone && child.shutdown !== 'infinity') child.timer = this.clock.setTimeout(() => this.kill(child), child.shutdown);
    }
    return promise;
  }

  /** terminate() or the run's signal: the polite request. */
  private askToStop(child: Child): void {
    if (child.terminate !== undefined) {
      guarded(child.terminate);
    } else if (child.controller !== null && !child.controller.signal.aborted) {
      child.controller.abort(new BitspreadError('ERR_STOPPED', `child ${child.id} terminated by its supervisor`));
    }
  }

  /** The shutdown time ran out (or brutal_kill): force it, stop waiting, record `killed`. */
  private kill(child: Child): void {
    if (child.gone) return;
    child.timer = null;
    if (child.kill !== undefined) guarded(child.kill);
    // brutal_kill was never asked politely; without a kill hook, asking is all we can do.
    else if (child.shutdown === 'brutal_kill') this.askToStop(child);
    this.finish(child, KILLED);
  }

  private launch(child: Child): void {
    this.setState(child, 'running');
    let signal = NEVER_ABORTED;
    if (child.terminate === undefined) {
      child.controller = new AbortController();
      signal = child.controller.signal;
    }
    let ended: Promise<unknown>;
    try {
      ended = Promise.resolve(child.start(signal));
    } catch (error) {
      ended = Promise.reject(error);
    }
    ended.then(
      (value) => this.onExit(child, exitReasonOf(value)),
      (error: unknown) => this.onExit(child, crashReasonOf(error)),
    );
  }

  private onExit(child: Child, reason: ExitReason): void {
    if (child.gone) return; // killed earlier: its exit is already recorded
    if (child.state === 'terminating' || this.closed) {
      this.finish(child, reason);
      return;
    }
    const id = child.id;
    const now = this.clock.now();
    const decision = restartDecision(child.restart, reason, child.history ?? NO_HISTORY, now, this.childLimits);
    if (!decision.restart) {
      this.remove(child);
      this.notify('exit', id, reason, false);
      if (decision.giveUp) this.notify('giveup', id, reason);
      return;
    }
    pruneHistory(this.history, now, this.intensity.maxSeconds);
    if (intensityExceeded(this.history, now, this.intensity)) {
      this.remove(child);
      this.notify('exit', id, reason, false);
      this.shutDown();
      return;
    }
    this.history.push(now);
    child.history ??= [];
    pruneHistory(child.history, now, this.childLimits.maxSeconds);
    child.history.push(now);
    this.setState(child, 'restarting');
    child.controller = null;
    child.timer = this.clock.setTimeout(() => this.restart(child), decision.delayMs);
    this.notify('exit', id, reason, true);
  }

  /** Restart intensity exceeded: OTP's supervisor terminates its children and itself. */
  private shutDown(): void {
    const { maxRestarts, maxSeconds } = this.intensity;
    this.closed = true;
    this.notify('shutdown', new SupervisorError('ERR_RESTART_INTENSITY', `more than ${maxRestarts} restarts within ${maxSeconds} s: the supervisor shut down`));
    void this.stop();
  }

  private restart(child: Child): void {
    child.timer = null;
    if (child.gone || this.closed) return;
    child.restarts++;
    this.launch(child);
    this.notify('restart', child.id, child.restarts);
  }

  /** The run is over (ended, or killed): forget the child, report, release waiters. */
  private finish(child: Child, reason: ExitReason): void {
    if (child.timer !== null) {
      this.clock.clearTimeout(child.timer);
      child.timer = null;
    }
    this.remove(child);
    child.ended?.resolve();
    this.notify('exit', child.id, reason, false);
  }

  private setState(child: Child, state: ChildState): void {
    if (child.state === state) return;
    if (child.state === 'restarting') this.restartingCount--;
    else if (state === 'restarting') this.restartingCount++;
    child.state = state;
  }

  private remove(child: Child): void {
    if (child.gone) return;
    child.gone = true;
    if (this.children.get(child.id) === child) this.children.delete(child.id);
    if (child.state === 'restarting') this.restartingCount--;
  }

  /**
   * Emits without letting a throwing listener break the supervisor's
   * bookkeeping: the error surfaces as an uncaught exception, as an
   * EventEmitter listener's would, once the state is consistent.
   */
  private notify<K extends keyof SupervisorEvents>(event: K, ...args: SupervisorEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: SupervisorEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      rethrowLater(error);
    }
  }
}

/** Calls a child's terminate()/kill(); a throw surfaces later, like a listener's. */
function guarded(hook: () => void): void {
  try {
    hook();
  } catch (error) {
    rethrowLater(error);
  }
}

function rethrowLater(error: unknown): void {
  process.nextTick(() => {
    throw error;
  });
}

function failure(code: StartChildError['code'], message: string): StartChildResult {
  return { ok: false, error: { code, message } };
}
