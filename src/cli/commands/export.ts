/**
 * `bitspread export`: a crawl as CSV or as bitnodes' snapshot JSON.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UsageError } from '../../errors.js';
import { Store } from '../../store/store.js';
import { reachableSince } from '../../store/history.js';
import { loadRecords } from '../../store/sources.js';
import { recordsToCsv } from '../../export/csv.js';
import { toBitnodes } from '../../export/bitnodes.js';
import { usageFailure } from '../usage.js';

const HELP = `usage: bitspread export --format csv|bitnodes (SNAPSHOT | --store FILE [--crawl REF]) [--out FILE]

  --format csv       every record, one row each, header row of schema-v2 fields
  --format bitnodes  reachable nodes in bitnodes' snapshot JSON
                     ({ timestamp, total_nodes, latest_height, nodes }); geo/ASN fields null
  SNAPSHOT           an NDJSON snapshot file
  --store FILE       read a crawl from this store instead
  --crawl REF        which crawl: id, number, latest (default), latest~N
  --out FILE         write there instead of stdout
`;

export async function run(argv: string[]): Promise<number> {
  let v: { format?: string; store?: string; crawl?: string; out?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values: v, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: { format: { type: 'string' }, store: { type: 'string' }, crawl: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
    if (v.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    if (v.format !== 'csv' && v.format !== 'bitnodes') throw new UsageError('ERR_BAD_OPTION', `--format: expected csv or bitnodes, got '${v.format ?? ''}'`);
    if ((v.store === undefined) === (positionals.length === 0)) throw new UsageError('ERR_BAD_ARGUMENT', 'give one snapshot file or --store FILE');
    if (positionals.length > 1) throw new UsageError('ERR_BAD_ARGUMENT', 'give one snapshot file');
    if (v.crawl !== undefined && v.store === undefined) throw new UsageError('ERR_BAD_OPTION', '--crawl needs --store');
  } catch (err) {
    return usageFailure('export', (err as Error).message, HELP);
  }
  const store = v.store === undefined ? null : Store.open(v.store, { readonly: true });
  let text: string;
  try {
    const { records, at } = await loadRecords(store === null ? (positionals[0] as string) : (v.crawl ?? 'latest'), store);
    if (v.format === 'csv') {
      text = recordsToCsv(records);
    } else {
      const timestamp = Math.floor((at ?? Date.now()) / 1000);
      const since = store === null ? undefined : reachableSince(store);
      text = JSON.stringify(toBitnodes(records, { timestamp, ...(since === undefined ? {} : { connectedSince: since }) })) + '\n';
    }
  } finally {
    store?.close();
  }
  if (v.out === undefined) process.stdout.write(text);
  else writeFileSync(v.out, text);
  return 0;
}
