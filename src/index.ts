/**
 * bitspread's public API. Each module adds its exports here.
 */
export * from './errors.js';
export type * from './wire/types.js';
