#!/usr/bin/env node
/**
 * `bitspread <command>`: a thin dispatcher. Each command lives in its own
 * module under ./commands/ and exports `run(argv): Promise<number>` (the exit
 * code). Modules load lazily so `bitspread decode` never pays for the crawler.
 */
import { isBitspreadError } from '../errors.js';

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
  lines.push('', 'Run `bitspread <command> --help` for the options of one command.');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
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

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (isBitspreadError(err)) {
      process.stderr.write(`bitspread: ${err.code}: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`bitspread: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
