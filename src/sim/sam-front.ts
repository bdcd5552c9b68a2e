/**
 * The simulated network's SAM v3 front: an I2P router's SAM bridge stand-in
 * on loopback. It speaks the command side of SAM v3.1 (HELLO, SESSION CREATE
 * STYLE=STREAM, NAMING LOOKUP, STREAM CONNECT), maps the sim's `.b32.i2p`
 * names to the hidden 127.x address of the node behind them, and relays.
 * Every RESULT= value can be produced: by the protocol itself (NOVERSION,
 * DUPLICATED_ID, INVALID_ID, INVALID_KEY, KEY_NOT_FOUND, CANT_REACH_PEER) or
 * on demand per name / per step (`failures`).
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { BoundedLog, FRONT_LOG_LIMIT, closeFront, listenFront, relay } from './relay.js';
import { randomBytes } from 'node:crypto';
import type { OverlayResolver } from './socks5-front.js';

export interface SamFrontOptions {
  readonly host?: string;
  readonly port?: number;
  /** Delay before STREAM CONNECT answers (tunnel building), fixed ms or [min, max]. Default [5, 40]. */
  readonly connectDelayMs?: number | readonly [number, number];
  /** RESULT to answer instead of OK, per step (`hello`, `session`) or per `.b32.i2p` name at STREAM CONNECT. */
  readonly failures?: { readonly hello?: string; readonly session?: string; readonly names?: Readonly<Record<string, string>> };
  /** Command lines kept in stats() (the first N; all are counted). Default FRONT_LOG_LIMIT (10,000). */
  readonly logLimit?: number;
}

export interface SamFrontStats {
  readonly accepted: number;
  /** Command lines received, in order (the first logLimit). */
  readonly commands: string[];
  /** Every command line received, counted. */
  readonly commandCount: number;
  /** Sessions alive now. */
  readonly sessions: number;
  readonly open: number;
  readonly peak: number;
}

export interface SamFront {
  readonly address: string;
  readonly port: number;
  stats(): SamFrontStats;
  close(): Promise<void>;
}

/** I2P's base64 alphabet (- and ~ for + and /). */
function i2pBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/\+/g, '-').replace(/\//g, '~');
}

/** A stand-in destination for a node: the name's 32 bytes padded to a real destination's 387. */
function destinationOf(b32: string): string {
  const bytes = new Uint8Array(387);
  bytes.set(Buffer.from(b32.slice(0, 52), 'latin1').subarray(0, 52));
  return i2pBase64(bytes);
}

function parseLine(line: string): { words: string[]; fields: Record<string, string> } {
  const words: string[] = [];
  const fields: Record<string, string> = {};
  for (const part of line.trim().split(/\s+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) fields[part.slice(0, eq).toUpperCase()] = part.slice(eq + 1);
    else words.push(part.toUpperCase());
  }
  return { words, fields };
}

