// Types for bench/netdelay.mjs, as far as test/kernel-rtt.test.ts uses it.
export const NETDELAY_SOURCE: string;
export const NETDELAY_BINARY: string;
export function gccArgs(source: string, out: string): string[];
