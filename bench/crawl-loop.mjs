// The crawl loop the comparison crawlers share: a FIFO queue, a dedupe set, a
// concurrency limit and a loopback-only guard. Only the way one peer is visited
// differs between them (plain node:net + our codec, or bcoin's Peer), so the
// comparison measures the peer implementation, not the scheduling.

/** Loopback IPv4 "a.b.c.d:port" only: benchmarks never leave 127.0.0.0/8. */
export function parseLoopback(text) {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const octets = m.slice(1, 5).map(Number);
  const port = Number(m[5]);
  if (octets[0] !== 127 || octets.some((o) => o > 255) || port < 1 || port > 65535) return null;
  return { host: octets.join('.'), port };
}

export const DEFAULT_TIMEOUTS = Object.freeze({
  /** net.connect has no connect timeout of its own. */
  connectMs: 5000,
  /** From connect to having both version and verack. */
  handshakeMs: 5000,
  /** After getaddr, the longest we wait for the first addr. */
  firstAddrMs: 5000,
  /** After an addr, how long without another before we call the peer done. */
  quietMs: 500,
  /** Hard bound on one peer, whatever it does. */
  peerMs: 15000,
});

/**
 * Crawls from `seeds` with `visit(target, timeouts)`, which resolves to
 * `{ ok: true, info, addrs: string[] }` or `{ ok: false, code }` and never rejects.
 * Stops by itself: when the queue drains, after `maxNodes` dials or after `deadlineMs`.
 */
export async function crawlWith(visit, { seeds, concurrency = 125, timeouts = {}, maxNodes = 200_000, deadlineMs = 600_000 }) {
  const t = { ...DEFAULT_TIMEOUTS, ...timeouts };
  const started = performance.now();
  const seen = new Set();
  const queue = [];
  const reachable = [];
  const failed = [];
  let refused = 0;
  let dialed = 0;
  let active = 0;

  function offer(text) {
    if (seen.has(text)) return;
    seen.add(text);
    const target = parseLoopback(text);
    if (!target) {
      refused++; // the allow-list: anything outside 127.0.0.0/8 is never dialled
      return;
    }
    queue.push({ text, ...target });
  }
  for (const s of seeds) offer(s);

  await new Promise((resolve) => {
    const pump = () => {
      const outOfTime = performance.now() - started > deadlineMs;
      while (!outOfTime && active < concurrency && queue.length > 0 && dialed < maxNodes) {
        const target = queue.shift();
        active++;
        dialed++;
        visit(target, t).then((r) => {
          active--;
          if (r.ok) {
            reachable.push({ addr: target.text, ...r.info });
            for (const a of r.addrs) offer(a);
          } else {
            failed.push({ addr: target.text, code: r.code });
          }
          pump();
        });
      }
      if (active === 0 && (queue.length === 0 || outOfTime || dialed >= maxNodes)) resolve();
    };
    pump();
  });

  return { reachable, failed, refused, known: seen.size, ms: performance.now() - started };
}

/**
 * The bookkeeping every visit shares, whatever drives the peer: settle exactly
 * once, a hard per-peer bound (`t.peerMs`), and one phase timer at a time.
 * The visitor fills in `info` (null until the handshake is done) and `addrs`;
 * `close` tears its connection down when the visit settles.
 */
export function peerVisit(t, resolve, close) {
  let phaseTimer = null;
  const visit = {
    info: null,
    addrs: [],
    finished: false,
    finish(ok, code) {
      if (visit.finished) return;
      visit.finished = true;
      clearTimeout(peerTimer);
      clearTimeout(phaseTimer);
      close();
      resolve(ok ? { ok: true, info: visit.info, addrs: visit.addrs } : { ok: false, code });
    },
    phase(ms, onExpire) {
      clearTimeout(phaseTimer);
      phaseTimer = setTimeout(onExpire, ms);
    },
  };
  const peerTimer = setTimeout(() => visit.finish(false, 'ERR_PEER_TIMEOUT'), t.peerMs);
  return visit;
}
