/**
 * bitspread's public API. Each module adds its exports here.
 */
export * from './errors.js';
export * from './wire/index.js';
