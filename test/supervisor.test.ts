import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DynamicSupervisor,
  type ChildSpec,
  type ExitReason,
  type RestartType,
  type SupervisorClock,
  type SupervisorOptions,
} from '../src/supervisor/dynamic-supervisor.js';
import { PeerError, UsageError } from '../src/errors.js';

/** A clock whose time only moves when the test says so. */
class FakeClock implements SupervisorClock {
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

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A child whose every run is a promise the test settles by hand; it honours abort with 'shutdown'. */
class ScriptedChild {
  readonly runs: Array<{ id: string; signal: AbortSignal; end(reason: ExitReason): void; fail(error: unknown): void }> = [];

  spec(id: string, restart: RestartType): ChildSpec {
    return {
      id,
      restart,
      start: (signal) =>
        new Promise<ExitReason>((resolve, reject) => {
          this.runs.push({ id, signal, end: resolve, fail: reject });
          signal.addEventListener('abort', () => resolve({ kind: 'shutdown' }), { once: true });
        }),
    };
  }

  get last(): { signal: AbortSignal; end(reason: ExitReason): void; fail(error: unknown): void } {
    const run = this.runs.at(-1);
    if (!run) throw new Error('child never started');
    return run;
  }
}

const CRASH = new PeerError('ERR_CONNECTION_RESET', 'reset by peer');

function recordEvents(supervisor: DynamicSupervisor): string[] {
  const events: string[] = [];
  supervisor.on('exit', (id, reason, willRestart) => events.push(`exit ${id} ${reason.kind} ${willRestart}`));
  supervisor.on('restart', (id, attempt) => events.push(`restart ${id} ${attempt}`));
  supervisor.on('giveup', (id, reason) => events.push(`giveup ${id} ${reason.kind}`));
  return events;
}

function make(options: SupervisorOptions = {}): { supervisor: DynamicSupervisor; clock: FakeClock; events: string[] } {
  const clock = new FakeClock();
  const supervisor = new DynamicSupervisor({ clock, ...options });
  return { supervisor, clock, events: recordEvents(supervisor) };
}

describe('DynamicSupervisor basics', () => {
  it('starts with no children and starts a child immediately', () => {
    const { supervisor } = make();
    expect(supervisor.countChildren()).toEqual({ specs: 0, active: 0, restarting: 0 });
    const child = new ScriptedChild();
    expect(supervisor.startChild(child.spec('a', 'transient'))).toEqual({ ok: true });
    expect(child.runs).toHaveLength(1);
    expect(child.last.signal.aborted).toBe(false);
    expect(supervisor.countChildren()).toEqual({ specs: 1, active: 1, restarting: 0 });
    expect(supervisor.whichChildren()).toEqual([{ id: 'a', restart: 'transient', state: 'running' }]);
  });

  it('rejects a duplicate id with ERR_SUPERVISOR and accepts it again once the first has ended', async () => {
    const { supervisor, clock } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('peer', 'transient'));
    const again = supervisor.startChild(child.spec('peer', 'temporary'));
    expect(again.ok).toBe(false);
    expect(!again.ok && again.error.code).toBe('ERR_SUPERVISOR');
    expect(child.runs).toHaveLength(1);
    child.last.end({ kind: 'normal' });
    await clock.advance(0);
    expect(supervisor.startChild(child.spec('peer', 'temporary'))).toEqual({ ok: true });
    expect(child.runs).toHaveLength(2);
  });

  it('rejects a malformed spec with ERR_BAD_ARGUMENT', () => {
    const { supervisor } = make();
    const bad = [
      { id: '', restart: 'transient', start: () => new Promise(() => {}) },
      { id: 'x', restart: 'sometimes', start: () => new Promise(() => {}) },
      { id: 'x', restart: 'transient', start: 'no' },
    ] as unknown as ChildSpec[];
    for (const spec of bad) {
      const result = supervisor.startChild(spec);
      expect(!result.ok && result.error.code).toBe('ERR_BAD_ARGUMENT');
    }
    expect(supervisor.countChildren().specs).toBe(0);
  });

  it('rejects bad options with ERR_BAD_OPTION', () => {
    const bad: SupervisorOptions[] = [
      { maxRestarts: -1 },
      { maxRestarts: 1.5 },
      { maxSeconds: 0 },
      { backoff: { initialMs: 100, maxMs: 50, factor: 2 } },
      { backoff: { initialMs: 100, maxMs: 500, factor: 0.5 } },
    ];
    for (const options of bad) {
      expect(() => new DynamicSupervisor(options)).toThrow(UsageError);
      try {
        new DynamicSupervisor(options);
      } catch (error) {
        expect((error as UsageError).code).toBe('ERR_BAD_OPTION');
      }
    }
  });
});

