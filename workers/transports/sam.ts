/**
 * Our SAM v3.1 client (I2P's bridge protocol: https://geti2p.net/en/docs/api/samv3),
 * as Bitcoin Core's src/i2p.cpp uses it:
 * - one STREAM session per worker with a TRANSIENT destination
 *   (`SESSION CREATE STYLE=STREAM ID=<random> DESTINATION=TRANSIENT`), alive
 *   as long as its control socket;
 * - per peer a new socket: `HELLO`, `NAMING LOOKUP NAME=<52>.b32.i2p`, then
 *   `STREAM CONNECT ID=<session> DESTINATION=<dest> SILENT=false`; after
 *   `RESULT=OK` the socket carries the peer's bytes;
 * - I2P has no ports in SAM 3.1: Core dials only I2P addresses with port 0
 *   (I2P_SAM31_PORT) and refuses any other port; so do we (ERR_I2P_PORT);
 * - every RESULT= value maps to a typed ERR_SAM_* code; INVALID_ID (the
 *   bridge forgot our session) drops the session so the next dial makes a new one.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { ReachError, type ReachErrorCode } from '../../src/errors.js';
import type { AllowList } from '../../src/shared/allow-list.js';
import type { ProxyEndpoint } from '../../src/shared/proxy-endpoint.js';

/** SAM RESULT= values (every one the v3 spec names) → our codes. */
export const SAM_RESULT_CODES: Readonly<Record<string, ReachErrorCode>> = {
  CANT_REACH_PEER: 'ERR_SAM_CANT_REACH_PEER',
  DUPLICATED_DEST: 'ERR_SAM_DUPLICATED_DEST',
  DUPLICATED_ID: 'ERR_SAM_DUPLICATED_ID',
  I2P_ERROR: 'ERR_SAM_I2P_ERROR',
  INVALID_KEY: 'ERR_SAM_INVALID_KEY',
  INVALID_ID: 'ERR_SAM_INVALID_ID',
  TIMEOUT: 'ERR_SAM_TIMEOUT',
  KEY_NOT_FOUND: 'ERR_SAM_KEY_NOT_FOUND',
  PEER_NOT_FOUND: 'ERR_SAM_PEER_NOT_FOUND',
  ALREADY_ACCEPTING: 'ERR_SAM_ALREADY_ACCEPTING',
  NOVERSION: 'ERR_SAM_NOVERSION',
  LEASESET_NOT_FOUND: 'ERR_SAM_LEASESET_NOT_FOUND',
};

/** Core's I2P_SAM31_PORT. */
export const I2P_SAM31_PORT = 0;
/** A SAM reply line longer than this is not SAM (a destination is ~520 characters, a private key ~900). */
const MAX_LINE = 16 * 1024;

export interface SamReply {
  /** The first two words, e.g. `STREAM STATUS`. */
  readonly topic: string;
  readonly fields: Readonly<Record<string, string>>;
}

/** Parses `HELLO REPLY RESULT=OK VERSION=3.1` (values may be double-quoted). */
export function parseSamReply(line: string): SamReply | null {
  const m = /^([A-Z]+) ([A-Z]+)(.*)$/.exec(line.trim());
  if (m === null) return null;
  const fields: Record<string, string> = {};
  const re = /\s+([A-Za-z0-9_.]+)(?:=(?:"((?:[^"\\]|\\.)*)"|(\S*)))?/g;
  const rest = m[3] as string;
  let pos = 0;
  for (let f = re.exec(rest); f !== null; f = re.exec(rest)) {
    if (f.index !== pos) return null;
    pos = re.lastIndex;
    fields[f[1] as string] = f[2] !== undefined ? f[2].replace(/\\(.)/g, '$1') : (f[3] ?? '');
  }
  if (pos !== rest.length) return null;
  return { topic: `${m[1]} ${m[2]}`, fields };
}

function samError(result: string, what: string, bridge: ProxyEndpoint, message?: string): ReachError {
  const code = SAM_RESULT_CODES[result] ?? 'ERR_SAM_UNKNOWN_RESULT';
  return new ReachError(code, `SAM ${bridge.text}: ${what} failed with RESULT=${result}${message ? ` (${message})` : ''}`);
}

