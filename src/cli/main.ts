#!/usr/bin/env node
/**
 * `bitspread <command>`: a thin dispatcher. Each command lives in its own
 * module under ./commands/ and exports `run(argv): Promise<number>` (the exit
 * code). Modules load lazily so `bitspread decode` never pays for the crawler.
 */
import { readFileSync } from 'node:fs';
import { isBitspreadError } from '../errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { guardStdout, stdoutError } from './output.js';

export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, string> = {
  demo: 'start the built-in simulated network in-process and crawl it',
  crawl: 'crawl a network from seed addresses; writes an NDJSON snapshot',
  sim: 'serve a simulated Bitcoin network on loopback until Ctrl-C',
  decode: 'decode a binary or hex capture into one JSON line per message',
};

function usage(): string {
  const lines = ['usage: bitspread <command> [options]', '', 'commands:'];
  for (const [name, text] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${text}`);
  lines.push('', 'Run `bitspread <command> --help` for the options of one command; `bitspread --version` for the version.');
  return lines.join('\n');
}

/** package.json's version (the file ships with the package, two levels above dist/src/cli). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`bitspread ${version()}\n`);
    return EXIT.OK;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    process.stderr.write(`bitspread: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  // A computed specifier: the command modules are separate entry points.
  const mod = (await import(new URL(`./commands/${name}.js`, import.meta.url).href)) as CommandModule;
  return mod.run(rest);
}

guardStdout();
main(process.argv.slice(2)).then(
  (code) => {
    // Output that could not be written (a closed pipe) makes the run fail, whatever it found.
    const failed = stdoutError();
    if (failed !== null && code === EXIT.OK) {
      process.stderr.write(`bitspread: ${failed.code}: ${failed.message}\n`);
      code = EXIT.WRITE;
    }
    process.exitCode = code;
  },
  (err: unknown) => {
    if (isBitspreadError(err)) {
      process.stderr.write(`bitspread: ${err.code}: ${err.message}\n`);
      process.exitCode = exitCodeFor(err);
    } else {
      process.stderr.write(`bitspread: internal error (please report it): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = EXIT.INTERNAL;
    }
  },
);
