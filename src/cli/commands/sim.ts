/**
 * `bitspread sim`: serve a simulated Bitcoin network on loopback until
 * Ctrl-C, printing the seed addresses to crawl from.
 */
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { UsageError } from '../../errors.js';
import { parseDuration, parseInteger, parseOptions } from '../args.js';
import { EXIT, STOP_SIGNALS, type StopSignal } from '../exit-codes.js';
import { writeStdout } from '../output.js';
import { usageFailure } from '../usage.js';
import { parseMix } from '../../sim/behaviours.js';
import { startSimNetwork, type SimListenMode, type SimNetwork, type SimOptions } from '../../sim/network.js';
import type { NetworkName } from '../../wire/types.js';
import { startSocksFront } from '../../sim/socks5-front.js';
import { startSamFront } from '../../sim/sam-front.js';
import type { SimOverlays } from '../../sim/topology.js';

/** `ipv6=0.1,onion=0.1` → shares (the sim checks the names and the sum). */
function parseOverlays(text: string): SimOverlays {
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([a-z0-9]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (m === null) throw new UsageError('ERR_BAD_OPTION', `--overlays: expected network=share pairs like ipv6=0.1,onion=0.1, got '${part}'`);
    out[m[1] as string] = Number(m[2]);
  }
  return out as SimOverlays;
}

const HELP = `usage: bitspread sim [options]

Serves a simulated Bitcoin network of real TCP peers on 127.x.y.z addresses
until Ctrl-C. Prints the seed addresses to crawl from.

options:
  --nodes N          number of nodes (default 1000)
  --seed N           PRNG seed: the same seed gives the same network (default 1)
  --network NAME     mainnet | testnet3 | testnet4 | signet | regtest (default regtest)
  --mix LIST         behaviour shares, e.g. modern=0.7,old=0.1,silent=0.05
                     (unnamed behaviours get 0, modern takes the rest)
  --latency D        median reply delay, e.g. 100ms (log-normal; default off)
  --latency-tail D   99th percentile of the delay (default 10 x the median)
  --seeds N          number of seed nodes (default 3)
  --base ADDR        first node address (default 127.100.0.0)
  --port N           main port (default: the network's default port)
  --listen MODE      auto | per-node | shared (default auto)
  --overlays LIST    share of nodes on other networks, e.g. ipv6=0.1,onion=0.1,i2p=0.05,cjdns=0.05:
                     IPv6 nodes listen on ::1; Tor, I2P and CJDNS nodes sit behind the fronts
  --socks-front      serve a Tor-like SOCKS5 front on 127.0.0.1 (for --tor-proxy, or --proxy =cjdns)
  --sam-front        serve a SAM v3 front on 127.0.0.1 (for --i2p-sam)
  --truth FILE       write the ground truth as JSON
  -h, --help         this text

Stops on SIGINT (Ctrl-C), SIGTERM or SIGHUP. Exit status: 0 stopped by one
of them; 2 bad arguments or an unwritable --truth file (nothing is served);
7 the ground truth or stdout could not be written; 70 internal error.
`;

const NETWORK_NAMES: readonly NetworkName[] = ['mainnet', 'testnet3', 'testnet4', 'signet', 'regtest'];

