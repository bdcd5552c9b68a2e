// Types for bench/comparators.mjs, only as precise as the interop test needs:
// bcoin ships no types, so its objects are described by the fields we read.

export interface BcoinNetAddress {
  host: string;
  port: number;
  services: number;
  time: number;
  hostname: string;
  raw: Buffer;
}
export interface BcoinNetAddressCtor {
  new (options?: { host: string; port: number; services?: number; time?: number }): BcoinNetAddress;
}
export interface BcoinPacket {
  cmd: string;
  toRaw(): Buffer;
}
export interface BcoinVersionPacket extends BcoinPacket {
  version: number;
  services: number;
  time: number;
  remote: BcoinNetAddress;
  local: BcoinNetAddress;
  nonce: Buffer;
  agent: string;
  height: number;
  noRelay: boolean;
}
export interface BcoinAddrPacket extends BcoinPacket {
  items: BcoinNetAddress[];
}
export interface BcoinPingPacket extends BcoinPacket {
  nonce: Buffer | null;
}
export interface BcoinParser {
  feed(data: Buffer): void;
  on(event: 'packet', fn: (packet: BcoinPacket) => void): this;
  on(event: 'error', fn: (err: Error) => void): this;
}
export interface Bcoin {
  version: string;
  Parser: new (network: string) => BcoinParser;
  Framer: new (network: string) => { packet(cmd: string, payload: Buffer): Buffer };
  packets: {
    VersionPacket: new (options?: Partial<Omit<BcoinVersionPacket, 'remote' | 'local'>> & {
      remote?: { host: string; port: number; services?: number };
      local?: { host: string; port: number; services?: number };
    }) => BcoinVersionPacket;
    AddrPacket: new (items?: BcoinNetAddress[]) => BcoinAddrPacket;
    PingPacket: new (nonce?: Buffer) => BcoinPingPacket;
  };
  NetAddress: BcoinNetAddressCtor;
  Network: unknown;
  loadPeer(): unknown;
}

export function loadBcoin(): Bcoin;
export const BITCORE_P2P_NOTE: string;