describe('DynamicSupervisor restart semantics', () => {
  it('restarts a transient child after a crash, not after normal or shutdown', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('t', 'transient'));
    child.last.fail(CRASH);
    await clock.advance(0);
    expect(supervisor.countChildren()).toEqual({ specs: 1, active: 0, restarting: 1 });
    expect(supervisor.whichChildren()).toEqual([{ id: 't', restart: 'transient', state: 'restarting' }]);
    await clock.advance(100);
    expect(child.runs).toHaveLength(2);
    expect(supervisor.countChildren()).toEqual({ specs: 1, active: 1, restarting: 0 });
    child.last.end({ kind: 'normal' });
    await clock.advance(10_000);
    expect(child.runs).toHaveLength(2);
    expect(supervisor.countChildren()).toEqual({ specs: 0, active: 0, restarting: 0 });
    expect(events).toEqual(['exit t abnormal true', 'restart t 1', 'exit t normal false']);

    supervisor.startChild(child.spec('s', 'transient'));
    child.last.end({ kind: 'shutdown' });
    await clock.advance(10_000);
    expect(child.runs).toHaveLength(3);
    expect(clock.pending).toBe(0);
  });

  it('treats an {kind: abnormal} resolution like a rejection', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('t', 'transient'));
    child.last.end({ kind: 'abnormal', error: { code: 'ERR_PROTOCOL', message: 'garbage' } });
    await clock.advance(100);
    expect(child.runs).toHaveLength(2);
    expect(events).toEqual(['exit t abnormal true', 'restart t 1']);
  });

  it('never restarts a temporary child', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('tmp', 'temporary'));
    child.last.fail(CRASH);
    await clock.advance(60_000);
    expect(child.runs).toHaveLength(1);
    expect(supervisor.countChildren().specs).toBe(0);
    expect(events).toEqual(['exit tmp abnormal false']);
  });

  it('restarts a permanent child even after a normal exit', async () => {
    const { supervisor, clock } = make({ maxRestarts: 10 });
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('p', 'permanent'));
    child.last.end({ kind: 'normal' });
    await clock.advance(100);
    child.last.end({ kind: 'shutdown' });
    await clock.advance(200);
    expect(child.runs).toHaveLength(3);
    expect(supervisor.countChildren()).toEqual({ specs: 1, active: 1, restarting: 0 });
  });

  it('passes the error of a crash on in the exit reason', async () => {
    const { supervisor, clock } = make();
    const reasons: ExitReason[] = [];
    supervisor.on('exit', (_id, reason) => reasons.push(reason));
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('a', 'temporary'));
    child.last.fail(CRASH);
    supervisor.startChild(child.spec('b', 'temporary'));
    child.last.fail(new Error('plain failure'));
    supervisor.startChild({ id: 'c', restart: 'temporary', start: () => Promise.resolve(42 as unknown as ExitReason) });
    await clock.advance(0);
    expect(reasons).toEqual([
      { kind: 'abnormal', error: { code: 'ERR_CONNECTION_RESET', message: 'reset by peer' } },
      { kind: 'abnormal', error: { code: 'ERR_SUPERVISOR', message: 'child failed: Error: plain failure' } },
      { kind: 'abnormal', error: { code: 'ERR_SUPERVISOR', message: 'child resolved with an invalid exit reason: 42' } },
    ]);
  });

  it('treats a synchronous throw from start as a crash without breaking the supervisor', async () => {
    const { supervisor, clock, events } = make();
    let calls = 0;
    const result = supervisor.startChild({
      id: 'boom',
      restart: 'transient',
      start: () => {
        calls++;
        throw CRASH;
      },
    });
    expect(result).toEqual({ ok: true });
    await clock.advance(100 + 200 + 400);
    expect(calls).toBe(4);
    expect(events).toEqual([
      'exit boom abnormal true',
      'restart boom 1',
      'exit boom abnormal true',
      'restart boom 2',
      'exit boom abnormal true',
      'restart boom 3',
      'exit boom abnormal false',
      'giveup boom abnormal',
    ]);
    expect(supervisor.countChildren().specs).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe('DynamicSupervisor restart intensity and backoff', () => {
  it('gives up after maxRestarts restarts within maxSeconds, with growing delays', async () => {
    const { supervisor, clock, events } = make({ maxRestarts: 3, maxSeconds: 5 });
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('x', 'transient'));
    const delays: Array<number | undefined> = [];
    for (let i = 0; i < 3; i++) {
      child.last.fail(CRASH);
      await clock.advance(0);
      delays.push(clock.nextDelay());
      await clock.advance(clock.nextDelay() ?? 0);
    }
    expect(delays).toEqual([100, 200, 400]);
    expect(child.runs).toHaveLength(4);
    child.last.fail(CRASH);
    await clock.advance(0);
    expect(events.slice(-2)).toEqual(['exit x abnormal false', 'giveup x abnormal']);
    expect(supervisor.countChildren()).toEqual({ specs: 0, active: 0, restarting: 0 });
    expect(clock.pending).toBe(0);
  });

  it('does not count restarts older than the window', async () => {
    const { supervisor, clock, events } = make({ maxRestarts: 2, maxSeconds: 5 });
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('slow', 'transient'));
    for (let i = 0; i < 10; i++) {
      child.last.fail(CRASH);
      await clock.advance(0);
      // Quiet for longer than the window each time: the backoff starts over too.
      expect(clock.nextDelay()).toBe(100);
      await clock.advance(5_000);
      expect(child.runs).toHaveLength(i + 2);
    }
    expect(events.filter((event) => event.startsWith('giveup'))).toEqual([]);
    expect(supervisor.countChildren()).toEqual({ specs: 1, active: 1, restarting: 0 });
  });

  it('caps the backoff delay at maxMs', async () => {
    const { supervisor, clock } = make({ maxRestarts: 8, maxSeconds: 3_600, backoff: { initialMs: 100, maxMs: 1_000, factor: 2 } });
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('x', 'permanent'));
    const delays: Array<number | undefined> = [];
    for (let i = 0; i < 7; i++) {
      child.last.end({ kind: 'normal' });
      await clock.advance(0);
      delays.push(clock.nextDelay());
      await clock.advance(clock.nextDelay() ?? 0);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('keeps each child’s intensity separate', async () => {
    const { supervisor, clock, events } = make({ maxRestarts: 1, maxSeconds: 60 });
    const a = new ScriptedChild();
    const b = new ScriptedChild();
    supervisor.startChild(a.spec('a', 'transient'));
    supervisor.startChild(b.spec('b', 'transient'));
    a.last.fail(CRASH);
    await clock.advance(100);
    a.last.fail(CRASH);
    b.last.fail(CRASH);
    await clock.advance(100);
    expect(events.filter((event) => event.startsWith('giveup'))).toEqual(['giveup a abnormal']);
    expect(supervisor.whichChildren()).toEqual([{ id: 'b', restart: 'transient', state: 'running' }]);
  });
});

describe('DynamicSupervisor termination', () => {
  it('terminateChild aborts the child, waits for it and does not restart it', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('p', 'permanent'));
    const signal = child.last.signal;
    const terminated = await supervisor.terminateChild('p');
    expect(terminated).toBe(true);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as { code?: string }).code).toBe('ERR_STOPPED');
    await clock.advance(60_000);
    expect(child.runs).toHaveLength(1);
    expect(events).toEqual(['exit p shutdown false']);
    expect(supervisor.countChildren()).toEqual({ specs: 0, active: 0, restarting: 0 });
    expect(await supervisor.terminateChild('p')).toBe(false);
  });

  it('a spec with terminate() is ended through it, once per run, and gets a signal that never aborts', async () => {
    const { supervisor, clock, events } = make();
    let calls = 0;
    let signal: AbortSignal | null = null;
    let end: ((r: ExitReason) => void) | null = null;
    const spec: ChildSpec = {
      id: 't',
      restart: 'permanent',
      start: (s) => {
        signal = s;
        return new Promise<ExitReason>((resolve) => (end = resolve));
      },
      terminate: () => {
        calls++;
        end?.({ kind: 'shutdown' });
      },
    };
    expect(supervisor.startChild(spec)).toEqual({ ok: true });
    const first = supervisor.terminateChild('t');
    const second = supervisor.terminateChild('t');
    expect(await first).toBe(true);
    expect(await second).toBe(true);
    expect(calls).toBe(1);
    expect(signal!.aborted).toBe(false);
    await clock.advance(60_000);
    expect(events).toEqual(['exit t shutdown false']);
    expect(supervisor.countChildren()).toEqual({ specs: 0, active: 0, restarting: 0 });
    expect(supervisor.startChild({ ...spec, id: 'u', terminate: 1 as unknown as () => void })).toMatchObject({ ok: false, error: { code: 'ERR_BAD_ARGUMENT' } });
  });

  it('terminateChild waits until a slow child has actually settled', async () => {
    const { supervisor } = make();
    let finish: (reason: ExitReason) => void = () => {};
    supervisor.startChild({ id: 'slow', restart: 'transient', start: () => new Promise<ExitReason>((resolve) => (finish = resolve)) });
    let done = false;
    const terminating = supervisor.terminateChild('slow').then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    expect(supervisor.countChildren().active).toBe(1);
    finish({ kind: 'shutdown' });
    await terminating;
    expect(supervisor.countChildren().specs).toBe(0);
  });

  it('terminateChild of a child waiting to restart cancels the restart', async () => {
    const { supervisor, clock } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('t', 'transient'));
    child.last.fail(CRASH);
    await clock.advance(0);
    expect(clock.pending).toBe(1);
    expect(await supervisor.terminateChild('t')).toBe(true);
    expect(clock.pending).toBe(0);
    await clock.advance(10_000);
    expect(child.runs).toHaveLength(1);
    expect(supervisor.countChildren().specs).toBe(0);
  });

  it('does not restart a terminated child that rejects on abort, though that is an abnormal exit', async () => {
    const { supervisor, clock, events } = make();
    let starts = 0;
    supervisor.startChild({
      id: 'r',
      restart: 'permanent',
      start: (signal) => {
        starts++;
        return new Promise<ExitReason>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    });
    const [first, second] = await Promise.all([supervisor.terminateChild('r'), supervisor.terminateChild('r')]);
    expect([first, second]).toEqual([true, true]);
    await clock.advance(60_000);
    expect(starts).toBe(1);
    expect(events).toEqual(['exit r abnormal false']);
    expect(clock.pending).toBe(0);
  });

  it('lets an exit listener start a new child under the same id', async () => {
    const { supervisor, clock } = make();
    const child = new ScriptedChild();
    supervisor.once('exit', (id) => {
      expect(supervisor.startChild(child.spec(id, 'temporary'))).toEqual({ ok: true });
    });
    supervisor.startChild(child.spec('peer', 'temporary'));
    child.last.end({ kind: 'normal' });
    await clock.advance(0);
    expect(child.runs).toHaveLength(2);
    expect(supervisor.whichChildren()).toEqual([{ id: 'peer', restart: 'temporary', state: 'running' }]);
  });

  it('accepts a start that returns its exit reason without a promise', async () => {
    const { supervisor, clock, events } = make();
    supervisor.startChild({ id: 'sync', restart: 'transient', start: () => ({ kind: 'normal' }) as unknown as Promise<ExitReason> });
    await clock.advance(1_000);
    expect(events).toEqual(['exit sync normal false']);
  });

  it('stop terminates every child, clears every timer and refuses new children', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    for (const id of ['a', 'b', 'c']) supervisor.startChild(child.spec(id, 'permanent'));
    child.runs[1]?.fail(CRASH);
    await clock.advance(0);
    expect(supervisor.countChildren()).toEqual({ specs: 3, active: 2, restarting: 1 });
    await supervisor.stop();
    expect(supervisor.stopped).toBe(true);
    // The crashed run had already ended; the two running ones were aborted.
    expect(child.runs.map((run) => run.signal.aborted)).toEqual([true, false, true]);
    expect(supervisor.countChildren()).toEqual({ specs: 0, active: 0, restarting: 0 });
    expect(clock.pending).toBe(0);
    await clock.advance(60_000);
    expect(child.runs).toHaveLength(3);
    const late = supervisor.startChild(child.spec('d', 'transient'));
    expect(!late.ok && late.error.code).toBe('ERR_SUPERVISOR');
    expect(events.filter((event) => event.startsWith('restart'))).toEqual([]);
    await supervisor.stop(); // idempotent
  });

  it('stop with real timers leaves no pending restart behind', async () => {
    const supervisor = new DynamicSupervisor({ backoff: { initialMs: 30, maxMs: 30, factor: 1 } });
    let starts = 0;
    supervisor.startChild({
      id: 'crasher',
      restart: 'permanent',
      start: () => {
        starts++;
        return Promise.reject(CRASH);
      },
    });
    await settle();
    expect(supervisor.countChildren().restarting).toBe(1);
    await supervisor.stop();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(starts).toBe(1);
  });

  it('keeps countChildren right through a mix of starts, crashes and exits', async () => {
    const { supervisor, clock } = make({ maxRestarts: 5 });
    const child = new ScriptedChild();
    for (let i = 0; i < 20; i++) supervisor.startChild(child.spec(`n${i}`, i % 2 === 0 ? 'transient' : 'temporary'));
    expect(supervisor.countChildren()).toEqual({ specs: 20, active: 20, restarting: 0 });
    // Crash all ten transient children and end five temporary ones.
    for (let i = 0; i < 20; i += 2) child.runs[i]?.fail(CRASH);
    for (let i = 1; i < 10; i += 2) child.runs[i]?.end({ kind: 'normal' });
    await clock.advance(0);
    expect(supervisor.countChildren()).toEqual({ specs: 15, active: 5, restarting: 10 });
    await clock.advance(100);
    expect(supervisor.countChildren()).toEqual({ specs: 15, active: 15, restarting: 0 });
    expect(child.runs).toHaveLength(30);
    await supervisor.stop();
    expect(supervisor.countChildren()).toEqual({ specs: 0, active: 0, restarting: 0 });
  });
});

