/**
 * How a command reports bad arguments: what was wrong, then its help text,
 * on stderr; exit status 2. One place so every command words it alike.
 */

/** Writes `bitspread <command>: <message>`, a blank line and `help`; returns the exit code 2. */
export function usageFailure(command: string, message: string, help: string): number {
  process.stderr.write(`bitspread ${command}: ${message}\n\n${help}`);
  return 2;
}
