/**
 * Ground truth: what a correct crawler must report for a plan, found by
 * crawling the plan's graph in memory the way a correct crawler crawls the
 * sockets: start at the seeds, learn from every node whose getaddr answer a
 * Core-conformant client accepts, follow every IP address learned.
 *
 * A correct crawler here: completes version/verack, sends sendaddrv2 before
 * its verack, sends getaddr after its verack, keeps reading for a while
 * (answers can be split and can follow an unsolicited addr), rejects an
 * addr/addrv2 message with more than 1,000 entries, and does not trust a
 * node whose version it never decoded.
 */
import { formatAddress, NODE_P2P_V2 } from '../wire/index.js';
import type { Transport } from '../shared/transport.js';
import type { SimBehaviour } from './behaviours.js';
import { completesHandshake, gossips, speaksAddrv2 } from './behaviours.js';
import { needsAddrv2, type SimPlan } from './topology.js';
import type { AddressNetwork } from '../wire/types.js';

export interface SimReachableNode {
  addr: string;
  /** The network the node is known on (and must be dialled on). */
  network: AddressNetwork;
  userAgent: string;
  protocolVersion: number;
  /** Service bits as a number (every bit the simulator sets is below 2^53). */
  services: number;
  startHeight: number;
}

export interface SimTruthNode extends SimReachableNode {
  behaviour: SimBehaviour;
  seed: boolean;
  relay: boolean;
  /** Whether a correct crawler started from the seeds learns this address. */
  discoverable: boolean;
  /** Its services carry NODE_P2P_V2 (what gossip says about it). */
  p2pV2: boolean;
  /** It answers a BIP324 v2 handshake (every NODE_P2P_V2 node but `fakev2`; the v2 breakers answer it badly). */
  speaksV2: boolean;
  /**
   * What a crawl with the default transport policy (auto) records: v2 when
   * gossip advertised NODE_P2P_V2 before the dial (seeds are dialled with
   * unknown services, so v1), null when no connection is made (refused).
   */
  transport: Transport | null;
  /** The auto crawl tries v2, is closed without a byte, and records v1 with v2Fallback (fakev2). */
  v2Fallback: boolean;
}

export interface SimTruth {
  /** Every discoverable node whose handshake completes, in address order. */
  reachable: SimReachableNode[];
  /** Every discoverable node a correct crawler must record as failed, with why. */
  failed: Array<{ addr: string; network: AddressNetwork; behaviour: SimBehaviour }>;
  /** Tor v3 / I2P / CJDNS addresses (Core text form) a correct crawler learns and records without dialling. */
  nonIp: string[];
  /** Every node, discoverable or not. */
  nodes: SimTruthNode[];
}

export function computeTruth(plan: SimPlan): SimTruth {
  const n = plan.nodes.length;
  const found = new Uint8Array(n);
  const nonIpFound = new Uint8Array(plan.nonIp.length);
  const queue: number[] = [];
  for (const s of plan.seeds) {
    if (found[s] === 0) {
      found[s] = 1;
      queue.push(s);
    }
  }
  for (let q = 0; q < queue.length; q++) {
    const node = plan.nodes[queue[q] as number];
    if (node === undefined || !gossips(node.behaviour)) continue;
    const v2 = speaksAddrv2(node.behaviour);
    for (const p of node.peers) {
      // Tor / I2P / CJDNS peers travel only in addrv2.
      if (found[p] === 0 && (v2 || !needsAddrv2((plan.nodes[p] as { network: AddressNetwork }).network))) {
        found[p] = 1;
        queue.push(p);
      }
    }
    if (v2) for (const k of node.nonIp) nonIpFound[k] = 1;
  }

  const nodes: SimTruthNode[] = plan.nodes.map((node) => {
    const p2pV2 = (node.services & NODE_P2P_V2) !== 0n;
    const dialsV2 = p2pV2 && !node.seed;
    return {
      addr: node.addr,
      network: node.network,
      userAgent: node.userAgent,
      protocolVersion: node.protocolVersion,
      services: Number(node.services),
      startHeight: node.startHeight,
      behaviour: node.behaviour,
      seed: node.seed,
      relay: node.relay,
      discoverable: found[node.index] === 1,
      p2pV2,
      speaksV2: p2pV2 && node.behaviour !== 'fakev2',
      transport: node.behaviour === 'refused' ? null : dialsV2 && node.behaviour !== 'fakev2' ? 'v2' : 'v1',
      v2Fallback: dialsV2 && node.behaviour === 'fakev2',
    };
  });
  const reachable: SimReachableNode[] = [];
  const failed: SimTruth['failed'] = [];
  for (const node of nodes) {
    if (!node.discoverable) continue;
    if (completesHandshake(node.behaviour)) {
      reachable.push({ addr: node.addr, network: node.network, userAgent: node.userAgent, protocolVersion: node.protocolVersion, services: node.services, startHeight: node.startHeight });
    } else {
      failed.push({ addr: node.addr, network: node.network, behaviour: node.behaviour });
    }
  }
  const nonIp: string[] = [];
  plan.nonIp.forEach((a, k) => {
    if (nonIpFound[k] === 1) nonIp.push(formatAddress(a));
  });
  return { reachable, failed, nonIp, nodes };
}
