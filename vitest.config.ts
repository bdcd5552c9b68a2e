import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds dist/ (incrementally) first: the worker threads run the built code (scripts/build.mjs).
    globalSetup: ['test/setup/build.ts'],
    // Integration tests start real sockets and worker threads; the default
    // 5 s is too tight on a loaded 2-core CI machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: more parallel files only fight over the same CPUs and make
    // socket-timing tests flaky.
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain 'N passed, N failed' line.
    reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
  },
});
