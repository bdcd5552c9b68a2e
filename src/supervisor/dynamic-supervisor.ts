/**
 * A dynamic supervisor after Elixir/OTP's DynamicSupervisor: it starts with
 * no children, children are added one at a time with `startChild`, and each
 * child's restart type says whether it comes back after it ends.
 *
 * A child is a function `start(signal)` returning a promise that settles when
 * the child ENDS. The supervisor never kills anything itself: terminating a
 * child aborts its signal and waits for that promise. `start` must honour the
 * signal (end promptly once it aborts), otherwise `terminateChild` and `stop`
 * wait as long as the child runs.
 *
 * Restart intensity is limited per child (not for the whole supervisor as in
 * OTP, where one crashing peer would take down the crawl): at most
 * `maxRestarts` restarts within `maxSeconds`, after which the supervisor gives
 * up on that child. Restarts wait an exponential backoff; the timers are
 * per pending restart (restarts are rare) and all cleared by `stop`.
 */
import { EventEmitter } from 'node:events';
import { BitspreadError, UsageError, isBitspreadError, type PlainError } from '../errors.js';
import {
  DEFAULT_BACKOFF,
  DEFAULT_RESTART_LIMITS,
  pruneHistory,
  restartDecision,
  type ExitReason,
  type RestartLimits,
  type RestartType,
} from './restart-policy.js';

export type { BackoffOptions, ExitReason, RestartDecision, RestartLimits, RestartType } from './restart-policy.js';
export { backoffDelay, DEFAULT_BACKOFF, DEFAULT_RESTART_LIMITS, restartDecision, restartsInWindow, wantsRestart } from './restart-policy.js';

export interface ChildSpec {
  /** Unique among live children (e.g. the peer's address text). */
  id: string;
  restart: RestartType;
  /**
   * Starts the child; the promise settles when the child ENDS, with its exit
   * reason. A rejection (or a synchronous throw) counts as abnormal.
   * `signal` aborts when the supervisor terminates the child: honour it.
   */
  start(signal: AbortSignal): Promise<ExitReason>;
  /**
   * Optional, for supervisors of thousands of short children: when given, the
   * supervisor ends this child by calling `terminate()` (once per run) instead
   * of aborting a signal, makes no AbortController for it, and `start` gets
   * a shared signal that never aborts. An AbortSignal costs microseconds to
   * create; a crawl starts one child per address.
   */
  terminate?(): void;
}

/** What `start` gets when the spec ends its child through `terminate()`. */
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** Time source and timers, injectable so tests run on a fake clock. */
export interface SupervisorClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SupervisorOptions {
  /** Restarts of one child allowed within `maxSeconds` (default 3). */
  maxRestarts?: number;
  /** The sliding window for `maxRestarts`, in seconds (default 5). */
  maxSeconds?: number;
  /** Restart delay initialMs × factor^n capped at maxMs (default 100 ms, ×2, 5 s). */
  backoff?: { initialMs: number; maxMs: number; factor: number };
  /** Defaults to performance.now() and the global timers. */
  clock?: SupervisorClock;
}

export interface SupervisorEvents {
  /** A child ended; `willRestart` says whether a restart is scheduled. */
  exit: [id: string, reason: ExitReason, willRestart: boolean];
  /** A child was started again; `attempt` counts its restarts from 1. */
  restart: [id: string, attempt: number];
  /** The child hit the restart intensity limit and was removed. */
  giveup: [id: string, reason: ExitReason];
}

export type StartChildResult = { ok: true } | { ok: false; error: PlainError };

export interface ChildCounts {
  /** Every child the supervisor holds (running or waiting to restart). */
  specs: number;
  /** Children whose `start` promise is pending. */
  active: number;
  /** Children waiting for their backoff delay to pass. */
  restarting: number;
}

export interface ChildInfo {
  id: string;
  restart: RestartType;
  state: 'running' | 'restarting';
}

const SYSTEM_CLOCK: SupervisorClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** One supervised child and the state of its current run. */
interface Child {
  readonly spec: ChildSpec;
  state: 'running' | 'restarting';
  /** The current run's; made by launch() (one per run: a restart gets a fresh, unaborted one). */
  controller: AbortController | null;
  /** Settles after the current run's exit was handled; null while restarting. */
  run: Promise<void> | null;
  /** The pending restart, while `state` is 'restarting'. */
  timer: unknown;
  /** Timestamps of restarts inside the intensity window. */
  readonly history: number[];
  restarts: number;
  /** Set by terminateChild/stop: this run's end is final. */
  terminating: boolean;
  /** spec.terminate() was called for the current run. */
  terminateCalled: boolean;
}

