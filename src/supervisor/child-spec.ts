/**
 * What a supervised child is (its spec) and how what it hands back is read:
 * spec validation, and turning whatever a child's `start` settled with into
 * a true {@link ExitReason}. Pure functions; the supervisor's state machine
 * lives in dynamic-supervisor.ts.
 */
import { isBitspreadError, type PlainError } from '../errors.js';
import type { ExitReason, RestartType } from './restart-policy.js';

/**
 * How long the supervisor waits for a child to end once it was asked to
 * stop (OTP's `shutdown`): milliseconds, after which the child is killed;
 * `'brutal_kill'`: killed at once, without being asked; `'infinity'`: wait
 * for as long as it takes.
 */
export type Shutdown = number | 'brutal_kill' | 'infinity';

/** OTP's default for a worker. */
export const DEFAULT_SHUTDOWN_MS = 5_000;
/** setTimeout's ceiling (Node turns anything larger into 1 ms). */
export const MAX_SHUTDOWN_MS = 2_147_483_647;

export interface ChildSpec {
  /** Unique among live children (e.g. the peer's address text). */
  id: string;
  restart: RestartType;
  /**
   * Starts the child; the promise settles when the child ENDS, with its true
   * exit reason. A rejection (or a synchronous throw) is an `error` exit.
   * `signal` aborts when the supervisor terminates the child: honour it.
   */
  start(signal: AbortSignal): Promise<ExitReason>;
  /**
   * Optional, for supervisors of thousands of short children: when given, the
   * supervisor asks this child to stop by calling `terminate()` (once per
   * run) instead of aborting a signal, makes no AbortController for it, and
   * `start` gets a shared signal that never aborts. An AbortSignal costs
   * microseconds to create; a crawl starts one child per address.
   */
  terminate?(): void;
  /**
   * How long to wait after asking the child to stop before killing it
   * (default {@link DEFAULT_SHUTDOWN_MS}). No timer exists for a child
   * unless it is being terminated.
   */
  shutdown?: Shutdown;
  /**
   * Ends the child by force: called when its shutdown time ran out (or at
   * once for `'brutal_kill'`). Whether or not it is given, the supervisor
   * then stops waiting, records the exit as `killed` and forgets the run: a
   * later settlement of its `start` promise is ignored.
   */
  kill?(): void;
}

/** Why the spec cannot be supervised, or null when it can. */
export function specProblem(spec: ChildSpec): string | null {
  if (typeof spec !== 'object' || spec === null) return 'a child spec must be an object';
  if (typeof spec.id !== 'string' || spec.id === '') return 'a child spec needs a non-empty string id';
  if (spec.restart !== 'permanent' && spec.restart !== 'transient' && spec.restart !== 'temporary') {
    return `child ${spec.id}: restart must be permanent, transient or temporary, got ${String(spec.restart)}`;
  }
  if (typeof spec.start !== 'function') return `child ${spec.id}: start must be a function`;
  if (spec.terminate !== undefined && typeof spec.terminate !== 'function') return `child ${spec.id}: terminate must be a function`;
  if (spec.kill !== undefined && typeof spec.kill !== 'function') return `child ${spec.id}: kill must be a function`;
  const shutdown: unknown = spec.shutdown;
  if (
    shutdown !== undefined &&
    shutdown !== 'brutal_kill' &&
    shutdown !== 'infinity' &&
    !(typeof shutdown === 'number' && Number.isFinite(shutdown) && shutdown >= 0 && shutdown <= MAX_SHUTDOWN_MS)
  ) {
    return `child ${spec.id}: shutdown must be 0..${MAX_SHUTDOWN_MS} ms, 'brutal_kill' or 'infinity', got ${describe(shutdown)}`;
  }
  return null;
}

/**
 * What a child's `start` resolved with, as an exit reason. Anything that is
 * not an ExitReason is treated as a crash, visibly (ERR_CHILD_FAILED).
 */
export function exitReasonOf(value: unknown): ExitReason {
  if (typeof value === 'object' && value !== null) {
    const kind = (value as { kind?: unknown }).kind;
    if (kind === 'normal') return NORMAL;
    if (kind === 'shutdown') return SHUTDOWN;
    if (kind === 'killed') return KILLED;
    if (kind === 'error') return { kind, error: plainErrorOf((value as { error?: unknown }).error) };
  }
  return { kind: 'error', error: { code: 'ERR_CHILD_FAILED', message: `child resolved with an invalid exit reason: ${describe(value)}` } };
}

/** A rejection or a throw from `start`, as an exit reason. */
export function crashReasonOf(error: unknown): ExitReason {
  return { kind: 'error', error: plainErrorOf(error) };
}

export const NORMAL: ExitReason = Object.freeze({ kind: 'normal' });
export const SHUTDOWN: ExitReason = Object.freeze({ kind: 'shutdown' });
export const KILLED: ExitReason = Object.freeze({ kind: 'killed' });

/**
 * Typed errors keep their code (and detail); plain `{ code: 'ERR_…',
 * message }` data (a typed error that crossed a thread) is kept as is;
 * anything else becomes ERR_CHILD_FAILED carrying the original message.
 */
function plainErrorOf(error: unknown): PlainError {
  if (isBitspreadError(error)) return { code: error.code, message: error.message };
  if (typeof error === 'object' && error !== null) {
    const { code, message, detail } = error as { code?: unknown; message?: unknown; detail?: unknown };
    if (typeof code === 'string' && code.startsWith('ERR_') && typeof message === 'string') {
      const plain = { code: code as PlainError['code'], message };
      return typeof detail === 'string' && detail.startsWith('ERR_') ? { ...plain, detail: detail as PlainError['code'] } : plain;
    }
  }
  return { code: 'ERR_CHILD_FAILED', message: `child failed: ${describe(error)}` };
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}
