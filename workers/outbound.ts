/**
 * Outbound framing for peer connections: what we send, as bytes, and how the
 * answers to one received chunk leave in one write.
 *
 * - Payload-less messages (verack, getaddr, wtxidrelay, sendaddrv2) have the
 *   same frame, checksum included, for every peer: encoded once per network
 *   and thread. Everything else goes through the codec.
 * - While a received chunk is decoded, the frames it makes us send are queued
 *   here and written as one buffer when the chunk is done (version + verack
 *   in one chunk are answered by wtxidrelay, sendaddrv2, verack and getaddr
 *   in one write). One queue per thread: decoding is synchronous, so only one
 *   connection fills it at a time.
 */
import { encodeMessage, type Message, type NetworkParams } from '../src/wire/index.js';

/** Messages without a payload, whose whole frame is the same for every peer. */
type ConstantCommand = 'verack' | 'getaddr' | 'wtxidrelay' | 'sendaddrv2';
const constantFrames = new WeakMap<NetworkParams, Map<ConstantCommand, Buffer>>();

/** The frame of a payload-less message, encoded (and hashed) once per network and thread. */
function constantFrame(net: NetworkParams, command: ConstantCommand): Buffer {
  let frames = constantFrames.get(net);
  if (frames === undefined) constantFrames.set(net, (frames = new Map()));
  let frame = frames.get(command);
  if (frame === undefined) frames.set(command, (frame = encodeMessage(net, { command })));
  return frame;
}

/** The framed bytes of `msg` on `net`. Nothing ever modifies a frame once written, so constant frames are shared. */
export function frameOf(net: NetworkParams, msg: Message): Buffer {
  switch (msg.command) {
    case 'verack':
    case 'getaddr':
    case 'wtxidrelay':
    case 'sendaddrv2':
      return constantFrame(net, msg.command);
    default:
      return encodeMessage(net, msg);
  }
}

const replies: Buffer[] = [];

/** Queues a frame for the write that ends the chunk being decoded. */
export function queueReply(frame: Buffer): void {
  replies.push(frame);
}

/** The queued frames as one buffer (null if none), emptying the queue. */
export function takeReplies(): Buffer | null {
  const n = replies.length;
  if (n === 0) return null;
  const out = n === 1 ? (replies[0] as Buffer) : Buffer.concat(replies);
  replies.length = 0;
  return out;
}

/** Drops the queued frames (the connection failed while decoding). */
export function discardReplies(): void {
  replies.length = 0;
}
