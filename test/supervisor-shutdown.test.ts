import { afterEach, describe, expect, it, vi } from 'vitest';
import { DynamicSupervisor, type ChildSpec, type ExitReason } from '../src/supervisor/dynamic-supervisor.js';
import { SupervisorError } from '../src/errors.js';
import { counts, CRASH, make, ScriptedChild, settle } from './helpers/supervisor.js';

/** Tracks whether a promise has settled, without waiting for it. */
function watch<T>(promise: Promise<T>): { readonly done: boolean; readonly value: T | undefined } {
  const state: { done: boolean; value: T | undefined } = { done: false, value: undefined };
  void promise.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

describe('DynamicSupervisor terminateChild', () => {
  it('aborts the child, waits for it and does not restart it', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('p', 'permanent'));
    const signal = child.last.signal;
    expect(await supervisor.terminateChild('p')).toEqual({ ok: true });
    expect(signal.aborted).toBe(true);
    expect((signal.reason as { code?: string }).code).toBe('ERR_STOPPED');
    await clock.advance(60_000);
    expect(child.runs).toHaveLength(1);
    expect(events).toEqual(['exit p shutdown false']);
    expect(supervisor.countChildren()).toEqual(counts(0, 0));
    expect(clock.pending).toBe(0);
  });

  it('answers ERR_NOT_FOUND for an id it does not hold', async () => {
    const { supervisor } = make();
    expect(await supervisor.terminateChild('nobody')).toMatchObject({ ok: false, error: { code: 'ERR_NOT_FOUND' } });
  });

  it('ends a spec with terminate() through it, once per run, and gives it a signal that never aborts', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('t', 'permanent', { viaTerminate: true }));
    const first = supervisor.terminateChild('t');
    const second = supervisor.terminateChild('t');
    expect(await first).toEqual({ ok: true });
    expect(await second).toEqual({ ok: true });
    expect(child.terminates).toBe(1);
    expect(child.last.signal.aborted).toBe(false);
    await clock.advance(60_000);
    expect(events).toEqual(['exit t shutdown false']);
    expect(supervisor.countChildren()).toEqual(counts(0, 0));
  });

  it('waits for a slow child that ends within its shutdown time, then clears the kill timer', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('slow', 'transient', { onStop: 'ignore', withKill: true }));
    const terminating = watch(supervisor.terminateChild('slow'));
    await clock.advance(4_999);
    expect(terminating.done).toBe(false);
    expect(supervisor.whichChildren()).toEqual([{ id: 'slow', restart: 'transient', state: 'terminating', restarts: 0 }]);
    expect(supervisor.countChildren()).toEqual(counts(1, 1));
    child.last.end({ kind: 'shutdown' });
    await clock.advance(0);
    expect(terminating.done).toBe(true);
    expect(child.kills).toBe(0);
    expect(clock.pending).toBe(0);
    expect(events).toEqual(['exit slow shutdown false']);
  });

  it('kills a child that ignores its stop once the default 5 s shutdown has passed: calls kill(), records killed', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('deaf', 'permanent', { onStop: 'ignore', withKill: true }));
    const terminating = watch(supervisor.terminateChild('deaf'));
    await clock.advance(4_999);
    expect(terminating.done).toBe(false);
    expect(child.kills).toBe(0);
    await clock.advance(1);
    expect(terminating.done).toBe(true);
    expect(terminating.value).toEqual({ ok: true });
    expect(child.kills).toBe(1);
    expect(events).toEqual(['exit deaf killed false']);
    expect(supervisor.countChildren()).toEqual(counts(0, 0));
    // The id is free again; the killed run settling late changes nothing, not even for the new child.
    const next = new ScriptedChild();
    expect(supervisor.startChild(next.spec('deaf', 'temporary')).ok).toBe(true);
    child.last.fail(CRASH);
    await clock.advance(10_000);
    expect(events).toEqual(['exit deaf killed false']);
    expect(supervisor.whichChildren()).toEqual([{ id: 'deaf', restart: 'temporary', state: 'running', restarts: 0 }]);
    expect(child.runs).toHaveLength(1);
  });

  it('honours a child’s own shutdown time, and stops waiting even without a kill() hook', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('quick', 'transient', { onStop: 'ignore', shutdown: 50, viaTerminate: true }));
    const terminating = watch(supervisor.terminateChild('quick'));
    await clock.advance(49);
    expect(terminating.done).toBe(false);
    await clock.advance(1);
    expect(terminating.done).toBe(true);
    expect(child.terminates).toBe(1);
    expect(events).toEqual(['exit quick killed false']);
  });

  it('brutal_kill kills at once without asking, and records killed', async () => {
    const { supervisor, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('b', 'permanent', { shutdown: 'brutal_kill', viaTerminate: true, withKill: true }));
    expect(await supervisor.terminateChild('b')).toEqual({ ok: true });
    expect(child.kills).toBe(1);
    expect(child.terminates).toBe(0);
    expect(events).toEqual(['exit b killed false']);
    // Without a kill() hook the polite request is all there is: it is still made, and the wait is still none.
    const signalled = new ScriptedChild();
    supervisor.startChild(signalled.spec('s', 'permanent', { shutdown: 'brutal_kill', onStop: 'ignore' }));
    expect(await supervisor.terminateChild('s')).toEqual({ ok: true });
    expect(signalled.last.signal.aborted).toBe(true);
    expect(events).toEqual(['exit b killed false', 'exit s killed false']);
  });

  it("shutdown 'infinity' waits for as long as the child runs, with no timer", async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('inf', 'transient', { onStop: 'ignore', shutdown: 'infinity', withKill: true }));
    const terminating = watch(supervisor.terminateChild('inf'));
    await clock.advance(3_600_000);
    expect(terminating.done).toBe(false);
    expect(clock.pending).toBe(0);
    child.last.end({ kind: 'normal' });
    await clock.advance(0);
    expect(terminating.done).toBe(true);
    expect(child.kills).toBe(0);
    expect(events).toEqual(['exit inf normal false']);
  });

  it('costs no timer for a running child: only the one being terminated gets one', async () => {
    const { supervisor, clock } = make();
    const child = new ScriptedChild();
    for (let i = 0; i < 1_000; i++) supervisor.startChild(child.spec(`n${i}`, 'transient', { onStop: 'ignore', viaTerminate: true }));
    expect(clock.pending).toBe(0);
    void supervisor.terminateChild('n7');
    expect(clock.pending).toBe(1);
    child.runs[7]?.end({ kind: 'shutdown' });
    await clock.advance(0);
    expect(clock.pending).toBe(0);
    expect(supervisor.countChildren()).toEqual(counts(999, 999));
  });

  it('cancels the pending restart of a child waiting to restart', async () => {
    const { supervisor, clock } = make();
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('t', 'transient'));
    child.last.fail(CRASH);
    await clock.advance(0);
    expect(clock.pending).toBe(1);
    expect(await supervisor.terminateChild('t')).toEqual({ ok: true });
    expect(clock.pending).toBe(0);
    await clock.advance(10_000);
    expect(child.runs).toHaveLength(1);
    expect(supervisor.countChildren().specs).toBe(0);
  });

  it('reports the true reason of a terminated child that rejects on abort, and does not restart it', async () => {
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
    expect([first, second]).toEqual([{ ok: true }, { ok: true }]);
    await clock.advance(60_000);
    expect(starts).toBe(1);
    expect(events).toEqual(['exit r error false']);
    expect(clock.pending).toBe(0);
  });
});

