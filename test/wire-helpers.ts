/**
 * Shared helpers for the wire tests: loading Core's vectors and collecting
 * what a MessageDecoder reports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WireError } from '../src/errors.js';
import type { Message, MessageSink } from '../src/wire/index.js';

export interface Vector {
  name: string;
  category: string;
  kind: string;
  hex: string;
  decoded: Record<string, unknown>;
  expect: 'ok' | Record<string, unknown>;
  notes?: string;
}

/**
 * The vectors live in `shared/` beside the repository (CI: `<dir>/main` and
 * `<dir>/shared`); in a worktree that is further up, so walk up until found.
 */
export function loadVectors(): Vector[] {
  const direct = fileURLToPath(new URL('../../shared/protocol/vectors.json', import.meta.url));
  let file: string | undefined = existsSync(direct) ? direct : undefined;
  for (let dir = dirname(fileURLToPath(import.meta.url)); file === undefined; ) {
    const candidate = join(dir, 'shared', 'protocol', 'vectors.json');
    if (existsSync(candidate)) file = candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (file === undefined) throw new Error('shared/protocol/vectors.json not found beside the repository');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { vectors: Vector[] };
  return doc.vectors;
}

export interface Reported {
  kind: 'message' | 'error';
  msg?: Message;
  code?: string;
  command?: string | null;
  fatal?: boolean;
}

/** A sink that records everything, in order. */
export function recordingSink(): MessageSink & { events: Reported[] } {
  const events: Reported[] = [];
  return {
    events,
    onMessage(msg: Message) {
      events.push({ kind: 'message', msg });
    },
    onMessageError(err: WireError, command: string | null, fatal: boolean) {
      events.push({ kind: 'error', code: err.code, command, fatal });
    },
  };
}

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
export const unhex = (s: string): Buffer => Buffer.from(s, 'hex');
