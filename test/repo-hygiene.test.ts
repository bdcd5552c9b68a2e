/**
 * What a fresh clone and the published package need, checked on the files
 * themselves: tests read nothing outside the repository, nothing is
 * installed while tests run, the licence matches package.json, and every
 * source map the package ships resolves to its source.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import type { ChildSpec, ExitReason } from '../src/supervisor/dynamic-supervisor.js';

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

describe('the README and the package agree', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it("documents that a DynamicSupervisor child's start returns Promise<ExitReason>", () => {
    expectTypeOf<ReturnType<ChildSpec['start']>>().toEqualTypeOf<Promise<ExitReason>>();
    expect(readme).toMatch(/start: \(signal\) => .*must return Promise<ExitReason>/);
  });

  it('lists every exit status the CLI uses, in its exit status table', () => {
    const table = readme.slice(readme.indexOf('### Exit status'));
    const rows = new Set([...table.matchAll(/^\| ([\d, ]+) \|/gm)].flatMap((m) => m[1]!.split(',').map((x) => Number(x.trim()))));
    for (const code of Object.values(EXIT)) expect(rows.has(code), `status ${code} in the README table`).toBe(true);
    for (const signalStatus of [129, 130, 143]) expect(rows.has(signalStatus)).toBe(true);
  });

  it('says what crawl() does with bad options (throws at once) and with failures once running (rejects done)', () => {
    expect(readme).toMatch(/Bad options [\s\S]*? throw a typed UsageError at once, from\s*\n\/\/ crawl\(\) as from `new Crawler\(\)`/);
    expect(readme).toMatch(/rejects both `done` and the iterator's next\(\)/);
  });
});
