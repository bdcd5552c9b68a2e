/**
 * Dialling through a SOCKS5 proxy (Tor's SocksPort, or any SOCKS5 server for
 * IPv4/IPv6 with --proxy), with the `socks` package doing the protocol.
 *
 * - The TCP connection to the proxy is ours (net.connect), so the proxy's
 *   own address goes through the allow-list like every other socket; `socks`
 *   then runs the handshake on it (`existing_socket`).
 * - Stream isolation: every connection authenticates with a fresh random
 *   username/password, which Tor's IsolateSOCKSAuth (on by default) turns
 *   into a separate circuit, as Core's -proxyrandomize does.
 * - Typed errors for every reply: the standard 0x01-0x08 and Tor's extended
 *   onion-service replies 0xF0-0xF7 (rend-spec / proposal 304, given with
 *   `ExtendedErrors` on the SocksPort). `socks` reports only the replies it
 *   knows by name, so the reply byte is read off the wire while `socks`
 *   negotiates (the tap in socks5Connect).
 * - A .onion name is checked (v3, checksum) before anything is sent.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { SocksClient } from 'socks';
import { ReachError, type ReachErrorCode, type WireError } from '../../src/errors.js';
import { parseAddress } from '../../src/wire/index.js';
import type { AllowList } from '../../src/shared/allow-list.js';
import type { ProxyEndpoint } from '../../src/shared/proxy-endpoint.js';

/** SOCKS5 reply byte → our code (RFC 1928 §6, Tor's extended errors). */
export const SOCKS5_REPLY_CODES: Readonly<Record<number, ReachErrorCode>> = {
  0x01: 'ERR_SOCKS_GENERAL_FAILURE',
  0x02: 'ERR_SOCKS_NOT_ALLOWED',
  0x03: 'ERR_SOCKS_NETWORK_UNREACHABLE',
  0x04: 'ERR_SOCKS_HOST_UNREACHABLE',
  0x05: 'ERR_SOCKS_CONNECTION_REFUSED',
  0x06: 'ERR_SOCKS_TTL_EXPIRED',
  0x07: 'ERR_SOCKS_COMMAND_NOT_SUPPORTED',
  0x08: 'ERR_SOCKS_ADDRESS_TYPE_NOT_SUPPORTED',
  0xf0: 'ERR_TOR_ONION_DESCRIPTOR_NOT_FOUND',
  0xf1: 'ERR_TOR_ONION_DESCRIPTOR_INVALID',
  0xf2: 'ERR_TOR_ONION_INTRO_FAILED',
  0xf3: 'ERR_TOR_ONION_REND_FAILED',
  0xf4: 'ERR_TOR_ONION_MISSING_CLIENT_AUTH',
  0xf5: 'ERR_TOR_ONION_WRONG_CLIENT_AUTH',
  0xf6: 'ERR_TOR_ONION_BAD_ADDRESS',
  0xf7: 'ERR_TOR_ONION_INTRO_TIMEOUT',
};

const REPLY_TEXT: Readonly<Record<number, string>> = {
  0x01: 'general SOCKS server failure',
  0x02: 'connection not allowed by ruleset',
  0x03: 'network unreachable',
  0x04: 'host unreachable',
  0x05: 'connection refused',
  0x06: 'TTL expired',
  0x07: 'command not supported',
  0x08: 'address type not supported',
  0xf0: 'onion service descriptor can not be found',
  0xf1: 'onion service descriptor is invalid',
  0xf2: 'onion service introduction failed',
  0xf3: 'onion service rendezvous failed',
  0xf4: 'onion service missing client authorization',
  0xf5: 'onion service wrong client authorization',
  0xf6: 'onion service invalid address',
  0xf7: 'onion service introduction timed out',
};

export interface Socks5DialOptions {
  readonly proxy: ProxyEndpoint;
  /** Destination host: an IP literal, or a .onion name the proxy resolves. */
  readonly host: string;
  readonly port: number;
  /** The whole dial: TCP to the proxy, handshake and the proxy's connect. */
  readonly timeoutMs: number;
  /** null = --allow-any. The proxy's address must be inside it. */
  readonly allow: AllowList | null;
  /** Random credentials per connection (Tor's IsolateSOCKSAuth). Default true. */
  readonly isolate?: boolean;
}

function fail(code: ReachErrorCode, message: string): ReachError {
  return new ReachError(code, message);
}

