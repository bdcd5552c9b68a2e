import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DynamicSupervisor, type ChildSpec, type ExitReason, type RestartType, type SupervisorOptions } from '../src/supervisor/dynamic-supervisor.js';
import { BitspreadError, SupervisorError, UsageError } from '../src/errors.js';
import { counts, CRASH, make, ScriptedChild } from './helpers/supervisor.js';

const NEVER = (): Promise<ExitReason> => new Promise<ExitReason>(() => {});

describe('DynamicSupervisor basics', () => {
  it('starts with no children and starts a child immediately', () => {
    const { supervisor } = make();
    expect(supervisor.countChildren()).toEqual(counts(0, 0));
    const child = new ScriptedChild();
    expect(supervisor.startChild(child.spec('a', 'transient'))).toEqual({ ok: true, id: 'a' });
    expect(child.runs).toHaveLength(1);
    expect(child.last.signal.aborted).toBe(false);
    expect(supervisor.countChildren()).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
    expect(supervisor.whichChildren()).toEqual([{ id: 'a', restart: 'transient', state: 'running', restarts: 0 }]);
  });

  it('refuses a live id with ERR_ALREADY_STARTED and accepts it again once the first has ended', async () => {
    const { supervisor, clock } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('peer', 'transient'));
    const again = supervisor.startChild(child.spec('peer', 'temporary'));
    expect(again).toMatchObject({ ok: false, error: { code: 'ERR_ALREADY_STARTED' } });
    expect(child.runs).toHaveLength(1);
    child.last.end({ kind: 'normal' });
    await clock.advance(0);
    expect(supervisor.startChild(child.spec('peer', 'temporary'))).toEqual({ ok: true, id: 'peer' });
    expect(child.runs).toHaveLength(2);
  });

  it('refuses past maxChildren with ERR_MAX_CHILDREN, counting children waiting to restart, and accepts again once one ends', async () => {
    const { supervisor, clock } = make({ maxChildren: 2 });
    const child = new ScriptedChild();
    expect(supervisor.startChild(child.spec('a', 'transient')).ok).toBe(true);
    expect(supervisor.startChild(child.spec('b', 'temporary')).ok).toBe(true);
    const refused = supervisor.startChild(child.spec('c', 'temporary'));
    expect(refused).toMatchObject({ ok: false, error: { code: 'ERR_MAX_CHILDREN' } });
    expect(child.runs).toHaveLength(2); // the refused child was never started
    // 'a' crashes and waits for its restart: it still holds its place (OTP counts it too).
    child.runs[0]?.fail(CRASH);
    await clock.advance(0);
    expect(supervisor.countChildren()).toEqual(counts(2, 1));
    expect(supervisor.startChild(child.spec('c', 'temporary')).ok).toBe(false);
    child.runs[1]?.end({ kind: 'normal' });
    await clock.advance(0);
    expect(supervisor.startChild(child.spec('c', 'temporary'))).toEqual({ ok: true, id: 'c' });
    // A duplicate at the limit is reported as max_children, Elixir's order of checks.
    expect(supervisor.startChild(child.spec('c', 'temporary'))).toMatchObject({ ok: false, error: { code: 'ERR_MAX_CHILDREN' } });

    const none = make({ maxChildren: 0 }).supervisor;
    expect(none.startChild(child.spec('x', 'temporary'))).toMatchObject({ ok: false, error: { code: 'ERR_MAX_CHILDREN' } });
  });

  it('rejects a malformed spec with ERR_BAD_ARGUMENT', () => {
    const { supervisor } = make();
    const bad = [
      { id: '', restart: 'transient', start: NEVER },
      { id: 'x', restart: 'sometimes', start: NEVER },
      { id: 'x', restart: 'transient', start: 'no' },
      { id: 'x', restart: 'transient', start: NEVER, terminate: 1 },
      { id: 'x', restart: 'transient', start: NEVER, kill: 'now' },
      { id: 'x', restart: 'transient', start: NEVER, shutdown: -1 },
      { id: 'x', restart: 'transient', start: NEVER, shutdown: Infinity },
      { id: 'x', restart: 'transient', start: NEVER, shutdown: 2 ** 31 },
      { id: 'x', restart: 'transient', start: NEVER, shutdown: 'soon' },
    ] as unknown as ChildSpec[];
    for (const spec of bad) {
      const result = supervisor.startChild(spec);
      expect(result, JSON.stringify(spec)).toMatchObject({ ok: false, error: { code: 'ERR_BAD_ARGUMENT' } });
    }
    expect(supervisor.countChildren().specs).toBe(0);
    for (const shutdown of [0, 1, 2 ** 31 - 1, 'brutal_kill', 'infinity'] as const) {
      expect(supervisor.startChild({ id: `ok-${shutdown}`, restart: 'temporary', start: NEVER, shutdown }).ok).toBe(true);
    }
  });

  it('rejects bad options with ERR_BAD_OPTION', () => {
    const bad: SupervisorOptions[] = [
      { maxRestarts: -1 },
      { maxRestarts: 1.5 },
      { maxSeconds: 0 },
      { childMaxRestarts: -1 },
      { childMaxSeconds: Number.NaN },
      { maxChildren: -1 },
      { maxChildren: 2.5 },
      { backoff: { initialMs: 100, maxMs: 50, factor: 2 } },
      { backoff: { initialMs: 100, maxMs: 500, factor: 0.5 } },
    ];
    for (const options of bad) {
      let thrown: unknown;
      try {
        new DynamicSupervisor(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(options)).toBeInstanceOf(UsageError);
      expect((thrown as UsageError).code).toBe('ERR_BAD_OPTION');
    }
  });

  it('brands SupervisorError so instanceof holds across copies of the errors module', async () => {
    const error = new SupervisorError('ERR_RESTART_INTENSITY', 'too many');
    expect(error).toBeInstanceOf(SupervisorError);
    expect(error).toBeInstanceOf(BitspreadError);
    expect(error.toPlain()).toEqual({ code: 'ERR_RESTART_INTENSITY', message: 'too many' });
    // A second instance of the module, as src (vitest) and dist (a worker) are.
    const copyPath = '../src/errors.js?copy';
    const copy = (await import(/* @vite-ignore */ copyPath)) as typeof import('../src/errors.js');
    expect(copy.SupervisorError).not.toBe(SupervisorError);
    expect(new copy.SupervisorError('ERR_NOT_FOUND', 'x')).toBeInstanceOf(SupervisorError);
    expect(error).toBeInstanceOf(copy.SupervisorError);
    expect(new copy.UsageError('ERR_BAD_OPTION', 'x')).not.toBeInstanceOf(SupervisorError);
  });
});

