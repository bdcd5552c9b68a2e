/**
 * `bitspread sim`: serve a simulated Bitcoin network on loopback until
 * Ctrl-C, printing the seed addresses to crawl from.
 */
import { writeFile } from 'node:fs/promises';
import { UsageError } from '../../errors.js';
import { parseDuration, parseInteger, parseOptions } from '../args.js';
import { parseMix } from '../../sim/behaviours.js';
import { startSimNetwork, type SimListenMode } from '../../sim/network.js';
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
`;

const NETWORK_NAMES: readonly NetworkName[] = ['mainnet', 'testnet3', 'testnet4', 'signet', 'regtest'];

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseOptions(argv, {
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
  } catch (err) {
    throw new UsageError('ERR_BAD_ARGUMENT', `sim: ${(err as Error).message}`, { cause: err });
  }
  if (values.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const network = (values.network ?? 'regtest') as NetworkName;
  if (!NETWORK_NAMES.includes(network)) throw new UsageError('ERR_BAD_OPTION', `--network: expected one of ${NETWORK_NAMES.join(', ')}, got '${network}'`);
  const listen = values.listen ?? 'auto';
  if (listen !== 'auto' && listen !== 'per-node' && listen !== 'shared') throw new UsageError('ERR_BAD_OPTION', `--listen: expected auto, per-node or shared, got '${listen}'`);
  if (values['latency-tail'] !== undefined && values.latency === undefined) throw new UsageError('ERR_BAD_OPTION', '--latency-tail needs --latency');

  const sim = await startSimNetwork({
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
  });
  const socks = values['socks-front'] === true ? await startSocksFront(sim) : null;
  const sam = values['sam-front'] === true ? await startSamFront(sim) : null;


  const truth = sim.truth();
  if (values.truth !== undefined) {
    const file = { reachable: truth.reachable, nonIp: truth.nonIp, failed: truth.failed };
    await writeFile(values.truth, JSON.stringify(file, null, 2) + '\n');
  }
  for (const s of sim.seeds) process.stdout.write(`${s}\n`);
  if (socks !== null) process.stdout.write(`socks5 front: ${socks.address}\n`);
  if (sam !== null) process.stdout.write(`sam front: ${sam.address}\n`);
  process.stdout.write(
    `sim: ${sim.size} nodes on ${sim.network} (${sim.listenMode} listeners: ${sim.listeners}), ` +
      `${truth.reachable.length} reachable, ${truth.failed.length} failed, ${truth.nonIp.length} non-IP; Ctrl-C to stop\n`,
  );

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const stats = sim.stats();
  await Promise.all([socks?.close(), sam?.close()]);
  await sim.close();
  process.stderr.write(`sim: closed after ${stats.connectionsAccepted} connections (peak ${stats.peakInbound} at once), ${stats.violationCount} client violations\n`);
  return 0;
}