/**
 * One SAM socket in command mode: writes a line, reads one reply line.
 * Bytes after the last reply stay in the socket (unshifted) for whoever
 * reads it next.
 */
class SamChannel {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: { topic: string; resolve: (r: SamReply) => void; reject: (e: ReachError) => void } | null = null;
  private failure: ReachError | null = null;
  private readonly onData = (chunk: Buffer): void => this.data(chunk);

  constructor(
    readonly socket: Socket,
    private readonly bridge: ProxyEndpoint,
  ) {
    socket.on('data', this.onData);
    socket.on('error', (err: NodeJS.ErrnoException) => this.fail(new ReachError('ERR_PROXY_UNREACHABLE', `SAM ${bridge.text}: ${err.code ?? err.message}`)));
    socket.on('close', () => this.fail(new ReachError('ERR_PROXY_UNREACHABLE', `SAM ${bridge.text} closed the connection`)));
  }

  request(line: string, topic: string): Promise<SamReply> {
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { topic, resolve, reject };
      this.socket.write(`${line}\n`);
    });
  }

  /** Stops reading in command mode: the socket now carries the stream; leftover bytes are put back. */
  release(): Socket {
    this.socket.off('data', this.onData);
    this.socket.removeAllListeners('error');
    this.socket.removeAllListeners('close');
    this.socket.pause();
    if (this.buf.length > 0) this.socket.unshift(this.buf);
    this.buf = Buffer.alloc(0);
    return this.socket;
  }

  fail(err: ReachError): void {
    if (this.failure === null) this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  private data(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const nl = this.buf.indexOf(0x0a);
    if (nl < 0) {
      if (this.buf.length > MAX_LINE) this.protocolError(`a reply line over ${MAX_LINE} bytes`);
      return;
    }
    const line = this.buf.subarray(0, nl).toString('latin1');
    this.buf = this.buf.subarray(nl + 1);
    const w = this.waiter;
    if (w === null) return this.protocolError(`an unrequested line '${line.slice(0, 80)}'`);
    const reply = parseSamReply(line);
    if (reply === null || reply.topic !== w.topic) return this.protocolError(`'${line.slice(0, 80)}' where ${w.topic} was expected`);
    this.waiter = null;
    // The stream's first bytes may have come with the reply: keep them for release().
    if (this.buf.length > 0) this.socket.pause();
    w.resolve(reply);
  }

  private protocolError(what: string): void {
    this.fail(new ReachError('ERR_PROXY_PROTOCOL', `SAM ${this.bridge.text} sent ${what}: not a SAM v3 bridge`));
    this.socket.destroy();
  }
}

function openChannel(bridge: ProxyEndpoint, allow: AllowList | null): Promise<SamChannel> {
  if (allow !== null && !allow.allowsHost(bridge.host)) {
    return Promise.reject(new ReachError('ERR_PROXY_UNREACHABLE', `SAM bridge ${bridge.text} is outside the allow-list (${allow.toString()})`));
  }
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: bridge.host, port: bridge.port });
    socket.setNoDelay(true);
    const onError = (err: NodeJS.ErrnoException): void => reject(new ReachError('ERR_PROXY_UNREACHABLE', `SAM ${bridge.text}: ${err.code ?? err.message}`));
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(new SamChannel(socket, bridge));
    });
  });
}

async function hello(ch: SamChannel, bridge: ProxyEndpoint): Promise<void> {
  const r = await ch.request('HELLO VERSION MIN=3.1 MAX=3.1', 'HELLO REPLY');
  if (r.fields.RESULT !== 'OK') throw samError(r.fields.RESULT ?? '', 'HELLO', bridge, r.fields.MESSAGE);
}

