/**
 * The thread boundary is enforced by ESLint (eslint.config.js,
 * no-restricted-imports): each fixture under test/fixtures/lint/ is linted as
 * if it lived where its first line says, with the project's own config.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(root, 'test/fixtures/lint');

async function lintFixture(name: string): Promise<ESLint.LintResult> {
  const code = readFileSync(join(fixtures, name), 'utf8');
  const as = /^\/\/ as: (\S+)/.exec(code)?.[1];
  if (as === undefined) throw new Error(`${name}: no '// as: <path>' first line`);
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: join(root, as) });
  return result as ESLint.LintResult;
}

function boundaryErrors(r: ESLint.LintResult): string[] {
  return r.messages.filter((m) => m.ruleId === 'no-restricted-imports' && m.severity === 2).map((m) => m.message);
}

describe('the thread-boundary lint rule', () => {
  it.each([
    ['worker-imports-engine.ts', /workers\/ runs in worker threads/],
    ['worker-imports-supervisor-type.ts', /workers\/ runs in worker threads/],
    ['engine-imports-worker.ts', /loads worker code by URL only/],
    ['shared-imports-engine.ts', /loaded by the workers too/],
  ])('fails %s', async (name, message) => {
    const errors = boundaryErrors(await lintFixture(name));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  }, 30_000);

  it('passes what a worker may import (shared, codec, errors, its own folder, packages)', async () => {
    const result = await lintFixture('worker-imports-shared.ts');
    expect(result.messages).toEqual([]);
  }, 30_000);

  it('covers every fixture in the folder', () => {
    expect(readdirSync(fixtures).filter((f) => f.endsWith('.ts')).sort()).toEqual(
      ['engine-imports-worker.ts', 'shared-imports-engine.ts', 'worker-imports-engine.ts', 'worker-imports-shared.ts', 'worker-imports-supervisor-type.ts'],
    );
  });
});
