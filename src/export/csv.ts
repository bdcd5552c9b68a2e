/**
 * CSV export (RFC 4180 via csv-stringify): one row per record, a header row
 * naming the schema-v2 fields; `serviceNames` joined with `|`, booleans as
 * true/false, absent fields empty.
 */
import { stringify } from 'csv-stringify/sync';
import type { NodeRecord } from '../engine/record.js';

export const CSV_COLUMNS = [
  'addr',
  'network',
  'state',
  'error',
  'detail',
  'reason',
  'visitedAt',
  'crawlId',
  'source',
  'lastSeen',
  'via',
  'proxy',
  'protocolVersion',
  'userAgent',
  'services',
  'serviceNames',
  'startHeight',
  'relay',
  'connectMs',
  'handshakeMs',
  'rttMs',
  'addrsReturned',
  'addrsDropped',
] as const satisfies ReadonlyArray<keyof NodeRecord>;

export function recordsToCsv(records: Iterable<NodeRecord>): string {
  const rows: string[][] = [];
  for (const r of records) {
    rows.push(
      CSV_COLUMNS.map((k) => {
        const v = r[k];
        if (v === undefined) return '';
        if (Array.isArray(v)) return v.join('|');
        return String(v);
      }),
    );
  }
  return stringify(rows, { header: true, columns: [...CSV_COLUMNS], record_delimiter: 'unix' });
}
