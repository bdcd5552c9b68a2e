// Types for bench/crawl-loop.mjs (used by test/bench-crawl-loop.test.ts).
export interface LoopbackTarget {
  text: string;
  host: string;
  port: number;
}
export type VisitResult = { ok: true; info: Record<string, unknown>; addrs: string[] } | { ok: false; code: string };
export interface CrawlTimeouts {
  connectMs: number;
  handshakeMs: number;
  firstAddrMs: number;
  quietMs: number;
  peerMs: number;
}
export const DEFAULT_TIMEOUTS: Readonly<CrawlTimeouts>;
export function parseLoopback(text: string): { host: string; port: number } | null;
export function crawlWith(
  visit: (target: LoopbackTarget, timeouts: CrawlTimeouts) => Promise<VisitResult>,
  options: { seeds: string[]; concurrency?: number; timeouts?: Partial<CrawlTimeouts>; maxNodes?: number; deadlineMs?: number },
): Promise<{ reachable: Array<{ addr: string } & Record<string, unknown>>; failed: Array<{ addr: string; code: string }>; refused: number; known: number; ms: number }>;
export interface PeerVisit {
  info: Record<string, unknown> | null;
  addrs: string[];
  readonly finished: boolean;
  finish(ok: boolean, code?: string): void;
  phase(ms: number, onExpire: () => void): void;
}
export function peerVisit(t: CrawlTimeouts, resolve: (r: VisitResult) => void, close: () => void): PeerVisit;
