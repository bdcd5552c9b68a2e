// Benchmarks measure the built artifact (dist/), the same code users and the CLI run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Builds the project if dist/ is missing. */
export function ensureBuilt() {
  if (existsSync(new URL('../dist/src/index.js', import.meta.url))) return;
  process.stderr.write('bench: dist/ missing, running npm run build …\n');
  const res = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.status !== 0) throw new Error(`npm run build failed (exit ${res.status})`);
}

/** Imports a module of the built project, e.g. loadDist('src/wire/index.js'). */
export async function loadDist(relPath) {
  ensureBuilt();
  return import(new URL(`../dist/${relPath}`, import.meta.url).href);
}

/** True when the built project has the file (a module another engineer has not landed yet is absent). */
export function distHas(relPath) {
  return existsSync(new URL(`../dist/${relPath}`, import.meta.url));
}
