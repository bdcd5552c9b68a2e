// The same crawl as bench/baseline-crawler.mjs, but each peer is driven by an
// established JS peer implementation: bcoin 1.0.2's Peer (staged open:
// connect → version/verack with its own timeouts, then getaddr). Same queue,
// concurrency limit and loopback-only guard (bench/crawl-loop.mjs).
import net from 'node:net';
import { loadBcoin } from './comparators.mjs';
import { crawlWith, peerVisit } from './crawl-loop.mjs';

const bcoin = loadBcoin();
const Peer = bcoin.loadPeer();

function failureCode(err, fallback) {
  if (!err) return fallback;
  if (err.code === 'ECONNREFUSED') return 'ERR_CONNECTION_REFUSED';
  return `${fallback}: ${err.code ?? String(err.message).replace(/ \(.*\)$/, "")}`;
}

function visitPeer(peerOptions, target, t) {
  return new Promise((resolve) => {
    const started = performance.now();
    const peer = Peer.fromOptions(peerOptions);
    const visit = peerVisit(t, resolve, () => peer.destroy());
    const { finish, phase } = visit;

    // bcoin reports protocol trouble as 'error' events; a crawler only cares whether the peer ends up open.
    let lastError = null;
    peer.on('error', (err) => { lastError = err; });
    peer.on('close', () => finish(visit.info !== null, failureCode(lastError, 'ERR_CLOSED_BEFORE_HANDSHAKE')));
    peer.on('packet', (packet) => {
      if (visit.info === null || (packet.cmd !== 'addr' && packet.cmd !== 'addrv2')) return;
      for (const item of packet.items) visit.addrs.push(item.hostname);
      phase(t.quietMs, () => finish(true));
    });

    phase(t.connectMs + t.handshakeMs, () => finish(false, 'ERR_HANDSHAKE_TIMEOUT'));
    peer.connect(new bcoin.NetAddress({ host: target.host, port: target.port }));
    peer.open().then(
      () => {
        if (visit.finished) return;
        visit.info = { protocolVersion: peer.version, userAgent: peer.agent, services: String(peer.services), startHeight: peer.height, handshakeMs: performance.now() - started };
        peer.sendGetAddr();
        phase(t.firstAddrMs, () => finish(true));
      },
      (err) => finish(false, failureCode(err, 'ERR_HANDSHAKE')),
    );
  });
}

/**
 * Crawls the loopback network reachable from `seeds` with bcoin's Peer.
 * @returns {Promise<{ reachable: object[], failed: object[], refused: number, known: number, ms: number }>}
 */
export function establishedCrawl({ seeds, concurrency = 125, timeouts = {}, network = 'regtest', maxNodes, deadlineMs }) {
  const peerOptions = {
    network,
    agent: '/bitspread-bench-bcoin:1.0.2/',
    // A crawler does not need witness or headers support from the peers it maps.
    hasWitness: () => false,
    createSocket: (port, host) => net.connect({ port, host }),
  };
  return crawlWith((target, t) => visitPeer(peerOptions, target, t), { seeds, concurrency, timeouts, maxNodes, deadlineMs });
}
