/**
 * The worker threads run the code in the tree: vitest's globalSetup builds
 * dist/ before the tests (test/setup/build.ts), and the pool loads the worker
 * from this checkout's dist/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sourcesHash } from '../scripts/build.mjs';
import { peerWorkerUrl } from '../src/engine/worker-pool.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the workers under test', () => {
  it('were built from exactly the sources in the tree (src/ and workers/, as they are now)', () => {
    const built = readFileSync(`${root}dist/.sources-hash`, 'utf8').trim();
    expect(built).toBe(sourcesHash());
  });

  it('are loaded from this checkout\'s dist/, whose entry exists', () => {
    const url = peerWorkerUrl();
    expect(url).toBe(pathToFileURL(`${root}dist/workers/peer-worker.js`).href);
    expect(existsSync(fileURLToPath(url))).toBe(true);
  });
});
