/**
 * The CLI's main-thread logger. Every log line goes to stderr (stdout carries
 * only the summary and data): pretty when stderr is a terminal, JSON lines
 * otherwise. pino-pretty runs in-process as a stream (not pino.transport(),
 * which would start one more thread).
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** On a terminal each log line first erases the live progress line it would otherwise run into. */
function terminalErr(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      process.stderr.write('\r\x1b[K');
      process.stderr.write(chunk, () => callback());
    },
  });
}

export function cliLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    return pino({ level }, pretty({ colorize: true, singleLine: true, destination: terminalErr(), ignore: 'pid,hostname' }));
  }
  return pino({ level }, pino.destination({ dest: 2, sync: true }));
}