export class DynamicSupervisor extends EventEmitter<SupervisorEvents> {
  private readonly children = new Map<string, Child>();
  /** Kept up to date so countChildren is O(1): the engine asks often. */
  private restartingCount = 0;
  private readonly limits: RestartLimits;
  private readonly clock: SupervisorClock;
  private stopping: Promise<void> | null = null;

  constructor(options: SupervisorOptions = {}) {
    super();
    this.limits = checkLimits(options);
    this.clock = options.clock ?? SYSTEM_CLOCK;
  }

  /**
   * Starts a child now (its `start` is called before this returns). Fails
   * with ERR_SUPERVISOR on a duplicate id or once the supervisor is stopped,
   * ERR_BAD_ARGUMENT on a malformed spec.
   */
  startChild(spec: ChildSpec): StartChildResult {
    if (this.stopping) return failure('ERR_SUPERVISOR', 'the supervisor is stopped');
    const invalid = specProblem(spec);
    if (invalid) return failure('ERR_BAD_ARGUMENT', invalid);
    if (this.children.has(spec.id)) return failure('ERR_SUPERVISOR', `a child with id ${JSON.stringify(spec.id)} is already supervised`);
    const child: Child = {
      spec: spec.terminate === undefined ? { id: spec.id, restart: spec.restart, start: spec.start } : { id: spec.id, restart: spec.restart, start: spec.start, terminate: spec.terminate },
      state: 'running',
      controller: null,
      run: null,
      timer: null,
      history: [],
      restarts: 0,
      terminating: false,
      terminateCalled: false,
    };
    this.children.set(spec.id, child);
    this.launch(child);
    return { ok: true };
  }

  /**
   * Stops a child without restarting it: aborts its signal and resolves once
   * its promise has settled (or at once if it was waiting to restart).
   * Resolves false if no child has that id.
   */
  async terminateChild(id: string): Promise<boolean> {
    const child = this.children.get(id);
    if (!child) return false;
    await this.terminate(child);
    return true;
  }

  countChildren(): ChildCounts {
    const specs = this.children.size;
    return { specs, active: specs - this.restartingCount, restarting: this.restartingCount };
  }

  whichChildren(): ChildInfo[] {
    return Array.from(this.children.values(), (child) => ({ id: child.spec.id, restart: child.spec.restart, state: child.state }));
  }

  has(id: string): boolean {
    return this.children.has(id);
  }

  get stopped(): boolean {
    return this.stopping !== null;
  }

