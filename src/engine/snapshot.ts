/**
 * The NDJSON snapshot: one JSON object per distinct address, written as the
 * crawl goes so an interrupted crawl still leaves a valid file (every line is
 * complete; `close()` flushes), and a write error stops the crawl at once.
 */
import { closeSync, ftruncateSync, openSync, write as fsWrite } from 'node:fs';
import { RunError, UsageError } from '../errors.js';
import type { Writable } from 'node:stream';
import { RECORD_KEYS, type NodeRecord } from './record.js';


export function recordToLine(rec: NodeRecord): string {
  const out: Record<string, unknown> = {};
  for (const k of RECORD_KEYS) if (rec[k] !== undefined) out[k] = rec[k];
  return JSON.stringify(out) + '\n';
}

/**
 * Writes the snapshot. To a path it writes whole lines in batches straight to
 * the file descriptor, so it knows how far the file is complete: a write
 * error (ENOSPC, EPIPE from a closed pipe, EIO, EFBIG…) is reported at once
 * through `onError`, nothing more is written, and the file is cut back to
 * its last whole line where the device allows it (a regular file; not a
 * pipe or /dev/full). To a caller's stream it writes as before and reports
 * the stream's 'error' the same way.
 */
export class SnapshotWriter {
  private readonly fd: number | null;
  private readonly stream: Writable | null;
  private readonly label: string;
  private readonly onError: ((err: RunError) => void) | undefined;
  private pending: string[] = [];
  private flushing = false;
  /** Bytes of the file known complete: always just after a newline (or 0). */
  private committed = 0;
  private idle: Array<() => void> = [];
  private closed = false;
  private failure: RunError | null = null;
  lines = 0;

  /**
   * `dest`: a file path (created/truncated) or a stream the caller owns. A
   * path is opened here, synchronously, so an unwritable one is a UsageError
   * before the crawl dials anyone (not a late stream error).
   */
  constructor(dest: string | Writable, onError?: (err: RunError) => void) {
    this.onError = onError;
    if (typeof dest === 'string') {
      try {
        this.fd = openSync(dest, 'w');
      } catch (err) {
        throw new UsageError('ERR_BAD_OPTION', `cannot write the snapshot to '${dest}': ${(err as Error).message}`, { cause: err });
      }
      this.stream = null;
      this.label = `'${dest}'`;
    } else {
      this.fd = null;
      this.stream = dest;
      this.label = (dest as { fd?: unknown }).fd === 1 ? 'standard output' : 'its stream';
      dest.on('error', (err: Error) => this.fail(err));
    }
  }

  /** The first write error, if any (the snapshot stopped growing then). */
  get error(): RunError | null {
    return this.failure;
  }

  write(rec: NodeRecord): void {
    this.writeText(recordToLine(rec));
  }

  /** Writes a line already formatted by recordToLine (without its newline), e.g. read back from Redis. */
  writeLine(line: string): void {
    this.writeText(line + '\n');
  }

  private writeText(line: string): void {
    if (this.closed || this.failure !== null) return;
    this.lines++;
    if (this.stream !== null) {
      this.stream.write(line);
      return;
    }
    this.pending.push(line);
    if (!this.flushing) this.flush();
  }

  /** Writes what is pending as one batch; lines written while it is in flight form the next. */
  private flush(): void {
    const fd = this.fd as number;
    const batch = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.flushing = true;
    let done = 0;
    const step = (err: NodeJS.ErrnoException | null, n: number): void => {
      if (err !== null) return this.fail(err, batch.subarray(0, done));
      done += n;
      if (done < batch.length) return void fsWrite(fd, batch, done, batch.length - done, null, step);
      this.committed += batch.length;
      if (this.pending.length > 0 && this.failure === null) return this.flush();
      this.flushing = false;
      for (const resolve of this.idle.splice(0)) resolve();
    };
    fsWrite(fd, batch, 0, batch.length, null, step);
  }

  private fail(err: NodeJS.ErrnoException, partial?: Buffer): void {
    this.flushing = false;
    this.pending = [];
    if (this.failure === null) {
      if (this.fd !== null) {
        // Keep the file ending on a whole line: drop the cut line of a short write.
        const cut = partial === undefined ? -1 : partial.lastIndexOf(0x0a);
        try {
          ftruncateSync(this.fd, this.committed + cut + 1);
        } catch {
          // A pipe, a character device (/dev/full): nothing to cut back.
        }
      }
      this.failure = new RunError('ERR_WRITE', `cannot write the snapshot to ${this.label}: ${err.code ?? err.message}`);
      this.onError?.(this.failure);
    }
    for (const resolve of this.idle.splice(0)) resolve();
  }

  /** Flushes and (for a path) closes the file; rejects with the write error (ERR_WRITE) if any. */
  async close(): Promise<void> {
    if (this.closed) {
      if (this.failure !== null) throw this.failure;
      return;
    }
    this.closed = true;
    if (this.fd !== null) {
      if (this.flushing) await new Promise<void>((resolve) => this.idle.push(resolve));
      closeSync(this.fd);
    }
    if (this.failure !== null) throw this.failure;
  }
}
