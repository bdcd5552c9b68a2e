import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The thread boundary (docs/ARCHITECTURE.md): workers/ runs in worker
 * threads, src/ on the main thread, src/shared/ + src/wire/ + src/errors.ts on
 * both. Proven to fail when crossed by test/lint-boundary.test.ts.
 */
/** Main-thread folders under src/ (add new ones here). */
const MAIN_THREAD = 'engine|supervisor|cli|sim|seeds|store|export|report|metrics|cluster';
const NO_WORKERS = {
  regex: '(^|/)workers/',
  message: 'the main thread loads worker code by URL only (src/engine/worker-pool.ts): never import from workers/',
};
const WORKERS_SEE_SHARED_ONLY = {
  regex: '(^|/)src/(?!shared/|wire/|errors\\.js$)',
  message: 'workers/ runs in worker threads: it may import src/shared/, src/wire/ and src/errors.js only, not main-thread modules',
};
const SHARED_SEES_NO_MAIN_THREAD = {
  regex: `^(\\.\\./)+(${MAIN_THREAD})/`,
  message: 'src/shared/, src/wire/ and src/errors.ts are loaded by the workers too: they must not import main-thread modules',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/node_modules/**', 'bench/results/**', 'coverage/**', 'test/fixtures/lint/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', SharedArrayBuffer: 'readonly', Atomics: 'readonly', queueMicrotask: 'readonly', performance: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  { files: ['workers/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [WORKERS_SEE_SHARED_ONLY] }] } },
  { files: ['src/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [NO_WORKERS] }] } },
  {
    files: ['src/shared/**/*.ts', 'src/wire/**/*.ts', 'src/errors.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [NO_WORKERS, SHARED_SEES_NO_MAIN_THREAD] }] },
  },
);