describe('DynamicSupervisor under random operations', () => {
  type Op =
    | { op: 'start'; id: number; restart: RestartType }
    | { op: 'crash' | 'end' | 'terminate'; id: number }
    | { op: 'advance'; ms: number };
  const ids = fc.integer({ min: 0, max: 5 });
  const operation: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('start' as const), id: ids, restart: fc.constantFrom<RestartType>('permanent', 'transient', 'temporary') }),
    fc.record({ op: fc.constantFrom('crash' as const, 'end' as const, 'terminate' as const), id: ids }),
    fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  );

  it('keeps countChildren equal to whichChildren and ends with nothing running after stop', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 40 }), async (ops) => {
        const { supervisor, clock } = make({ maxRestarts: 2, maxSeconds: 5 });
        const child = new ScriptedChild();
        const check = (): void => {
          const which = supervisor.whichChildren();
          const running = which.filter((info) => info.state === 'running').length;
          expect(supervisor.countChildren()).toEqual({ specs: which.length, active: running, restarting: which.length - running });
          expect(clock.pending).toBe(which.length - running);
        };
        for (const step of ops) {
          if (step.op === 'advance') {
            await clock.advance(step.ms);
          } else {
            const id = `c${step.id}`;
            if (step.op === 'start') {
              const existed = supervisor.has(id);
              expect(supervisor.startChild(child.spec(id, step.restart)).ok).toBe(!existed);
            } else if (step.op === 'terminate') {
              await supervisor.terminateChild(id);
              expect(supervisor.has(id)).toBe(false);
            } else {
              // The newest run of that id (an ended run ignores a second settle).
              const run = child.runs.findLast((candidate) => candidate.id === id);
              if (step.op === 'crash') run?.fail(CRASH);
              else run?.end({ kind: 'normal' });
              await clock.advance(0);
            }
          }
          check();
        }
        await supervisor.stop();
        expect(supervisor.countChildren()).toEqual({ specs: 0, active: 0, restarting: 0 });
        expect(clock.pending).toBe(0);
      }),
      { numRuns: 150 },
    );
  });
});