describe('DynamicSupervisor stop', () => {
  it('terminates every child, clears every timer and refuses new children', async () => {
    const { supervisor, clock, events } = make();
    const child = new ScriptedChild();
    for (const id of ['a', 'b', 'c']) supervisor.startChild(child.spec(id, 'permanent'));
    child.runs[1]?.fail(CRASH);
    await clock.advance(0);
    expect(supervisor.countChildren()).toEqual(counts(3, 2));
    await supervisor.stop();
    expect(supervisor.stopped).toBe(true);
    // The crashed run had already ended; the two running ones were aborted.
    expect(child.runs.map((run) => run.signal.aborted)).toEqual([true, false, true]);
    expect(supervisor.countChildren()).toEqual(counts(0, 0));
    expect(clock.pending).toBe(0);
    await clock.advance(60_000);
    expect(child.runs).toHaveLength(3);
    expect(supervisor.startChild(child.spec('d', 'transient'))).toMatchObject({ ok: false, error: { code: 'ERR_SUPERVISOR_STOPPED' } });
    expect(events.filter((event) => event.startsWith('restart') || event.startsWith('shutdown'))).toEqual([]);
    await supervisor.stop(); // idempotent
  });

  it('honours each child’s shutdown: resolves once the stubborn ones were killed', async () => {
    const { supervisor, clock, events } = make();
    const polite = new ScriptedChild();
    const deaf = new ScriptedChild();
    supervisor.startChild(polite.spec('polite', 'permanent'));
    supervisor.startChild(deaf.spec('deaf', 'permanent', { onStop: 'ignore', shutdown: 2_000, withKill: true }));
    const stopping = watch(supervisor.stop());
    await clock.advance(0);
    expect(events).toEqual(['exit polite shutdown false']);
    expect(supervisor.countChildren()).toEqual(counts(1, 1));
    await clock.advance(1_999);
    expect(stopping.done).toBe(false);
    await clock.advance(1);
    expect(stopping.done).toBe(true);
    expect(deaf.kills).toBe(1);
    expect(events).toEqual(['exit polite shutdown false', 'exit deaf killed false']);
  });

  describe('with the system clock', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('leaves no pending restart or kill timer behind', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
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
      const deaf = new ScriptedChild();
      supervisor.startChild(deaf.spec('deaf', 'permanent', { onStop: 'ignore', withKill: true }));
      await vi.advanceTimersByTimeAsync(0);
      expect(supervisor.countChildren()).toEqual(counts(2, 1));
      expect(vi.getTimerCount()).toBe(1); // the restart
      const stopping = watch(supervisor.stop());
      expect(vi.getTimerCount()).toBe(1); // the restart is gone, the kill deadline is set
      await vi.advanceTimersByTimeAsync(5_000);
      expect(stopping.done).toBe(true);
      expect(deaf.kills).toBe(1);
      expect(vi.getTimerCount()).toBe(0);
      expect(starts).toBe(1);
    });
  });
});