/** Parses and checks every option before anything listens; throws UsageError. */
function parseSimArgs(argv: string[]): { help: true } | { help: false; options: SimOptions; truthPath: string | undefined; socksFront: boolean; samFront: boolean } {
  const values = parseOptions(argv, {
    nodes: { type: 'string' },
    seed: { type: 'string' },
    network: { type: 'string' },
    mix: { type: 'string' },
    latency: { type: 'string' },
    'latency-tail': { type: 'string' },
    seeds: { type: 'string' },
    base: { type: 'string' },
    port: { type: 'string' },
    listen: { type: 'string' },
    truth: { type: 'string' },
    overlays: { type: 'string' },
    'socks-front': { type: 'boolean' },
    'sam-front': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return { help: true };
  const network = (values.network ?? 'regtest') as NetworkName;
  if (!NETWORK_NAMES.includes(network)) throw new UsageError('ERR_BAD_OPTION', `--network: expected one of ${NETWORK_NAMES.join(', ')}, got '${network}'`);
  const listen = values.listen ?? 'auto';
  if (listen !== 'auto' && listen !== 'per-node' && listen !== 'shared') throw new UsageError('ERR_BAD_OPTION', `--listen: expected auto, per-node or shared, got '${listen}'`);
  if (values['latency-tail'] !== undefined && values.latency === undefined) throw new UsageError('ERR_BAD_OPTION', '--latency-tail needs --latency');
  const options: SimOptions = {
    nodes: values.nodes === undefined ? 1000 : parseInteger(values.nodes, '--nodes', 1, 1_000_000),
    seed: values.seed === undefined ? 1 : parseInteger(values.seed, '--seed', 0, 0xffffffff),
    network,
    ...(values.mix === undefined ? {} : { mix: parseMix(values.mix) }),
    latency:
      values.latency === undefined
        ? false
        : {
            medianMs: parseDuration(values.latency, '--latency'),
            ...(values['latency-tail'] === undefined ? {} : { tailMs: parseDuration(values['latency-tail'], '--latency-tail') }),
          },
    ...(values.seeds === undefined ? {} : { seedCount: parseInteger(values.seeds, '--seeds', 1, 1000) }),
    ...(values.base === undefined ? {} : { baseAddress: values.base }),
    ...(values.port === undefined ? {} : { port: parseInteger(values.port, '--port', 1, 65535) }),
    listen: listen as SimListenMode | 'auto',
    ...(values.overlays === undefined ? {} : { overlays: parseOverlays(values.overlays) }),
  };
  return { help: false, options, truthPath: values.truth, socksFront: values['socks-front'] === true, samFront: values['sam-front'] === true };
}

export async function run(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseSimArgs>;
  try {
    parsed = parseSimArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) return usageFailure('sim', err.message, HELP);
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  // The truth file is opened before anything listens: an unwritable path is a usage error, not a late crash.
  let truthFd: number | null = null;
  if (parsed.truthPath !== undefined) {
    try {
      truthFd = openSync(parsed.truthPath, 'w');
    } catch (err) {
      process.stderr.write(`bitspread sim: cannot write the ground truth to '${parsed.truthPath}': ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
      return EXIT.USAGE;
    }
  }
  let sim: SimNetwork;
  try {
    sim = await startSimNetwork(parsed.options);
  } catch (err) {
    if (truthFd !== null) closeSync(truthFd);
    throw err;
  }
  const socks = parsed.socksFront ? await startSocksFront(sim) : null;
  const sam = parsed.samFront ? await startSamFront(sim) : null;
  try {
    const truth = sim.truth();
    if (truthFd !== null) {
      const file = { reachable: truth.reachable, nonIp: truth.nonIp, failed: truth.failed };
      try {
        writeFileSync(truthFd, JSON.stringify(file, null, 2) + '\n');
      } catch (err) {
        process.stderr.write(`bitspread sim: ERR_WRITE: cannot write the ground truth to '${parsed.truthPath}': ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
        return EXIT.WRITE;
      } finally {
        closeSync(truthFd);
      }
    }
    await writeStdout(
      sim.seeds.map((s) => `${s}\n`).join('') +
        (socks !== null ? `socks5 front: ${socks.address}\n` : '') +
        (sam !== null ? `sam front: ${sam.address}\n` : '') +
        `sim: ${sim.size} nodes on ${sim.network} (${sim.listenMode} listeners: ${sim.listeners}), ` +
        `${truth.reachable.length} reachable, ${truth.failed.length} failed, ${truth.nonIp.length} non-IP; Ctrl-C to stop\n`,
    );
    const signal = await new Promise<StopSignal>((resolve) => {
      const handlers = STOP_SIGNALS.map((sig) => {
        const handler = (): void => {
          for (const [s, h] of handlers) process.off(s, h);
          resolve(sig);
        };
        process.on(sig, handler);
        return [sig, handler] as const;
      });
    });
    const stats = sim.stats();
    process.stderr.write(`sim: ${signal}: closed after ${stats.connectionsAccepted} connections (peak ${stats.peakInbound} at once), ${stats.violationCount} client violations\n`);
    // Serving until stopped is the sim's job: a stop signal is its normal end.
    return EXIT.OK;
  } finally {
    await Promise.all([socks?.close(), sam?.close()]);
    await sim.close();
  }
}
