/**
 * The CLI's main-thread logger: pretty when stdout is a terminal, JSON lines
 * otherwise. pino-pretty runs in-process as a stream (not pino.transport(),
 * which would start one more thread).
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function cliLogger(level: string): Logger {
  if (process.stdout.isTTY) {
    return pino({ level }, pretty({ colorize: true, sync: true, destination: 1, ignore: 'pid,hostname' }));
  }
  return pino({ level }, pino.destination({ dest: 1, sync: true }));
}
