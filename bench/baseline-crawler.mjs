// The baseline: the crawler a user would write first, single-threaded on
// node:net with bitspread's codec. Connect → version/verack → getaddr →
// collect addr until a quiet period → next, under a concurrency limit.
// bench/crawl.mjs compares the engine against it.
import net from 'node:net';
import { crawlWith, peerVisit } from './crawl-loop.mjs';
import { loadDist } from './dist.mjs';

const wire = await loadDist('src/wire/index.js');

/** Visits one peer; always resolves, never rejects. */
function visitPeer(network, target, t) {
  return new Promise((resolve) => {
    const started = performance.now();
    let gotVersion = false;
    let gotVerack = false;
    let askedAddr = false;

    const socket = net.connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    const visit = peerVisit(t, resolve, () => {
      socket.removeAllListeners();
      socket.on('error', () => {});
      socket.destroy();
    });
    const { finish, phase } = visit;
    function send(msg) {
      socket.write(wire.encodeMessage(network, msg));
    }

    const decoder = new wire.MessageDecoder(network, {
      onMessage(msg) {
        switch (msg.command) {
          case 'version':
            gotVersion = true;
            visit.info = {
              protocolVersion: msg.payload.version,
              userAgent: msg.payload.userAgent,
              services: msg.payload.services.toString(),
              startHeight: msg.payload.startHeight,
              handshakeMs: 0,
            };
            send({ command: 'sendaddrv2' });
            send({ command: 'verack' });
            break;
          case 'verack':
            gotVerack = true;
            break;
          case 'ping':
            send({ command: 'pong', nonce: msg.nonce });
            break;
          case 'addr':
          case 'addrv2':
            if (!askedAddr) break;
            for (const e of msg.entries) if (e.address) visit.addrs.push(wire.formatAddress(e.address));
            phase(t.quietMs, () => finish(true));
            break;
          default:
            break;
        }
        if (gotVersion && gotVerack && !askedAddr) {
          askedAddr = true;
          visit.info.handshakeMs = performance.now() - started;
          send({ command: 'getaddr' });
          phase(t.firstAddrMs, () => finish(true));
        }
      },
      onMessageError(err, _command, fatal) {
        if (fatal) finish(false, err.code);
      },
    });

    phase(t.connectMs, () => finish(false, 'ERR_CONNECT_TIMEOUT'));
    socket.on('connect', () => {
      phase(t.handshakeMs, () => finish(false, 'ERR_HANDSHAKE_TIMEOUT'));
      send({ command: 'version', payload: wire.makeVersion({ userAgent: '/bitspread-baseline:0.1.0/' }) });
    });
    socket.on('data', (chunk) => decoder.push(chunk));
    socket.on('error', (err) => finish(false, err.code === 'ECONNREFUSED' ? 'ERR_CONNECTION_REFUSED' : (err.code ?? 'ERR_SOCKET')));
    socket.on('close', () => finish(askedAddr, 'ERR_CLOSED_BEFORE_HANDSHAKE'));
  });
}

/**
 * Crawls the loopback network reachable from `seeds`.
 * @returns {Promise<{ reachable: object[], failed: object[], refused: number, known: number, ms: number }>}
 */
export function baselineCrawl({ seeds, concurrency = 125, timeouts = {}, network = 'regtest', maxNodes, deadlineMs }) {
  const params = wire.NETWORKS[network];
  return crawlWith((target, t) => visitPeer(params, target, t), { seeds, concurrency, timeouts, maxNodes, deadlineMs });
}
