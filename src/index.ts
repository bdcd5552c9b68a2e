/**
 * bitspread's public API. Each module adds its exports here.
 */
export * from './errors.js';
export type * from './wire/types.js';
export * from './supervisor/peer-cap.js';
export * from './supervisor/dynamic-supervisor.js';
export * from './crawl/frontier.js';
export * from './crawl/allow-list.js';
