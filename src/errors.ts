/**
 * Typed errors shared by every module.
 *
 * Every failure bitspread reports carries a stable `code` a caller can switch
 * on. A structured clone (postMessage, Piscina results) drops subclass
 * identity and custom fields, so errors cross thread boundaries as
 * {@link PlainError} data (`toPlain()`), and the side that receives them
 * keeps them as data or wraps them in a new error with the data as `cause`.
 *
 * Every class is branded: its instances carry a registered symbol per class
 * of their chain (`Symbol.for('bitspread.error.WireError')`…), and
 * `instanceof` checks that symbol. So `instanceof WireError` holds for a
 * WireError from another copy of this module (src/ under vitest, dist/ in a
 * worker, two installed versions).
 */

/** Codes raised by the wire codec (framing, payloads, address text). */
export type WireErrorCode =
  | 'ERR_BAD_MAGIC' // frame: wrong network magic; the stream cannot resync (Core disconnects)
  | 'ERR_MESSAGE_TOO_LARGE' // frame: declared length over the limit; Core disconnects
  | 'ERR_BAD_CHECKSUM' // frame: checksum mismatch; message dropped, stream intact
  | 'ERR_BAD_COMMAND' // frame: command bytes not printable ASCII / not NUL padded; message dropped
  | 'ERR_TRUNCATED' // payload ends before a field
  | 'ERR_TRAILING_BYTES' // payload has bytes after the last field
  | 'ERR_NONCANONICAL_COMPACTSIZE'
  | 'ERR_COMPACTSIZE_TOO_LARGE' // above MAX_SIZE (0x02000000)
  | 'ERR_ADDR_TOO_MANY' // addr/addrv2 with more than 1,000 entries
  | 'ERR_ADDRV2_TOO_LONG' // BIP155 address length over 512
  | 'ERR_ADDRV2_BAD_LENGTH' // known BIP155 network id with the wrong length
  | 'ERR_USER_AGENT_TOO_LONG' // version user agent over 256 bytes
  | 'ERR_BAD_PAYLOAD' // any other malformed payload (e.g. bool byte not 0/1)
  | 'ERR_BAD_ADDRESS_TEXT' // an address string that does not parse
  | 'ERR_UNENCODABLE' // a value that cannot be put on the wire (e.g. onion in v1 addr)
  | V2ErrorCode;

/**
 * Codes raised by the BIP324 v2 transport (src/wire/v2). Each ends the
 * connection, as in Core; an oversized length is ERR_MESSAGE_TOO_LARGE, a v1
 * peer of another network ERR_BAD_MAGIC, an undefined message type
 * ERR_BAD_COMMAND (that message dropped), as for v1.
 */
export type V2ErrorCode =
  | 'ERR_V2_GARBAGE_TOO_LONG' // no garbage terminator within 4,095 bytes of garbage
  | 'ERR_V2_NO_GARBAGE_TERMINATOR' // the stream ended inside the garbage, before any terminator
  | 'ERR_V2_BAD_TAG' // a packet failed authentication (ChaCha20-Poly1305 tag); nothing after it is read
  | 'ERR_V2_BAD_VERSION_PACKET'; // the first packet is an application message (a `version`), not the version packet

/** Codes for a peer connection's outcome (recorded in the snapshot as `error`). */
export type PeerErrorCode =
  | 'ERR_CONNECT_TIMEOUT'
  | 'ERR_CONNECTION_REFUSED'
  | 'ERR_CONNECTION_RESET'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_PEER_CLOSED' // the peer closed before the step we waited for
  | 'ERR_PROTOCOL' // the peer broke the protocol (wrong magic, oversized frame, garbage)
  | 'ERR_VERSION_TOO_OLD' // below MIN_PEER_PROTO_VERSION 31800
  | 'ERR_SOCKET' // any other socket error; `message` says which
  | 'ERR_RESOURCE' // EMFILE/ENFILE etc.: our problem, not the peer's
  | 'ERR_NOT_ALLOWED' // address outside the --only allow-list
  | 'ERR_MAX_PEERS' // peer cap reached
  | 'ERR_WORKER_CRASHED' // the worker thread holding the socket died
  | 'ERR_STOPPED' // the crawl or the supervisor was stopped
  | 'ERR_PING_TIMEOUT' // node mode: a keepalive ping went unanswered
  | 'ERR_SLOW_PEER' // the peer does not read what we send (our send buffer passed its limit)
  | 'ERR_POISONED'; // cluster crawl: every process that held this address died (maxDeliveries times)

