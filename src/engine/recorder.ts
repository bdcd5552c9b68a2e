/**
 * Where records go: the running summary, the NDJSON snapshot, the crawler's
 * 'node' event and every live async iterator. Whether an address already has
 * its record is the frontier's to say (Frontier.finish), not this file's.
 */
import type { EventEmitter } from 'node:events';
import { SummaryCollector, type NodeRecord } from './record.js';
import type { SnapshotWriter } from './snapshot.js';

export class Recorder {
  readonly summary = new SummaryCollector();
  private readonly subscribers = new Set<(rec: NodeRecord | null) => void>();
  snapshot: SnapshotWriter | null = null;

  constructor(private readonly events: EventEmitter) {}

  /**
   * Cluster mode (`redis`): records go to Redis instead; the summary and the
   * snapshot are fed from the crawl-wide record stream (fromCluster).
   */
  publish: ((rec: NodeRecord) => void) | null = null;

  write(rec: NodeRecord): void {
    if (this.publish !== null) this.publish(rec);
    else {
      this.summary.add(rec);
      this.snapshot?.write(rec);
    }
    this.events.emit('node', rec);
    for (const s of this.subscribers) s(rec);
  }

  /** Cluster mode: a record of the whole crawl, read back from Redis (its line as published). */
  fromCluster(rec: NodeRecord, line: string): void {
    this.summary.add(rec);
    this.snapshot?.writeLine(line);
  }

  /** No more records: every iterator ends. */
  end(): void {
    for (const s of this.subscribers) s(null);
  }

  /** Records as they are written, from the moment of this call; ends at end(). */
  iterator(): AsyncIterator<NodeRecord> {
    const queue: Array<NodeRecord | null> = [];
    let wake: (() => void) | null = null;
    const push = (rec: NodeRecord | null): void => {
      queue.push(rec);
      wake?.();
      wake = null;
    };
    this.subscribers.add(push);
    const unsubscribe = (): void => {
      this.subscribers.delete(push);
    };
    return {
      next: async (): Promise<IteratorResult<NodeRecord>> => {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        const rec = queue.shift() as NodeRecord | null;
        if (rec === null) {
          unsubscribe();
          queue.push(null); // stay done
          return { done: true, value: undefined };
        }
        return { done: false, value: rec };
      },
      return: async (): Promise<IteratorResult<NodeRecord>> => {
        unsubscribe();
        return { done: true, value: undefined };
      },
    };
  }
}
