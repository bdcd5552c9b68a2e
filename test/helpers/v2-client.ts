/**
 * A raw BIP324 v2 client for the simulator tests: node:net plus our v2
 * transport as initiator, recording every message, error and the close, so a
 * test can check exactly what a simulated v2 node did.
 */
import { connect, type Socket } from 'node:net';
import type { WireError } from '../../src/errors.js';
import { makeVersion, NETWORKS, type Message, type NetworkParams } from '../../src/wire/index.js';
import { V2Transport, type V2TransportOptions } from '../../src/wire/v2/index.js';

export class V2Client {
  readonly messages: Message[] = [];
  readonly errors: Array<{ code: string; fatal: boolean }> = [];
  /** ERR_V2_NO_GARBAGE_TERMINATOR and the like, from the transport when the stream ended. */
  endError: string | null = null;
  ready = false;
  versionPacket = false;
  closed = false;
  readonly t: V2Transport;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly socket: Socket,
    net: NetworkParams,
    options: V2TransportOptions,
  ) {
    this.t = new V2Transport(net, 'initiator', {
      send: (data) => socket.write(data),
      onReady: () => {
        this.ready = true;
        this.wake();
      },
      onVersionPacket: () => {
        this.versionPacket = true;
        this.wake();
      },
      onMessage: (msg) => {
        this.messages.push(msg);
        this.wake();
      },
      onMessageError: (err: WireError, _command, fatal) => {
        this.errors.push({ code: err.code, fatal });
        this.wake();
      },
    }, options);
    socket.on('data', (chunk: Buffer) => this.t.push(chunk));
    socket.on('end', () => {
      this.endError = this.t.end()?.code ?? null;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to "127.x.y.z:port" and sends our key and garbage. */
  static open(addr: string, net: NetworkParams = NETWORKS.regtest, options: V2TransportOptions = {}): Promise<V2Client> {
    const i = addr.lastIndexOf(':');
    const host = addr.slice(0, i);
    if (!host.startsWith('127.')) throw new Error(`refusing to dial non-loopback ${addr}`);
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port: Number(addr.slice(i + 1)) });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        const c = new V2Client(socket, net, options);
        c.t.start();
        resolve(c);
      });
    });
  }

  send(msg: Message): void {
    this.socket.write(this.t.sendMessage(msg));
  }

  sendVersion(): void {
    this.send({ command: 'version', payload: makeVersion({ version: 70016 }) });
  }

  commands(): string[] {
    return this.messages.map((m) => (m.command === 'unknown' ? m.name : m.command));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves true once `cond` holds (checked after every event), false after `ms`. */
  waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(cond()), ms);
      const check = (): void => {
        if (cond()) {
          clearTimeout(timer);
          resolve(true);
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
