/**
 * Record schema v2 (docs/SCHEMA.md): what every record gains for history —
 * when it was made, by which crawl, and where the address came from. Kept
 * apart from record.ts: the crawler stamps each record as it is written.
 */

/** The version of the NodeRecord layout (snapshot lines, the store's visits). */
export const RECORD_SCHEMA_VERSION = 2;

/** `source` of an address given on the command line / in CrawlOptions.seeds. */
export const SOURCE_SEED = 'seed';
/** `source` of an address a DNS seed answered. */
export const SOURCE_DNS = 'dns';
/** `source` of one of Core's fixed seeds (dialled when the DNS seeds give nothing). */
export const SOURCE_FIXED = 'fixed-seed';
/** `source` of an address a watch round revisits from its store. */
export const SOURCE_STORE = 'store';

export interface RecordStamp {
  /** ISO 8601 time (UTC, ms) the record was made: the end of the visit, or when it was skipped. */
  readonly visitedAt: string;
  /** The crawl (watch: the round) that made it. */
  readonly crawlId: string;
  /** Who first told this crawl the address: a peer's address text, or `seed`, `dns`, `store`. */
  readonly source?: string;
  /** The address's own timestamp as gossiped (seconds since the epoch; the newest one heard). */
  readonly lastSeen?: number;
}

/**
 * Where each address came from, packed per address as one number
 * (lastSeen × 2^21 + source index) so a crawl of millions of addresses
 * pays one Map entry, not an object, per queued address. An entry is
 * removed once the address's record is written.
 */
export class Provenance {
  private static readonly SOURCE_SLOTS = 2 ** 21;
  private readonly sources: string[] = [];
  private readonly sourceIndex = new Map<string, number>();
  private readonly entries = new Map<string, number>();

  /**
   * First source wins; the newest gossip time is kept. `onlyIfPending`: update
   * an address already noted, never add one (an address whose record was
   * written has no entry and gets none).
   */
  note(addr: string, source: string, lastSeen = 0, onlyIfPending = false): void {
    const prev = this.entries.get(addr);
    if (prev === undefined) {
      if (onlyIfPending) return;
      this.entries.set(addr, Math.max(0, lastSeen) * Provenance.SOURCE_SLOTS + this.indexOf(source));
      return;
    }
    const prevSeen = Math.floor(prev / Provenance.SOURCE_SLOTS);
    if (lastSeen > prevSeen) this.entries.set(addr, lastSeen * Provenance.SOURCE_SLOTS + (prev % Provenance.SOURCE_SLOTS));
  }

  /** The stamp fields of `addr` (and forgets it). */
  take(addr: string): { source?: string; lastSeen?: number } {
    const packed = this.entries.get(addr);
    if (packed === undefined) return {};
    this.entries.delete(addr);
    const idx = packed % Provenance.SOURCE_SLOTS;
    const lastSeen = Math.floor(packed / Provenance.SOURCE_SLOTS);
    const source = idx === Provenance.SOURCE_SLOTS - 1 ? undefined : this.sources[idx];
    return { ...(source !== undefined ? { source } : {}), ...(lastSeen > 0 ? { lastSeen } : {}) };
  }

  get size(): number {
    return this.entries.size;
  }

  private indexOf(source: string): number {
    let idx = this.sourceIndex.get(source);
    if (idx === undefined) {
      // Past 2^21 - 1 distinct sources, further ones are not named (the last slot means "unknown").
      if (this.sources.length >= Provenance.SOURCE_SLOTS - 1) return Provenance.SOURCE_SLOTS - 1;
      idx = this.sources.length;
      this.sources.push(source);
      this.sourceIndex.set(source, idx);
    }
    return idx;
  }
}
