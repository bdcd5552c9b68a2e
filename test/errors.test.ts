/**
 * Typed errors: every class is branded, so `instanceof` holds across copies
 * of the module (here: src/ as vitest loads it, and the built dist/ copy that
 * worker threads load), and a wrapped error keeps its cause as the object.
 */
import { describe, expect, it } from 'vitest';
import * as src from '../src/errors.js';

async function distErrors(): Promise<typeof src> {
  return (await import(new URL('../dist/src/errors.js', import.meta.url).href)) as typeof src;
}

describe('typed errors', () => {
  it('are two different module copies here (the check below is not trivially true)', async () => {
    const dist = await distErrors();
    expect(dist.WireError).not.toBe(src.WireError);
  });

  it('instanceof holds across copies for every class, and only for the right ones', async () => {
    const dist = await distErrors();
    const made = {
      wire: new dist.WireError('ERR_BAD_MAGIC', 'x'),
      peer: new dist.PeerError('ERR_MAX_PEERS', 'x'),
      usage: new dist.UsageError('ERR_BAD_OPTION', 'x'),
      supervisor: new dist.SupervisorError('ERR_MAX_CHILDREN', 'x'),
      base: new dist.BitspreadError('ERR_STOPPED', 'x'),
    };
    expect(made.wire instanceof src.WireError).toBe(true);
    expect(made.peer instanceof src.PeerError).toBe(true);
    expect(made.usage instanceof src.UsageError).toBe(true);
    expect(made.supervisor instanceof src.SupervisorError).toBe(true);
    expect(made.supervisor instanceof src.UsageError).toBe(false);
    for (const e of Object.values(made)) expect(e instanceof src.BitspreadError).toBe(true);
    expect(made.wire instanceof src.PeerError).toBe(false);
    expect(made.peer instanceof src.UsageError).toBe(false);
    expect(made.usage instanceof src.WireError).toBe(false);
    expect(made.base instanceof src.WireError).toBe(false);
    expect(src.isBitspreadError(made.peer)).toBe(true);
    // Plain data with the same fields is not an error instance.
    expect({ code: 'ERR_MAX_PEERS', message: 'x' } instanceof src.PeerError).toBe(false);
    expect(new Error('x') instanceof src.BitspreadError).toBe(false);
  });

  it('a user subclass keeps the ordinary check and still counts as its branded parents', () => {
    class MyError extends src.PeerError {}
    const mine = new MyError('ERR_STOPPED', 'x');
    expect(mine instanceof MyError).toBe(true);
    expect(mine instanceof src.PeerError).toBe(true);
    expect(new src.PeerError('ERR_STOPPED', 'x') instanceof MyError).toBe(false);
  });

  it('keeps the cause as the original object', () => {
    const cause = Object.assign(new Error('EADDRINUSE'), { code: 'EADDRINUSE' });
    const e = new src.UsageError('ERR_BAD_OPTION', 'in use', { cause });
    expect(e.cause).toBe(cause);
    expect(new src.UsageError('ERR_BAD_OPTION', 'no cause')).not.toHaveProperty('cause');
  });

  it('brands are not enumerable: an error serialises to its code and message', () => {
    const e = new src.WireError('ERR_BAD_CHECKSUM', 'bad');
    expect(Object.getOwnPropertySymbols(e).every((s) => !Object.prototype.propertyIsEnumerable.call(e, s))).toBe(true);
    expect(Object.getOwnPropertySymbols(e).map((s) => s.description).sort()).toEqual(['bitspread.error.BitspreadError', 'bitspread.error.WireError']);
    expect(JSON.parse(JSON.stringify(e))).toEqual({ code: 'ERR_BAD_CHECKSUM', message: 'bad' });
  });
});
