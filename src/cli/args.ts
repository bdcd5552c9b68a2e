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
 * A command's options, strictly (unknown options, missing values and
 * positionals are errors): node:util's parseArgs, with its TypeError turned
 * into a UsageError (ERR_BAD_ARGUMENT) carrying the same message.
 */
export function parseOptions<const O extends OptionsConfig>(argv: string[], options: O): ParsedOptions<O> {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values;
  } catch (err) {
    throw new UsageError('ERR_BAD_ARGUMENT', (err as Error).message, { cause: err });
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
  if (!/^\d+$/.test(text.trim())) throw new UsageError('ERR_BAD_OPTION', `${option}: expected a whole number, got '${text}'`);
  const value = Number(text);
  if (value < min || value > max) throw new UsageError('ERR_BAD_OPTION', `${option}: must be between ${min} and ${max}, got ${value}`);
  return value;
}
