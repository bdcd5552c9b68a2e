// The crawl scenarios shared by bench/crawl.mjs and bench/scaling.mjs (one
// definition, so the scaling curve and the crawl table's cpu-bound rows
// cannot drift apart), and how their limits map onto bitspread's options.

/** Every crawler gets the same connection cap. */
export const MAX_PEERS = 125;

/** The same per-step limits for every crawler, so only the implementation differs. --quick halves them. */
export const TIMEOUTS = Object.freeze({ connectMs: 3000, handshakeMs: 3000, firstAddrMs: 3000, quietMs: 500, peerMs: 15000 });
export const QUICK_TIMEOUTS = Object.freeze({ connectMs: 1500, handshakeMs: 1500, firstAddrMs: 1500, quietMs: 250, peerMs: 8000 });

/** ~30 % of advertised addresses never answer: a third silent (they cost a timeout), the rest refused. */
export const LATENCY_MIX = Object.freeze({ silent: 0.1, refused: 0.2, old: 0.1, chatty: 0.05, slow: 0.02 });
/** Without latency we measure CPU: silent nodes would only add timeout waits, so they are refused instead. */
export const CPU_MIX = Object.freeze({ refused: 0.3, old: 0.1, chatty: 0.05, slow: 0.02 });

/**
 * Quiet period of the cpu-bound scenario. With 125 slots each peer's quiet
 * period caps the crawl at ~125 / quietMs peers per second, so at 100 ms every
 * crawler sat near 1,000-1,200 nodes/s whatever its CPU cost. It must stay
 * above the simulator's gap between the parts of a chatty node's split answer
 * (CHATTY_GAP_MS, 10 ms in src/sim/connection.ts) plus scheduling jitter, or
 * maps come out incomplete: 25 ms leaves 15 ms of slack.
 */
export const CPU_BOUND_QUIET_MS = 25;

/**
 * Connection cap of the cpu-bound scenario. At 125 (the latency scenario's
 * cap, Bitcoin Core's default) and no latency the crawl is bound by slots ×
 * visit time, not CPU: on 2 idle cores bitspread and the baseline both sat
 * near 2,300 nodes/s with the crawler using ~75 % of a core and the simulator
 * ~62 %, and more slots made both faster (2026-11-24, 10,000 nodes, bitspread:
 * 125 → 2,350, 250 → 3,020, 500 → 3,130, 1,000 → 3,030 nodes/s;
 * bench/results/cap-sweep-2026-11-24T1539-*.json). From 500 up more slots buy
 * nothing: CPU is the limit, which is what this scenario is for.
 * `node bench/crawl.mjs --cpu-bound-max-peers N` runs it at another cap.
 */
export const CPU_BOUND_MAX_PEERS = 500;

export const cpuBoundTimeouts = (timeouts) => ({ ...timeouts, quietMs: CPU_BOUND_QUIET_MS });

/** bitspread's crawl() options for one set of limits (bench/crawl-child.mjs passes these). */
export function engineTimeoutOptions(timeouts) {
  return {
    connectTimeoutMs: timeouts.connectMs,
    handshakeTimeoutMs: timeouts.handshakeMs,
    getaddrTimeoutMs: timeouts.firstAddrMs,
    addrQuietMs: timeouts.quietMs,
  };
}
