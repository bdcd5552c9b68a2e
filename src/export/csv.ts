/**
 * CSV export (RFC 4180 via csv-stringify): one row per record, a header row
 * naming the schema-v2 fields; `serviceNames` joined with `|`, booleans as
 * true/false, absent fields empty.
 */
import { stringify } from 'csv-stringify/sync';
import { RECORD_KEYS, type NodeRecord } from '../engine/record.js';

/** The columns: every record field, in the snapshot's order. */
export const CSV_COLUMNS = RECORD_KEYS;

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