describe('DynamicSupervisor restart types and exit reasons', () => {
  /** OTP's table: permanent always, transient on abnormal (error, killed), temporary never. */
  const cases: Array<{ name: string; settle: (run: ScriptedChild['runs'][number]) => void; kind: ExitReason['kind']; abnormal: boolean }> = [
    { name: 'normal', settle: (run) => run.end({ kind: 'normal' }), kind: 'normal', abnormal: false },
    { name: 'shutdown', settle: (run) => run.end({ kind: 'shutdown' }), kind: 'shutdown', abnormal: false },
    { name: 'killed', settle: (run) => run.end({ kind: 'killed' }), kind: 'killed', abnormal: true },
    { name: 'error', settle: (run) => run.end({ kind: 'error', error: { code: 'ERR_PROTOCOL', message: 'garbage' } }), kind: 'error', abnormal: true },
    { name: 'a rejection', settle: (run) => run.fail(CRASH), kind: 'error', abnormal: true },
  ];
  const expected: Record<RestartType, (abnormal: boolean) => boolean> = {
    permanent: () => true,
    transient: (abnormal) => abnormal,
    temporary: () => false,
  };

  for (const restart of ['permanent', 'transient', 'temporary'] as const) {
    for (const { name, settle, kind, abnormal } of cases) {
      const restarts = expected[restart](abnormal);
      it(`${restart} after ${name}: ${restarts ? 'restarted' : 'not restarted'}`, async () => {
        const { supervisor, clock, events } = make();
        const child = new ScriptedChild();
        supervisor.startChild(child.spec('c', restart));
        settle(child.last);
        await clock.advance(100);
        expect(child.runs).toHaveLength(restarts ? 2 : 1);
        expect(events).toEqual(restarts ? [`exit c ${kind} true`, 'restart c 1'] : [`exit c ${kind} false`]);
        expect(supervisor.countChildren()).toEqual(restarts ? counts(1, 1) : counts(0, 0));
        expect(clock.pending).toBe(0);
      });
    }
  }

  it('shows a child waiting for its backoff as restarting, and counts its restarts', async () => {
    const { supervisor, clock } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('t', 'transient'));
    child.last.fail(CRASH);
    await clock.advance(0);
    expect(supervisor.countChildren()).toEqual(counts(1, 0));
    expect(supervisor.whichChildren()).toEqual([{ id: 't', restart: 'transient', state: 'restarting', restarts: 0 }]);
    await clock.advance(100);
    expect(supervisor.whichChildren()).toEqual([{ id: 't', restart: 'transient', state: 'running', restarts: 1 }]);
    child.last.fail(CRASH);
    await clock.advance(200);
    expect(supervisor.whichChildren()).toEqual([{ id: 't', restart: 'transient', state: 'running', restarts: 2 }]);
  });

  it('reports the true error of a crash, keeping its code and detail', async () => {
    const { supervisor, clock } = make();
    const reasons: ExitReason[] = [];
    supervisor.on('exit', (_id, reason) => reasons.push(reason));
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('a', 'temporary'));
    child.last.fail(CRASH);
    supervisor.startChild(child.spec('b', 'temporary'));
    child.last.fail(new Error('plain failure'));
    supervisor.startChild({ id: 'c', restart: 'temporary', start: () => Promise.resolve(42 as unknown as ExitReason) });
    supervisor.startChild(child.spec('d', 'temporary'));
    child.last.end({ kind: 'error', error: { code: 'ERR_PROTOCOL', message: 'bad magic', detail: 'ERR_BAD_MAGIC' } });
    supervisor.startChild(child.spec('e', 'temporary'));
    // A typed error that crossed a thread arrives as plain data.
    child.last.fail({ code: 'ERR_PEER_CLOSED', message: 'closed' });
    await clock.advance(0);
    expect(reasons).toEqual([
      { kind: 'error', error: { code: 'ERR_CONNECTION_RESET', message: 'reset by peer' } },
      { kind: 'error', error: { code: 'ERR_CHILD_FAILED', message: 'child failed: Error: plain failure' } },
      { kind: 'error', error: { code: 'ERR_CHILD_FAILED', message: 'child resolved with an invalid exit reason: 42' } },
      { kind: 'error', error: { code: 'ERR_PROTOCOL', message: 'bad magic', detail: 'ERR_BAD_MAGIC' } },
      { kind: 'error', error: { code: 'ERR_PEER_CLOSED', message: 'closed' } },
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
    expect(result).toEqual({ ok: true, id: 'boom' });
    await clock.advance(100 + 200 + 400);
    expect(calls).toBe(4);
    expect(events).toEqual([
      'exit boom error true',
      'restart boom 1',
      'exit boom error true',
      'restart boom 2',
      'exit boom error true',
      'restart boom 3',
      'exit boom error false',
      'giveup boom error',
    ]);
    expect(supervisor.countChildren().specs).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('accepts a start that returns its exit reason without a promise', async () => {
    const { supervisor, clock, events } = make();
    supervisor.startChild({ id: 'sync', restart: 'transient', start: () => ({ kind: 'normal' }) as unknown as Promise<ExitReason> });
    await clock.advance(1_000);
    expect(events).toEqual(['exit sync normal false']);
  });

  it('lets an exit listener start a new child under the same id', async () => {
    const { supervisor, clock } = make();
    const child = new ScriptedChild();
    supervisor.once('exit', (id) => {
      expect(supervisor.startChild(child.spec(id, 'temporary'))).toEqual({ ok: true, id });
    });
    supervisor.startChild(child.spec('peer', 'temporary'));
    child.last.end({ kind: 'normal' });
    await clock.advance(0);
    expect(child.runs).toHaveLength(2);
    expect(supervisor.whichChildren()).toEqual([{ id: 'peer', restart: 'temporary', state: 'running', restarts: 0 }]);
  });
});

describe('DynamicSupervisor per-child restart limit and backoff', () => {
  it('gives up on a child after childMaxRestarts restarts within childMaxSeconds, with growing delays', async () => {
    const { supervisor, clock, events } = make({ childMaxRestarts: 3, childMaxSeconds: 5 });
    const child = new ScriptedChild();
    const other = new ScriptedChild();
    supervisor.startChild(child.spec('x', 'transient'));
    supervisor.startChild(other.spec('y', 'transient'));
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
    expect(events.slice(-2)).toEqual(['exit x error false', 'giveup x error']);
    // Only that child: the supervisor and its other children carry on.
    expect(supervisor.whichChildren()).toEqual([{ id: 'y', restart: 'transient', state: 'running', restarts: 0 }]);
    expect(supervisor.stopped).toBe(false);
    expect(clock.pending).toBe(0);
  });

  it('does not count restarts older than the window', async () => {
    const { supervisor, clock, events } = make({ childMaxRestarts: 2, childMaxSeconds: 5 });
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
    expect(supervisor.countChildren()).toEqual(counts(1, 1));
  });

  it('caps the backoff delay at maxMs', async () => {
    const { supervisor, clock } = make({ childMaxRestarts: 8, childMaxSeconds: 3_600, backoff: { initialMs: 100, maxMs: 1_000, factor: 2 } });
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

  it('keeps each child’s limit separate', async () => {
    const { supervisor, clock, events } = make({ childMaxRestarts: 1, childMaxSeconds: 60 });
    const a = new ScriptedChild();
    const b = new ScriptedChild();
    supervisor.startChild(a.spec('a', 'transient'));
    supervisor.startChild(b.spec('b', 'transient'));
    a.last.fail(CRASH);
    await clock.advance(100);
    a.last.fail(CRASH);
    b.last.fail(CRASH);
    await clock.advance(100);
    expect(events.filter((event) => event.startsWith('giveup'))).toEqual(['giveup a error']);
    expect(supervisor.whichChildren()).toEqual([{ id: 'b', restart: 'transient', state: 'running', restarts: 1 }]);
  });

  it('keeps countChildren right through a mix of starts, crashes and exits', async () => {
    const { supervisor, clock } = make({ childMaxRestarts: 5 });
    const child = new ScriptedChild();
    for (let i = 0; i < 20; i++) supervisor.startChild(child.spec(`n${i}`, i % 2 === 0 ? 'transient' : 'temporary'));
    expect(supervisor.countChildren()).toEqual(counts(20, 20));
    // Crash all ten transient children and end five temporary ones.
    for (let i = 0; i < 20; i += 2) child.runs[i]?.fail(CRASH);
    for (let i = 1; i < 10; i += 2) child.runs[i]?.end({ kind: 'normal' });
    await clock.advance(0);
    expect(supervisor.countChildren()).toEqual(counts(15, 5));
    await clock.advance(100);
    expect(supervisor.countChildren()).toEqual(counts(15, 15));
    expect(child.runs).toHaveLength(30);
    await supervisor.stop();
    expect(supervisor.countChildren()).toEqual(counts(0, 0));
  });
});

describe('DynamicSupervisor under random operations', () => {
  type Op =
    | { op: 'start'; id: number; restart: RestartType; stubborn: boolean }
    | { op: 'crash' | 'end' | 'terminate'; id: number }
    | { op: 'advance'; ms: number };
  const ids = fc.integer({ min: 0, max: 5 });
  const operation: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      op: fc.constant('start' as const),
      id: ids,
      restart: fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'),
      stubborn: fc.boolean(),
    }),
    fc.record({ op: fc.constantFrom('crash' as const, 'end' as const, 'terminate' as const), id: ids }),
    fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  );

  it('keeps counts, states and timers consistent, and ends with nothing running after stop', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(operation, { maxLength: 40 }), fc.integer({ min: 1, max: 12 }), async (ops, maxRestarts) => {
        const { supervisor, clock, events } = make({ maxRestarts, maxSeconds: 5, childMaxRestarts: 2, childMaxSeconds: 5, maxChildren: 4 });
        const child = new ScriptedChild();
        const check = (): void => {
          const which = supervisor.whichChildren();
          const restarting = which.filter((info) => info.state === 'restarting').length;
          const terminating = which.filter((info) => info.state === 'terminating').length;
          expect(supervisor.countChildren()).toEqual(counts(which.length, which.length - restarting));
          // A timer only for a child waiting to restart or being terminated (the stubborn ones, shutdown 1 s).
          expect(clock.pending).toBe(restarting + terminating);
          expect(which.length).toBeLessThanOrEqual(4);
        };
        for (const step of ops) {
          if (step.op === 'advance') {
            await clock.advance(step.ms);
          } else {
            const id = `c${step.id}`;
            if (step.op === 'start') {
              const expected = supervisor.stopped
                ? 'ERR_SUPERVISOR_STOPPED'
                : supervisor.countChildren().specs >= 4
                  ? 'ERR_MAX_CHILDREN'
                  : supervisor.has(id)
                    ? 'ERR_ALREADY_STARTED'
                    : null;
              const result = supervisor.startChild(child.spec(id, step.restart, step.stubborn ? { onStop: 'ignore', shutdown: 1_000, withKill: true } : {}));
              expect(result.ok ? null : result.error.code).toBe(expected);
            } else if (step.op === 'terminate') {
              void supervisor.terminateChild(id);
              await clock.advance(0);
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
        // Past the global intensity, the supervisor stopped itself, and said so once.
        expect(events.filter((event) => event.startsWith('shutdown')).length).toBe(supervisor.stopped ? 1 : 0);
        const stopped = supervisor.stop();
        await clock.advance(1_000);
        await stopped;
        expect(supervisor.countChildren()).toEqual(counts(0, 0));
        expect(clock.pending).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