/** Checks a .onion destination before it is sent anywhere: v3, 56 characters, checksum. */
export function checkOnionName(host: string, port: number): void {
  if (!host.toLowerCase().endsWith('.onion')) return;
  try {
    parseAddress(`${host}:${port}`);
  } catch (err) {
    throw fail('ERR_ONION_CHECKSUM', `${host}: ${(err as WireError).message}`);
  }
}

/** Random printable credentials: Tor keys isolation on the exact bytes. */
function randomCredential(): string {
  return randomBytes(12).toString('hex');
}

/**
 * Opens a connection to `host:port` through the proxy. Resolves with a
 * socket ready for the peer's bytes (any the proxy already forwarded are
 * re-emitted as 'data' on the next turn: attach the reader synchronously).
 * Rejects with ReachError (the proxy's reply, ERR_PROXY_*), or with a
 * UsageError-free ERR_NOT_ALLOWED-like ReachError when the proxy is outside
 * the allow-list.
 */
export function socks5Connect(opts: Socks5DialOptions): Promise<Socket> {
  const { proxy } = opts;
  try {
    checkOnionName(opts.host, opts.port);
  } catch (err) {
    return Promise.reject(err);
  }
  if (opts.allow !== null && !opts.allow.allowsHost(proxy.host)) {
    return Promise.reject(fail('ERR_PROXY_UNREACHABLE', `proxy ${proxy.text} is outside the allow-list (${opts.allow.toString()})`));
  }
  const isolate = opts.isolate !== false;
  return new Promise<Socket>((resolve, reject) => {
    let settled = false;
    const received: number[] = [];
    const socket = netConnect({ host: proxy.host, port: proxy.port });
    const timer = setTimeout(() => finish(fail('ERR_PROXY_TIMEOUT', `no connection through ${proxy.text} within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const tap = (chunk: Buffer): void => {
      for (let i = 0; i < chunk.length && received.length < 8; i++) received.push(chunk[i] as number);
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      finish(fail('ERR_PROXY_UNREACHABLE', `proxy ${proxy.text}: ${err.code ?? err.message}`));
    };
    function finish(err: ReachError | null): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', tap);
      socket.off('error', onError);
      if (err === null) return resolve(socket);
      socket.on('error', () => {});
      socket.destroy();
      reject(err);
    }
    socket.on('error', onError);
    socket.once('connect', () => {
      socket.on('data', tap);
      SocksClient.createConnection({
        proxy: { host: proxy.host, port: proxy.port, type: 5, ...(isolate ? { userId: randomCredential(), password: randomCredential() } : {}) },
        command: 'connect',
        destination: { host: opts.host, port: opts.port },
        existing_socket: socket,
        timeout: opts.timeoutMs,
      }).then(
        () => finish(null),
        (err: Error) => finish(classify(err, received, proxy, isolate)),
      );
    });
  });
}

/**
 * What went wrong, from the bytes the proxy sent: its method choice (2
 * bytes), the auth result when it chose username/password (2 bytes), then
 * the connect reply `05 REP …`.
 */
export function classify(err: Error, received: readonly number[], proxy: ProxyEndpoint, isolate: boolean): ReachError {
  const replyAt = received[1] === 0x02 ? 5 : 3;
  if (received.length >= 2 && received[0] !== 0x05) return fail('ERR_PROXY_PROTOCOL', `${proxy.text} is not a SOCKS5 proxy (first byte 0x${(received[0] ?? 0).toString(16)})`);
  if (received[1] === 0xff) return fail('ERR_PROXY_AUTH_FAILED', `${proxy.text} accepts none of our authentication methods${isolate ? ' (stream isolation sends a username/password)' : ''}`);
  if (received[1] === 0x02 && received.length >= 4 && received[3] !== 0x00) return fail('ERR_PROXY_AUTH_FAILED', `${proxy.text} refused our username/password`);
  const rep = received.length > replyAt ? (received[replyAt] as number) : -1;
  if (rep > 0) {
    const code = SOCKS5_REPLY_CODES[rep];
    const what = REPLY_TEXT[rep] ?? `unknown reply 0x${rep.toString(16)}`;
    return fail(code ?? 'ERR_SOCKS_UNKNOWN_REPLY', `${proxy.text}: ${what} (reply 0x${rep.toString(16).padStart(2, '0')})`);
  }
  if (/timed out/i.test(err.message)) return fail('ERR_PROXY_TIMEOUT', `${proxy.text}: ${err.message}`);
  if (/closed/i.test(err.message)) return fail('ERR_PROXY_UNREACHABLE', `${proxy.text} closed the connection during the SOCKS5 handshake`);
  return fail('ERR_PROXY_PROTOCOL', `${proxy.text}: ${err.message}`);
}
