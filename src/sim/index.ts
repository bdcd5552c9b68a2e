/**
 * The simulated Bitcoin network: real TCP peers on 127.x.y.z addresses,
 * generated from a seed, with known ground truth. See docs/SIM.md.
 */
export { startSimNetwork } from './network.js';
export type { SimOptions, SimNetwork, SimStats, SimListenMode } from './network.js';
export type { SimTruth, SimTruthNode, SimReachableNode } from './truth.js';
export type { SimViolation, SimViolationKind } from './connection.js';
export type { LatencyOptions } from './latency.js';
export type { GossipOptions } from './gossip.js';
export { nodeRttUs, checkKernelRttParams } from './kernel-rtt.js';
export type { KernelRttParams } from './kernel-rtt.js';
export { SIM_BEHAVIOURS, DEFAULT_MIX, completesHandshake, parseMix } from './behaviours.js';
export type { SimBehaviour } from './behaviours.js';
export { startSocksFront } from './socks5-front.js';
export type { SocksFront, SocksFrontOptions, SocksFrontStats, OverlayResolver } from './socks5-front.js';
export { startSamFront } from './sam-front.js';
export type { SamFront, SamFrontOptions, SamFrontStats } from './sam-front.js';
export type { SimOverlays, OverlayNetwork } from './topology.js';
export { SimChurn, churnIsUp, churnAgent } from './churn.js';
export type { ChurnOptions, ChurnSchedule, ChurnTruth } from './churn.js';
