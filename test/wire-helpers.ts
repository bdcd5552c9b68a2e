/**
 * Shared helpers for the wire tests: loading Core's vectors and collecting
 * what a MessageDecoder reports.
 */
import { readFileSync } from 'node:fs';
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
 * Bitcoin Core's test vectors, vendored in `test/fixtures/core-vectors.json`
 * (origin and commit: `test/fixtures/README.md` and the file's `meta`). Tests
 * read nothing outside the repository.
 */
export function loadVectors(): Vector[] {
  const file = fileURLToPath(new URL('./fixtures/core-vectors.json', import.meta.url));
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
