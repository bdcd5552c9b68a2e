/**
 * Shared argument helpers for the CLI commands: strict option parsing,
 * durations like `3s`/`500ms`, integers with bounds. Bad input becomes a
 * UsageError (exit 2, clear text).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type StrictConfig<O extends OptionsConfig> = { args: string[]; strict: true; allowPositionals: false; options: O };
/** What parseArgs returns as `values` for those options. */
export type ParsedOptions<O extends OptionsConfig> = ReturnType<typeof parseArgs<StrictConfig<O>>>['values'];

/**
 * `--opt -5` is a value, not an option: node:util's parseArgs calls it
 * ambiguous, so join such pairs as `--opt=-5` and let the option's own check
 * say what is wrong with the number.
 */
function joinNegativeValues(argv: readonly string[], options: OptionsConfig): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : null;
    if (name !== null && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** parseArgs's error in our words (its own text explains its internals, e.g. '--opt=-XYZ'). */
function usageErrorFrom(err: unknown, argv: readonly string[]): UsageError {
  const e = err as { code?: string; message?: string };
  const cause = { cause: err };
  const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError('ERR_BAD_ARGUMENT', `unknown option '${quoted}'`, cause);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = /^Option '(-\w, )?(--[\w-]+)/.exec(e.message ?? '')?.[2] ?? quoted;
      return /does not take an argument/.test(e.message ?? '')
        ? new UsageError('ERR_BAD_ARGUMENT', `${option} takes no value`, cause)
        : new UsageError('ERR_BAD_ARGUMENT', `${option} needs a value`, cause);
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError('ERR_BAD_ARGUMENT', `unexpected argument '${quoted || argv.find((a) => !a.startsWith('-')) || ''}'`, cause);
    default:
      return new UsageError('ERR_BAD_ARGUMENT', e.message ?? String(err), cause);
  }
}

/**
 * A command's options, strictly (unknown options, missing values and
 * positionals are errors) with node:util's parseArgs; its errors become a
 * UsageError (ERR_BAD_ARGUMENT) in plain words.
 */
export function parseOptions<const O extends OptionsConfig>(argv: string[], options: O): ParsedOptions<O> {
  const args = joinNegativeValues(argv, options);
  try {
    return parseArgs({ args, strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    throw usageErrorFrom(err, args);
  }
}

/** As parseOptions, and the positional arguments too. */
export function parseOptionsAndPositionals<const O extends OptionsConfig>(argv: string[], options: O): { values: ParsedOptions<O>; positionals: string[] } {
  const args = joinNegativeValues(argv, options);
  try {
    const r = parseArgs({ args, strict: true, allowPositionals: true, options });
    return { values: r.values as ParsedOptions<O>, positionals: r.positionals };
  } catch (err) {
    throw usageErrorFrom(err, args);
  }
}

/** Parses `250ms`, `3s`, `2m` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (m === null) throw new UsageError('ERR_BAD_OPTION', `${option}: expected a duration like 500ms, 3s or 2m, got '${text}'`);
  const value = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? value : unit === 's' ? value * 1000 : value * 60_000;
  if (!Number.isFinite(ms) || ms <= 0) throw new UsageError('ERR_BAD_OPTION', `${option}: duration must be positive, got '${text}'`);
  return Math.round(ms);
}

export function parseInteger(text: string, option: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError('ERR_BAD_OPTION', `${option}: expected a whole number, got '${text}'`);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError('ERR_BAD_OPTION', `${option}: must be between ${min} and ${max}, got ${value}`);
  return value;
}