  /**
   * Terminates every child (no restarts), clears every pending restart timer
   * and resolves when all children have ended. Later startChild calls fail
   * with ERR_SUPERVISOR. Calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.stopping ??= Promise.all(Array.from(this.children.values(), (child) => this.terminate(child))).then(() => undefined);
    return this.stopping;
  }

  private terminate(child: Child): Promise<void> {
    child.terminating = true;
    if (child.state === 'restarting') {
      this.clock.clearTimeout(child.timer);
      child.timer = null;
      this.remove(child);
      return Promise.resolve();
    }
    if (child.spec.terminate !== undefined) {
      if (!child.terminateCalled) {
        child.terminateCalled = true;
        child.spec.terminate();
      }
    } else if (child.controller !== null && !child.controller.signal.aborted) {
      child.controller.abort(new BitspreadError('ERR_STOPPED', `child ${child.spec.id} terminated by its supervisor`));
    }
    return child.run ?? Promise.resolve();
  }

  private launch(child: Child): void {
    this.setState(child, 'running');
    let signal = NEVER_ABORTED;
    if (child.spec.terminate === undefined) {
      child.controller = new AbortController();
      signal = child.controller.signal;
    }
    child.terminateCalled = false;
    let ended: Promise<ExitReason>;
    try {
      ended = Promise.resolve(child.spec.start(signal)).then(checkExitReason);
    } catch (error) {
      ended = Promise.reject(error);
    }
    child.run = ended
      .then(
        (reason) => this.onExit(child, reason),
        (error: unknown) => this.onExit(child, { kind: 'abnormal', error: plainErrorOf(error) }),
      )
      // Only a throwing event listener gets here; surface it like any
      // EventEmitter listener error instead of leaving an unhandled rejection.
      .catch((error: unknown) => {
        process.nextTick(() => {
          throw error;
        });
      });
  }

  private onExit(child: Child, reason: ExitReason): void {
    const id = child.spec.id;
    if (child.terminating || this.stopping) {
      this.remove(child);
      this.emit('exit', id, reason, false);
      return;
    }
    const now = this.clock.now();
    const decision = restartDecision(child.spec.restart, reason, child.history, now, this.limits);
    if (!decision.restart) {
      this.remove(child);
      this.emit('exit', id, reason, false);
      if (decision.giveUp) this.emit('giveup', id, reason);
      return;
    }
    pruneHistory(child.history, now, this.limits.maxSeconds);
    child.history.push(now);
    this.setState(child, 'restarting');
    child.run = null;
    child.timer = this.clock.setTimeout(() => this.restart(child), decision.delayMs);
    this.emit('exit', id, reason, true);
  }

  private restart(child: Child): void {
    child.timer = null;
    if (child.terminating || this.stopping || this.children.get(child.spec.id) !== child) return;
    child.restarts++;
    this.launch(child);
    this.emit('restart', child.spec.id, child.restarts);
  }

  private setState(child: Child, state: Child['state']): void {
    if (child.state === state) return;
    this.restartingCount += state === 'restarting' ? 1 : -1;
    child.state = state;
  }

  private remove(child: Child): void {
    if (this.children.get(child.spec.id) !== child) return;
    this.children.delete(child.spec.id);
    if (child.state === 'restarting') this.restartingCount--;
  }
}

function failure(code: 'ERR_SUPERVISOR' | 'ERR_BAD_ARGUMENT', message: string): StartChildResult {
  return { ok: false, error: { code, message } };
}

function specProblem(spec: ChildSpec): string | null {
  if (typeof spec !== 'object' || spec === null) return 'a child spec must be an object';
  if (typeof spec.id !== 'string' || spec.id === '') return 'a child spec needs a non-empty string id';
  if (spec.restart !== 'permanent' && spec.restart !== 'transient' && spec.restart !== 'temporary') {
    return `child ${spec.id}: restart must be permanent, transient or temporary, got ${String(spec.restart)}`;
  }
  if (typeof spec.start !== 'function') return `child ${spec.id}: start must be a function`;
  if (spec.terminate !== undefined && typeof spec.terminate !== 'function') return `child ${spec.id}: terminate must be a function`;
  return null;
}

/** A child resolving with anything but an ExitReason is treated as a crash, visibly. */
function checkExitReason(value: unknown): ExitReason {
  if (typeof value === 'object' && value !== null) {
    const kind = (value as { kind?: unknown }).kind;
    if (kind === 'normal' || kind === 'shutdown') return { kind };
    if (kind === 'abnormal') return { kind, error: plainErrorOf((value as { error?: unknown }).error) };
  }
  return { kind: 'abnormal', error: { code: 'ERR_SUPERVISOR', message: `child resolved with an invalid exit reason: ${describe(value)}` } };
}

/**
 * Typed errors keep their code; plain `{ code: 'ERR_…', message }` data (a
 * typed error that crossed a thread) is kept as is; anything else becomes
 * ERR_SUPERVISOR carrying the original message.
 */
function plainErrorOf(error: unknown): PlainError {
  if (isBitspreadError(error)) return { code: error.code, message: error.message };
  if (typeof error === 'object' && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && code.startsWith('ERR_') && typeof message === 'string') {
      return { code: code as PlainError['code'], message };
    }
  }
  return { code: 'ERR_SUPERVISOR', message: `child failed: ${describe(error)}` };
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

function checkLimits(options: SupervisorOptions): RestartLimits {
  const maxRestarts = options.maxRestarts ?? DEFAULT_RESTART_LIMITS.maxRestarts;
  const maxSeconds = options.maxSeconds ?? DEFAULT_RESTART_LIMITS.maxSeconds;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  if (!Number.isInteger(maxRestarts) || maxRestarts < 0) {
    throw new UsageError('ERR_BAD_OPTION', `maxRestarts must be an integer >= 0, got ${String(maxRestarts)}`);
  }
  if (!Number.isFinite(maxSeconds) || maxSeconds <= 0) {
    throw new UsageError('ERR_BAD_OPTION', `maxSeconds must be a positive number, got ${String(maxSeconds)}`);
  }
  const { initialMs, maxMs, factor } = backoff;
  if (!Number.isFinite(initialMs) || initialMs < 0 || !Number.isFinite(maxMs) || maxMs < initialMs || !Number.isFinite(factor) || factor < 1) {
    throw new UsageError('ERR_BAD_OPTION', `backoff needs 0 <= initialMs <= maxMs and factor >= 1, got ${JSON.stringify(backoff)}`);
  }
  return { maxRestarts, maxSeconds, backoff: { initialMs, maxMs, factor } };
}
