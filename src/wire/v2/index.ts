/**
 * BIP324 v2 transport: the protocol layer (handshake, packet ciphers, short
 * message ids) over node:crypto and @scure/btc-signer's ElligatorSwift.
 * Shared by the worker (initiator) and the simulator (responder).
 */
export * from './constants.js';
export { V2Transport, type V2Role, type V2Phase, type V2TransportSink, type V2TransportOptions } from './transport.js';
export { PacketReceiver, type V2ReceiveSink, type PacketReceiverOptions } from './receiver.js';
export { PacketSender } from './sender.js';
export { FSChaCha20, FSChaCha20Poly1305 } from './ciphers.js';
export { ellswiftCreate, ellswiftDecode, ellswiftEcdhXonly, xswiftecInv, v2Ecdh, type EllSwiftKey } from './ellswift.js';
export { deriveV2Keys, type V2Keys } from './keys.js';
export { commandOfShortId, shortIdOf, readMessageType, writeMessageType, messageTypeLength, LAST_BIP324_ID } from './message-ids.js';