describe('DynamicSupervisor restart intensity of the whole supervisor', () => {
  it('past maxRestarts restarts within maxSeconds it shuts everything down, says why, and refuses new children', async () => {
    const { supervisor, clock, events } = make({ maxRestarts: 3, maxSeconds: 5 });
    const errors: SupervisorError[] = [];
    supervisor.on('shutdown', (error) => errors.push(error));
    const child = new ScriptedChild();
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) supervisor.startChild(child.spec(id, 'permanent'));
    const deaf = new ScriptedChild();
    supervisor.startChild(deaf.spec('deaf', 'permanent', { onStop: 'ignore', shutdown: 1_000, withKill: true }));
    // Three different children crash once each (a flap, not one bad child): three restarts are allowed.
    for (const i of [0, 1, 2]) child.runs[i]?.fail(CRASH);
    await clock.advance(0);
    expect(events).toEqual(['exit a error true', 'exit b error true', 'exit c error true']);
    // 'c' waits for its restart; the fourth restart within 5 s is one too many.
    child.runs[3]?.end({ kind: 'normal' });
    await clock.advance(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SupervisorError);
    expect(errors[0]?.code).toBe('ERR_RESTART_INTENSITY');
    expect(errors[0]?.message).toMatch(/more than 3 restarts within 5 s/);
    expect(supervisor.stopped).toBe(true);
    expect(supervisor.startChild(child.spec('late', 'temporary'))).toMatchObject({ ok: false, error: { code: 'ERR_SUPERVISOR_STOPPED' } });
    // The running ones were asked to stop; the ones waiting to restart were dropped without a restart.
    expect(child.runs.slice(4).every((run) => run.signal.aborted)).toBe(true);
    expect(events.slice(3)).toEqual(['exit d normal false', 'shutdown ERR_RESTART_INTENSITY', 'exit e shutdown false', 'exit f shutdown false']);
    expect(supervisor.countChildren()).toEqual(counts(1, 1)); // the deaf one, until its shutdown time
    await clock.advance(1_000);
    await supervisor.stop(); // the same shutdown, now complete
    expect(deaf.kills).toBe(1);
    expect(events.at(-1)).toBe('exit deaf killed false');
    expect(supervisor.countChildren()).toEqual(counts(0, 0));
    expect(clock.pending).toBe(0);
    expect(child.runs).toHaveLength(6);
    expect(events.filter((event) => event.startsWith('restart'))).toEqual([]);
  });

  it('does not trip while restarts stay within maxRestarts per window', async () => {
    const { supervisor, clock, events } = make({ maxRestarts: 3, maxSeconds: 5, childMaxRestarts: 100 });
    const child = new ScriptedChild();
    for (const id of ['a', 'b', 'c']) supervisor.startChild(child.spec(id, 'transient'));
    for (let round = 0; round < 5; round++) {
      for (const id of ['a', 'b', 'c']) child.runs.findLast((run) => run.id === id)?.fail(CRASH);
      await clock.advance(5_000);
    }
    expect(events.filter((event) => event.startsWith('shutdown'))).toEqual([]);
    expect(events.filter((event) => event.startsWith('restart'))).toHaveLength(15);
    expect(supervisor.countChildren()).toEqual(counts(3, 3));
  });

  it('counts restarts only: exits that restart nothing, and children given up on, never trip it', async () => {
    const { supervisor, clock, events } = make({ maxRestarts: 0, maxSeconds: 60, childMaxRestarts: 0 });
    const child = new ScriptedChild();
    for (let i = 0; i < 20; i++) {
      supervisor.startChild(child.spec(`tmp${i}`, 'temporary'));
      child.last.fail(CRASH);
      supervisor.startChild(child.spec(`tr${i}`, 'transient'));
      child.last.end({ kind: 'normal' });
    }
    // With childMaxRestarts 0 this one is given up on instead of restarted: not a restart either.
    supervisor.startChild(child.spec('p', 'permanent'));
    child.last.fail(CRASH);
    await clock.advance(0);
    expect(events.at(-1)).toBe('giveup p error');
    expect(supervisor.stopped).toBe(false);
  });

  it('with maxRestarts 0 the first restart shuts it down (OTP semantics)', async () => {
    const { supervisor, clock, events } = make({ maxRestarts: 0 });
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('p', 'permanent'));
    supervisor.startChild(child.spec('q', 'temporary'));
    child.runs[0]?.end({ kind: 'normal' });
    await clock.advance(0);
    expect(events).toEqual(['exit p normal false', 'shutdown ERR_RESTART_INTENSITY', 'exit q shutdown false']);
  });

  it('is not emitted by a requested stop()', async () => {
    const { supervisor, events } = make({ maxRestarts: 0 });
    const child = new ScriptedChild();
    supervisor.startChild(child.spec('p', 'permanent'));
    await supervisor.stop();
    expect(events).toEqual(['exit p shutdown false']);
  });
});

describe('DynamicSupervisor asking, then killing', () => {
  it('calls terminate() when terminating and kill() at the deadline, each once and with no arguments', async () => {
    const { supervisor, clock } = make();
    const calls: unknown[][] = [];
    const spec: ChildSpec = {
      id: 'x',
      restart: 'temporary',
      start: () => new Promise<ExitReason>(() => {}),
      terminate: (...args: unknown[]) => void calls.push(['terminate', ...args]),
      kill: (...args: unknown[]) => void calls.push(['kill', ...args]),
      shutdown: 10,
    };
    supervisor.startChild(spec);
    void supervisor.terminateChild('x');
    await clock.advance(10);
    await settle();
    expect(calls).toEqual([['terminate'], ['kill']]);
  });
});