export async function startSamFront(sim: OverlayResolver, opts: SamFrontOptions = {}): Promise<SamFront> {
  const state = { accepted: 0, commands: new BoundedLog(opts.logLimit ?? FRONT_LOG_LIMIT), open: 0, peak: 0 };
  const sessions = new Map<string, Socket>();
  const byDest = new Map<string, string>(); // destination → b32 name
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const failures = opts.failures ?? {};
  const delay = opts.connectDelayMs ?? [5, 40];

  // allowHalfOpen: a client's FIN goes on to the node (pipe), and the client gets
  // the node's FIN only once the node has closed: a peer that waits for our FIN
  // before reusing its slot (as the crawler does) never overlaps the node's close.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    state.accepted++;
    sockets.add(client);
    client.on('error', () => client.destroy());
    let greeted = false;
    let sessionId: string | null = null;
    let buf = '';
    client.on('close', () => {
      sockets.delete(client);
      if (sessionId !== null && sessions.get(sessionId) === client) sessions.delete(sessionId);
    });
    const say = (line: string): void => void client.write(`${line}\n`);
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('latin1');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        state.commands.push(line);
        if (handle(line) === 'stream') return;
      }
    };
    client.on('data', onData);

    function handle(line: string): 'stream' | void {
      const { words, fields } = parseLine(line);
      const cmd = words.slice(0, 2).join(' ');
      if (!greeted && cmd !== 'HELLO VERSION') {
        say('HELLO REPLY RESULT=I2P_ERROR MESSAGE="Must start with HELLO VERSION"');
        return void client.end();
      }
      switch (cmd) {
        case 'HELLO VERSION': {
          const min = Number(fields.MIN ?? '3.0');
          const max = Number(fields.MAX ?? '3.3');
          const forced = failures.hello;
          if (forced !== undefined) return say(`HELLO REPLY RESULT=${forced}`);
          if (!(min <= 3.3 && max >= 3.0)) return say('HELLO REPLY RESULT=NOVERSION');
          greeted = true;
          return say(`HELLO REPLY RESULT=OK VERSION=${Math.min(max, 3.3).toFixed(1)}`);
        }
        case 'SESSION CREATE': {
          const id = fields.ID ?? '';
          if (failures.session !== undefined) return say(`SESSION STATUS RESULT=${failures.session}`);
          if (fields.STYLE !== 'STREAM') return say('SESSION STATUS RESULT=I2P_ERROR MESSAGE="only STYLE=STREAM"');
          if (id === '' || /\s/.test(id)) return say('SESSION STATUS RESULT=INVALID_ID');
          if (sessions.has(id)) return say('SESSION STATUS RESULT=DUPLICATED_ID');
          if (fields.DESTINATION !== 'TRANSIENT' && !/^[A-Za-z0-9~-]+=*$/.test(fields.DESTINATION ?? '')) return say('SESSION STATUS RESULT=INVALID_KEY');
          sessions.set(id, client);
          sessionId = id;
          return say(`SESSION STATUS RESULT=OK DESTINATION=${i2pBase64(randomBytes(663))}`);
        }
        case 'NAMING LOOKUP': {
          const name = (fields.NAME ?? '').toLowerCase();
          if (!/^[a-z2-7]{52}\.b32\.i2p$/.test(name)) return say(`NAMING REPLY RESULT=INVALID_KEY NAME=${name}`);
          if (sim.overlayTarget(name) === undefined) {
            // A router looks the name's lease set up in the network database before giving up (the sim's gossip.overlay failMs).
            const wait = sim.overlayFailDelay?.('i2p');
            if (wait === undefined) return say(`NAMING REPLY RESULT=KEY_NOT_FOUND NAME=${name}`);
            const timer = setTimeout(() => {
              timers.delete(timer);
              if (!client.destroyed) say(`NAMING REPLY RESULT=KEY_NOT_FOUND NAME=${name}`);
            }, wait);
            timers.add(timer);
            return;
          }
          const dest = destinationOf(name);
          byDest.set(dest, name);
          return say(`NAMING REPLY RESULT=OK NAME=${name} VALUE=${dest}`);
        }
        case 'STREAM CONNECT': {
          const id = fields.ID ?? '';
          if (!sessions.has(id)) return say('STREAM STATUS RESULT=INVALID_ID');
          const name = byDest.get(fields.DESTINATION ?? '');
          if (name === undefined) return say('STREAM STATUS RESULT=INVALID_KEY');
          client.off('data', onData);
          client.pause();
          streamConnect(client, name);
          return 'stream';
        }
        default:
          return say(`${words[0] ?? 'SAM'} STATUS RESULT=I2P_ERROR MESSAGE="unknown command"`);
      }
    }
  });

  function streamConnect(client: Socket, name: string): void {
    const forced = failures.names?.[name];
    const target = sim.overlayTarget(name);
    // A node's own tunnel-build delay (the sim's gossip.overlay) when it has one.
    const wait = target?.connectDelayMs ?? (typeof delay === 'number' ? delay : delay[0] + Math.random() * (delay[1] - delay[0]));
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (client.destroyed) return;
      if (forced !== undefined || target === undefined) return void client.end(`STREAM STATUS RESULT=${forced ?? 'CANT_REACH_PEER'}\n`);
      const upstream = netConnect({ host: target.host, port: target.port });
      sockets.add(upstream);
      let up = false;
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => {
        if (!up) client.end('STREAM STATUS RESULT=CANT_REACH_PEER\n');
        else client.destroy();
      });
      upstream.once('connect', () => {
        up = true;
        if (client.destroyed) return void upstream.destroy();
        state.open++;
        if (state.open > state.peak) state.peak = state.open;
        client.write('STREAM STATUS RESULT=OK\n');
        relay(client, upstream, () => {
          state.open--;
        });
      });
    }, wait);
    timers.add(timer);
  }

  const { address, port } = await listenFront(server, opts);
  return {
    address,
    port,
    stats: () => ({ accepted: state.accepted, commands: [...state.commands.entries], commandCount: state.commands.total, sessions: sessions.size, open: state.open, peak: state.peak }),
    close: () => closeFront(server, sockets, timers),
  };
}
