/**
 * A tiny hand-written Bitcoin peer on loopback, built on the codec, with one
 * chosen behaviour per listener. It records the commands each connection sent
 * in order, so tests can check the crawler's side of the handshake.
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { encodeMessage, makeVersion, MessageDecoder, NETWORKS, parseAddress } from '../../src/wire/index.js';
import type { AddrEntry, Message, NetworkParams } from '../../src/wire/index.js';

export type PeerBehaviour = 'normal' | 'silent' | 'garbage' | 'old' | 'close-after-version' | 'no-getaddr';

export interface LoopbackPeerOptions {
  host: string;
  port?: number;
  behaviour?: PeerBehaviour;
  network?: NetworkParams;
  userAgent?: string;
  version?: number;
  services?: bigint;
  startHeight?: number;
  relay?: boolean;
  /** Addresses (text forms) returned for getaddr, after a one-entry self-announcement. */
  addrs?: readonly string[];
  /** Delay of the big answer after the self-announcement. */
  answerDelayMs?: number;
  /** Write the big answer in this many pieces, 5 ms apart, so that it straddles the receiver's reads. */
  answerPieces?: number;
  /**
   * Instead of 5 ms apart, write each further piece once this resolves (e.g.
   * once the receiver has read the previous one): pieces that a busy
   * machine would deliver together stay apart.
   */
  betweenPieces?: () => Promise<void>;
}

export interface LoopbackPeer {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** Commands received, per accepted connection, in order. */
  readonly sessions: string[][];
  /** Nonces of the pongs received (any connection), in order. */
  readonly pongs: bigint[];
  readonly accepted: () => number;
  /**
   * 'connection' (session index), 'command' (command, session index) for each
   * message received, 'close' (session index): what tests wait on.
   */
  readonly events: EventEmitter;
  /** Connections open right now. */
  readonly open: () => number;
  /** Closes every accepted connection, keeps listening. */
  dropConnections(): void;
  /** Sends `times` addr (or addrv2, as negotiated) messages carrying `addrs` on every open connection. */
  floodAddrs(addrs: readonly string[], times: number): void;
  /** Sends `msg` on every open connection. */
  broadcast(msg: Message): void;
  close(): Promise<void>;
}

function entry(text: string): AddrEntry {
  const address = parseAddress(text);
  return { time: Math.floor(Date.now() / 1000) - 3600, services: 1033n, address, networkId: 0 };
}

export async function startLoopbackPeer(opts: LoopbackPeerOptions): Promise<LoopbackPeer> {
  const net = opts.network ?? NETWORKS.regtest;
  const behaviour = opts.behaviour ?? 'normal';
  const sessions: string[][] = [];
  const pongs: bigint[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const addrSenders = new Set<(entries: AddrEntry[]) => void>();
  const senders = new Set<(m: Message) => void>();
  let accepted = 0;
  let selfAddress = '';
  const events = new EventEmitter();

  const server: Server = createServer((sock) => {
    accepted++;
    const index = sessions.length;
    sockets.add(sock);
    sock.on('close', () => {
      sockets.delete(sock);
      events.emit('close', index);
    });
    sock.on('error', () => undefined);
    const log: string[] = [];
    sessions.push(log);
    events.emit('connection', index);
    const send = (m: Message): void => {
      if (!sock.destroyed) sock.write(encodeMessage(net, m));
    };
    if (behaviour === 'garbage') {
      sock.write(Buffer.alloc(24, 0xab));
      return;
    }
    let wantsV2 = false;
    const sendAddrs = (entries: AddrEntry[]): void => send({ command: wantsV2 ? 'addrv2' : 'addr', entries });
    addrSenders.add(sendAddrs);
    senders.add(send);
    sock.on('close', () => {
      addrSenders.delete(sendAddrs);
      senders.delete(send);
    });
    const decoder = new MessageDecoder(net, {
      onMessage(msg: Message): void {
        log.push(msg.command === 'unknown' ? msg.name : msg.command);
        events.emit('command', log[log.length - 1], index);
        if (behaviour === 'silent') return;
        if (msg.command === 'version') {
          if (behaviour === 'close-after-version') return void sock.destroy();
          const version = behaviour === 'old' ? 31000 : (opts.version ?? 70016);
          send({
            command: 'version',
            payload: makeVersion({
              version,
              services: opts.services ?? 1033n,
              userAgent: opts.userAgent ?? '/Satoshi:27.0.0/',
              startHeight: opts.startHeight ?? 100,
              relay: opts.relay ?? true,
            }),
          });
          if (version >= 70016) {
            send({ command: 'wtxidrelay' });
            send({ command: 'sendaddrv2' });
          }
          send({ command: 'verack' });
        } else if (msg.command === 'sendaddrv2') {
          wantsV2 = true;
        } else if (msg.command === 'getaddr' && behaviour === 'normal') {
          const cmd = wantsV2 ? 'addrv2' : 'addr';
          send({ command: cmd, entries: [entry(selfAddress)] });
          const t = setTimeout(() => {
            timers.delete(t);
            if ((opts.addrs ?? []).length === 0) return;
            const answer: Message = { command: cmd, entries: (opts.addrs ?? []).map(entry) };
            if ((opts.answerPieces ?? 1) <= 1) return send(answer);
            const frame = encodeMessage(net, answer);
            const size = Math.ceil(frame.length / (opts.answerPieces ?? 1));
            const gate = opts.betweenPieces;
            if (gate !== undefined) {
              void (async () => {
                for (let at = 0; at < frame.length && !sock.destroyed; at += size) {
                  if (at > 0) await gate();
                  if (!sock.destroyed) sock.write(frame.subarray(at, at + size));
                }
              })();
              return;
            }
            for (let at = 0, k = 0; at < frame.length; at += size, k++) {
              const piece = frame.subarray(at, at + size);
              const w = setTimeout(() => {
                timers.delete(w);
                if (!sock.destroyed) sock.write(piece);
              }, k * 5);
              timers.add(w);
            }
          }, opts.answerDelayMs ?? 20);
          timers.add(t);
        } else if (msg.command === 'ping') {
          send({ command: 'pong', nonce: msg.nonce });
        } else if (msg.command === 'pong') {
          pongs.push(msg.nonce);
        }
      },
      onMessageError(): void {},
    });
    sock.on('data', (c) => decoder.push(c));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  selfAddress = opts.host.includes(':') ? `[${opts.host}]:${port}` : `${opts.host}:${port}`;
  return {
    host: opts.host,
    port,
    address: selfAddress,
    sessions,
    pongs,
    accepted: () => accepted,
    events,
    open: () => sockets.size,
    dropConnections: () => {
      for (const s of sockets) s.destroy();
    },
    floodAddrs: (addrs, times) => {
      const entries = addrs.map(entry);
      for (const send of addrSenders) for (let i = 0; i < times; i++) send(entries);
    },
    broadcast: (msg) => {
      for (const send of senders) send(msg);
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
