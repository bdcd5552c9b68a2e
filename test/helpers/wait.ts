/**
 * Waiting on events with a deadline, instead of sleeping and hoping: the
 * condition is checked at once and after every listed event, and the wait
 * fails with what it was waiting for when the deadline passes.
 */
import type { EventEmitter } from 'node:events';

/** Resolves once `check()` holds, re-checked on each of `events` of each emitter; rejects after `timeoutMs`. */
export function waitUntil(
  sources: ReadonlyArray<readonly [EventEmitter, readonly string[]]>,
  check: () => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const detach = (): void => {
      clearTimeout(timer);
      for (const [emitter, names] of sources) for (const n of names) emitter.removeListener(n, onEvent);
    };
    const onEvent = (): void => {
      if (!check()) return;
      detach();
      resolve();
    };
    const timer = setTimeout(() => {
      detach();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    for (const [emitter, names] of sources) for (const n of names) emitter.on(n, onEvent);
  });
}

/** The text a child process writes to one of its streams, and a way to wait for a pattern in it. */
export class StreamText {
  text = '';
  constructor(private readonly stream: NodeJS.ReadableStream) {
    stream.on('data', (c: Buffer) => (this.text += c.toString()));
  }

  waitFor(pattern: RegExp, what: string, timeoutMs = 30_000): Promise<void> {
    return waitUntil([[this.stream as unknown as EventEmitter, ['data', 'end']]], () => pattern.test(this.text), what, timeoutMs);
  }
}

/**
 * For a state with no event to wait on (descriptors closing, a counter in
 * shared memory): re-checks every `everyMs` until it holds, and fails with
 * what it waited for once `timeoutMs` has passed. Never a bare sleep.
 */
export async function pollUntil(check: () => boolean, what: string, timeoutMs = 15_000, everyMs = 5): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