/** Codes for the engine's own misuse (bad options, bad arguments). */
export type UsageErrorCode =
  | 'ERR_BAD_OPTION'
  | 'ERR_BAD_CIDR'
  | 'ERR_BAD_ARGUMENT'
  | 'ERR_NOT_RUNNING'; // crawler.connectToNode before start() or after the crawl ended

/**
 * Codes of the dynamic supervisor (OTP's DynamicSupervisor errors as codes).
 * Returned as data by startChild/terminateChild, carried by the `shutdown`
 * event, and used in an `error` exit reason for a child that failed without
 * a code of its own.
 */
export type SupervisorErrorCode =
  | 'ERR_MAX_CHILDREN' // startChild at maxChildren (OTP {error, max_children})
  | 'ERR_ALREADY_STARTED' // startChild with the id of a live child (OTP {error, {already_started, pid}})
  | 'ERR_SUPERVISOR_STOPPED' // startChild after stop() or after the supervisor shut itself down
  | 'ERR_NOT_FOUND' // terminateChild of an id the supervisor does not hold (OTP {error, not_found})
  | 'ERR_RESTART_INTENSITY' // more than maxRestarts restarts within maxSeconds: the supervisor shut down
  | 'ERR_CHILD_FAILED'; // a child threw / rejected with something that has no code, or resolved with no exit reason

/**
 * Codes for reaching peers beyond plain TCP: DNS seeds, seed lists, SOCKS5
 * proxies (Tor) and SAM bridges (I2P). A proxied dial that fails carries one
 * of these as its record's `error`.
 */
export type ReachErrorCode =
  | 'ERR_DNS_NO_SERVER' // no DNS server to ask
  | 'ERR_DNS_SERVER_NOT_ALLOWED' // the DNS server is outside the allow-list
  | 'ERR_DNS_NOT_FOUND' // NXDOMAIN
  | 'ERR_DNS_NO_DATA' // the name exists but has no A/AAAA record
  | 'ERR_DNS_TIMEOUT'
  | 'ERR_DNS_REFUSED' // the server answered REFUSED
  | 'ERR_DNS_SERVER_FAILURE' // SERVFAIL
  | 'ERR_DNS_BAD_RESPONSE' // a malformed or unparsable answer (FORMERR, EBADRESP)
  | 'ERR_DNS_CONNECTION_REFUSED' // nobody listens on the server's port
  | 'ERR_DNS_FAILED' // any other resolver error; `message` says which
  | 'ERR_BAD_SEED_LINE' // a fixed-seed list line that does not parse
  | 'ERR_ONION_CHECKSUM' // a .onion name whose v3 checksum or version is wrong (never dialled)
  | 'ERR_I2P_PORT' // an I2P address with a port other than 0: SAM 3.1 has no ports, Core refuses these too
  | 'ERR_NO_ROUTE' // no transport for this network (e.g. onion without --tor-proxy, CJDNS without --cjdns)
  | 'ERR_PROXY_UNREACHABLE' // the SOCKS5 proxy / SAM bridge refused or reset our connection
  | 'ERR_PROXY_TIMEOUT' // the proxy did not finish its handshake in time
  | 'ERR_PROXY_PROTOCOL' // the proxy spoke something that is not SOCKS5 / SAM
  | 'ERR_PROXY_AUTH_FAILED' // the SOCKS5 proxy refused our username/password
  | 'ERR_SOCKS_GENERAL_FAILURE' // SOCKS5 reply 0x01
  | 'ERR_SOCKS_NOT_ALLOWED' // 0x02 connection not allowed by ruleset
  | 'ERR_SOCKS_NETWORK_UNREACHABLE' // 0x03
  | 'ERR_SOCKS_HOST_UNREACHABLE' // 0x04
  | 'ERR_SOCKS_CONNECTION_REFUSED' // 0x05
  | 'ERR_SOCKS_TTL_EXPIRED' // 0x06 (Tor: also a timed-out connect)
  | 'ERR_SOCKS_COMMAND_NOT_SUPPORTED' // 0x07
  | 'ERR_SOCKS_ADDRESS_TYPE_NOT_SUPPORTED' // 0x08
  | 'ERR_SOCKS_UNKNOWN_REPLY' // any other reply code; `message` has it
  | 'ERR_TOR_ONION_DESCRIPTOR_NOT_FOUND' // Tor extended reply 0xF0
  | 'ERR_TOR_ONION_DESCRIPTOR_INVALID' // 0xF1
  | 'ERR_TOR_ONION_INTRO_FAILED' // 0xF2
  | 'ERR_TOR_ONION_REND_FAILED' // 0xF3
  | 'ERR_TOR_ONION_MISSING_CLIENT_AUTH' // 0xF4
  | 'ERR_TOR_ONION_WRONG_CLIENT_AUTH' // 0xF5
  | 'ERR_TOR_ONION_BAD_ADDRESS' // 0xF6
  | 'ERR_TOR_ONION_INTRO_TIMEOUT' // 0xF7
  | 'ERR_SAM_CANT_REACH_PEER' // SAM RESULT=CANT_REACH_PEER
  | 'ERR_SAM_DUPLICATED_DEST'
  | 'ERR_SAM_DUPLICATED_ID'
  | 'ERR_SAM_I2P_ERROR'
  | 'ERR_SAM_INVALID_KEY'
  | 'ERR_SAM_INVALID_ID'
  | 'ERR_SAM_TIMEOUT'
  | 'ERR_SAM_KEY_NOT_FOUND'
  | 'ERR_SAM_PEER_NOT_FOUND'
  | 'ERR_SAM_ALREADY_ACCEPTING'
  | 'ERR_SAM_NOVERSION'
  | 'ERR_SAM_LEASESET_NOT_FOUND'
  | 'ERR_SAM_UNKNOWN_RESULT'; // a RESULT= value not in the SAM v3 spec; `message` has it


