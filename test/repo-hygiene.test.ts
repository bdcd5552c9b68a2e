/**
 * What a fresh clone and the published package need, checked on the files
 * themselves: tests read nothing outside the repository, nothing is
 * installed while tests run, the licence matches package.json, and every
 * source map the package ships resolves to its source.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function filesUnder(dir: string, match: RegExp): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      if (name === 'node_modules' || name === 'results') continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (match.test(name)) out.push(p);
    }
  };
  walk(join(ROOT, dir));
  return out;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  license: string;
  files: string[];
  devDependencies: Record<string, string>;
  dependencies: Record<string, string>;
};

describe('a fresh clone passes alone', () => {
  it('no test or test helper reads the shared/ folder beside the repository', () => {
    const offenders = filesUnder('test', /\.(ts|mts|mjs|js)$/)
      .filter((f) => !f.endsWith('repo-hygiene.test.ts'))
      .filter((f) => /(\.\.\/)+shared\/|['"`]shared['"`]\s*,\s*['"`]protocol/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(offenders).toEqual([]);
  });

  it("Core's vectors are vendored in test/fixtures with their origin cited", () => {
    const doc = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/core-vectors.json'), 'utf8')) as { meta: { source_tree: string }; vectors: unknown[] };
    expect(doc.meta.source_tree).toMatch(/^bitcoin\/bitcoin /);
    expect(doc.vectors.length).toBeGreaterThan(90);
    expect(readFileSync(join(ROOT, 'test/fixtures/README.md'), 'utf8')).toMatch(/core-vectors\.json.*Bitcoin Core's test data/);
  });

  it('nothing under test/ or bench/ installs packages at run time (comparators come with npm ci)', () => {
    const installers = [...filesUnder('test', /\.(ts|mts|mjs|js)$/), ...filesUnder('bench', /\.(mts|mjs|js)$/)]
      .filter((f) => !f.endsWith('repo-hygiene.test.ts'))
      .filter((f) => /\bnpm(\.cmd)?['"`]?\s*,\s*\[\s*['"`](ci|install|i)['"`]|npm (ci|install) /.test(readFileSync(f, 'utf8')))
      .map((f) => relative(ROOT, f));
    expect(installers).toEqual([]);
    // The interop test's comparator is part of the locked install, pinned.
    expect(pkg.devDependencies.bcoin).toBe('1.0.2');
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean }> };
    expect(lock.packages['node_modules/bcoin']).toMatchObject({ version: '1.0.2', dev: true });
    expect(pkg.dependencies.bcoin).toBeUndefined();
  });
});

describe('the published package', () => {
  it('has a LICENSE matching package.json (MIT)', () => {
    expect(pkg.license).toBe('MIT');
    const text = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    expect(text).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} bitspread contributors\n/);
    expect(text).toMatch(/Permission is hereby granted, free of charge/);
  });

  it('every shipped .js.map carries the source it points at (src/*.ts is not shipped)', () => {
    expect(pkg.files.some((f) => f === 'src' || f.startsWith('src/'))).toBe(false);
    const maps = pkg.files.flatMap((dir) => filesUnder(dir, /\.js\.map$/));
    expect(maps.length).toBeGreaterThan(20);
    const missing = maps.filter((m) => {
      const map = JSON.parse(readFileSync(m, 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
      return map.sourcesContent?.length !== map.sources.length || map.sourcesContent.some((c) => typeof c !== 'string' || c.length === 0);
    });
    expect(missing.map((m) => relative(ROOT, m))).toEqual([]);
  });
});
