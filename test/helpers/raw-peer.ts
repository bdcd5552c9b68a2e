/**
 * A raw protocol client for the simulator tests: node:net plus our codec,
 * recording every message, decode error and raw chunk it receives so a
 * test can check exactly what a simulated node did.
 */
import { connect, type Socket } from 'node:net';
import { encodeMessage, frameMessage, makeVersion, MessageDecoder, NETWORKS, type Message, type NetworkParams } from '../../src/wire/index.js';
import type { WireError } from '../../src/errors.js';

export interface Received {
  msg: Message;
  at: number;
}

export class RawPeer {
  readonly messages: Received[] = [];
  readonly errors: Array<{ code: string; command: string | null; fatal: boolean }> = [];
  readonly chunks: Buffer[] = [];
  ended = false;
  closed = false;
  private readonly decoder: MessageDecoder;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly socket: Socket,
    readonly net: NetworkParams,
    readonly startedAt: number,
  ) {
    this.decoder = new MessageDecoder(net, {
      onMessage: (msg) => {
        this.messages.push({ msg, at: Date.now() });
        this.wake();
      },
      onMessageError: (err: WireError, command, fatal) => {
        this.errors.push({ code: err.code, command, fatal });
        this.wake();
      },
    });
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.decoder.push(chunk);
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Takes over a socket already connected to a peer (e.g. through a SOCKS5 proxy or a SAM bridge). */
  static adopt(socket: Socket, network: NetworkParams = NETWORKS.regtest): RawPeer {
    const peer = new RawPeer(socket, network, Date.now());
    socket.resume();
    return peer;
  }

  /** Connects to "ip:port"; rejects with the socket error (e.g. ECONNREFUSED). */
  static open(addr: string, network: NetworkParams = NETWORKS.regtest): Promise<RawPeer> {
    const i = addr.lastIndexOf(':');
    const host = addr.slice(0, i);
    if (!host.startsWith('127.')) throw new Error(`refusing to dial non-loopback ${addr}`);
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port: Number(addr.slice(i + 1)) });
      const started = Date.now();
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new RawPeer(socket, network, started));
      });
    });
  }

  send(msg: Message): void {
    this.socket.write(encodeMessage(this.net, msg));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  sendVersion(version = 70016): void {
    this.send({ command: 'version', payload: makeVersion({ version, userAgent: '/bitspread-test:0.1/', startHeight: 0 }) });
  }

  frame(command: string, payload: Uint8Array): Buffer {
    return frameMessage(this.net, command, payload);
  }

  commands(): string[] {
    return this.messages.map((r) => (r.msg.command === 'unknown' ? r.msg.name : r.msg.command));
  }

  find<C extends Message['command']>(command: C): Array<Extract<Message, { command: C }>> {
    return this.messages.map((r) => r.msg).filter((m): m is Extract<Message, { command: C }> => m.command === command);
  }

  /** Resolves true once `cond()` holds (re-checked on each socket event), false after `ms`. */
  async waitFor(cond: () => boolean, ms = 15_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return true;
  }

  /** Sends version, waits for the node's verack, optionally sends sendaddrv2, then verack. */
  async handshake(opts: { addrv2?: boolean; version?: number } = {}): Promise<void> {
    this.sendVersion(opts.version ?? 70016);
    if (!(await this.waitFor(() => this.find('verack').length > 0))) throw new Error('no verack');
    if (opts.addrv2 ?? true) this.send({ command: 'sendaddrv2' });
    this.send({ command: 'verack' });
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
