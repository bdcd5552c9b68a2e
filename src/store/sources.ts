/**
 * Where `diff`, `export` and `report` read records from: an NDJSON snapshot
 * file, or a crawl in a store (`--store FILE` and a crawl reference).
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { DataError } from '../errors.js';
import type { NodeRecord } from '../engine/record.js';
import { crawlRecords } from './history.js';
import type { Store } from './store.js';

/** Reads a snapshot file; a line that is not a record is DataError ERR_BAD_SNAPSHOT (with its line number). */
export async function readSnapshotFile(path: string): Promise<NodeRecord[]> {
  if (!existsSync(path)) throw new DataError('ERR_NO_SUCH_FILE', `no such snapshot file: '${path}'`);
  const out: NodeRecord[] = [];
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new DataError('ERR_BAD_SNAPSHOT', `${path}:${n}: not JSON`);
    }
    const r = value as Partial<NodeRecord> | null;
    if (r === null || typeof r !== 'object' || typeof r.addr !== 'string' || typeof r.state !== 'string' || typeof r.network !== 'string') {
      throw new DataError('ERR_BAD_SNAPSHOT', `${path}:${n}: not a record (needs addr, network and state)`);
    }
    out.push(r as NodeRecord);
  }
  return out;
}

/** A crawl's records: from the store when one is given, else `ref` is a snapshot file. */
export async function loadRecords(ref: string, store: Store | null): Promise<{ label: string; records: NodeRecord[]; at: number | null }> {
  if (store !== null) {
    const c = store.crawl(ref);
    return { label: `crawl #${c.seq} (${c.id})`, records: [...crawlRecords(store, c.id)], at: c.startedAt };
  }
  const records = await readSnapshotFile(ref);
  const times = records.map((r) => (r.visitedAt === undefined ? NaN : Date.parse(r.visitedAt))).filter((t) => Number.isFinite(t));
  return { label: ref, records, at: times.length > 0 ? Math.min(...times) : null };
}
