/**
 * Takes a command's own options out of argv and leaves the rest (the crawl
 * options it shares with `bitspread crawl`) for parseCrawlArgs. Accepts
 * `--name value` and `--name=value`; a string option without its value is a
 * UsageError.
 */
import { UsageError } from '../errors.js';

export function takeOptions(argv: readonly string[], spec: Record<string, 'string' | 'boolean'>): { taken: Record<string, string | true>; rest: string[] } {
  const taken: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    const name = m?.[1];
    if (m === null || name === undefined || !Object.hasOwn(spec, name)) {
      rest.push(arg);
      continue;
    }
    if (spec[name] === 'boolean') {
      if (m[2] !== undefined) throw new UsageError('ERR_BAD_ARGUMENT', `--${name} takes no value`);
      taken[name] = true;
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined || (m[2] === undefined && value.startsWith('--'))) throw new UsageError('ERR_BAD_ARGUMENT', `--${name} needs a value`);
    taken[name] = value;
  }
  return { taken, rest };
}

/** Parses `30d`, `12h`, `10m`, `5s`, `500ms` (or bare seconds) into ms; 0 allowed. */
export function parseLongDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw new UsageError('ERR_BAD_OPTION', `${option}: expected a duration like 10m, 4h or 30d, got '${text}'`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86400_000 }[m[2] ?? 's'] as number;
  return Math.round(Number(m[1]) * unit);
}
