/**
 * Per-connection address budget, a token bucket like Core's (FACTS §6): each
 * received address costs a token, the excess is dropped and counted. Without
 * it one peer could send 1,000-entry addr messages until the getaddr deadline
 * (or forever in node mode) and fill the frontier with addresses to dial.
 */

/** Unsolicited self-announcements allowed before any getaddr answer. */
const ADDR_UNSOLICITED_TOKENS = 10;
/** One getaddr answer's worth (Core's MAX_ADDR_TO_SEND), granted when we send getaddr. */
const ADDR_GETADDR_TOKENS = 1000;
/** Node mode refill: Core's MAX_ADDR_RATE_PER_SECOND (0.1/s), per ms. */
const ADDR_REFILL_PER_MS = 0.1 / 1000;
/** The refill stops here (Core's MAX_ADDR_PROCESSING_TOKEN_BUCKET). */
const ADDR_REFILL_CEILING = 1000;

export class AddrBudget {
  private tokens = ADDR_UNSOLICITED_TOKENS;
  /** When the bucket was last refilled (performance.now() ms; 0 = not refilling). */
  private refilledAt = 0;
  /** Addresses over the budget so far, dropped. */
  dropped = 0;

  /** We sent getaddr: one answer's worth more. */
  grantGetaddr(): void {
    this.tokens += ADDR_GETADDR_TOKENS;
  }

  /** Node mode, once the peer is established: refill at Core's rate from `now` on. */
  startRefill(now: number): void {
    this.refilledAt = now;
  }

  /** How many of `count` received addresses the budget allows; the rest are counted as dropped. */
  take(count: number): number {
    if (this.refilledAt !== 0) {
      const now = performance.now();
      if (this.tokens < ADDR_REFILL_CEILING) {
        this.tokens = Math.min(ADDR_REFILL_CEILING, this.tokens + (now - this.refilledAt) * ADDR_REFILL_PER_MS);
      }
      this.refilledAt = now;
    }
    const accepted = Math.min(count, Math.floor(this.tokens));
    this.tokens -= accepted;
    this.dropped += count - accepted;
    return accepted;
  }
}
