/**
 * Writing the CLI's results to stdout. A closed pipe (`bitspread … | head`)
 * or a full disk behind a redirection is a typed ERR_WRITE (exit 7), never an
 * uncaught EPIPE with a stack trace.
 */
import { RunError } from '../errors.js';

let failure: RunError | null = null;

function stdoutFailed(err: NodeJS.ErrnoException): RunError {
  failure ??= new RunError('ERR_WRITE', `cannot write to standard output: ${err.code ?? err.message}`);
  return failure;
}

/** Installs the listener that turns a stdout error into ERR_WRITE (once, from main). */
export function guardStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => void stdoutFailed(err));
  // A log line that cannot be written (a closed terminal after SIGHUP) is lost, not fatal.
  process.stderr.on('error', () => undefined);
}

/** The stdout error seen so far, if any. */
export function stdoutError(): RunError | null {
  return failure;
}

/** Writes to stdout and waits until it is written; rejects with ERR_WRITE if it cannot be. */
export function writeStdout(text: string): Promise<void> {
  if (failure !== null) return Promise.reject(failure);
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err === null || err === undefined ? resolve() : reject(stdoutFailed(err))));
  });
}
