/**
 * `bitspread diff A B`: nodes that joined, left, or changed version, user
 * agent or services between two crawls: two snapshot files, or two crawls in
 * a store (`--store FILE`; crawls by id, number, `latest`, `latest~N`).
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../../errors.js';
import { Store } from '../../store/store.js';
import { diffCrawls, formatDiff } from '../../store/diff.js';
import { loadRecords } from '../../store/sources.js';
import { usageFailure } from '../usage.js';

const HELP = `usage: bitspread diff A B [--store FILE] [--json]

  A, B          two NDJSON snapshot files; with --store, two crawls in it:
                an id, a number (1, 2, …), latest, or latest~N
  --store FILE  read the crawls from this store
  --json        one JSON object { joined, left, changed, … } instead of lines

Lines: "+ addr joined", "- addr left", "~ addr field old -> new", then a count.
Exit status: 0 (differences or not), 2 bad arguments or unreadable input.
`;

export async function run(argv: string[]): Promise<number> {
  let values: { store?: string; json?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { store: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positionals.length !== 2) throw new UsageError('ERR_BAD_ARGUMENT', `expected two crawls or snapshot files, got ${positionals.length}`);
  } catch (err) {
    return usageFailure('diff', (err as Error).message, HELP);
  }
  const store = values.store === undefined ? null : Store.open(values.store, { readonly: true });
  try {
    const a = await loadRecords(positionals[0] as string, store);
    const b = await loadRecords(positionals[1] as string, store);
    const d = diffCrawls(a.records, b.records);
    if (values.json === true) {
      const brief = (r: { addr: string; userAgent?: string; protocolVersion?: number }): object => ({ addr: r.addr, userAgent: r.userAgent, protocolVersion: r.protocolVersion });
      process.stdout.write(
        JSON.stringify({ a: a.label, b: b.label, joined: d.joined.map(brief), left: d.left.map(brief), changed: d.changed, unchanged: d.unchanged, reachableA: d.reachableA, reachableB: d.reachableB }) + '\n',
      );
    } else {
      process.stdout.write(`--- ${a.label}\n+++ ${b.label}\n${formatDiff(d)}\n`);
    }
  } finally {
    store?.close();
  }
  return 0;
}
