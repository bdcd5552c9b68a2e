/**
 * The NDJSON snapshot: one JSON object per distinct address, written as the
 * crawl goes so an interrupted crawl still leaves a valid file (every line is
 * complete; `close()` flushes).
 */
import { createWriteStream, openSync } from 'node:fs';
import { UsageError } from '../errors.js';
import type { Writable } from 'node:stream';
import type { NodeRecord } from './record.js';

/** Fixed key order so snapshots diff cleanly between runs. */
const KEYS: ReadonlyArray<keyof NodeRecord> = [
  'addr',
  'network',
  'state',
  'error',
  'detail',
  'reason',
  'protocolVersion',
  'userAgent',
  'services',
  'startHeight',
  'relay',
  'connectMs',
  'handshakeMs',
  'addrsReturned',
  'addrsDropped',
];

export function recordToLine(rec: NodeRecord): string {
  const out: Record<string, unknown> = {};
  for (const k of KEYS) if (rec[k] !== undefined) out[k] = rec[k];
  return JSON.stringify(out) + '\n';
}

export class SnapshotWriter {
  private readonly stream: Writable;
  private readonly ownsStream: boolean;
  private closed = false;
  private failure: Error | null = null;
  lines = 0;

  /**
   * `dest`: a file path (created/truncated) or a stream the caller owns. A
   * path is opened here, synchronously, so an unwritable one is a UsageError
   * before the crawl dials anyone (not a late stream error).
   */
  constructor(dest: string | Writable) {
    if (typeof dest === 'string') {
      let fd: number;
      try {
        fd = openSync(dest, 'w');
      } catch (err) {
        throw new UsageError('ERR_BAD_OPTION', `cannot write the snapshot to '${dest}': ${(err as Error).message}`, { cause: err });
      }
      this.stream = createWriteStream(dest, { fd });
      this.ownsStream = true;
    } else {
      this.stream = dest;
      this.ownsStream = false;
    }
    // An unwritable path must surface from close(), not crash the process.
    this.stream.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  write(rec: NodeRecord): void {
    if (this.closed || this.failure !== null) return;
    this.stream.write(recordToLine(rec));
    this.lines++;
  }

  /** Flushes and (for a path) closes the file; rejects if any write failed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsStream) {
      await new Promise<void>((resolve) => {
        if (this.failure !== null) return resolve();
        this.stream.end(() => resolve());
        this.stream.once('error', () => resolve());
      });
    }
    if (this.failure !== null) throw this.failure;
  }
}