/**
 * Codes for how a whole run ended when it did nothing useful or could not
 * keep its output (the CLI maps each to its own exit status, README).
 */
export type RunErrorCode =
  | 'ERR_WRITE' // the snapshot or standard output could not be written (ENOSPC, EPIPE, EIO…)
  | 'ERR_NOTHING_ALLOWED' // every address learned lies outside the allow-list: nothing was dialled
  | 'ERR_NONE_REACHABLE' // addresses were dialled, none completed the handshake
  | 'ERR_NO_SEEDS' // nothing to start from: the DNS seeds gave no address
  | 'ERR_EMPTY_INPUT'; // decode: the input holds no bytes

/** Codes for a multi-process crawl's coordination through Redis (`--redis`). */
export type ClusterErrorCode =
  | 'ERR_REDIS_UNAVAILABLE' // Redis could not be reached (or stayed unreachable longer than the timeout)
  | 'ERR_REDIS_STATE_LOST'; // Redis answers but the crawl's state is gone (restarted without persistence, flushed)

/** Codes for history data: the SQLite store and the files bitspread reads back (snapshots). */
export type DataErrorCode =
  | 'ERR_STORE_OPEN' // the store file cannot be opened or is not a bitspread store
  | 'ERR_STORE_VERSION' // the store was written by a newer bitspread (schema version above ours)
  | 'ERR_STORE_LOCKED' // another process is writing to the store (a second watch, or a crawl --store next to a watch)
  | 'ERR_STORE_WRITE' // a batch could not be written (disk full, read-only file…)
  | 'ERR_BAD_SNAPSHOT' // a snapshot file line is not a record
  | 'ERR_NO_SUCH_CRAWL' // a crawl named on the command line is not in the store
  | 'ERR_NO_SUCH_FILE'; // an input file named on the command line does not exist

export type ErrorCode = WireErrorCode | PeerErrorCode | UsageErrorCode | SupervisorErrorCode | ReachErrorCode | RunErrorCode | ClusterErrorCode | DataErrorCode;

/** The shape an error takes when it crosses a thread boundary. */
export interface PlainError {
  readonly code: ErrorCode;
  readonly message: string;
  /** The finer cause under a coarse code, e.g. ERR_BAD_MAGIC under ERR_PROTOCOL. */
  readonly detail?: ErrorCode;
}