/** Rejects with ERR_PROXY_TIMEOUT after `ms`, destroying `sockets` still pending. */
function withDeadline<T>(p: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      onTimeout();
      reject(new ReachError('ERR_PROXY_TIMEOUT', `${what}: no answer within ${ms} ms`));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

export interface SamSessionOptions {
  readonly bridge: ProxyEndpoint;
  /** null = --allow-any. The bridge's address must be inside it. */
  readonly allow: AllowList | null;
  /** HELLO + SESSION CREATE (building a transient destination takes a real router seconds). */
  readonly timeoutMs: number;
}

/** One worker's STREAM session on a SAM bridge. */
export class SamSession {
  private closed = false;

  private constructor(
    readonly id: string,
    readonly bridge: ProxyEndpoint,
    private readonly allow: AllowList | null,
    private readonly control: SamChannel,
  ) {
    control.socket.on('close', () => {
      this.closed = true;
    });
  }

  /** HELLO, then SESSION CREATE with a TRANSIENT destination. Rejects with ReachError. */
  static async create(opts: SamSessionOptions): Promise<SamSession> {
    const id = `bitspread_${randomBytes(5).toString('hex')}`;
    const ch = await withDeadline(openChannel(opts.bridge, opts.allow), opts.timeoutMs, `SAM ${opts.bridge.text}`, () => {});
    try {
      await withDeadline(
        (async () => {
          await hello(ch, opts.bridge);
          const r = await ch.request(`SESSION CREATE STYLE=STREAM ID=${id} DESTINATION=TRANSIENT SIGNATURE_TYPE=7 i2cp.leaseSetEncType=4,0`, 'SESSION STATUS');
          if (r.fields.RESULT !== 'OK') throw samError(r.fields.RESULT ?? '', 'SESSION CREATE', opts.bridge, r.fields.MESSAGE);
        })(),
        opts.timeoutMs,
        `SAM ${opts.bridge.text} SESSION CREATE`,
        () => ch.socket.destroy(),
      );
    } catch (err) {
      ch.socket.destroy();
      throw err;
    }
    ch.socket.on('error', () => {});
    return new SamSession(id, opts.bridge, opts.allow, ch);
  }

  /** False once the bridge closed the session's control socket (or close() ran): make a new one. */
  get usable(): boolean {
    return !this.closed;
  }

  /**
   * Opens a stream to `<52>.b32.i2p` (port must be 0). Resolves with the
   * socket in stream mode (paused; any early peer bytes unshifted).
   * Rejects with ReachError: ERR_SAM_* for a RESULT, ERR_PROXY_* for the bridge.
   */
  async connect(host: string, port: number, timeoutMs: number): Promise<Socket> {
    if (port !== I2P_SAM31_PORT) {
      throw new ReachError('ERR_I2P_PORT', `${host}:${port}: SAM 3.1 has no ports, so Core dials I2P peers only on port ${I2P_SAM31_PORT}`);
    }
    if (!/^[a-z2-7]{52}\.b32\.i2p$/.test(host)) throw new ReachError('ERR_SAM_INVALID_KEY', `${host} is not a .b32.i2p name`);
    if (this.closed) throw new ReachError('ERR_SAM_INVALID_ID', `SAM ${this.bridge.text}: session ${this.id} is closed`);
    let ch: SamChannel | null = null;
    const work = (async (): Promise<Socket> => {
      ch = await openChannel(this.bridge, this.allow);
      await hello(ch, this.bridge);
      const name = await ch.request(`NAMING LOOKUP NAME=${host}`, 'NAMING REPLY');
      if (name.fields.RESULT !== 'OK') throw samError(name.fields.RESULT ?? '', `NAMING LOOKUP ${host}`, this.bridge, name.fields.MESSAGE);
      const dest = name.fields.VALUE ?? '';
      if (dest === '') throw new ReachError('ERR_PROXY_PROTOCOL', `SAM ${this.bridge.text}: NAMING REPLY without VALUE`);
      const r = await ch.request(`STREAM CONNECT ID=${this.id} DESTINATION=${dest} SILENT=false`, 'STREAM STATUS');
      if (r.fields.RESULT !== 'OK') {
        if (r.fields.RESULT === 'INVALID_ID') this.close();
        throw samError(r.fields.RESULT ?? '', `STREAM CONNECT ${host}`, this.bridge, r.fields.MESSAGE);
      }
      return ch.release();
    })();
    try {
      return await withDeadline(work, timeoutMs, `SAM ${this.bridge.text} STREAM CONNECT ${host}`, () => (ch as SamChannel | null)?.socket.destroy());
    } catch (err) {
      (ch as SamChannel | null)?.socket.destroy();
      throw err;
    }
  }

  close(): void {
    this.closed = true;
    this.control.socket.destroy();
  }
}
