// Runs after `tsc` (and so after every `npm ci`, through `prepare`).
// 1. tsc does not preserve the mode bit: make the CLI entry executable.
// 2. npm never links a package's own `bin` into its own node_modules/.bin, so
//    `npx bitspread` in a fresh clone would go looking in the registry. Link it
//    here so the README's `npm ci && npx bitspread demo` runs this checkout.
import { chmodSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const binDir = fileURLToPath(new URL('../node_modules/.bin/', import.meta.url));
if (existsSync(cli)) {
  chmodSync(cli, 0o755);
  mkdirSync(binDir, { recursive: true });
  const link = binDir + 'bitspread';
  rmSync(link, { force: true });
  symlinkSync('../../dist/src/cli/main.js', link);
}