/** The registered symbol that marks instances of the class `name`, the same in every copy of this module. */
function brandOf(name: string): symbol {
  return Symbol.for(`bitspread.error.${name}`);
}

export interface BitspreadErrorOptions {
  /** What caused this error, kept as the original object (ES2022 `cause`). */
  readonly cause?: unknown;
}

export class BitspreadError extends Error {
  /** The brand of this class; each subclass declares its own. */
  static readonly brand: symbol = brandOf('BitspreadError');
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: BitspreadErrorOptions) {
    super(message, options !== undefined && 'cause' in options ? { cause: options.cause } : undefined);
    this.name = 'BitspreadError';
    this.code = code;
    // Every branded class of the chain (a user's unbranded subclass is skipped, not its parents).
    for (let c: unknown = new.target; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c)) {
      if (Object.hasOwn(c, 'brand')) Object.defineProperty(this, (c as typeof BitspreadError).brand, { value: true });
    }
  }

  toPlain(): PlainError {
    return { code: this.code, message: this.message };
  }

  toJSON(): PlainError {
    return this.toPlain();
  }

  /**
   * A branded class checks the brand, so `instanceof` works across copies of
   * the module; a subclass without its own brand keeps the ordinary check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (!Object.hasOwn(this, 'brand')) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[(this as typeof BitspreadError).brand] === true;
  }
}

export class WireError extends BitspreadError {
  static override readonly brand: symbol = brandOf('WireError');
  declare readonly code: WireErrorCode;
  constructor(code: WireErrorCode, message: string, options?: BitspreadErrorOptions) {
    super(code, message, options);
    this.name = 'WireError';
  }
}

export class PeerError extends BitspreadError {
  static override readonly brand: symbol = brandOf('PeerError');
  declare readonly code: PeerErrorCode;
  constructor(code: PeerErrorCode, message: string, options?: BitspreadErrorOptions) {
    super(code, message, options);
    this.name = 'PeerError';
  }
}

export class UsageError extends BitspreadError {
  static override readonly brand: symbol = brandOf('UsageError');
  declare readonly code: UsageErrorCode;
  constructor(code: UsageErrorCode, message: string, options?: BitspreadErrorOptions) {
    super(code, message, options);
    this.name = 'UsageError';
  }
}

export class DataError extends BitspreadError {
  static override readonly brand: symbol = brandOf('DataError');
  declare readonly code: DataErrorCode;
  constructor(code: DataErrorCode, message: string, options?: BitspreadErrorOptions) {
    super(code, message, options);
    this.name = 'DataError';
  }
}

export class SupervisorError extends BitspreadError {
  static override readonly brand: symbol = brandOf('SupervisorError');
  declare readonly code: SupervisorErrorCode;
  constructor(code: SupervisorErrorCode, message: string, options?: BitspreadErrorOptions) {
    super(code, message, options);
    this.name = 'SupervisorError';
  }
}

/**
 * A run that ended without a useful result, or lost its output. `summary`
 * (when the run got that far) is what it did until then, e.g. the crawl's
 * CrawlSummary when the snapshot became unwritable.
 */
export class RunError extends BitspreadError {
  static override readonly brand: symbol = brandOf('RunError');
  declare readonly code: RunErrorCode;
  readonly summary: unknown;
  constructor(code: RunErrorCode, message: string, summary?: unknown, options?: BitspreadErrorOptions) {
    super(code, message, options);
    this.name = 'RunError';
    this.summary = summary;
  }
}

export class ClusterError extends BitspreadError {
  static override readonly brand: symbol = brandOf('ClusterError');
  declare readonly code: ClusterErrorCode;
  constructor(code: ClusterErrorCode, message: string, options?: BitspreadErrorOptions) {
    super(code, message, options);
    this.name = 'ClusterError';
  }
}

export function isBitspreadError(value: unknown): value is BitspreadError {
  return value instanceof BitspreadError;
}

/** A failure reaching a peer or a seed through DNS, a proxy or a SAM bridge. */
export class ReachError extends BitspreadError {
  declare readonly code: ReachErrorCode;
  constructor(code: ReachErrorCode, message: string) {
    super(code, message);
    this.name = 'ReachError';
  }
}

