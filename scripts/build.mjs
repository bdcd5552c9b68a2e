// The build: `npm run build`, `npm ci` (through `prepare`), and vitest's
// globalSetup before every test run (test/setup/build.ts), so the worker
// threads, which Node loads from dist/ (it cannot load .ts), always run the
// code in the tree and never a stale build.
//
// 1. tsc, incremental (dist/.tsbuildinfo): a run with nothing changed takes
//    a few seconds; deleting dist/ deletes the info with it.
// 2. Prune dist/ files whose source is gone (a moved or deleted module must
//    not stay importable from dist/).
// 3. The CLI entry is made executable and linked as node_modules/.bin/bitspread:
//    tsc does not keep the mode bit, and npm never links a package's own `bin`
//    into its own node_modules/.bin, so `npx bitspread` in a fresh clone would
//    go looking in the registry.
// 4. Data files tsc does not copy: Core's fixed-seed lists (src/seeds/data/).
// 5. dist/.sources-hash: a hash of every source the build compiled, which
//    test/worker-build.test.ts compares with the tree to prove the workers
//    run what is in src/ and workers/.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Source folders the build compiles (tsconfig.build.json's include). */
export const SOURCE_DIRS = ['src', 'workers'];

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** sha256 over every .ts under src/ and workers/: path and content, in path order. */
export function sourcesHash() {
  const h = createHash('sha256');
  const files = SOURCE_DIRS.flatMap((d) => walk(join(root, d))).filter((f) => f.endsWith('.ts')).map((f) => relative(root, f)).sort();
  for (const f of files) h.update(f).update('\0').update(readFileSync(join(root, f))).update('\0');
  return h.digest('hex');
}

export function build({ quiet = false } = {}) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const hash = sourcesHash();
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  } catch (err) {
    throw new Error(`the build failed (tsc -p tsconfig.build.json):\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
  pruneOrphans();
  copyData();
  linkCli();
  writeFileSync(join(root, 'dist', '.sources-hash'), hash + '\n');
}

function pruneOrphans() {
  for (const dir of SOURCE_DIRS) {
    for (const out of walk(join(root, 'dist', dir))) {
      const rel = relative(join(root, 'dist'), out);
      const base = rel.replace(/(\.d\.ts|\.js\.map|\.js|\.d\.ts\.map)$/, '');
      if (base !== rel && !existsSync(join(root, base + '.ts'))) rmSync(out);
    }
  }
}

/** Data the package reads at run time, next to the compiled module that reads it. */
export const DATA_DIRS = ['src/seeds/data'];

function copyData() {
  for (const dir of DATA_DIRS) cpSync(join(root, dir), join(root, 'dist', dir), { recursive: true });
}

function linkCli() {
  const cli = join(root, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(cli)) return;
  chmodSync(cli, 0o755);
  const binDir = join(root, 'node_modules', '.bin');
  mkdirSync(binDir, { recursive: true });
  const link = join(binDir, 'bitspread');
  rmSync(link, { force: true });
  symlinkSync('../../dist/src/cli/main.js', link);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) build();
